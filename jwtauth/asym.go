package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/clientaddr"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
)

// DefaultCacheSize is the number of verified tokens a verifier remembers
// when Config.CacheSize is zero.
const DefaultCacheSize = 10000

// Config is the policy of an [AccessTokens] verifier for tokens signed
// with public keys (RS*, PS*, ES*, EdDSA). Issuer, Audiences, Algorithms
// and Keys are required: a missing one is a configuration error.
type Config struct {
	// Issuer is the exact "iss" the tokens must carry (Auth0's has a
	// trailing slash: https://TENANT/).
	Issuer string
	// Audiences: a token is accepted when its "aud" contains one of them.
	Audiences []string
	// Algorithms allowed in the header "alg", such as []string{"RS256"}
	// for Auth0 or []string{"ES256", "EdDSA"}. HMAC algorithms and "none"
	// are refused here: a public key never verifies a MAC.
	Algorithms []string
	// Keys supplies the verification keys, usually a [jwk.RemoteKeySet]
	// at the issuer's jwks_uri. A token's jku, x5u and embedded jwk or
	// x5c headers are never used.
	Keys jwk.KeySet
	// Leeway is the clock skew allowed for exp, nbf and iat, with the
	// same rules as [Validator] (PyJWT's): zero means [DefaultLeeway],
	// [NoLeeway] none.
	Leeway time.Duration
	// RequiredScopes must all be granted; a token without them is refused
	// with 403 insufficient_scope. Empty requires none.
	RequiredScopes []string
	// AllowedClients, if not empty, lists the client ids (azp or
	// client_id) whose tokens are accepted; others are refused with 403
	// forbidden.
	AllowedClients []string
	// AllowHighS accepts high-S ECDSA signatures (see
	// [Validator].AllowHighS for the trade-off). False, the default,
	// suits m2m's token server, which signs low-S; set it for an ES*
	// issuer that signs with a library that does not normalize s (most
	// do not: Go's crypto/ecdsa, Node's jose, OpenSSL). The verification
	// cache is keyed by the token's bytes but holds only verified tokens,
	// so a second spelling costs one more verification, never a bypass.
	AllowHighS bool
	// Profile selects claim conventions; "" means [ProfileGeneric].
	Profile Profile
	// MaxTokenBytes caps the token; zero means [DefaultMaxTokenBytes].
	MaxTokenBytes int
	// CacheSize is how many verified tokens are remembered (by SHA-256 of
	// the whole token) until they expire or their key leaves the set;
	// zero means [DefaultCacheSize], negative disables the cache.
	CacheSize int
	// Realm is the realm of the WWW-Authenticate challenge; "" omits it.
	Realm string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// DPoP, when set, also accepts DPoP-bound tokens sent as
	// "Authorization: DPoP <token>" with a DPoP proof (RFC 9449 section
	// 7): the token as above, then the proof through DPoP (replay, nonce,
	// htm, htu), its ath against the token and its key against the
	// token's cnf.jkt. Refusals then offer a DPoP challenge beside the
	// Bearer one. Nil: the DPoP scheme is not accepted (such a request
	// carries no credential of this verifier). A bound token sent as
	// Bearer is refused either way. See [AccessTokens.Verify].
	DPoP *DPoPVerifier
	// PublicURL is the base URL clients call this API at, such as
	// "https://api.example.com" or "https://example.com/prefix": a
	// request's URL, for a proof's htu, is PublicURL joined with the
	// request's escaped path. With DPoP, PublicURL or TrustedProxies is
	// required; PublicURL wins when both are set.
	PublicURL string
	// TrustedProxies, when PublicURL is empty, are the proxies whose
	// X-Forwarded-Proto and X-Forwarded-Host headers give the public
	// origin of a DPoP request ([clientaddr.TrustedProxies.ForwardedOrigin]);
	// a DPoP request from any other peer, or without those headers, is
	// refused. The Host header is never read.
	TrustedProxies clientaddr.TrustedProxies
}

// AccessTokens verifies JWT access tokens signed with public keys, such
// as those of m2m's token server, Auth0 or any OpenID Connect provider.
// It is an [m2m.Verifier] for "Authorization: Bearer" and an
// [httpauth.Challenger]. It is safe for concurrent use.
type AccessTokens struct {
	cfg       Config
	validator Validator
	keys      KeySource
	cache     *verifyCache
	auth      TokenAuth
}

var (
	_ m2m.Verifier        = (*AccessTokens)(nil)
	_ httpauth.Challenger = (*AccessTokens)(nil)
)

