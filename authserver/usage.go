package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/store"
)

// Defaults of the usage telemetry.
const (
	// DefaultUsageFlushInterval is how often a server adds what it counted
	// to the shared store (Config.UsageFlushInterval zero).
	DefaultUsageFlushInterval = time.Second
	// MaxUsageKeys bounds the counters a server holds in memory between
	// two flushes; past it, further counts go to store.UnknownClient.
	MaxUsageKeys = 10_000
	// NotCachingThreshold is N of the "not caching" signal: a client that
	// fetched more than N tokens within one token lifetime (averaged over
	// the last hour and the current one) is reported as not caching its
	// tokens.
	NotCachingThreshold = 10
)

// CodeQuotaExceeded is the error code of a token request refused because
// the client is over its enforced quota (429, with Retry-After until the
// window resets).
const CodeQuotaExceeded = "quota_exceeded"

// QuotaHeader is the response header that reports an exceeded quota in
// monitor mode: "hourly" or "daily" (the request is let through).
const QuotaHeader = "M2M-Quota-Exceeded"

// QuotaCounter counts the token requests of clients that have a quota,
// in the current clock hour and UTC day, across every replica. redisstore
// provides one; without it the server counts from the usage it flushes
// to the shared store (exact on one replica, within a flush interval
// across several). It must be safe for concurrent use.
type QuotaCounter interface {
	// TakeQuota counts one request of clientID at now and returns the
	// counts of its hour and its day before this request.
	TakeQuota(ctx context.Context, clientID string, now time.Time) (hour, day int64, err error)
}

type usageKey struct {
	client  string
	hour    int64
	counter string
}

// usageRecorder counts per-client usage in memory and flushes it to the
// store in batches: nothing on the token path writes to the database.
type usageRecorder struct {
	st     store.Usage
	now    func() time.Time
	log    *slog.Logger
	counts *prometheus.CounterVec // per-client series (nil: off)

	flushMu sync.Mutex // one flush at a time

	mu       sync.Mutex
	pending  map[usageKey]int64
	inflight map[usageKey]int64 // being written by a flush
	uses     map[string]store.SecretUse
	// quota bases: what the store held for a client's current hour and
	// day after the last flush.
	bases  map[string]quotaBase
	lastGC time.Time
}

type quotaBase struct {
	hour, day  int64 // unix seconds of the window starts
	hourN      int64
	dayN       int64
	refreshing bool
}

func newUsageRecorder(st store.Usage, now func() time.Time, log *slog.Logger) *usageRecorder {
	return &usageRecorder{st: st, now: now, log: log,
		pending: map[usageKey]int64{}, uses: map[string]store.SecretUse{}, bases: map[string]quotaBase{}}
}

// add counts n under counter for the client (store.UnknownClient for an
// id that names no registered client).
func (u *usageRecorder) add(client, counter string, now time.Time) {
	k := usageKey{client, now.Unix() / 3600 * 3600, counter}
	u.mu.Lock()
	if _, ok := u.pending[k]; !ok && len(u.pending) >= MaxUsageKeys {
		k.client = store.UnknownClient
	}
	u.pending[k]++
	u.mu.Unlock()
}

// issued counts an issued token and the client's use of its secret.
func (u *usageRecorder) issued(c *store.Client, prevSecret string, now time.Time) {
	k := usageKey{c.ID, now.Unix() / 3600 * 3600, store.CounterIssued}
	u.mu.Lock()
	if _, ok := u.pending[k]; !ok && len(u.pending) >= MaxUsageKeys {
		k.client = store.UnknownClient
	}
	u.pending[k]++
	if k.client != store.UnknownClient {
		use := store.SecretUse{ClientID: c.ID, LastUsedAt: now}
		if prevSecret != "" {
			use.PreviousSecretID, use.PreviousSecretUsedAt = prevSecret, now
		}
		u.uses[c.ID] = store.MergeSecretUse(u.uses[c.ID], use)
	}
	u.mu.Unlock()
	if u.counts != nil {
		u.counts.WithLabelValues(c.ID, store.CounterIssued).Inc()
	}
}

