// Package keyring manages the token server's signing keys through their
// lifecycle (next -> active -> retiring -> retired) on a [store.Keys]
// backend, so that a key is published in the JWKS (RFC 7517) before any
// token is signed with it and stays published until every token it signed
// has expired — the rotation scheme OpenID Connect providers and Auth0 use
// ("signing key rollover").
//
// Transitions are computed from timestamps kept in the store, idempotently
// and inside one [store.Keys.UpdateKeys] transaction, so that several
// replicas of a server sharing one database converge on the same keys
// whatever order they run in. Between two store reads, a replica switches
// from the active key to its successor by the successor's activation time
// alone, so replicas stop signing with an old key at the same instant.
//
// Private keys are sealed at rest with AES-256-GCM under a key derived by
// HKDF-SHA256 from the server's master secret (info "m2m keyring v1"), with
// the key ID as additional data so a sealed key cannot be swapped between
// records. Signing uses parsed keys kept in an immutable in-memory snapshot:
// [Keyring.Sign] does no I/O and takes no lock.
package keyring

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/m2mkit/m2m/internal/jws"
	"github.com/m2mkit/m2m/jwk"
	"github.com/m2mkit/m2m/store"
)

// Defaults applied to the zero values of [Config] fields.
const (
	// DefaultAlgorithm is the algorithm of new keys.
	DefaultAlgorithm = "ES256"
	// DefaultPrePublish is how long a new key is published before it
	// signs. Verifiers that cache the JWKS must refetch it (or refetch on
	// an unknown kid) within this time; serve the JWKS with a max-age well
	// below it.
	DefaultPrePublish = 10 * time.Minute
	// DefaultMaxTokenTTL bounds the lifetime of the tokens the server
	// signs; a key that stopped signing stays published this long (plus
	// [PublishLeeway]).
	DefaultMaxTokenTTL = 24 * time.Hour
	// DefaultRefreshEvery is how often [Keyring.Run] reloads the keys from
	// the store, and so how soon a replica sees a key added elsewhere.
	DefaultRefreshEvery = 5 * time.Second
	// PublishLeeway is added to MaxTokenTTL before a retiring key leaves
	// the key set, to absorb clock skew between the server and verifiers.
	PublishLeeway = 5 * time.Minute
	// MinMasterSize is the minimum length of Config.Master in bytes.
	MinMasterSize = 32
	// rsaBits is the size of new RS256 keys.
	rsaBits = 2048
	// storeTimeout bounds each store call made by Run.
	storeTimeout = 10 * time.Second
)

// hkdfInfo is the HKDF info string for the sealing key; changing it
// makes every stored key unreadable.
const hkdfInfo = "m2m keyring v1"

// sealVersion is the first byte of a sealed private key.
const sealVersion = 1

// algorithms is the allow-list of key algorithms.
var algorithms = map[string]bool{"ES256": true, "EdDSA": true, "RS256": true}

// ErrNoKey is returned by [Keyring.Sign] when the keyring has no key to
// sign with (only possible if the store was emptied under it).
var ErrNoKey = errors.New("keyring: no signing key")

// ErrStale is returned (wrapped) by [Keyring.Sign] when the keys were last
// read from the store more than Config.MaxStale ago. A successor that
// became active since was created after that read, so this replica
// cannot know that the key it holds still signs: another replica may have
// retired it, and the retired key's publication (counted from when its
// successor activated) would not cover tokens signed with it much later.
// The token server should answer 503 until the store is back.
var ErrStale = errors.New("keyring: keys not read from the store within the pre-publication period")

