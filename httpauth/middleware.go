// Package httpauth is net/http middleware that authenticates requests with
// one or more [m2m.Verifier]s tried in order, puts the resulting
// [*m2m.Principal] in the request context, and answers refusals with the
// right status, one WWW-Authenticate challenge per offered scheme (RFC 7235,
// RFC 6750 for Bearer) and a JSON error body with a stable code.
package httpauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/internal/logattr"
	"github.com/m2mkit/m2m/internal/oautherr"
)

// Middleware authenticates requests. Its zero value has no verifiers and so
// refuses every request with 401. A Middleware is safe for concurrent use
// once configured; do not change its fields while it serves.
type Middleware struct {
	// Verifiers are tried in order. The first that finds its credential
	// decides: success, or a refusal that no later verifier can overturn.
	Verifiers []m2m.Verifier
	// OnError, if set, writes the response for a refused request in place
	// of the default JSON error. err wraps m2m.ErrNoCredentials,
	// m2m.ErrInvalidCredentials, or is a technical failure.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives one Info record per refusal (reason code, scheme,
	// method, path, client address; never the credential) and an Error
	// record per technical failure. Every field a caller chose is cut to
	// at most 128 bytes (the error text of a technical failure to 512)
	// with control characters escaped. Nil discards.
	Logger *slog.Logger
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers name the client address that Logger records (see
	// [clientaddr.TrustedProxies.ClientAddr]); nil means the TCP peer.
	TrustedProxies clientaddr.TrustedProxies
	// Trace makes an OpenTelemetry span, "m2m.authenticate", per checked
	// request through the global tracer provider of
	// go.opentelemetry.io/otel: its outcome (authenticated,
	// no_credentials, refused, error), reason, scheme and the
	// authenticated client id; never a credential. The verifiers see its
	// context, so their own spans (a key set fetch) are its children.
	// False, the default, makes none and costs nothing.
	Trace bool
}

// Check authenticates r and returns its Principal. It returns an error
// wrapping m2m.ErrNoCredentials when no verifier found its credential.
func (m *Middleware) Check(r *http.Request) (*m2m.Principal, error) {
	if m.Trace {
		return m.checkTraced(r)
	}
	return m.check(r)
}

func (m *Middleware) check(r *http.Request) (*m2m.Principal, error) {
	for _, v := range m.Verifiers {
		p, err := v.Verify(r)
		switch {
		case err == nil && p != nil:
			return p, nil
		case err == nil:
			return nil, errors.New("httpauth: verifier returned neither a principal nor an error")
		case errors.Is(err, m2m.ErrNoCredentials):
			continue
		default:
			return nil, err
		}
	}
	return nil, m2m.ErrNoCredentials
}

// Handler returns a handler that serves next with the Principal in the
// request context and refuses requests that do not authenticate.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := m.Check(r)
		if err != nil {
			m.Refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(m2m.NewContext(r.Context(), p)))
	})
}