// refused counts a refusal of a known client (or of an unknown id, under
// store.UnknownClient) by reason.
func (u *usageRecorder) refused(client string, reason string, now time.Time) {
	u.add(client, store.CounterRefusedPrefix+reason, now)
	switch reason {
	case "rate_limited":
		u.add(client, store.CounterRateLimited, now)
	case CodeQuotaExceeded:
		u.add(client, store.CounterQuotaLimited, now)
	}
	if u.counts != nil && client != store.UnknownClient {
		u.counts.WithLabelValues(client, store.CounterRefusedPrefix+reason).Inc()
	}
}

// flush writes what was counted since the last flush and refreshes the
// quota bases from the store. A failed write keeps the counts for the
// next flush.
func (u *usageRecorder) flush(ctx context.Context) error {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	u.mu.Lock()
	batch := u.pending
	uses := u.uses
	u.pending, u.uses = map[usageKey]int64{}, map[string]store.SecretUse{}
	u.inflight = batch
	u.mu.Unlock()
	deltas := make([]store.UsageDelta, 0, len(batch))
	for k, n := range batch {
		deltas = append(deltas, store.UsageDelta{ClientID: k.client, Hour: time.Unix(k.hour, 0).UTC(), Counter: k.counter, N: n})
	}
	useList := make([]store.SecretUse, 0, len(uses))
	for _, use := range uses {
		useList = append(useList, use)
	}
	err := u.st.AddUsage(ctx, deltas, useList)
	if err != nil {
		// Put the counts back (bounded as ever) for the next flush.
		u.mu.Lock()
		for k, n := range batch {
			if _, ok := u.pending[k]; !ok && len(u.pending) >= MaxUsageKeys {
				k.client = store.UnknownClient
			}
			u.pending[k] += n
		}
		for id, use := range uses {
			u.uses[id] = store.MergeSecretUse(use, u.uses[id])
		}
		u.inflight = nil
		u.mu.Unlock()
		return err
	}
	now := u.now()
	u.mu.Lock()
	clients := make([]string, 0, len(u.bases))
	for id := range u.bases {
		clients = append(clients, id)
	}
	u.mu.Unlock()
	bases := make(map[string]quotaBase, len(clients))
	for _, id := range clients {
		b, err := u.loadBase(ctx, id, now)
		if err != nil {
			u.log.LogAttrs(ctx, slog.LevelWarn, "authserver: reading quota usage", logattr.Error(err))
			continue
		}
		bases[id] = b
	}
	u.mu.Lock()
	u.inflight = nil
	for id, b := range bases {
		u.bases[id] = b
	}
	if now.Sub(u.lastGC) > time.Hour {
		// Forget the quota bases of clients not seen for a day.
		u.lastGC = now
		for id, b := range u.bases {
			if b.day < now.Unix()-2*86400 {
				delete(u.bases, id)
			}
		}
	}
	u.mu.Unlock()
	return nil
}

// loadBase reads the client's issued tokens in the current hour and day.
func (u *usageRecorder) loadBase(ctx context.Context, id string, now time.Time) (quotaBase, error) {
	hour, day := windowStarts(now)
	buckets, _, err := u.st.ClientUsage(ctx, id, time.Unix(day, 0))
	if err != nil {
		return quotaBase{}, err
	}
	b := quotaBase{hour: hour, day: day}
	for _, bk := range buckets {
		if bk.Counter != store.CounterIssued {
			continue
		}
		b.dayN += bk.N
		if bk.Hour.Unix() == hour {
			b.hourN += bk.N
		}
	}
	return b, nil
}