// NewAccessTokens checks c and returns its verifier. Every problem is
// reported at once.
func NewAccessTokens(c Config) (*AccessTokens, error) {
	var problems []string
	if c.Issuer == "" {
		problems = append(problems, "no Issuer")
	}
	if len(c.Audiences) == 0 {
		problems = append(problems, "no Audiences")
	}
	if len(c.Algorithms) == 0 {
		problems = append(problems, "no Algorithms")
	}
	for _, a := range c.Algorithms {
		switch {
		case !jws.Supported(a):
			problems = append(problems, fmt.Sprintf("unsupported algorithm %q", a))
		case jws.IsHMAC(a):
			problems = append(problems, fmt.Sprintf("algorithm %q needs a shared secret, not public keys (use Validator)", a))
		}
	}
	if c.Keys == nil {
		problems = append(problems, "no Keys")
	}
	if c.Profile != "" && !c.Profile.Valid() {
		problems = append(problems, fmt.Sprintf("unknown Profile %q", c.Profile))
	}
	problems = append(problems, c.dpopProblems()...)
	if len(problems) > 0 {
		return nil, errors.New("jwtauth: invalid Config: " + strings.Join(problems, "; "))
	}
	a := &AccessTokens{cfg: c}
	a.validator = Validator{
		Algorithms:    c.Algorithms,
		Issuer:        c.Issuer,
		Audience:      c.Audiences,
		Leeway:        c.Leeway,
		MaxTokenBytes: c.MaxTokenBytes,
		AllowHighS:    c.AllowHighS,
		Now:           c.Now,
	}
	a.keys = PublicKeys(c.Keys)
	if c.Profile == ProfileRFC9068 {
		a.validator.Types = []string{"at+jwt"}
		a.validator.RequiredClaims = []string{"sub", "client_id", "iat", "jti"}
	}
	size := c.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		a.cache = newVerifyCache(size)
	}
	a.auth = TokenAuth{Realm: c.Realm, Check: a.CheckToken}
	return a, nil
}

// VerifiedToken is the result of a successful verification. It is shared
// by every caller presenting the same token and must not be modified.
type VerifiedToken struct {
	Claims *Claims
	// ClientID is the client the token was issued to (azp or client_id).
	ClientID string
	// Scopes granted (see [Profile]).
	Scopes []string
	// KeyID and KeyThumbprint name the key that verified the signature.
	KeyID, KeyThumbprint string
}

// Principal returns a new Principal for the token.
func (vt *VerifiedToken) Principal() *m2m.Principal {
	p := vt.Claims.Principal()
	p.ClientID = vt.ClientID
	p.Scopes = slices.Clone(vt.Scopes)
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	return p
}

// VerifyToken verifies token: size, algorithm allow-list, typ (per
// profile), key by kid (required when the set has several keys, or when
// its keys are named), signature, claims with PyJWT's time rules (exp and
// aud required), then the client and scope policy. A token verified
// before is a cache lookup, re-checked against the clock and the current
// key set.
//
// It returns a [*m2m.CredentialError] for a refused token and another
// error for a technical failure (the key set cannot be fetched).
func (a *AccessTokens) VerifyToken(ctx context.Context, token string) (*VerifiedToken, error) {
	vt, err := a.verifyToken(ctx, token)
	if err != nil {
		return nil, err
	}
	// A sender-constrained token (cnf: DPoP's jkt, mTLS's x5t#S256) is
	// good only with its proof of possession, which a bearer token does
	// not bring: accepting it as one would undo the binding (RFC 9449
	// section 7.1, RFC 8705 section 3). Fail closed.
	if _, bound := vt.Claims.Raw["cnf"]; bound {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonBadCredentials,
			"the token is bound to a key (cnf) and is not accepted as a bearer token")
	}
	return a.checked(vt)
}

// verifyToken is VerifyToken without the cnf refusal and the client and
// scope policy.
func (a *AccessTokens) verifyToken(ctx context.Context, token string) (*VerifiedToken, error) {
	max := a.cfg.MaxTokenBytes
	if max <= 0 {
		max = DefaultMaxTokenBytes
	}
	if len(token) > max {
		return nil, m2m.Invalid(m2m.SchemeBearer, m2m.ReasonTooLarge, "the token is too large")
	}
	var digest [32]byte
	if a.cache != nil {
		digest = tokenDigest(token)
		if vt, ok := a.cache.Get(digest); ok {
			if a.stillValid(ctx, vt) {
				return vt, nil
			}
			a.cache.Remove(digest)
		}
	}
	vt, err := a.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if a.cache != nil {
		a.cache.Put(digest, vt, a.validator.now())
	}
	return vt, nil
}

func (a *AccessTokens) checked(vt *VerifiedToken) (*VerifiedToken, error) {
	if err := a.policy(vt); err != nil {
		return nil, err
	}
	return vt, nil
}

// stillValid re-checks a cached result: the times, and that the key is
// still published. The key lookup is what lets a remote key set notice
// that it is due for a refresh even when every token is cached.
func (a *AccessTokens) stillValid(ctx context.Context, vt *VerifiedToken) bool {
	if a.validator.ValidateClaims(vt.Claims) != nil {
		return false
	}
	keys, err := a.cfg.Keys.Lookup(ctx, vt.KeyID)
	if err != nil {
		return false
	}
	for i := range keys {
		if keys[i].Thumbprint == vt.KeyThumbprint {
			return true
		}
	}
	return false
}