// Config configures a [Keyring]. Only Store and Master are required.
type Config struct {
	// Store keeps the keys. Required.
	Store store.Keys
	// Master is the server's master secret (at least [MinMasterSize]
	// bytes); the key that seals private keys at rest is derived from it.
	// Every replica sharing Store must use the same Master. Required.
	Master []byte
	// Algorithm is the algorithm of keys this keyring creates: "ES256"
	// (zero value, P-256), "EdDSA" (Ed25519) or "RS256" (RSA 2048).
	// Existing keys keep their own algorithm.
	Algorithm string
	// PrePublish is how long a new key is published before it signs
	// (zero: [DefaultPrePublish]). It must exceed RefreshEvery, so every
	// replica publishes a key before any replica signs with it.
	PrePublish time.Duration
	// MaxTokenTTL is the longest lifetime of a token signed with this
	// keyring (zero: [DefaultMaxTokenTTL]); the server must not issue
	// longer-lived tokens. A key that stops signing stays published for
	// MaxTokenTTL + [PublishLeeway].
	MaxTokenTTL time.Duration
	// RotateEvery is the scheduled lifetime of an active key: a successor
	// is added PrePublish before the active key is RotateEvery old. Zero
	// rotates only on demand ([Keyring.Rotate]).
	RotateEvery time.Duration
	// RefreshEvery is how often [Keyring.Run] reloads the keys and applies
	// due transitions (zero: [DefaultRefreshEvery]).
	RefreshEvery time.Duration
	// MaxStale is how long Sign goes on with keys not re-read from the
	// store, as when the database is down; after that it returns
	// [ErrStale]. Zero means PrePublish + [PublishLeeway], the longest
	// bound for which every token a cut-off replica signs with a key that
	// others have retired still expires before that key leaves the key
	// set (the successor activates at least PrePublish after the last
	// read, and the old key stays published MaxTokenTTL + PublishLeeway
	// after that); it uses up the leeway meant for clock skew, so set
	// PrePublish or less to keep it. Larger values are refused.
	MaxStale time.Duration
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
	// Logger receives key transitions and refresh failures (nil: discard).
	Logger *slog.Logger
}

// KeyInfo describes one key, without its private part, for listings such
// as `m2m key list`.
type KeyInfo struct {
	ID        string
	Algorithm string
	State     store.KeyState
	CreatedAt time.Time
	// ActivatedAt is when the key became active, or for a next key when it
	// is due to.
	ActivatedAt time.Time
	// RetiredAt is when the key stopped signing (zero while next or
	// active).
	RetiredAt time.Time
	// PublishUntil is when a retiring key leaves the key set.
	PublishUntil time.Time
}

// Keyring signs tokens with the current key and publishes the key set. It
// is safe for concurrent use; [Keyring.Sign] and [Keyring.JWKS] read an
// immutable snapshot and never block on the store.
type Keyring struct {
	cfg  Config
	aead cipher.AEAD
	log  *slog.Logger
	snap atomic.Pointer[snapshot]

	mu sync.Mutex // serializes Refresh, so snapshots only move forward
}

// snapshot is an immutable view of the keys at one refresh.
type snapshot struct {
	// signers are the keys that may sign (next and active), by activation
	// time, oldest first.
	signers []*signer
	// fallback signs when no signer is due yet (a clock behind the
	// replica that created the first key); nil if there is none.
	fallback *signer
	jwks     []byte
	// keys is jwks as typed public keys, and version its number: both
	// change together, only when the published keys do.
	keys    *jwk.Set
	version uint64
	infos   []KeyInfo
	// published are the IDs in jwks, in order, to reuse jwks when
	// unchanged.
	published []string
	// readAt is the time taken just before the store read this snapshot
	// was built from; Sign refuses once it is MaxStale old.
	readAt time.Time
}

type signer struct {
	kid        string
	alg        string
	key        crypto.Signer
	sealed     []byte // to reuse the parsed key when unchanged
	activateAt time.Time
	// headers are the encoded protected headers of the token types the
	// token endpoint signs, computed once per key.
	headers [len(cachedTypes)]string
}

// cachedTypes are the header typ values whose encoded header each signer
// keeps: RFC 9068 access tokens and Auth0-profile ones.
var cachedTypes = [...]string{"at+jwt", "JWT"}

