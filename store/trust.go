package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// TrustPolicy lets a workload that holds a signed identity token from an
// external issuer (a CI job's OIDC token, a Kubernetes service-account
// token, a SPIFFE JWT-SVID) authenticate as one registered client with no
// secret: a token whose issuer is Issuer, whose audience contains one of
// Audiences, whose subject matches Subject and whose claims match every
// entry of Claims is accepted as client ClientID.
//
// Patterns (Subject and the values of Claims) match exactly, except that
// '*' matches any run of characters, '/' and ':' included.
type TrustPolicy struct {
	// Name identifies the policy; it is unique and chosen by the operator.
	Name string
	// Issuer is the exact iss the token must carry, an https URL (http
	// only for a loopback address the operator names).
	Issuer string
	// JWKSURI is where the issuer's keys are fetched; empty means OIDC
	// discovery at Issuer. JWKS is a JWK Set given by value instead. A
	// policy has at most one of the two.
	JWKSURI string
	JWKS    []byte
	// Audiences: the token's aud must contain at least one of them.
	Audiences []string
	// Subject is the pattern the token's sub must match.
	Subject string
	// Claims maps a claim name to the pattern its value must match (a
	// string claim; numbers and booleans match their JSON text).
	Claims map[string]string
	// ClientID is the client the token authenticates as.
	ClientID string
	// Scopes the issued token may carry; empty: the client's scopes.
	Scopes []string
	// MaxTTL bounds the issued token's lifetime (0: the client's or the
	// server's token lifetime); it never outlives the external token.
	MaxTTL time.Duration
	// SingleUse accepts each external token (by its jti, or its hash
	// when it has none) once.
	SingleUse bool
	// Preset names the convention the policy was made from
	// ("github-actions", "gitlab", "kubernetes", "spiffe"), or "".
	Preset string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// TrustPolicies stores trust policies, keyed by name, with the same
// conventions as [Clients].
type TrustPolicies interface {
	CreateTrustPolicy(ctx context.Context, p *TrustPolicy) error
	GetTrustPolicy(ctx context.Context, name string) (*TrustPolicy, error)
	// ListTrustPolicies returns every policy, ordered by name.
	ListTrustPolicies(ctx context.Context) ([]*TrustPolicy, error)
	UpdateTrustPolicy(ctx context.Context, name string, update func(*TrustPolicy) error) (*TrustPolicy, error)
	DeleteTrustPolicy(ctx context.Context, name string) error
}

// ClientsAndTrustPolicies is a store of clients and of the trust
// policies that name them, which keeps the two consistent: a stored
// policy's client exists. Both backends of the token server (memstore,
// sqlstore) implement it.
//
// CreateTrustPolicy and UpdateTrustPolicy refuse a policy whose ClientID
// names no client with a [*FieldError] for field client_id (wrapping
// [ErrInvalid]), and DeleteClient refuses to delete a client that
// policies name with a [*ClientInUseError] (wrapping [ErrInUse]),
// deleting nothing. The check and the write are one transaction, so a
// policy created while its client is deleted either makes the delete
// fail or fails itself.
type ClientsAndTrustPolicies interface {
	Clients
	TrustPolicies
	// DeleteClientAndTrustPolicies deletes the client and every trust
	// policy that names it, in one transaction, and returns the
	// policies deleted, ordered by name. A client that does not exist
	// is [ErrNotFound], and nothing is deleted.
	DeleteClientAndTrustPolicies(ctx context.Context, id string) ([]*TrustPolicy, error)
}

// ClientInUseError is the error of DeleteClient on a
// [ClientsAndTrustPolicies] store for a client that trust policies name:
// nothing was deleted. It wraps [ErrInUse].
type ClientInUseError struct {
	ClientID string
	// TrustPolicies are the names of the policies that name the client,
	// ordered by name.
	TrustPolicies []string
}

func (e *ClientInUseError) Error() string {
	return fmt.Sprintf("store: client %q is named by trust policies (%s)", e.ClientID, strings.Join(e.TrustPolicies, ", "))
}

// Unwrap returns [ErrInUse].
func (e *ClientInUseError) Unwrap() error { return ErrInUse }

// NoSuchClient is the problem a [ClientsAndTrustPolicies] store reports,
// as a [*FieldError] for field client_id, for a policy whose client does
// not exist.
func NoSuchClient() *FieldError {
	return &FieldError{Record: "trust policy", Field: "client_id", Problem: "no client has this id"}
}

// Clone returns a deep copy of p (nil for nil).
func (p *TrustPolicy) Clone() *TrustPolicy {
	if p == nil {
		return nil
	}
	d := *p
	d.JWKS = cloneBytes(p.JWKS)
	d.Audiences = cloneStrings(p.Audiences)
	d.Scopes = cloneStrings(p.Scopes)
	if p.Claims != nil {
		d.Claims = make(map[string]string, len(p.Claims))
		for k, v := range p.Claims {
			d.Claims[k] = v
		}
	}
	return &d
}