// windowStarts returns the unix seconds of the starts of now's clock hour
// and UTC day.
func windowStarts(now time.Time) (hour, day int64) {
	t := now.Unix()
	return t - mod(t, 3600), t - mod(t, 86400)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// TakeQuota implements [QuotaCounter] from the usage the recorder counts:
// the store's counts as of the last flush, plus what is in flight and
// pending here. The first request of a client reads the store.
func (u *usageRecorder) TakeQuota(ctx context.Context, id string, now time.Time) (hour, day int64, err error) {
	hs, ds := windowStarts(now)
	u.mu.Lock()
	b, ok := u.bases[id]
	u.mu.Unlock()
	if !ok {
		if b, err = u.loadBase(ctx, id, now); err != nil {
			return 0, 0, err
		}
		u.mu.Lock()
		if _, ok := u.bases[id]; !ok {
			u.bases[id] = b
		}
		b = u.bases[id]
		u.mu.Unlock()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if b.day == ds {
		day = b.dayN
		if b.hour == hs {
			hour = b.hourN
		}
	}
	for _, m := range []map[usageKey]int64{u.pending, u.inflight} {
		for h := ds; h <= hs; h += 3600 {
			n := m[usageKey{id, h, store.CounterIssued}]
			day += n
			if h == hs {
				hour += n
			}
		}
	}
	return hour, day, nil
}

// checkQuota applies the client's quota: nil when under it (or in
// monitor mode, where exceeded names the window for the QuotaHeader);
// a 429 quota_exceeded in enforce mode.
func (s *Server) checkQuota(r *http.Request, c *store.Client, now time.Time) (exceeded string, e *Error) {
	if c.QuotaHourly <= 0 && c.QuotaDaily <= 0 || s.quota == nil {
		return "", nil
	}
	hour, day, err := s.quota.TakeQuota(r.Context(), c.ID, now)
	if err != nil {
		return "", s.unavailable(r, "quota", err)
	}
	hs, ds := windowStarts(now)
	var retry time.Duration
	switch {
	case c.QuotaDaily > 0 && day >= c.QuotaDaily:
		exceeded, retry = "daily", time.Unix(ds+86400, 0).Sub(now)
	case c.QuotaHourly > 0 && hour >= c.QuotaHourly:
		exceeded, retry = "hourly", time.Unix(hs+3600, 0).Sub(now)
	default:
		return "", nil
	}
	s.recordAudit(r.Context(), store.AuditEvent{Code: AuditQuotaExceeded, ClientID: c.ID, Reason: exceeded, RemoteAddr: s.clientAddr(r)}, true)
	if c.QuotaMode == store.QuotaMonitor {
		return exceeded, nil
	}
	return exceeded, &Error{Status: http.StatusTooManyRequests, Code: CodeQuotaExceeded, Reason: CodeQuotaExceeded,
		Description: "the client's " + exceeded + " token quota is used up", RetryAfter: retry}
}

// previousSecretID returns, when the request authenticated with the
// client's previous secret (during a rotation's grace period), an id of
// that secret (the first 8 bytes of a SHA-256 of its digest, in hex);
// else "".
func previousSecretID(c *store.Client, tr *TokenRequest, now time.Time) string {
	if len(c.PreviousSecretHash) == 0 || tr.ClientSecret == "" || !now.Before(c.PreviousSecretExpiresAt) {
		return ""
	}
	sum := sha256.Sum256([]byte(tr.ClientSecret))
	if !digestMatches(c.PreviousSecretAlgorithm, c.PreviousSecretHash, sum[:]) {
		return ""
	}
	return secretID(c.PreviousSecretHash)
}

func secretID(digest []byte) string {
	id := sha256.Sum256(digest)
	return hex.EncodeToString(id[:8])
}

// FlushUsage adds what the server counted since the last flush to the
// store and writes the audit events waiting to be stored. [Server.Run]
// calls it every Config.UsageFlushInterval; the admin usage endpoint
// calls it before reading, so that this replica's counts are current.
func (s *Server) FlushUsage(ctx context.Context) error {
	var errs []error
	if s.usage != nil {
		errs = append(errs, s.usage.flush(ctx))
	}
	if s.audit != nil {
		errs = append(errs, s.audit.flush(ctx))
	}
	return errors.Join(errs...)
}

// Run flushes usage and audit events every Config.UsageFlushInterval,
// prunes them past their retention every hour, and feeds the audit
// sinks, until ctx is done; then it flushes once more and returns nil.
// Without Run, a server still counts (within bounded memory) and the
// admin usage endpoint still flushes; audit sinks receive nothing.
func (s *Server) Run(ctx context.Context) error {
	every := s.cfg.UsageFlushInterval
	if every <= 0 {
		every = DefaultUsageFlushInterval
	}
	if s.audit != nil {
		s.audit.startSinks(ctx)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.FlushUsage(fctx); err != nil {
				s.log.LogAttrs(fctx, slog.LevelWarn, "authserver: flushing usage", logattr.Error(err))
			}
			return nil
		case <-t.C:
		}
		if err := s.FlushUsage(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "authserver: flushing usage", logattr.Error(err))
		}
		if now := s.now(); now.Sub(pruned) >= time.Hour {
			pruned = now
			if err := s.prune(ctx, now); err != nil && ctx.Err() == nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "authserver: pruning usage and audit", logattr.Error(err))
			}
		}
	}
}

