package authserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/m2mkit/m2m/store"
)

// SecretAlgorithmSHA256 is store.Client.SecretAlgorithm for
// server-generated secrets.
const SecretAlgorithmSHA256 = "sha256"

// DefaultClientCacheTTL is how long the token endpoint trusts a client
// record read from the store when Config.ClientCacheTTL is 0: a disabled
// client, a rotated secret or a changed grant takes effect on a running
// server within this bound.
const DefaultClientCacheTTL = 2 * time.Second

// DefaultSecretGrace is how long a rotated-out secret keeps working when
// RotateSecret is given a negative grace.
const DefaultSecretGrace = 24 * time.Hour

// MaxSecretGrace bounds how long a rotated-out secret keeps working:
// RotateSecret refuses a longer grace, and the admin API's grace_seconds
// and m2m client rotate-secret --grace are bounded by it.
const MaxSecretGrace = 30 * 24 * time.Hour

// maxCachedClients bounds the client cache (known and unknown ids); the
// cache is cleared when full.
const maxCachedClients = 100_000

// NewClientID returns a fresh client id: 128 bits from crypto/rand,
// base64url without padding (22 characters), drawn again while it starts
// with '-' or '_' so that the id can be given as a command-line argument
// ("m2m client disable ID") without being taken for a flag.
func NewClientID() (string, error) {
	for {
		id, err := randomString(16)
		if err != nil || (id[0] != '-' && id[0] != '_') {
			return id, err
		}
	}
}

// NewClientSecret returns a fresh client secret: 256 bits from
// crypto/rand, base64url without padding (43 characters).
func NewClientSecret() (string, error) { return randomString(32) }

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("authserver: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns the stored digest of a server-generated secret:
// SHA-256 of its bytes. A slow KDF would add nothing for 256-bit random
// secrets and would cost the token endpoint its speed (docs/DESIGN.md).
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// CreateClient registers c in clients with a fresh secret and returns the
// secret, which is stored only as its digest and cannot be shown again (a
// private_key_jwt client gets no secret: "" is returned). An
// empty c.ID gets a generated id; c must pass [ValidateClient] (the error
// wraps store.ErrInvalid and lists every problem); c.SecretHash, c.SecretAlgorithm,
// c.CreatedAt and c.UpdatedAt are set here (now nil means time.Now).
func CreateClient(ctx context.Context, clients store.Clients, c *store.Client, now func() time.Time) (secret string, err error) {
	if err := ValidateClient(c, 0); err != nil {
		return "", fmt.Errorf("authserver: creating client: %w", err)
	}
	if c.ID == "" {
		if c.ID, err = NewClientID(); err != nil {
			return "", err
		}
	}
	t := nowOf(now)
	if c.UsesSecret() {
		if secret, err = NewClientSecret(); err != nil {
			return "", err
		}
		c.SecretHash, c.SecretAlgorithm = HashSecret(secret), SecretAlgorithmSHA256
	}
	c.CreatedAt, c.UpdatedAt = t, t
	if c.UsesSecret() {
		c.SecretCreatedAt = t
	}
	if err := clients.CreateClient(ctx, c); err != nil {
		return "", fmt.Errorf("authserver: creating client: %w", err)
	}
	return secret, nil
}

// ValidateClient reports every problem with a client about to be
// registered, at once: those of [store.Client.Validate] (an empty ID is
// allowed: CreateClient generates one), a missing audience, and a
// TokenTTL over maxTokenTTL (0: only the store's bound). Each problem is a
// *store.FieldError naming the admin API's field; the joined error wraps
// store.ErrInvalid. The admin API and the CLI check clients with it.
func ValidateClient(c *store.Client, maxTokenTTL time.Duration) error {
	cp := *c
	if cp.ID == "" {
		cp.ID = "generated"
	}
	var errs []error
	if err := cp.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Audiences) == 0 {
		errs = append(errs, &store.FieldError{Field: "audiences", Problem: "at least one audience is required"})
	}
	if maxTokenTTL > 0 && c.TokenTTL > maxTokenTTL {
		errs = append(errs, &store.FieldError{Field: "token_ttl_seconds",
			Problem: fmt.Sprintf("must be at most %d (the server's maximum token lifetime)", int64(maxTokenTTL/time.Second))})
	}
	return errors.Join(errs...)
}

