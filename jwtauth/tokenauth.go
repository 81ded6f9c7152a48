package jwtauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// TokenAuth is an [m2m.Verifier] for bearer tokens, the shape of
// microdot's TokenAuth: it takes the token from "Authorization: Bearer
// <token>" (RFC 6750 section 2.1; the scheme is compared
// case-insensitively) or, when Header names another header, from that
// header's whole value, and hands it to Check.
//
// The Authorization header is refused before parsing when longer than
// httpauth.MaxAuthorizationBytes. A TokenAuth is safe for concurrent use
// when Check is.
type TokenAuth struct {
	// Scheme is the auth-scheme of the Authorization header; "" means
	// "Bearer".
	Scheme string
	// Header is the header that carries the token; "" means
	// "Authorization" with Scheme. Any other header carries the bare token
	// (such as X-API-Key: <token>).
	Header string
	// Realm is the realm of the WWW-Authenticate challenge; "" omits it.
	Realm string
	// Check verifies the token and returns the Principal (its Scheme is
	// set to m2m.SchemeBearer when empty), nil and nil to refuse it
	// (reason "rejected", like a microdot callback returning None), a
	// *m2m.CredentialError to refuse it with a reason, or another error
	// for a technical failure. [DeviceTokens.CheckToken] fits. Nil
	// refuses every request with a configuration error.
	Check func(r *http.Request, token string) (*m2m.Principal, error)
}

var (
	_ m2m.Verifier        = (*TokenAuth)(nil)
	_ httpauth.Challenger = (*TokenAuth)(nil)
)

func (t *TokenAuth) scheme() string {
	if t.Scheme == "" {
		return "Bearer"
	}
	return t.Scheme
}

// Verify implements [m2m.Verifier].
func (t *TokenAuth) Verify(r *http.Request) (*m2m.Principal, error) {
	if t.Check == nil {
		return nil, errors.New("jwtauth: TokenAuth has no Check")
	}
	var token string
	var err error
	if t.Header == "" || strings.EqualFold(t.Header, "Authorization") {
		token, err = httpauth.Credentials(r, t.scheme(), m2m.SchemeBearer)
	} else {
		token, err = httpauth.HeaderCredentials(r, t.Header, "", m2m.SchemeBearer)
	}
	if err != nil {
		return nil, err
	}
	p, err := t.Check(r, token)
	switch {
	case err == nil && p == nil:
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonRejected, "the token was rejected")
	case err == nil:
		if p.Scheme == "" {
			q := *p // the callback's Principal may be shared: do not modify it
			q.Scheme = m2m.SchemeBearer
			p = &q
		}
		return p, nil
	case errors.Is(err, m2m.ErrInvalidCredentials), errors.Is(err, m2m.ErrNoCredentials):
		return nil, err
	}
	return nil, fmt.Errorf("jwtauth: checking the token: %w", err)
}

// Challenge implements [httpauth.Challenger]: the RFC 6750 challenge under
// Scheme, with error="invalid_token" and a description for a refused
// token.
func (t *TokenAuth) Challenge(err error) httpauth.Challenge {
	c := httpauth.BearerChallenge(t.Realm, err)
	c.Scheme = t.scheme()
	return c
}