func (a *AccessTokens) verify(ctx context.Context, token string) (*VerifiedToken, error) {
	c, err := a.validator.Verify(ctx, token, a.keys)
	if err != nil {
		return nil, err
	}
	vt := &VerifiedToken{Claims: c, KeyID: c.KeyID, KeyThumbprint: c.KeyThumbprint}
	if err := a.readProfile(vt); err != nil {
		return nil, err
	}
	return vt, nil
}

// readProfile fills ClientID and Scopes from the claims.
func (a *AccessTokens) readProfile(vt *VerifiedToken) error {
	raw := vt.Claims.Raw
	str := func(name string) (string, error) {
		v, ok := raw[name]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", malformed(name + " is not a string")
		}
		return s, nil
	}
	strs := func(name string) ([]string, error) {
		v, ok := raw[name]
		if !ok || v == nil {
			return nil, nil
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, malformed(name + " is not an array of strings")
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, malformed(name + " is not an array of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	// Scopes are read one way (m2m.ParseScope, RFC 6749 section 3.3):
	// split on ASCII spaces only, every token valid. A claim that is not
	// such a list is malformed, never read another way: "read\u00a0admin"
	// is not the scopes read and admin.
	scopes := func(name, s string) ([]string, error) {
		out, err := m2m.ParseScope(s)
		if err != nil {
			return nil, malformed(name + " is not a space-separated list of RFC 6749 scope tokens")
		}
		return out, nil
	}
	tokens := func(name string, list []string) error {
		for _, s := range list {
			if !m2m.ValidScopeToken(s) {
				return malformed(name + " holds a string that is not an RFC 6749 scope token")
			}
		}
		return nil
	}
	scope, err := str("scope")
	if err != nil {
		return err
	}
	if vt.Scopes, err = scopes("scope", scope); err != nil {
		return err
	}
	switch a.cfg.Profile {
	case ProfileAuth0:
		perms, err := strs("permissions")
		if err != nil {
			return err
		}
		if err := tokens("permissions", perms); err != nil {
			return err
		}
		for _, p := range perms {
			if !slices.Contains(vt.Scopes, p) {
				vt.Scopes = append(vt.Scopes, p)
			}
		}
		vt.ClientID, err = str("azp")
		return err
	case ProfileRFC9068:
		vt.ClientID, err = str("client_id")
		return err
	}
	if len(vt.Scopes) == 0 {
		// "scp": an array (Okta) or a space-separated string (Microsoft).
		if scp, ok := raw["scp"].(string); ok {
			if vt.Scopes, err = scopes("scp", scp); err != nil {
				return err
			}
		} else if vt.Scopes, err = strs("scp"); err != nil {
			return err
		} else if err := tokens("scp", vt.Scopes); err != nil {
			return err
		}
	}
	if vt.ClientID, err = str("client_id"); err != nil || vt.ClientID != "" {
		return err
	}
	vt.ClientID, err = str("azp")
	return err
}

// policy applies the client and scope requirements.
func (a *AccessTokens) policy(vt *VerifiedToken) error {
	if len(a.cfg.AllowedClients) > 0 && !slices.Contains(a.cfg.AllowedClients, vt.ClientID) {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonForbidden, "this client may not call this API")
	}
	for _, s := range a.cfg.RequiredScopes {
		if !slices.Contains(vt.Scopes, s) {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonInsufficientScope, "the token lacks a required scope")
		}
	}
	return nil
}

// CheckToken verifies token and returns its Principal (subject, client
// id, scopes, audience, expiry, claims). Its signature fits
// [TokenAuth].Check.
func (a *AccessTokens) CheckToken(r *http.Request, token string) (*m2m.Principal, error) {
	vt, err := a.VerifyToken(r.Context(), token)
	if err != nil {
		return nil, err
	}
	return vt.Principal(), nil
}

// Verify implements [m2m.Verifier] for "Authorization: Bearer <token>"
// and, with Config.DPoP, "Authorization: DPoP <token>" with its proof.
func (a *AccessTokens) Verify(r *http.Request) (*m2m.Principal, error) {
	if token, ok, err := a.dpopCredentials(r); ok {
		if err != nil {
			return nil, err
		}
		return a.verifyDPoP(r, token, nil)
	}
	return a.auth.Verify(r)
}

// Challenge implements [httpauth.Challenger] (RFC 6750).
func (a *AccessTokens) Challenge(err error) httpauth.Challenge {
	c := a.auth.Challenge(err)
	var ce *m2m.CredentialError
	if errors.As(err, &ce) && ce.Reason == m2m.ReasonInsufficientScope && ce.Scheme == m2m.SchemeBearer {
		// RFC 6750 section 3.1: insufficient_scope, with the scope needed.
		for i, p := range c.Params {
			if p.Name == "error" {
				c.Params[i].Value = "insufficient_scope"
			}
		}
		if len(a.cfg.RequiredScopes) > 0 {
			c.Params = append(c.Params, httpauth.Param{Name: "scope", Value: strings.Join(a.cfg.RequiredScopes, " ")})
		}
	}
	return c
}
