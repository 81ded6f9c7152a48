package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
)

var (
	_ httpauth.MultiChallenger  = (*AccessTokens)(nil)
	_ httpauth.HeaderChallenger = (*AccessTokens)(nil)
)

// dpopProblems checks the DPoP part of a Config.
func (c *Config) dpopProblems() []string {
	if c.DPoP == nil {
		if c.PublicURL != "" || len(c.TrustedProxies) > 0 {
			return []string{"PublicURL or TrustedProxies without DPoP"}
		}
		return nil
	}
	var problems []string
	if err := c.DPoP.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	switch {
	case c.PublicURL != "":
		if _, err := normalizeHTU(c.PublicURL, false); err != nil {
			problems = append(problems, "PublicURL is not an absolute http(s) URL without query or fragment")
		}
	case len(c.TrustedProxies) == 0:
		problems = append(problems, "DPoP needs PublicURL or TrustedProxies (the public URL is never guessed from Host)")
	}
	return problems
}

// requestURL is the public URL r was sent to: Config.PublicURL, or the
// origin a trusted proxy names, joined with r's path.
func (a *AccessTokens) requestURL(r *http.Request) (string, error) {
	if a.cfg.PublicURL != "" {
		return DPoPRequestURL(a.cfg.PublicURL, r), nil
	}
	origin, ok := a.cfg.TrustedProxies.ForwardedOrigin(r)
	if !ok {
		return "", dpopInvalid(m2m.ReasonMalformed,
			"the request's public URL is unknown: it did not come through a trusted proxy that names it")
	}
	return DPoPRequestURL(origin, r), nil
}

// asDPoP returns err as a refusal of the DPoP scheme: a copy of its
// CredentialError with Scheme m2m.SchemeDPoP; other errors as they are.
func asDPoP(err error) error {
	var ce *m2m.CredentialError
	if !errors.As(err, &ce) {
		return err
	}
	c := *ce
	c.Scheme = m2m.SchemeDPoP
	return &c
}

// dpopCredentials returns the token of "Authorization: DPoP <token>";
// ok is false when DPoP is off or the request has no such header.
func (a *AccessTokens) dpopCredentials(r *http.Request) (token string, ok bool, err error) {
	if a.cfg.DPoP == nil {
		return "", false, nil
	}
	token, err = httpauth.Credentials(r, "DPoP", m2m.SchemeDPoP)
	if errors.Is(err, m2m.ErrNoCredentials) {
		return "", false, nil
	}
	return token, true, err
}

// verifyDPoP verifies a token sent as "Authorization: DPoP <token>" and
// its proof (RFC 9449 section 7.1): the token as a bearer token would be,
// bound to a key by cnf.jkt and by nothing else, then check (the
// revocation checks of RevocableTokens; nil for none), then the proof
// for r's method and public URL, made with that key for that token, then
// the client and scope policy.
func (a *AccessTokens) verifyDPoP(r *http.Request, token string, check func(context.Context, *VerifiedToken) error) (*m2m.Principal, error) {
	ctx := r.Context()
	vt, err := a.verifyToken(ctx, token)
	if err != nil {
		return nil, asDPoP(err)
	}
	jkt, err := boundJKT(vt.Claims)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(ctx, vt); err != nil {
			return nil, asDPoP(err)
		}
	}
	url, err := a.requestURL(r)
	if err != nil {
		return nil, err
	}
	if _, err := a.cfg.DPoP.Verify(ctx, DPoPRequest{
		Proofs:      r.Header.Values("DPoP"),
		Method:      r.Method,
		URL:         url,
		AccessToken: token,
		JKT:         jkt,
	}); err != nil {
		var ce *m2m.CredentialError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	if err := a.policy(vt); err != nil {
		return nil, asDPoP(err)
	}
	p := vt.Principal()
	p.Scheme = m2m.SchemeDPoP
	return p, nil
}

// boundJKT returns the token's cnf.jkt. A token sent as DPoP must be
// bound to a DPoP key and to nothing else: an unbound token would let any
// key's proof pass, and a token also bound to a certificate would skip
// that check here.
func boundJKT(c *Claims) (string, error) {
	cnf, ok := c.Raw["cnf"].(map[string]any)
	if !ok {
		return "", m2m.Invalid(m2m.SchemeDPoP, m2m.ReasonBadCredentials,
			"the token is not bound to a DPoP key (no cnf.jkt): send it as a bearer token")
	}
	jkt, _ := cnf["jkt"].(string)
	if jkt == "" || len(cnf) != 1 {
		return "", m2m.Invalid(m2m.SchemeDPoP, m2m.ReasonBadCredentials,
			"the token's cnf is not a DPoP key binding (cnf.jkt alone)")
	}
	return jkt, nil
}

// Challenges implements [httpauth.MultiChallenger]: with Config.DPoP, a
// DPoP challenge (RFC 9449 section 7.1: algs, and the error of a refused
// DPoP request: use_dpop_nonce, invalid_dpop_proof, insufficient_scope
// or invalid_token) followed by the Bearer challenge of
// [AccessTokens.Challenge]; without, the Bearer challenge alone.
func (a *AccessTokens) Challenges(err error) []httpauth.Challenge {
	bearer := a.Challenge(err)
	if a.cfg.DPoP == nil {
		return []httpauth.Challenge{bearer}
	}
	c := httpauth.Challenge{Scheme: "DPoP"}
	if a.cfg.Realm != "" {
		c.Params = append(c.Params, httpauth.Param{Name: "realm", Value: a.cfg.Realm})
	}
	c.Params = append(c.Params, httpauth.Param{Name: "algs", Value: strings.Join(a.cfg.DPoP.algorithms(), " ")})
	var ce *m2m.CredentialError
	if err != nil && errors.As(err, &ce) && ce.Scheme == m2m.SchemeDPoP {
		code := "invalid_token"
		switch ce.Reason {
		case m2m.ReasonUseDPoPNonce, m2m.ReasonInvalidDPoPProof, m2m.ReasonInsufficientScope:
			code = string(ce.Reason)
		}
		c.Params = append(c.Params, httpauth.Param{Name: "error", Value: code})
		if ce.Description != "" {
			c.Params = append(c.Params, httpauth.Param{Name: "error_description", Value: ce.Description})
		}
		if ce.Reason == m2m.ReasonInsufficientScope && len(a.cfg.RequiredScopes) > 0 {
			c.Params = append(c.Params, httpauth.Param{Name: "scope", Value: strings.Join(a.cfg.RequiredScopes, " ")})
		}
	}
	return []httpauth.Challenge{c, bearer}
}

// ChallengeHeader implements [httpauth.HeaderChallenger]: a refusal for a
// missing or stale DPoP nonce carries a fresh one in DPoP-Nonce (RFC 9449
// section 9). When no nonce can be made the header is left out and the
// client's retry is refused again.
func (a *AccessTokens) ChallengeHeader(r *http.Request, err error, h http.Header) {
	if a.cfg.DPoP == nil || m2m.ReasonOf(err) != m2m.ReasonUseDPoPNonce {
		return
	}
	if nonce, err := a.cfg.DPoP.Nonce(r.Context()); err == nil && nonce != "" {
		h.Set("DPoP-Nonce", nonce)
	}
}