func newSigner(kid, alg string, key crypto.Signer, sealed []byte, activateAt time.Time) *signer {
	s := &signer{kid: kid, alg: alg, key: key, sealed: sealed, activateAt: activateAt}
	for i, typ := range cachedTypes {
		s.headers[i] = jws.EncodeHeader(alg, kid, typ)
	}
	return s
}

// header returns the encoded protected header {"alg","kid","typ"} of s.
func (s *signer) header(typ string) string {
	for i, t := range cachedTypes {
		if t == typ {
			return s.headers[i]
		}
	}
	return jws.EncodeHeader(s.alg, s.kid, typ)
}

// New checks cfg, creates the first active key if the store has none, and
// loads the keys. It applies due transitions once; call [Keyring.Run] to
// keep applying them.
func New(ctx context.Context, cfg Config) (*Keyring, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = DefaultAlgorithm
	}
	if cfg.PrePublish == 0 {
		cfg.PrePublish = DefaultPrePublish
	}
	if cfg.MaxTokenTTL == 0 {
		cfg.MaxTokenTTL = DefaultMaxTokenTTL
	}
	if cfg.RefreshEvery == 0 {
		cfg.RefreshEvery = DefaultRefreshEvery
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = cfg.PrePublish + PublishLeeway
	}
	if cfg.MaxStale > cfg.PrePublish+PublishLeeway {
		return nil, fmt.Errorf("keyring: MaxStale (%v) must not exceed PrePublish + PublishLeeway (%v)", cfg.MaxStale, cfg.PrePublish+PublishLeeway)
	}
	if cfg.RefreshEvery >= cfg.PrePublish {
		return nil, fmt.Errorf("keyring: RefreshEvery (%v) must be shorter than PrePublish (%v)", cfg.RefreshEvery, cfg.PrePublish)
	}
	aead, err := sealer(cfg.Master)
	if err != nil {
		return nil, err
	}
	cfg.Master = nil // the derived key is all we keep
	k := &Keyring{cfg: cfg, aead: aead, log: cfg.Logger}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if err := k.Advance(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

func (c *Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("keyring: Store is required"))
	}
	if len(c.Master) < MinMasterSize {
		errs = append(errs, fmt.Errorf("keyring: Master must be at least %d bytes", MinMasterSize))
	}
	if c.Algorithm != "" && !algorithms[c.Algorithm] {
		errs = append(errs, fmt.Errorf("keyring: algorithm %q not allowed (want ES256, EdDSA or RS256)", c.Algorithm))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"PrePublish", c.PrePublish}, {"MaxTokenTTL", c.MaxTokenTTL}, {"RotateEvery", c.RotateEvery}, {"RefreshEvery", c.RefreshEvery}, {"MaxStale", c.MaxStale}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("keyring: %s must not be negative", d.name))
		}
	}
	return errors.Join(errs...)
}

func (k *Keyring) now() time.Time {
	if k.cfg.Now != nil {
		return k.cfg.Now()
	}
	return time.Now()
}

// Sign returns the compact JWS of payload signed with the current key,
// with the header {"alg","kid","typ"} (typ omitted when empty), and the
// key's ID. It does no I/O.
//
// Sign returns an error wrapping [ErrStale] when the last successful
// store read is more than MaxStale old: a successor activated since then
// was created after that read, so this replica could go on signing with
// a key the others have retired.
func (k *Keyring) Sign(typ string, payload []byte) (token, kid string, err error) {
	s, err := k.signer()
	if err != nil {
		return "", "", err
	}
	tok, err := jws.SignEncoded(s.alg, s.key, s.header(typ), payload)
	if err != nil {
		return "", "", fmt.Errorf("keyring: sign with %s: %w", s.kid, err)
	}
	return tok, s.kid, nil
}

