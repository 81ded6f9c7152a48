package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/m2mkit/m2m"
	"github.com/m2mkit/m2m/httpauth"
	"github.com/m2mkit/m2m/store"
)

// DefaultRevocationCacheTTL is how long a [RevocableTokens] trusts a "not
// revoked" answer (and a client's RevokedBefore) when
// RevocationConfig.CacheTTL is zero: a revocation is honoured within it.
const DefaultRevocationCacheTTL = time.Second

// DefaultRevocationCacheSize bounds the revocation cache when
// RevocationConfig.CacheSize is zero; the cache is cleared when full.
const DefaultRevocationCacheSize = 100_000

// RevocationConfig configures a [RevocableTokens].
type RevocationConfig struct {
	// Revocations is where revoked token ids live, shared with the token
	// server's POST /oauth/revoke (its database, or a
	// redisstore.Revocations). Required.
	Revocations store.Revocations
	// Clients, when set, is the token server's client store: a token
	// issued before its client's RevokedBefore ("m2m client
	// revoke-tokens") is refused, and so is a token of a deleted client.
	// nil: only revocations by jti are checked.
	Clients store.Clients
	// CacheTTL bounds how long a "not revoked" answer and a client's
	// RevokedBefore are reused (0: DefaultRevocationCacheTTL; negative:
	// ask the store on every request). A revoked jti is remembered until
	// the token expires.
	CacheTTL time.Duration
	// CacheSize bounds the cached entries (0: DefaultRevocationCacheSize).
	CacheSize int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// RevocableTokens is an [AccessTokens] verifier that also refuses revoked
// tokens (RFC 7009 revocation by jti, and everything issued to a client
// before its RevokedBefore), asking the store through a short local
// cache. A token without jti is refused: it could not be revoked. When
// the store cannot answer, verification fails with a technical error
// (the middleware answers 503): it fails closed. It is an [m2m.Verifier]
// and an [httpauth.Challenger], safe for concurrent use.
type RevocableTokens struct {
	tokens *AccessTokens
	cfg    RevocationConfig
	ttl    time.Duration
	size   int
	auth   TokenAuth

	mu      sync.Mutex
	jtis    map[string]revEntry // jti -> answer
	clients map[string]revEntry // client id -> RevokedBefore
}

type revEntry struct {
	revoked bool      // jti entries: revoked
	before  time.Time // client entries: RevokedBefore (gone: revoked set)
	until   time.Time // valid until
}

var (
	_ m2m.Verifier        = (*RevocableTokens)(nil)
	_ httpauth.Challenger = (*RevocableTokens)(nil)
)

// NewRevocableTokens returns tokens with the revocation checks of c.
func NewRevocableTokens(tokens *AccessTokens, c RevocationConfig) (*RevocableTokens, error) {
	if tokens == nil || c.Revocations == nil {
		return nil, errors.New("jwtauth: NewRevocableTokens needs an AccessTokens and RevocationConfig.Revocations")
	}
	r := &RevocableTokens{tokens: tokens, cfg: c, ttl: c.CacheTTL, size: c.CacheSize}
	if r.ttl == 0 {
		r.ttl = DefaultRevocationCacheTTL
	}
	if r.size <= 0 {
		r.size = DefaultRevocationCacheSize
	}
	r.auth = TokenAuth{Realm: tokens.cfg.Realm, Check: r.CheckToken}
	return r, nil
}

func (r *RevocableTokens) now() time.Time {
	if r.cfg.Now != nil {
		return r.cfg.Now()
	}
	return time.Now()
}

// VerifyToken verifies token with [AccessTokens.VerifyToken], then refuses
// it with [m2m.ReasonRevoked] if its jti is revoked or it was issued
// before its client's RevokedBefore (seconds: a token issued in the
// revocation's second is refused too).
func (r *RevocableTokens) VerifyToken(ctx context.Context, token string) (*VerifiedToken, error) {
	vt, err := r.tokens.VerifyToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := r.checkRevoked(ctx, vt); err != nil {
		return nil, err
	}
	return vt, nil
}

// checkRevoked refuses a verified token that is revoked.
func (r *RevocableTokens) checkRevoked(ctx context.Context, vt *VerifiedToken) error {
	if vt.Claims.ID == "" {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonMissingClaim, "the token has no jti and cannot be checked for revocation")
	}
	now := r.now()
	if r.cfg.Clients != nil && vt.ClientID != "" {
		before, gone, err := r.revokedBefore(ctx, vt.ClientID, now)
		if err != nil {
			return err
		}
		if gone || (!before.IsZero() && vt.Claims.IssuedAt.Before(before)) {
			return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonRevoked, "the token has been revoked")
		}
	}
	revoked, err := r.isRevoked(ctx, vt.Claims.ID, vt.Claims.ExpiresAt, now)
	if err != nil {
		return err
	}
	if revoked {
		return m2m.Invalid(m2m.SchemeBearer, m2m.ReasonRevoked, "the token has been revoked")
	}
	return nil
}

