package dynamic

import (
	"errors"
	"net/http"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/outbound"
)

// DefaultAuthScheme is the Authorization scheme keyword dynamic tokens are
// sent with: "Authorization: Dynamic <token>".
const DefaultAuthScheme = "Dynamic"

// Verifier is an [m2m.Verifier] for dynamic tokens. By default it reads
// "Authorization: Dynamic <token>"; Header selects a custom header whose
// whole value is the token, as clients of the Rust crate and its Node port
// send it. The token's UUID, when present, becomes the Principal's Subject,
// so that a handler can do the crate's second, user-specific check.
//
// Its zero value has no Codec and fails every request with an error. A
// Verifier is safe for concurrent use when its Codec is.
type Verifier struct {
	// Codec checks tokens: a *Sealed (single-use, the default choice) or a
	// *Compat.
	Codec Codec
	// Header, when set, names the header (such as "X-Dynamic-Token") that
	// carries the bare token; "" means Authorization with AuthScheme.
	Header string
	// AuthScheme is the Authorization scheme keyword, compared without
	// regard to case; "" means DefaultAuthScheme. Unused when Header is set.
	AuthScheme string
	// Realm is the realm of the WWW-Authenticate challenge ("" for none).
	Realm string
}

var (
	_ m2m.Verifier        = (*Verifier)(nil)
	_ httpauth.Challenger = (*Verifier)(nil)
)

func (v *Verifier) authScheme() string {
	if v.AuthScheme == "" {
		return DefaultAuthScheme
	}
	return v.AuthScheme
}

// Verify checks the request's dynamic token. It returns
// m2m.ErrNoCredentials without one, a *m2m.CredentialError for a refused
// token, and another error when the replay cache fails.
func (v *Verifier) Verify(r *http.Request) (*m2m.Principal, error) {
	if v.Codec == nil {
		return nil, errors.New("dynamic: verifier has no codec")
	}
	var tok string
	var err error
	if v.Header != "" {
		tok, err = httpauth.HeaderCredentials(r, v.Header, "", m2m.SchemeDynamic)
	} else {
		tok, err = httpauth.Credentials(r, v.authScheme(), m2m.SchemeDynamic)
	}
	if err != nil {
		return nil, err
	}
	res, err := v.Codec.Accept(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	if !res.Valid {
		reason := res.Reason
		if reason == "" {
			reason = m2m.ReasonBadCredentials
		}
		return nil, m2m.Invalid(m2m.SchemeDynamic, reason, describe(res))
	}
	p := &m2m.Principal{
		Subject:   res.UUID,
		Scheme:    m2m.SchemeDynamic,
		ClientID:  res.KeyID,
		ExpiresAt: res.Expiry,
		Claims:    map[string]any{},
	}
	if res.AgeKnown {
		p.Claims["age_ms"] = res.AgeMS
	}
	if _, ok := v.Codec.(*Compat); ok {
		p.Claims["mode"] = "compat"
	} else {
		p.Claims["mode"] = "sealed"
	}
	return p, nil
}

// describe gives a client-safe description of a refusal.
func describe(r Result) string {
	switch r.Status {
	case StatusTimedOut:
		if r.Reason == m2m.ReasonNotYetValid {
			return "dynamic token timestamp is in the future"
		}
		return "dynamic token expired"
	case StatusReplayed:
		return "dynamic token already used"
	case StatusUUIDRequired:
		return "dynamic token carries no valid user id"
	case StatusInvalidTimestamp:
		return "dynamic token timestamp is invalid"
	}
	if r.Reason == m2m.ReasonTooLarge {
		return "dynamic token too large"
	}
	return "invalid dynamic token"
}

// Challenge returns the WWW-Authenticate challenge: the scheme keyword
// and, when set, the realm.
func (v *Verifier) Challenge(error) httpauth.Challenge {
	c := httpauth.Challenge{Scheme: v.authScheme()}
	if v.Realm != "" {
		c.Params = append(c.Params, httpauth.Param{Name: "realm", Value: v.Realm})
	}
	return c
}

// Transport is an http.RoundTripper that adds a fresh dynamic token to
// every request it sends, in "Authorization: Dynamic <token>" or, with
// Header set, as the bare value of that header. It is safe for concurrent
// use when its Codec is.
type Transport struct {
	// Codec makes the tokens; required.
	Codec Codec
	// UUID, when set, is carried by every token.
	UUID string
	// Header and AuthScheme mean what they mean in [Verifier].
	Header     string
	AuthScheme string
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip adds a new token to a clone of req and sends it, through an
// [outbound.Transport]: the request body is closed on every path, as
// http.RoundTripper requires, and a redirect that http.Client follows to
// another origin (scheme and host) is sent without a token: a compat
// token carries the API key, and a sealed one could be spent by the other
// host.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ot := outbound.Transport{Authorize: t.authorize, Base: t.Base}
	return ot.RoundTrip(req)
}

// authorize sets a new token on r, a clone of the caller's request.
func (t *Transport) authorize(r *http.Request) error {
	if t.Codec == nil {
		return errors.New("dynamic: transport has no codec")
	}
	tok, err := t.Codec.Encode(t.UUID)
	if err != nil {
		return err
	}
	if t.Header != "" {
		r.Header.Set(t.Header, tok)
		return nil
	}
	scheme := t.AuthScheme
	if scheme == "" {
		scheme = DefaultAuthScheme
	}
	r.Header.Set("Authorization", scheme+" "+tok)
	return nil
}