// prune deletes usage buckets and audit events past their retention.
func (s *Server) prune(ctx context.Context, now time.Time) error {
	var errs []error
	if s.usage != nil {
		errs = append(errs, s.usage.st.PruneUsage(ctx, now.Add(-store.UsageRetention)))
	}
	if s.audit != nil {
		errs = append(errs, s.audit.st.PruneAudit(ctx, now.Add(-s.audit.retention)))
	}
	return errors.Join(errs...)
}

// UsageCounts are a client's counts over a period.
type UsageCounts struct {
	// Issued counts the tokens issued.
	Issued int64 `json:"issued"`
	// Refused counts every refusal after the client id named the client
	// (rate- and quota-limited requests and failed authentications
	// included); Refusals breaks it down by reason.
	Refused      int64            `json:"refused"`
	RateLimited  int64            `json:"rate_limited"`
	QuotaLimited int64            `json:"quota_limited"`
	Refusals     map[string]int64 `json:"refusals"`
}

func (c *UsageCounts) add(counter string, n int64) {
	switch {
	case counter == store.CounterIssued:
		c.Issued += n
	case counter == store.CounterRateLimited:
		c.RateLimited += n
	case counter == store.CounterQuotaLimited:
		c.QuotaLimited += n
	case strings.HasPrefix(counter, store.CounterRefusedPrefix):
		c.Refused += n
		if c.Refusals == nil {
			c.Refusals = map[string]int64{}
		}
		c.Refusals[strings.TrimPrefix(counter, store.CounterRefusedPrefix)] += n
	}
}

// UsageBucket is a client's counts in one hour or one UTC day.
type UsageBucket struct {
	Start time.Time `json:"start"`
	UsageCounts
}

// QuotaUsage is a client's quota and how much of it is used.
type QuotaUsage struct {
	Hourly int64  `json:"hourly"` // 0: no hourly quota
	Daily  int64  `json:"daily"`  // 0: no daily quota
	Mode   string `json:"mode"`   // enforce or monitor
	// HourUsed and DayUsed are the tokens issued in the current clock
	// hour and UTC day.
	HourUsed int64 `json:"hour_used"`
	DayUsed  int64 `json:"day_used"`
}

