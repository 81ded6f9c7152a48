package m2m

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// Scheme names used in [Principal.Scheme]. They name the credential that
// authenticated the request, not the HTTP authentication scheme keyword,
// which is configurable in most scheme packages.
const (
	SchemeBearer  = "bearer"  // a JWT access or device token
	SchemeBasic   = "basic"   // HTTP Basic (RFC 7617)
	SchemeRolling = "rolling" // a rolling code (package rolling)
	SchemeDynamic = "dynamic" // a dynamic token (package dynamic)
	SchemeScoped  = "scoped"  // a scoped temporary token (package scoped)
	SchemeDPoP    = "dpop"    // a DPoP proof (RFC 9449) or a token bound to its key
)

// Principal is who a request authenticated as and what it may do. A
// Verifier returns a new Principal for every successful check; callers may
// read it from any goroutine but must not modify it after it has been put
// in a context.
type Principal struct {
	// Subject identifies the caller: a user name, a client id, a device, or
	// the UUID carried by a dynamic token. It may be empty for schemes that
	// authenticate a shared secret rather than an identity.
	Subject string
	// Scheme is the credential kind that authenticated the request, one of
	// the Scheme constants.
	Scheme string
	// ClientID is the OAuth2 client (or key id) the credential belongs to,
	// when the scheme has one.
	ClientID string
	// Scopes the credential grants. Nil means the scheme has no notion of
	// scopes; RequireScope then refuses every scope.
	Scopes []string
	// Audience is the audience the credential was issued for, if any.
	Audience []string
	// ExpiresAt is when the credential stops being valid; zero when unknown.
	ExpiresAt time.Time
	// Claims holds the scheme-specific details (JWT claims, the scoped
	// token's endpoints and recipient, the rolling key id and step, ...).
	Claims map[string]any
}

// HasScope reports whether p grants every scope in scopes. A nil p grants
// nothing.
func (p *Principal) HasScope(scopes ...string) bool {
	if p == nil {
		return false
	}
	for _, s := range scopes {
		if !slices.Contains(p.Scopes, s) {
			return false
		}
	}
	return true
}

// Verifier checks the credential of one scheme in a request.
//
// Verify returns:
//   - a non-nil *Principal and a nil error when the credential is valid;
//   - an error wrapping [ErrNoCredentials] when the request does not carry
//     this scheme's credential at all (the caller tries the next scheme);
//   - an error wrapping [ErrInvalidCredentials], normally a
//     [*CredentialError] with a stable [Reason], when the credential is
//     present but wrong (HTTP 401);
//   - any other error for a technical failure (HTTP 500 or 503).
//
// Verify must not modify the request.
type Verifier interface {
	Verify(r *http.Request) (*Principal, error)
}

// VerifierFunc adapts a function to the [Verifier] interface.
type VerifierFunc func(r *http.Request) (*Principal, error)

// Verify calls f(r).
func (f VerifierFunc) Verify(r *http.Request) (*Principal, error) { return f(r) }

var _ Verifier = VerifierFunc(nil)

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored in ctx by [NewContext], if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