// RotateSecret gives client id a fresh secret and returns it. The old
// secret keeps working for grace (0: not at all; negative:
// [DefaultSecretGrace]; at most [MaxSecretGrace]). now nil means time.Now.
func RotateSecret(ctx context.Context, clients store.Clients, id string, grace time.Duration, now func() time.Time) (secret string, err error) {
	if grace < 0 {
		grace = DefaultSecretGrace
	}
	if grace > MaxSecretGrace {
		return "", fmt.Errorf("authserver: secret grace %v exceeds %v", grace, MaxSecretGrace)
	}
	if secret, err = NewClientSecret(); err != nil {
		return "", err
	}
	t := nowOf(now)
	_, err = clients.UpdateClient(ctx, id, func(c *store.Client) error {
		if grace > 0 {
			c.PreviousSecretHash, c.PreviousSecretAlgorithm = c.SecretHash, c.SecretAlgorithm
			c.PreviousSecretExpiresAt = t.Add(grace)
		} else {
			c.PreviousSecretHash, c.PreviousSecretAlgorithm, c.PreviousSecretExpiresAt = nil, "", time.Time{}
		}
		c.SecretHash, c.SecretAlgorithm = HashSecret(secret), SecretAlgorithmSHA256
		c.UpdatedAt, c.SecretCreatedAt = t, t
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("authserver: rotating secret: %w", err)
	}
	return secret, nil
}

func nowOf(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}

// dummyDigest is compared against when the client id is unknown, so that
// an unknown id costs the same hashing and comparison as a known one.
var dummyDigest = HashSecret("m2m-authserver-dummy-client-secret")

// secretMatches reports, in constant time for equal-length digests,
// whether secret matches c's current secret or its previous one within
// the grace period. With c nil (unknown id) it does the same work against
// a dummy digest and reports false.
func secretMatches(c *store.Client, secret string, now time.Time) bool {
	// Hash from a stack copy (cleared after): []byte(secret) would put a
	// copy of the secret on the heap for every token.
	var buf [128]byte
	var b []byte
	if len(secret) <= len(buf) {
		b = append(buf[:0], secret...)
	} else {
		b = []byte(secret)
	}
	sum := sha256.Sum256(b)
	clear(buf[:])
	if c == nil {
		subtle.ConstantTimeCompare(sum[:], dummyDigest)
		subtle.ConstantTimeCompare(sum[:], dummyDigest)
		return false
	}
	ok := digestMatches(c.SecretAlgorithm, c.SecretHash, sum[:])
	prevOK := digestMatches(c.PreviousSecretAlgorithm, c.PreviousSecretHash, sum[:]) &&
		now.Before(c.PreviousSecretExpiresAt)
	return ok || prevOK
}

func digestMatches(alg string, stored, sum []byte) bool {
	if alg != SecretAlgorithmSHA256 || len(stored) != sha256.Size {
		// Compare anyway so that every path does the same work; an
		// unsupported or missing digest never matches.
		subtle.ConstantTimeCompare(sum, dummyDigest)
		return false
	}
	return subtle.ConstantTimeCompare(sum, stored) == 1
}

// clientCache keeps client records (and misses) for a bounded time so the
// token endpoint does not read the store for every token.
type clientCache struct {
	ttl     time.Duration
	clients store.Clients

	mu sync.RWMutex
	m  map[string]cacheEntry

	// flights dedupes concurrent reads of one id, so that an expiring entry
	// under load costs one store read, not one per waiting request.
	flightMu sync.Mutex
	flights  map[string]*flight
}

type flight struct {
	done chan struct{}
	c    *store.Client
	err  error
}

type cacheEntry struct {
	c       *store.Client // nil: not found
	fetched time.Time
}

// get returns the client with id (nil when it does not exist), from the
// cache if it was fetched less than ttl ago.
func (cc *clientCache) get(ctx context.Context, id string, now time.Time) (*store.Client, error) {
	if cc.ttl <= 0 {
		return cc.fetch(ctx, id)
	}
	cc.mu.RLock()
	e, hit := cc.m[id]
	cc.mu.RUnlock()
	if hit && now.Sub(e.fetched) < cc.ttl && !now.Before(e.fetched) {
		return e.c, nil
	}
	cc.flightMu.Lock()
	f, ok := cc.flights[id]
	if !ok {
		f = &flight{done: make(chan struct{})}
		if cc.flights == nil {
			cc.flights = make(map[string]*flight)
		}
		cc.flights[id] = f
		cc.flightMu.Unlock()
		// The read runs detached from this request, with its own bound,
		// since other requests wait for it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeReadTimeout)
		f.c, f.err = cc.fetch(fctx, id)
		cancel()
		cc.flightMu.Lock()
		delete(cc.flights, id)
		cc.flightMu.Unlock()
		close(f.done)
	} else {
		cc.flightMu.Unlock()
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	c := f.c
	if !ok {
		cc.mu.Lock()
		if cc.m == nil || len(cc.m) >= maxCachedClients {
			cc.m = make(map[string]cacheEntry)
		}
		cc.m[id] = cacheEntry{c: c, fetched: now}
		cc.mu.Unlock()
	}
	return c, nil
}

// storeReadTimeout bounds one client read from the store.
const storeReadTimeout = 5 * time.Second

// fetch reads id from the store; a missing client is (nil, nil).
func (cc *clientCache) fetch(ctx context.Context, id string) (*store.Client, error) {
	c, err := cc.clients.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

// known reports whether the cache holds id as an existing client (at any
// age: it is used to decide what a log may show, not to authenticate).
func (cc *clientCache) known(id string) bool {
	cc.mu.RLock()
	e, hit := cc.m[id]
	cc.mu.RUnlock()
	return hit && e.c != nil && e.c.ID == id
}

// forget drops id from the cache after a change made through this server,
// so that the change applies at once rather than within the TTL.
func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}

// allowsAudience reports whether c may request aud.
func allowsAudience(c *store.Client, aud string) bool { return slices.Contains(c.Audiences, aud) }