// Ready reports whether [Keyring.Sign] can sign now: nil, [ErrNoKey], or
// an error wrapping [ErrStale] when the keys were last read from the store
// more than MaxStale ago. A server's readiness check (/readyz) can use it,
// so that a replica cut off from the store also stops serving its JWKS,
// which lacks any key added since.
func (k *Keyring) Ready() error {
	_, err := k.signer()
	return err
}

// signer returns the key that signs now, or why none may.
func (k *Keyring) signer() (*signer, error) {
	// The clock first, then the snapshot: a snapshot installed in between
	// is newer, never older, than the moment the age is measured at. (In
	// the other order a goroutine preempted between the two reads measures
	// an old snapshot against a later clock and reports it stale.)
	now := k.now()
	snap := k.snap.Load()
	if snap != nil && now.Sub(snap.readAt) > k.cfg.MaxStale {
		return nil, fmt.Errorf("%w (last read %v ago)", ErrStale, now.Sub(snap.readAt).Round(time.Second))
	}
	s := k.current(snap, now)
	if s == nil {
		return nil, ErrNoKey
	}
	return s, nil
}

// current picks the signer due at now: the one with the latest
// activation time not after now.
func (k *Keyring) current(snap *snapshot, now time.Time) *signer {
	if snap == nil {
		return nil
	}
	for i := len(snap.signers) - 1; i >= 0; i-- {
		if !snap.signers[i].activateAt.After(now) {
			return snap.signers[i]
		}
	}
	return snap.fallback
}

// JWKS returns the JSON key set {"keys":[...]} of the next, active and
// retiring public keys, each with kid, alg and use "sig". The slice is
// shared: callers must not modify it.
func (k *Keyring) JWKS() []byte {
	if s := k.snap.Load(); s != nil {
		return s.jwks
	}
	return []byte(`{"keys":[]}`)
}

// PublicKeys returns the keys [Keyring.JWKS] publishes, as an immutable
// set of typed public keys, and its version: a number that grows by one
// each time the published keys change, and only then, so that a caller
// may cache what it derives from the set by version. Versions are local
// to this Keyring (replicas number their snapshots independently). It
// does no I/O; with no keys loaded it returns an empty set and 0.
func (k *Keyring) PublicKeys() (keys *jwk.Set, version uint64) {
	if s := k.snap.Load(); s != nil {
		return s.keys, s.version
	}
	return jwk.NewSet(), 0
}

// Keys describes every key in the last snapshot, retired ones included,
// oldest first (by creation, then activation time).
func (k *Keyring) Keys() []KeyInfo {
	if s := k.snap.Load(); s != nil {
		return slices.Clone(s.infos)
	}
	return nil
}

// Rotate adds a next key, published now and signing after PrePublish
// (when [Keyring.Advance] or any replica's Run promotes it; Sign switches
// to it at that time by itself). If a next key is already pending, Rotate
// does nothing: at most one key waits at a time.
func (k *Keyring) Rotate(ctx context.Context) error {
	var p *plan
	err := k.cfg.Store.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		p = k.plan(keys, k.now())
		if err := p.ensureActive(k); err != nil {
			return nil, err
		}
		if p.pending() == nil {
			nk, err := k.newKey(store.KeyNext, p.now.Add(k.cfg.PrePublish), p.now)
			if err != nil {
				return nil, err
			}
			p.add(nk, "rotate")
		}
		return p.changed, nil
	})
	if err != nil {
		return fmt.Errorf("keyring: rotate: %w", err)
	}
	p.log(k.log)
	return k.Refresh(ctx)
}

