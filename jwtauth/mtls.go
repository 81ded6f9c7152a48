package jwtauth

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

// CertificateBoundTokens is an [m2m.Verifier] for access tokens presented
// as "Authorization: Bearer" that accepts tokens bound to a client
// certificate (RFC 8705 section 3): a token whose cnf claim holds
// "x5t#S256" is accepted only when the request came with the certificate
// of that SHA-256 thumbprint, compared in constant time. The certificate
// is the one of the TLS connection when Go terminates TLS, or the one a
// trusted proxy forwards (see [httpauth.ClientCertificates]). A token
// without cnf is accepted as Tokens accepts it, unless RequireBinding; a
// token bound to anything else (a DPoP key, cnf.jkt) is refused, since
// its proof of possession is not checked here.
//
// Every refusal is a [*m2m.CredentialError] answered 401 with
// error="invalid_token". Tokens verifies signature, claims and policy,
// with its verification cache. The zero value refuses every request with
// a configuration error. A CertificateBoundTokens is safe for concurrent
// use; do not change its fields while it is in use.
type CertificateBoundTokens struct {
	// Tokens verifies the token itself. Required unless Revocable is set.
	Tokens *AccessTokens
	// Revocable, when set, verifies the token with its AccessTokens and
	// also refuses revoked tokens (see [RevocableTokens]); Tokens is then
	// not used.
	Revocable *RevocableTokens
	// Certificates finds the request's client certificate; nil reads only
	// TLS connections Go terminates (r.TLS.PeerCertificates).
	Certificates *httpauth.ClientCertificates
	// RequireBinding refuses tokens that are not bound to a certificate.
	// False accepts them as plain bearer tokens, so that clients can move
	// to mutual TLS one by one.
	RequireBinding bool
}

var (
	_ m2m.Verifier        = (*CertificateBoundTokens)(nil)
	_ httpauth.Challenger = (*CertificateBoundTokens)(nil)
)

// CertificateThumbprintClaim is the cnf member of a certificate-bound
// token (RFC 8705 section 3.1).
const CertificateThumbprintClaim = "x5t#S256"

// Verify implements [m2m.Verifier].
func (b *CertificateBoundTokens) Verify(r *http.Request) (*m2m.Principal, error) {
	tokens := b.tokens()
	if tokens == nil {
		return nil, errors.New("jwtauth: CertificateBoundTokens has no Tokens")
	}
	if err := b.Certificates.Validate(); err != nil {
		return nil, err
	}
	token, err := httpauth.Credentials(r, "Bearer", m2m.SchemeBearer)
	if err != nil {
		return nil, err
	}
	// The token as a bearer token would be verified, without the refusal
	// of a bound one: the binding is checked here.
	vt, err := tokens.verifyToken(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if err := b.checkBinding(r, vt.Claims); err != nil {
		return nil, err
	}
	if b.Revocable != nil {
		if err := b.Revocable.checkRevoked(r.Context(), vt); err != nil {
			return nil, err
		}
	}
	if _, err := tokens.checked(vt); err != nil {
		return nil, err
	}
	p := vt.Principal()
	p.Scheme = m2m.SchemeBearer
	return p, nil
}

// checkBinding compares the token's cnf with the request's certificate.
func (b *CertificateBoundTokens) checkBinding(r *http.Request, c *Claims) error {
	raw, bound := c.Raw["cnf"]
	if !bound {
		if b.RequireBinding {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadCredentials, "the token is not bound to a client certificate")
		}
		return nil
	}
	cnf, ok := raw.(map[string]any)
	if !ok {
		return malformed("cnf is not an object")
	}
	x5t, ok := cnf[CertificateThumbprintClaim].(string)
	if !ok || len(cnf) != 1 {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadCredentials,
			"the token is bound to a key (cnf) other than a client certificate and is not accepted as a bearer token")
	}
	cert, _, err := b.Certificates.Certificate(r)
	if err != nil {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadCredentials, "the client certificate forwarded by the proxy cannot be read")
	}
	if cert == nil {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadCredentials, "the token is bound to a client certificate and the request has none")
	}
	got := httpauth.CertificateThumbprint(cert)
	if subtle.ConstantTimeCompare([]byte(got), []byte(x5t)) != 1 {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadCredentials, "the token is bound to another client certificate")
	}
	return nil
}

func (b *CertificateBoundTokens) tokens() *AccessTokens {
	if b.Revocable != nil {
		return b.Revocable.tokens
	}
	return b.Tokens
}

// Challenge implements [httpauth.Challenger]: the RFC 6750 Bearer
// challenge of Tokens (only Bearer, even when Tokens also accepts DPoP:
// this verifier reads Bearer tokens alone).
func (b *CertificateBoundTokens) Challenge(err error) httpauth.Challenge {
	if t := b.tokens(); t != nil {
		return t.Challenge(err)
	}
	return httpauth.BearerChallenge("", err)
}