// Optional is like Handler but also serves requests that carry no
// credential at all, without a Principal in the context. A credential that
// is present but wrong is still refused.
func (m *Middleware) Optional(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := m.Check(r)
		switch {
		case err == nil:
			r = r.WithContext(m2m.NewContext(r.Context(), p))
		case !errors.Is(err, m2m.ErrNoCredentials):
			m.Refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Refuse logs err, lets each verifier that is a [HeaderChallenger] set
// its response headers, and writes the refusal for r: OnError's response when
// set, otherwise [WriteRefusal] with the challenges of m's verifiers (a
// bare Bearer challenge when none of them is a [Challenger], since RFC
// 7235 requires at least one on a 401).
func (m *Middleware) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	m.log(r, err)
	for _, v := range m.Verifiers {
		if hc, ok := v.(HeaderChallenger); ok {
			hc.ChallengeHeader(r, err, w.Header())
		}
	}
	if m.OnError != nil {
		m.OnError(w, r, err)
		return
	}
	cs := m.Challenges(err)
	if len(cs) == 0 {
		cs = []Challenge{{Scheme: "Bearer"}}
	}
	WriteRefusal(w, err, cs...)
}

// Challenges returns the WWW-Authenticate challenges for a refusal with
// err: those of each verifier that implements [MultiChallenger], one for
// each other verifier that implements [Challenger], in order, each
// distinct challenge once (two verifiers of one scheme, such as a
// certificate-bound and a DPoP verifier of the same tokens, may offer the
// same Bearer challenge).
func (m *Middleware) Challenges(err error) []Challenge {
	var cs []Challenge
	add := func(c Challenge) {
		s := c.String()
		for _, d := range cs {
			if d.String() == s {
				return
			}
		}
		cs = append(cs, c)
	}
	for _, v := range m.Verifiers {
		if mc, ok := v.(MultiChallenger); ok {
			for _, c := range mc.Challenges(err) {
				add(c)
			}
		} else if c, ok := v.(Challenger); ok {
			add(c.Challenge(err))
		}
	}
	return cs
}

func (m *Middleware) log(r *http.Request, err error) {
	if m.Logger == nil {
		return
	}
	attrs := []slog.Attr{
		logattr.String("method", r.Method),
		logattr.String("path", r.URL.Path),
		slog.String("remote_addr", m.TrustedProxies.ClientAddr(r).String()),
	}
	reason := m2m.ReasonOf(err)
	if reason == "" {
		m.Logger.LogAttrs(r.Context(), slog.LevelError, "m2m: authentication failed", append(attrs, slog.String("error", logattr.Clean(err.Error(), 512)))...)
		return
	}
	attrs = append(attrs, logattr.String("reason", string(reason)))
	var ce *m2m.CredentialError
	if errors.As(err, &ce) && ce.Scheme != "" {
		attrs = append(attrs, logattr.String("scheme", ce.Scheme))
	}
	m.Logger.LogAttrs(r.Context(), slog.LevelInfo, "m2m: request refused", attrs...)
}

// ErrorBody is the JSON body of every refusal this package writes: the
// OAuth 2.0 error response of RFC 6749 section 5.2 (and RFC 6750 section
// 3.1), defined once for the module (the token server writes it and
// clientcred reads it). Refusals written here leave ErrorURI empty, so it
// is not encoded.
type ErrorBody = oautherr.Body

// WriteRefusal writes the default response for err: the status from the
// error (401 for missing or invalid credentials, 403 for forbidden, 429 with
// Retry-After for throttled, 503 for m2m.ErrUnavailable, 500 otherwise),
// the challenges as WWW-Authenticate headers, and an [ErrorBody] whose
// error field is the stable reason code.
//
// Challenges are written on 401 (RFC 7235 section 3.1), and on a 403
// insufficient_scope refusal those that carry error="insufficient_scope"
// (RFC 6750 section 3.1), so that a Bearer client learns the scope it
// lacks while other schemes' challenges, which could not help, are left
// out. Other statuses carry no challenge.
func WriteRefusal(w http.ResponseWriter, err error, challenges ...Challenge) {
	status, body := refusal(err)
	h := w.Header()
	switch {
	case status == http.StatusUnauthorized:
		for _, c := range challenges {
			h.Add("WWW-Authenticate", c.String())
		}
	case status == http.StatusForbidden && body.Error == string(m2m.ReasonInsufficientScope):
		for _, c := range challenges {
			if c.hasParam("error", string(m2m.ReasonInsufficientScope)) {
				h.Add("WWW-Authenticate", c.String())
			}
		}
	}
	var ce *m2m.CredentialError
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ce.RetryAfter))
	}
	WriteJSON(w, status, body)
}

func refusal(err error) (int, ErrorBody) {
	var ce *m2m.CredentialError
	switch {
	case errors.As(err, &ce):
		return ce.HTTPStatus(), ErrorBody{Error: string(ce.Reason), ErrorDescription: ce.Description}
	case errors.Is(err, m2m.ErrNoCredentials):
		return http.StatusUnauthorized, ErrorBody{Error: string(m2m.ReasonMissing), ErrorDescription: "authentication required"}
	case errors.Is(err, m2m.ErrInvalidCredentials):
		return http.StatusUnauthorized, ErrorBody{Error: string(m2m.ReasonBadCredentials), ErrorDescription: "invalid credentials"}
	case errors.Is(err, m2m.ErrUnavailable):
		return http.StatusServiceUnavailable, ErrorBody{Error: "temporarily_unavailable", ErrorDescription: "authentication is temporarily unavailable"}
	}
	return http.StatusInternalServerError, ErrorBody{Error: "server_error", ErrorDescription: "authentication failed on the server"}
}