// ClientUsage is the answer of GET /admin/clients/{id}/usage: a client's
// usage summed over every replica, as of the last flush of each (within
// Config.UsageFlushInterval).
type ClientUsage struct {
	ClientID    string    `json:"client_id"`
	GeneratedAt time.Time `json:"generated_at"`
	// LastUsedAt is when the client last got a token (nil: never, or not
	// in the last 30 days' records).
	LastUsedAt *time.Time `json:"last_used_at"`
	// SecretCreatedAt and SecretAgeSeconds say when the current secret
	// was made (at creation or the last rotation); absent when unknown
	// (clients created before this was recorded) or for a client without
	// a secret.
	SecretCreatedAt  *time.Time `json:"secret_created_at,omitempty"`
	SecretAgeSeconds *int64     `json:"secret_age_seconds,omitempty"`
	// PreviousSecretExpiresAt is set while a rotated-out secret still
	// works; PreviousSecretLastUsedAt is when that secret last got a
	// token (nil: not since the rotation).
	PreviousSecretExpiresAt  *time.Time `json:"previous_secret_expires_at,omitempty"`
	PreviousSecretLastUsedAt *time.Time `json:"previous_secret_last_used_at"`
	// NotCaching is set when the client got more than
	// NotCachingThreshold tokens per token lifetime (TokensPerLifetime,
	// averaged over the previous and the current hour).
	NotCaching          bool    `json:"not_caching"`
	TokensPerLifetime   float64 `json:"tokens_per_lifetime"`
	NotCachingThreshold int     `json:"not_caching_threshold"`
	TokenTTLSeconds     int64   `json:"token_ttl_seconds"`
	// Quota is the client's quota, or nil without one.
	Quota *QuotaUsage `json:"quota"`
	// Totals over the last 24 hours ("24h"), 7 days ("7d") and 30 days
	// ("30d"), ending now.
	Totals map[string]UsageCounts `json:"totals"`
	// Hourly has 24 buckets, the oldest first, the last being the
	// current hour; Daily has 30 UTC days, the last being today.
	Hourly []UsageBucket `json:"hourly"`
	Daily  []UsageBucket `json:"daily"`
}

// BuildClientUsage sums a client's buckets (as store.Usage.ClientUsage
// returns them for the last 30 days) into the admin API's answer. ttl is
// the client's token lifetime.
func BuildClientUsage(c *store.Client, buckets []store.UsageBucket, use store.SecretUse, ttl time.Duration, now time.Time) ClientUsage {
	now = now.UTC()
	out := ClientUsage{ClientID: c.ID, GeneratedAt: now, NotCachingThreshold: NotCachingThreshold,
		TokenTTLSeconds: int64(ttl / time.Second), Totals: map[string]UsageCounts{}}
	if !use.LastUsedAt.IsZero() {
		t := use.LastUsedAt.UTC()
		out.LastUsedAt = &t
	}
	if c.UsesSecret() && !c.SecretCreatedAt.IsZero() {
		t := c.SecretCreatedAt.UTC()
		age := int64(now.Sub(t) / time.Second)
		out.SecretCreatedAt, out.SecretAgeSeconds = &t, &age
	}
	if len(c.PreviousSecretHash) > 0 && now.Before(c.PreviousSecretExpiresAt) {
		t := c.PreviousSecretExpiresAt.UTC()
		out.PreviousSecretExpiresAt = &t
		if use.PreviousSecretID == secretID(c.PreviousSecretHash) && !use.PreviousSecretUsedAt.IsZero() {
			u := use.PreviousSecretUsedAt.UTC()
			out.PreviousSecretLastUsedAt = &u
		}
	}
	hs, ds := windowStarts(now)
	out.Hourly = make([]UsageBucket, 24)
	for i := range out.Hourly {
		out.Hourly[i].Start = time.Unix(hs-int64(23-i)*3600, 0).UTC()
	}
	out.Daily = make([]UsageBucket, 30)
	for i := range out.Daily {
		out.Daily[i].Start = time.Unix(ds-int64(29-i)*86400, 0).UTC()
	}
	var t24, t7, t30 UsageCounts
	var recent int64 // issued in the previous and current hour
	for _, b := range buckets {
		h := b.Hour.Unix()
		if i := 23 - (hs-h)/3600; h <= hs && i >= 0 {
			out.Hourly[i].add(b.Counter, b.N)
			t24.add(b.Counter, b.N)
		}
		if i := 29 - (ds-(h-mod(h, 86400)))/86400; h <= hs && i >= 0 {
			out.Daily[i].add(b.Counter, b.N)
			t30.add(b.Counter, b.N)
			if h > hs-7*86400 {
				t7.add(b.Counter, b.N)
			}
		}
		if b.Counter == store.CounterIssued && h >= hs-3600 && h <= hs {
			recent += b.N
		}
	}
	out.Totals["24h"], out.Totals["7d"], out.Totals["30d"] = t24, t7, t30
	if c.QuotaHourly > 0 || c.QuotaDaily > 0 {
		mode := c.QuotaMode
		if mode == "" {
			mode = store.QuotaEnforce
		}
		q := &QuotaUsage{Hourly: c.QuotaHourly, Daily: c.QuotaDaily, Mode: mode,
			HourUsed: out.Hourly[23].Issued, DayUsed: out.Daily[29].Issued}
		out.Quota = q
	}
	if ttl > 0 {
		elapsed := time.Hour + now.Sub(time.Unix(hs, 0))
		out.TokensPerLifetime = float64(recent) * float64(ttl) / float64(elapsed)
		out.NotCaching = out.TokensPerLifetime > NotCachingThreshold
	}
	return out
}

