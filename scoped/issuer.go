package scoped

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/oautherr"
	"github.com/m2mkit/m2m/scoped/djangosign"
)

// Issuer signs scoped tokens that drf-tmp-scoped-token (and [Verifier])
// accept. Secret is required; the zero values of the other fields are the
// defaults described on each. An Issuer is safe for concurrent use once
// configured.
type Issuer struct {
	// Secret is the Django SECRET_KEY of the verifying site. Required.
	Secret m2m.Secret
	// Algorithm is the signature hash; the zero value means SHA-256
	// (Django 3.1+). Use djangosign.SHA1 for sites on Django 3.0 or older.
	Algorithm djangosign.Algorithm
	// Salt is the signing salt; the zero value means [DefaultSalt], the
	// one drf-tmp-scoped-token verifies with.
	Salt string
	// DefaultMaxAge is the lifetime of a token that asks for none; zero
	// means [DefaultMaxAge] (one hour).
	DefaultMaxAge time.Duration
	// MaxMaxAge is the longest lifetime issued; zero means
	// [DefaultMaxMaxAge].
	MaxMaxAge time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Issue signs t. A zero t.MaxAge means DefaultMaxAge; the lifetime must be
// whole seconds, positive and at most MaxMaxAge (non-expiring tokens are
// not supported). Methods are upper-cased; at least one endpoint is
// required. t.IssuedAt is ignored: the token is signed at Now.
func (i *Issuer) Issue(t Token) (string, error) {
	return i.issueAt(t, i.now())
}

func (i *Issuer) maxMaxAge() time.Duration {
	if i.MaxMaxAge <= 0 {
		return DefaultMaxMaxAge
	}
	return i.MaxMaxAge
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// issueAt is Issue signed at now.
func (i *Issuer) issueAt(t Token, now time.Time) (string, error) {
	if len(i.Secret) == 0 {
		return "", errors.New("scoped: issuer has no secret")
	}
	if t.MaxAge == 0 {
		t.MaxAge = i.DefaultMaxAge
		if t.MaxAge == 0 {
			t.MaxAge = DefaultMaxAge
		}
	}
	limit := i.maxMaxAge()
	switch {
	case t.MaxAge < time.Second:
		return "", errors.New("scoped: max_age must be at least one second")
	case t.MaxAge > limit:
		return "", fmt.Errorf("scoped: max_age %v exceeds the maximum %v", t.MaxAge, limit)
	case len(t.Endpoints) == 0:
		return "", errors.New("scoped: a token needs at least one endpoint")
	}
	eps := make([]Endpoint, len(t.Endpoints))
	for k, e := range t.Endpoints {
		eps[k] = Endpoint{Method: strings.ToUpper(e.Method), Prefix: e.Prefix}
	}
	t.Endpoints = eps
	s := &djangosign.Signer{Key: i.Secret, Salt: i.Salt, Algorithm: i.Algorithm, Now: func() time.Time { return now }}
	return Encode(s, &t)
}

// IssueHandler is an http.Handler that issues scoped tokens to callers
// already authenticated by another scheme: mount it behind
// httpauth.Middleware, which puts the caller's *m2m.Principal in the
// request context. The caller POSTs
//
//	{"endpoints": ["GET:/api/v1/projects/", "POST:/api/v1/uploads/"], "max_age": 300, "recipient": "thumbnailer"}
//
// (max_age and recipient optional) and receives
//
//	{"token": "...", "token_type": "TmpToken", "expires_in": 300, "endpoints": [...]}
//
// Every requested endpoint must pass Allowed for the caller; otherwise the
// answer is 403 with {"error": "forbidden", "refused": [...]} and no token,
// so a token never grants what its holder could not do itself. Nor does it
// outlive the caller's credential: when the Principal has an ExpiresAt
// (a scoped token, a JWT), the lifetime is shortened so that the token
// expires no later, and a caller with less than a second left is refused.
// expires_in reports the lifetime actually granted. The zero
// value (nil Issuer or Allowed) refuses every request. An IssueHandler is
// safe for concurrent use; do not change it while it serves.
type IssueHandler struct {
	Issuer *Issuer
	// Allowed reports whether the caller p may itself call method on every
	// path under prefix. Nil refuses everything. [AllowByScopes] suits
	// callers whose scopes are "METHOD:PREFIX" strings (as a scoped
	// token's Principal has, so a token can be narrowed further).
	Allowed func(p *m2m.Principal, method, prefix string) bool
	// User returns the token's user for the caller; nil means
	// UserFromString(p.Subject), an integer when the subject is one.
	User func(p *m2m.Principal) (any, error)
	// MaxBodyBytes bounds the request body; zero means 16384.
	MaxBodyBytes int64
}

var _ http.Handler = (*IssueHandler)(nil)

// IssueRequest is the JSON body IssueHandler accepts.
type IssueRequest struct {
	Endpoints []string `json:"endpoints"`           // "METHOD:PREFIX"
	MaxAge    int64    `json:"max_age,omitempty"`   // seconds; 0 means the issuer's default
	Recipient *string  `json:"recipient,omitempty"` // optional
}

// IssueResponse is the JSON body of a successful IssueHandler answer.
type IssueResponse struct {
	Token     string   `json:"token"`
	TokenType string   `json:"token_type"`
	ExpiresIn int64    `json:"expires_in"`
	Endpoints []string `json:"endpoints"`
}

// issueError is the RFC 6749 error body (oautherr.Body, the module's one
// definition) with the refused endpoints as an extension member (RFC 6749
// section 5.2 allows members beyond its own). Encoded, its members keep
// the order error, error_description, refused.
type issueError struct {
	oautherr.Body
	Refused []string `json:"refused,omitempty"`
}

// ServeHTTP issues a token for the authenticated caller (see [IssueHandler]).
func (h *IssueHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpauth.WriteJSON(w, http.StatusMethodNotAllowed, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "use POST"}})
		return
	}
	p, ok := m2m.FromContext(r.Context())
	if !ok {
		httpauth.WriteRefusal(w, m2m.ErrNoCredentials)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		httpauth.WriteJSON(w, http.StatusUnsupportedMediaType, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "send application/json"}})
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = 16 << 10
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		httpauth.WriteJSON(w, http.StatusRequestEntityTooLarge, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "body too large"}})
		return
	}
	var req IssueRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		httpauth.WriteJSON(w, http.StatusBadRequest, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "body is not a valid issue request"}})
		return
	}
	if len(req.Endpoints) == 0 || len(req.Endpoints) > 100 {
		httpauth.WriteJSON(w, http.StatusBadRequest, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "give 1 to 100 endpoints"}})
		return
	}
	t := Token{MaxAge: time.Duration(req.MaxAge) * time.Second, Recipient: req.Recipient}
	if req.MaxAge < 0 || req.MaxAge > int64(DefaultMaxMaxAge/time.Second)*365 {
		httpauth.WriteJSON(w, http.StatusBadRequest, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "max_age out of range"}})
		return
	}
	var refused []string
	for _, s := range req.Endpoints {
		e, err := ParseEndpoint(s)
		if err != nil {
			httpauth.WriteJSON(w, http.StatusBadRequest, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: "endpoints must be METHOD:/prefix"}})
			return
		}
		if h.Issuer == nil || h.Allowed == nil || !h.Allowed(p, e.Method, e.Prefix) {
			refused = append(refused, e.String())
			continue
		}
		t.Endpoints = append(t.Endpoints, e)
	}
	if refused != nil {
		httpauth.WriteJSON(w, http.StatusForbidden, issueError{Body: oautherr.Body{Error: "forbidden", ErrorDescription: "the caller may not grant these endpoints"}, Refused: refused})
		return
	}
	now := time.Now()
	if h.Issuer != nil {
		now = h.Issuer.now()
	}
	if !p.ExpiresAt.IsZero() {
		// Never outlive the caller's own credential: a token's last valid
		// instant is its whole-second timestamp plus max_age.
		left := p.ExpiresAt.Sub(time.Unix(now.Unix(), 0)).Truncate(time.Second)
		if left < time.Second {
			httpauth.WriteJSON(w, http.StatusForbidden, issueError{Body: oautherr.Body{Error: "forbidden", ErrorDescription: "the caller's credential expires too soon"}})
			return
		}
		if t.MaxAge == 0 {
			t.MaxAge = h.Issuer.DefaultMaxAge
			if t.MaxAge == 0 {
				t.MaxAge = DefaultMaxAge
			}
		}
		if t.MaxAge <= h.Issuer.maxMaxAge() { // a lifetime Issue refuses stays refused
			t.MaxAge = min(t.MaxAge, left)
		}
	}
	if h.User != nil {
		t.User, err = h.User(p)
	} else {
		t.User = UserFromString(p.Subject)
	}
	if err != nil {
		httpauth.WriteJSON(w, http.StatusForbidden, issueError{Body: oautherr.Body{Error: "forbidden", ErrorDescription: "no token user for this caller"}})
		return
	}
	tok, err := h.Issuer.issueAt(t, now)
	if err != nil {
		httpauth.WriteJSON(w, http.StatusBadRequest, issueError{Body: oautherr.Body{Error: "invalid_request", ErrorDescription: strings.TrimPrefix(err.Error(), "scoped: ")}})
		return
	}
	if t.MaxAge == 0 {
		t.MaxAge = h.Issuer.DefaultMaxAge
		if t.MaxAge == 0 {
			t.MaxAge = DefaultMaxAge
		}
	}
	out := IssueResponse{Token: tok, TokenType: DefaultKeyword, ExpiresIn: int64(t.MaxAge / time.Second)}
	for _, e := range t.Endpoints {
		out.Endpoints = append(out.Endpoints, e.String())
	}
	httpauth.WriteJSON(w, http.StatusOK, out)
}

// AllowByScopes is an IssueHandler.Allowed policy: the caller may grant
// METHOD:PREFIX when one of its scopes is "METHOD:P" (or "*:P") with PREFIX
// at or below P on a path-segment boundary. A Principal from [Verifier]
// carries its endpoints as such scopes.
func AllowByScopes(p *m2m.Principal, method, prefix string) bool {
	if p == nil || hasDotSegment(prefix) {
		return false
	}
	prefix = IRIToURI(prefix)
	for _, s := range p.Scopes {
		m, sp, ok := strings.Cut(s, ":")
		if !ok || (m != method && m != "*") || !strings.HasPrefix(sp, "/") {
			continue
		}
		if MatchPrefix(prefix, IRIToURI(sp), false) {
			return true
		}
	}
	return false
}