// WriteJSON writes v as a JSON response with status and
// Cache-Control: no-store.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// RequireScope returns middleware that serves next only when the request's
// Principal grants every scope in scopes. Each scope must be an RFC 6749
// scope token ([m2m.ValidScopeToken]); otherwise the middleware refuses
// every request with 500 and [ErrBadRequiredScope] (a programming error,
// failed closed). Without a Principal it answers
// 401 with a bare Bearer challenge; with one that lacks a scope, 403
// insufficient_scope with an RFC 6750 Bearer challenge naming the scopes.
// Place it inside Handler. It neither logs nor calls an OnError; prefer
// [Middleware.RequireScope], which does both and offers the middleware's
// own challenges.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return requireScope(scopes, func(w http.ResponseWriter, r *http.Request, err error, c Challenge) {
		if errors.Is(err, m2m.ErrNoCredentials) {
			c = Challenge{Scheme: "Bearer"}
		}
		WriteRefusal(w, err, c)
	})
}

// RequireScope returns middleware that serves next only when the request's
// Principal grants every scope in scopes. Each scope must be an RFC 6749
// scope token; otherwise every request is refused with 500 and
// [ErrBadRequiredScope], logged at Error. Refusals go through
// [Middleware.Refuse]: they are logged at Info with their reason code and
// written by OnError when set. Without a Principal the answer is 401 with
// m's challenges (a bare Bearer challenge when none of its verifiers is a
// [Challenger]); with one that lacks a scope, 403 insufficient_scope with
// an RFC 6750 Bearer challenge naming the scopes. Place it inside m's
// Handler or Optional.
func (m *Middleware) RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return requireScope(scopes, func(w http.ResponseWriter, r *http.Request, err error, c Challenge) {
		if errors.Is(err, m2m.ErrNoCredentials) {
			m.Refuse(w, r, err)
			return
		}
		m.log(r, err)
		if m.OnError != nil {
			m.OnError(w, r, err)
			return
		}
		WriteRefusal(w, err, c)
	})
}

// requireScope is RequireScope with refuse writing the refusal: err is
// m2m.ErrNoCredentials without a Principal, or an insufficient_scope
// *m2m.CredentialError with c its challenge.
func requireScope(scopes []string, refuse func(w http.ResponseWriter, r *http.Request, err error, c Challenge)) func(http.Handler) http.Handler {
	want := m2m.FormatScope(scopes)
	if err := checkRequiredScopes(scopes); err != nil {
		// A programming error: fail closed on every request, loudly.
		return func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				refuse(w, r, err, Challenge{})
			})
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := m2m.FromContext(r.Context())
			if !ok {
				refuse(w, r, m2m.ErrNoCredentials, Challenge{})
				return
			}
			if !p.HasScope(scopes...) {
				scheme := "Bearer"
				if p.Scheme == m2m.SchemeDPoP {
					scheme = "DPoP" // RFC 9449 section 7.1: the token's own scheme
				}
				refuse(w, r, &m2m.CredentialError{Scheme: p.Scheme, Reason: m2m.ReasonInsufficientScope,
					Description: "the credential lacks a required scope: " + want},
					Challenge{Scheme: scheme, Params: []Param{
						{"error", string(m2m.ReasonInsufficientScope)}, {"scope", want},
					}})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ErrBadRequiredScope is the error every request meets behind a
// RequireScope given a scope that is not an RFC 6749 scope token.
var ErrBadRequiredScope = errors.New("httpauth: RequireScope needs RFC 6749 scope tokens (printable ASCII other than space, '\"' and '\\')")

// checkRequiredScopes refuses required scopes that no token could carry
// under m2m.ParseScope: a scope with a space, a non-ASCII character or
// nothing at all.
func checkRequiredScopes(scopes []string) error {
	for _, s := range scopes {
		if !m2m.ValidScopeToken(s) {
			return ErrBadRequiredScope
		}
	}
	return nil
}