// Revoke pulls the key kid in an emergency (its private key may be
// compromised), in one store transaction: the key becomes
// [store.KeyRevoked], its sealed private key is erased, and it leaves the
// key set; if it was signing, a pending next key becomes active at once,
// without waiting for the rest of its pre-publication, or else a new key
// is created active. Revoking a revoked key does nothing; an unknown kid
// is an error wrapping [store.ErrNotFound].
//
// This replica stops signing with the key and stops publishing it at
// once; every other replica does at its next store read (within
// RefreshEvery; one cut off from the store signs with it for at most
// MaxStale, as with any rotation). The server's introspection then answers
// inactive for every token the key signed. Verifiers that cache the key
// set drop it at their next fetch ([jwk.RemoteKeySet] honours the JWKS
// response's Cache-Control max-age). The cost of skipping pre-publication:
// a verifier that has not fetched the new key yet refuses its tokens until
// it refetches, which a RemoteKeySet does on the first unknown kid (at
// most once per MinRefetchInterval).
func (k *Keyring) Revoke(ctx context.Context, kid string) error {
	var p *plan
	err := k.cfg.Store.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		i := slices.IndexFunc(keys, func(sk *store.SigningKey) bool { return sk.ID == kid })
		if i < 0 {
			return nil, fmt.Errorf("key %q: %w", kid, store.ErrNotFound)
		}
		now := k.now()
		if keys[i].State == store.KeyRevoked {
			p = &plan{now: now, keys: keys}
			return nil, nil
		}
		p = k.plan(keys, now) // the transitions due anyway, first
		sk := keys[i]
		sk.State, sk.PrivateKey, sk.PublishUntil = store.KeyRevoked, nil, now
		if sk.RetiredAt.IsZero() {
			sk.RetiredAt = now
		}
		p.add(sk, "revoke")
		if err := p.ensureActive(k); err != nil {
			return nil, err
		}
		return p.changed, nil
	})
	if err != nil {
		return fmt.Errorf("keyring: revoke: %w", err)
	}
	p.log(k.log)
	return k.Refresh(ctx)
}

// Advance applies the transitions due now, in one store transaction: a
// next key whose activation time has come becomes active and the key it
// replaces becomes retiring; a retiring key whose publication has ended
// becomes retired; a scheduled successor is added (RotateEvery); and a
// first active key is created if there is none. It is idempotent, so
// replicas may all run it. It then reloads the snapshot.
func (k *Keyring) Advance(ctx context.Context) error {
	var p *plan
	err := k.cfg.Store.UpdateKeys(ctx, func(keys []*store.SigningKey) ([]*store.SigningKey, error) {
		p = k.plan(keys, k.now())
		if err := p.ensureActive(k); err != nil {
			return nil, err
		}
		if err := p.schedule(k); err != nil {
			return nil, err
		}
		return p.changed, nil
	})
	if err != nil {
		return fmt.Errorf("keyring: advance: %w", err)
	}
	p.log(k.log)
	return k.Refresh(ctx)
}

// Refresh reloads the keys from the store and replaces the snapshot that
// Sign and JWKS use. Keys whose sealed form did not change are not opened
// again.
func (k *Keyring) Refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	readAt := k.now()
	keys, err := k.cfg.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keyring: refresh: %w", err)
	}
	return k.load(keys, readAt)
}

// Run reloads the keys and applies due transitions every RefreshEvery
// until ctx is done, logging (not returning) store failures: while the
// store is unreachable the last snapshot keeps signing, for at most
// MaxStale after its store read (then Sign returns [ErrStale]). It
// returns ctx.Err().
func (k *Keyring) Run(ctx context.Context) error {
	t := time.NewTicker(k.cfg.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := k.tick(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("keyring: refresh failed; signing with the last keys", "error", err)
		}
	}
}

// tick refreshes and, only when a transition is due, opens a write
// transaction: replicas in a steady state only read.
func (k *Keyring) tick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	k.mu.Lock()
	readAt := k.now()
	keys, err := k.cfg.Store.ListKeys(ctx)
	if err != nil {
		k.mu.Unlock()
		return fmt.Errorf("keyring: refresh: %w", err)
	}
	copies := make([]*store.SigningKey, len(keys))
	for i, sk := range keys {
		copies[i] = sk.Clone()
	}
	p := k.plan(copies, k.now())
	due := len(p.changed) > 0 || p.needsActive() || p.scheduleDue(k)
	err = k.load(keys, readAt)
	k.mu.Unlock()
	if err != nil {
		return err
	}
	if due {
		return k.Advance(ctx)
	}
	return nil
}