// adminUsage is GET /admin/clients/{id}/usage.
func (s *Server) adminUsage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if s.usage == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody("not_implemented", "this server records no usage"))
		return nil
	}
	c, err := s.cfg.Clients.GetClient(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.usage.flush(r.Context()); err != nil {
		return err
	}
	now := s.now()
	buckets, use, err := s.usage.st.ClientUsage(r.Context(), id, now.Add(-store.UsageRetention))
	if err != nil {
		return err
	}
	ttl := s.tokenTTL
	if c.TokenTTL > 0 {
		ttl = c.TokenTTL
	}
	writeJSON(w, http.StatusOK, BuildClientUsage(c, buckets, use, min(ttl, s.maxTokenTTL), now))
	return nil
}

// perClientMetrics returns the opt-in per-client series.
func perClientMetrics(reg *prometheus.Registry) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "m2m_client_token_requests_total",
		Help: "Token requests of registered clients, by client id and outcome (issued, or refused:REASON). Only with --metrics-per-client.",
	}, []string{"client_id", "outcome"})
	reg.MustRegister(v)
	return v
}

// setupUsage builds the usage recorder, the quota counter and the
// auditor from the configuration.
func (s *Server) setupUsage() {
	cfg := &s.cfg
	if !cfg.SkipUsage {
		st := cfg.Usage
		if st == nil {
			st, _ = cfg.Clients.(store.Usage)
		}
		if st != nil {
			s.usage = newUsageRecorder(st, s.now, s.log)
			if cfg.MetricsPerClient {
				s.usage.counts = perClientMetrics(s.metrics.reg)
			}
		}
	}
	s.quota = cfg.QuotaCounter
	if s.quota == nil && s.usage != nil {
		s.quota = s.usage
	}
	if !cfg.SkipAudit {
		st := cfg.Audit
		if st == nil {
			st, _ = cfg.Clients.(store.Audit)
		}
		if st != nil || len(cfg.AuditSinks) > 0 {
			s.audit = &auditor{st: st, retention: cfg.AuditRetention, now: s.now, log: s.log}
			if s.audit.retention == 0 {
				s.audit.retention = DefaultAuditRetention
			}
			for _, sink := range cfg.AuditSinks {
				s.audit.sinks = append(s.audit.sinks, newSinkQueue(sink, cfg.AuditSinkQueue, s.log))
			}
			a := s.audit
			s.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "m2m_audit_events_dropped_total",
				Help: "Audit events dropped: the store's queue or a sink's queue was full, or a sink kept failing.",
			}, func() float64 {
				n := a.dropped.Load()
				for _, q := range a.sinks {
					n += q.dropped.Load()
				}
				return float64(n)
			}))
		}
	}
}

// countRefusal counts a token endpoint refusal in the usage telemetry
// (under the client when its id names a registered one, else under
// store.UnknownClient) and records failed authentications in the audit
// log, aggregated.
func (s *Server) countRefusal(r *http.Request, clientID string, e *Error) {
	known := e.knownClient || clientID != "" && s.clients.known(clientID)
	id := store.UnknownClient
	if known {
		id = clientID
	}
	if s.usage != nil {
		s.usage.refused(id, e.Reason, s.now())
	}
	if s.audit != nil && (e.Code == CodeInvalidClient || e.Reason == "auth_throttled") {
		s.audit.record(r.Context(), store.AuditEvent{Code: AuditAuthFailed, ClientID: id, Reason: e.Reason,
			RemoteAddr: s.clientAddr(r)}, true)
	}
}
