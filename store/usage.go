package store

import (
	"context"
	"time"
)

// Usage counters: the names a [UsageDelta] counts under. A refusal is
// counted under CounterRefusedPrefix followed by its reason
// ("refused:audience_not_granted"); rate-limited and quota-limited
// requests are refusals too and are also counted under their own
// counter, so that the common questions need no reason list.
const (
	CounterIssued        = "issued"
	CounterRateLimited   = "rate_limited"
	CounterQuotaLimited  = "quota_limited"
	CounterRefusedPrefix = "refused:"
)

// UnknownClient is the client id under which usage of client ids that
// name no registered client is counted: one aggregate row, so that
// attacker-chosen ids never create rows. No client can have it
// ([ValidClientID] refuses the empty string).
const UnknownClient = ""

// UsageRetention is how long hourly usage buckets are kept.
const UsageRetention = 30 * 24 * time.Hour

// UsageDelta is what one replica counted for one client, one counter
// and one hour since its last flush.
type UsageDelta struct {
	ClientID string
	Hour     time.Time // the start of the hour (UTC)
	Counter  string
	N        int64
}

// UsageBucket is the count of one counter for one client in one hour,
// summed over every replica.
type UsageBucket struct {
	Hour    time.Time
	Counter string
	N       int64
}

// SecretUse is when a client last authenticated, and with which secret.
type SecretUse struct {
	ClientID   string
	LastUsedAt time.Time
	// PreviousSecretUsedAt is when the client last authenticated with its
	// previous secret (after a rotation, during the grace period), and
	// PreviousSecretID identifies that secret (a digest of its digest), so
	// that a later rotation does not show an older secret's use.
	PreviousSecretUsedAt time.Time
	PreviousSecretID     string
}

// Usage stores per-client usage counts in hourly buckets, summed across
// the replicas that share the store.
type Usage interface {
	// AddUsage adds every delta to its bucket (creating it) and records
	// the secret uses (keeping the latest of each time), atomically.
	AddUsage(ctx context.Context, deltas []UsageDelta, uses []SecretUse) error
	// ClientUsage returns the client's buckets whose hour is at or after
	// since, oldest first, and its secret use (zero when never used).
	ClientUsage(ctx context.Context, clientID string, since time.Time) ([]UsageBucket, SecretUse, error)
	// PruneUsage deletes the buckets of hours before before.
	PruneUsage(ctx context.Context, before time.Time) error
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID   int64 // assigned by the store, increasing
	Time time.Time
	// Code is the stable event code, such as "client.created" or
	// "auth.failed".
	Code string
	// Actor is who did it: "admin-token", "admin-token:NAME" (the admin
	// API, NAME from the X-M2M-Actor header), "cli:USER" (a command on
	// the database), or "" for the token endpoint's callers.
	Actor string
	// ClientID is the client the event is about, or "".
	ClientID string
	// Target names what else the event is about (a key id, a trust
	// policy name), or "".
	Target string
	// RemoteAddr is the caller's address, or "".
	RemoteAddr string
	// Reason is the refusal reason of a failure event, or "".
	Reason string
	// Count is how many occurrences the event stands for: failure events
	// of one kind from one place are aggregated (at least 1).
	Count int64
}

// AuditQuery selects audit events. The zero value selects the newest
// events of every kind.
type AuditQuery struct {
	ClientID string    // "" for every client
	Code     string    // "" for every code
	Since    time.Time // zero for no lower bound
	BeforeID int64     // 0 for the newest; else only events with a smaller ID
	Limit    int       // at most this many (0: 100)
}

// Audit stores the audit log.
type Audit interface {
	// AppendAudit stores events, assigning their IDs.
	AppendAudit(ctx context.Context, events []AuditEvent) error
	// ListAudit returns the events q selects, newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// PruneAudit deletes the events older than before.
	PruneAudit(ctx context.Context, before time.Time) error
}

// Bounds of [AuditQuery.Limit].
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditLimit is the number of events a query with limit returns: limit
// within 1 to [MaxAuditLimit], [DefaultAuditLimit] for 0 or less.
func AuditLimit(limit int) int {
	if limit <= 0 {
		return DefaultAuditLimit
	}
	return min(limit, MaxAuditLimit)
}

// Matches reports whether q selects e (its limit aside).
func (q AuditQuery) Matches(e AuditEvent) bool {
	return (q.ClientID == "" || e.ClientID == q.ClientID) && (q.Code == "" || e.Code == q.Code) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) && (q.BeforeID <= 0 || e.ID < q.BeforeID)
}

// MergeSecretUse combines two records of one client's secret use: the
// latest use, and the latest use of the previous secret b names (or a,
// when b names none).
func MergeSecretUse(a, b SecretUse) SecretUse {
	out := a
	if b.ClientID != "" {
		out.ClientID = b.ClientID
	}
	if b.LastUsedAt.After(out.LastUsedAt) {
		out.LastUsedAt = b.LastUsedAt
	}
	switch {
	case b.PreviousSecretID == "":
	case b.PreviousSecretID != a.PreviousSecretID:
		out.PreviousSecretID, out.PreviousSecretUsedAt = b.PreviousSecretID, b.PreviousSecretUsedAt
	case b.PreviousSecretUsedAt.After(a.PreviousSecretUsedAt):
		out.PreviousSecretUsedAt = b.PreviousSecretUsedAt
	}
	return out
}