// load builds and installs a snapshot from keys, read from the store at
// readAt. k.mu is held.
func (k *Keyring) load(keys []*store.SigningKey, readAt time.Time) error {
	prev := k.snap.Load()
	parsed := map[string]*signer{}
	if prev != nil {
		for _, s := range prev.signers {
			parsed[s.kid] = s
		}
	}
	now := k.now()
	snap := &snapshot{readAt: readAt}
	var set jose.JSONWebKeySet
	var pubs []jwk.Key
	var errs []error
	for _, sk := range keys {
		snap.infos = append(snap.infos, info(sk))
		switch sk.State {
		case store.KeyNext, store.KeyActive:
		case store.KeyRetiring:
			if !sk.PublishUntil.After(now) {
				continue
			}
		default:
			continue
		}
		var jk jose.JSONWebKey
		if err := json.Unmarshal(sk.PublicJWK, &jk); err != nil || !jk.IsPublic() || jk.KeyID != sk.ID || jk.Algorithm != sk.Algorithm {
			errs = append(errs, fmt.Errorf("keyring: key %s: bad public JWK", sk.ID))
			continue
		}
		pub, err := jwk.ParseKey(sk.PublicJWK)
		if err != nil || pub.ID != sk.ID || pub.Algorithm != sk.Algorithm {
			errs = append(errs, fmt.Errorf("keyring: key %s: bad public JWK", sk.ID))
			continue
		}
		pubs = append(pubs, *pub)
		jk.Use = "sig"
		set.Keys = append(set.Keys, jk)
		snap.published = append(snap.published, sk.ID)
		if sk.State == store.KeyRetiring {
			continue
		}
		act := activation(sk, k.cfg.PrePublish)
		if s, ok := parsed[sk.ID]; ok && bytes.Equal(s.sealed, sk.PrivateKey) && s.alg == sk.Algorithm {
			c := *s
			c.activateAt = act
			snap.signers = append(snap.signers, &c)
		} else {
			priv, err := k.open(sk)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			snap.signers = append(snap.signers, newSigner(sk.ID, sk.Algorithm, priv, sk.PrivateKey, act))
		}
		if sk.State == store.KeyActive {
			snap.fallback = snap.signers[len(snap.signers)-1]
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	slices.SortStableFunc(snap.signers, func(a, b *signer) int { return a.activateAt.Compare(b.activateAt) })
	slices.SortStableFunc(snap.infos, func(a, b KeyInfo) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), a.ActivatedAt.Compare(b.ActivatedAt))
	})
	if prev != nil && slices.Equal(prev.published, snap.published) {
		snap.jwks, snap.keys, snap.version = prev.jwks, prev.keys, prev.version
	} else {
		snap.keys = jwk.NewSet(pubs...)
		snap.version = 1
		if prev != nil {
			snap.version = prev.version + 1
		}
		if set.Keys == nil {
			set.Keys = []jose.JSONWebKey{}
		}
		b, err := json.Marshal(set)
		if err != nil {
			return fmt.Errorf("keyring: marshal key set: %w", err)
		}
		snap.jwks = b
	}
	k.snap.Store(snap)
	return nil
}

func info(sk *store.SigningKey) KeyInfo {
	return KeyInfo{
		ID: sk.ID, Algorithm: sk.Algorithm, State: sk.State,
		CreatedAt: sk.CreatedAt, ActivatedAt: sk.ActivatedAt,
		RetiredAt: sk.RetiredAt, PublishUntil: sk.PublishUntil,
	}
}

// activation is when sk signs: its ActivatedAt, or for a next key stored
// without one, PrePublish after its creation.
func activation(sk *store.SigningKey, prePublish time.Duration) time.Time {
	if sk.ActivatedAt.IsZero() && sk.State == store.KeyNext {
		return sk.CreatedAt.Add(prePublish)
	}
	return sk.ActivatedAt
}