func (r *RevocableTokens) isRevoked(ctx context.Context, jti string, exp, now time.Time) (bool, error) {
	if e, ok := r.cached(&r.jtis, jti, now); ok {
		return e.revoked, nil
	}
	revoked, err := r.cfg.Revocations.IsRevoked(ctx, jti)
	if err != nil {
		return false, fmt.Errorf("jwtauth: checking revocation: %w", err)
	}
	until := now.Add(r.ttl)
	if revoked && exp.After(until) {
		until = exp // a revocation is never undone
	}
	r.store(&r.jtis, jti, revEntry{revoked: revoked, until: until})
	return revoked, nil
}

func (r *RevocableTokens) revokedBefore(ctx context.Context, id string, now time.Time) (before time.Time, gone bool, err error) {
	if e, ok := r.cached(&r.clients, id, now); ok {
		return e.before, e.revoked, nil
	}
	c, err := r.cfg.Clients.GetClient(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		gone = true
	case err != nil:
		return time.Time{}, false, fmt.Errorf("jwtauth: reading the client: %w", err)
	default:
		before = c.RevokedBefore
	}
	r.store(&r.clients, id, revEntry{before: before, revoked: gone, until: now.Add(r.ttl)})
	return before, gone, nil
}

func (r *RevocableTokens) cached(m *map[string]revEntry, key string, now time.Time) (revEntry, bool) {
	if r.ttl < 0 {
		return revEntry{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := (*m)[key]
	return e, ok && now.Before(e.until)
}

func (r *RevocableTokens) store(m *map[string]revEntry, key string, e revEntry) {
	if r.ttl < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if *m == nil || len(*m) >= r.size {
		*m = make(map[string]revEntry)
	}
	(*m)[key] = e
}

// CheckToken verifies token and returns its Principal. Its signature
// fits [TokenAuth].Check.
func (r *RevocableTokens) CheckToken(req *http.Request, token string) (*m2m.Principal, error) {
	vt, err := r.VerifyToken(req.Context(), token)
	if err != nil {
		return nil, err
	}
	return vt.Principal(), nil
}

// Verify implements [m2m.Verifier] for "Authorization: Bearer <token>"
// and, when the AccessTokens has Config.DPoP, "Authorization: DPoP
// <token>" with its proof (as [AccessTokens.Verify], with the revocation
// checks before the proof's).
func (r *RevocableTokens) Verify(req *http.Request) (*m2m.Principal, error) {
	if token, ok, err := r.tokens.dpopCredentials(req); ok {
		if err != nil {
			return nil, err
		}
		return r.tokens.verifyDPoP(req, token, r.checkRevoked)
	}
	return r.auth.Verify(req)
}

// Challenge implements [httpauth.Challenger], as [AccessTokens.Challenge].
func (r *RevocableTokens) Challenge(err error) httpauth.Challenge {
	return r.tokens.Challenge(err)
}

// Challenges implements [httpauth.MultiChallenger], as
// [AccessTokens.Challenges].
func (r *RevocableTokens) Challenges(err error) []httpauth.Challenge {
	return r.tokens.Challenges(err)
}

// ChallengeHeader implements [httpauth.HeaderChallenger], as
// [AccessTokens.ChallengeHeader].
func (r *RevocableTokens) ChallengeHeader(req *http.Request, err error, h http.Header) {
	r.tokens.ChallengeHeader(req, err, h)
}