// plan is one computation of due transitions over a list of keys.
type plan struct {
	now     time.Time
	keys    []*store.SigningKey
	changed []*store.SigningKey
	reasons []string
}

// plan computes the transitions due at now. It does not create keys;
// ensureActive and schedule do.
func (k *Keyring) plan(keys []*store.SigningKey, now time.Time) *plan {
	p := &plan{now: now, keys: keys}
	// Every key that has signed or is due to sign, by activation time.
	var signing []*store.SigningKey
	for _, sk := range keys {
		switch sk.State {
		case store.KeyActive:
			signing = append(signing, sk)
		case store.KeyNext:
			if !activation(sk, k.cfg.PrePublish).After(now) {
				signing = append(signing, sk)
			}
		}
	}
	slices.SortStableFunc(signing, func(a, b *store.SigningKey) int {
		return cmp.Or(activation(a, k.cfg.PrePublish).Compare(activation(b, k.cfg.PrePublish)), a.CreatedAt.Compare(b.CreatedAt))
	})
	// The latest is active; each earlier one stopped signing when its
	// successor started, exactly when Sign switched.
	for i, sk := range signing {
		act := activation(sk, k.cfg.PrePublish)
		if i == len(signing)-1 {
			if sk.State != store.KeyActive || !sk.ActivatedAt.Equal(act) {
				sk.State, sk.ActivatedAt = store.KeyActive, act
				p.add(sk, "activate")
			}
			continue
		}
		end := activation(signing[i+1], k.cfg.PrePublish)
		sk.State, sk.ActivatedAt, sk.RetiredAt = store.KeyRetiring, act, end
		sk.PublishUntil = end.Add(k.cfg.MaxTokenTTL + PublishLeeway)
		sk.PrivateKey = nil // it never signs again
		p.add(sk, "retire")
	}
	for _, sk := range keys {
		if sk.State == store.KeyRetiring && !sk.PublishUntil.After(now) {
			sk.State = store.KeyRetired
			sk.PrivateKey = nil
			p.add(sk, "unpublish")
		}
	}
	return p
}

func (p *plan) add(sk *store.SigningKey, reason string) {
	if i := slices.Index(p.changed, sk); i >= 0 {
		p.reasons[i] = reason
		return
	}
	if !slices.Contains(p.keys, sk) {
		p.keys = append(p.keys, sk)
	}
	p.changed = append(p.changed, sk)
	p.reasons = append(p.reasons, reason)
}

func (p *plan) active() *store.SigningKey {
	for _, sk := range p.keys {
		if sk.State == store.KeyActive {
			return sk
		}
	}
	return nil
}

// pending is the next key not yet due, if any (the latest).
func (p *plan) pending() *store.SigningKey {
	var n *store.SigningKey
	for _, sk := range p.keys {
		if sk.State == store.KeyNext && (n == nil || sk.CreatedAt.After(n.CreatedAt)) {
			n = sk
		}
	}
	return n
}

func (p *plan) needsActive() bool { return p.active() == nil }

// ensureActive makes sure a key signs: with no active key, a pending next
// key is promoted at once (better than not signing), or a new key is
// created active.
func (p *plan) ensureActive(k *Keyring) error {
	if p.active() != nil {
		return nil
	}
	if n := p.pending(); n != nil {
		n.State, n.ActivatedAt = store.KeyActive, p.now
		p.add(n, "activate-early")
		return nil
	}
	nk, err := k.newKey(store.KeyActive, p.now, p.now)
	if err != nil {
		return err
	}
	p.add(nk, "create-first")
	return nil
}

// scheduleDue reports whether RotateEvery calls for a successor now.
func (p *plan) scheduleDue(k *Keyring) bool {
	if k.cfg.RotateEvery <= 0 || p.pending() != nil {
		return false
	}
	a := p.active()
	return a != nil && !a.ActivatedAt.Add(k.cfg.RotateEvery-k.cfg.PrePublish).After(p.now)
}

// schedule adds the scheduled successor when due, activating when the
// active key reaches RotateEvery (or PrePublish from now if later).
func (p *plan) schedule(k *Keyring) error {
	if !p.scheduleDue(k) {
		return nil
	}
	at := p.active().ActivatedAt.Add(k.cfg.RotateEvery)
	if min := p.now.Add(k.cfg.PrePublish); at.Before(min) {
		at = min
	}
	nk, err := k.newKey(store.KeyNext, at, p.now)
	if err != nil {
		return err
	}
	p.add(nk, "rotate-scheduled")
	return nil
}

// log records the transitions of a committed plan.
func (p *plan) log(log *slog.Logger) {
	for i, sk := range p.changed {
		log.Info("keyring: key transition", "kid", sk.ID, "state", string(sk.State), "reason", p.reasons[i])
	}
}

// newKey generates a key of the configured algorithm and seals it.
func (k *Keyring) newKey(state store.KeyState, activateAt, now time.Time) (*store.SigningKey, error) {
	alg := k.cfg.Algorithm
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		err = fmt.Errorf("algorithm %q not allowed", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: generate key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("keyring: thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pub, err := json.Marshal(jwk)
	if err != nil {
		return nil, fmt.Errorf("keyring: marshal public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keyring: marshal private key: %w", err)
	}
	sk := &store.SigningKey{
		ID: jwk.KeyID, Algorithm: alg, State: state,
		PrivateKey: k.seal(der, jwk.KeyID), PublicJWK: pub,
		CreatedAt: now, ActivatedAt: activateAt,
	}
	clear(der)
	return sk, nil
}

// sealer derives the AES-256-GCM key from the master secret.
func sealer(master []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, master, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts der: version byte, 12-byte random nonce, ciphertext and
// tag, with the kid as additional data.
func (k *Keyring) seal(der []byte, kid string) []byte {
	out := make([]byte, 1+k.aead.NonceSize(), 1+k.aead.NonceSize()+len(der)+k.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (crypto/rand panics instead)
	return k.aead.Seal(out, out[1:], der, []byte(kid))
}

// open decrypts and parses a stored private key and checks it matches the
// algorithm and the published key.
func (k *Keyring) open(sk *store.SigningKey) (crypto.Signer, error) {
	ns := k.aead.NonceSize()
	if len(sk.PrivateKey) < 1+ns+k.aead.Overhead() || sk.PrivateKey[0] != sealVersion {
		return nil, fmt.Errorf("keyring: key %s: no sealed private key", sk.ID)
	}
	der, err := k.aead.Open(nil, sk.PrivateKey[1:1+ns], sk.PrivateKey[1+ns:], []byte(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("keyring: key %s: cannot open private key (wrong master secret?)", sk.ID)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keyring: key %s: parse private key: %w", sk.ID, err)
	}
	var priv crypto.Signer
	switch p := parsed.(type) {
	case *ecdsa.PrivateKey:
		if sk.Algorithm == "ES256" && p.Curve == elliptic.P256() {
			priv = p
		}
	case ed25519.PrivateKey:
		if sk.Algorithm == "EdDSA" {
			priv = p
		}
	case *rsa.PrivateKey:
		if sk.Algorithm == "RS256" {
			priv = p
		}
	}
	if priv == nil {
		return nil, fmt.Errorf("keyring: key %s: private key does not match algorithm %q", sk.ID, sk.Algorithm)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(sk.PublicJWK, &jwk); err != nil {
		return nil, fmt.Errorf("keyring: key %s: bad public JWK", sk.ID)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := priv.Public().(equaler); !ok || !e.Equal(jwk.Key) {
		return nil, fmt.Errorf("keyring: key %s: private key does not match the published key", sk.ID)
	}
	return priv, nil
}
