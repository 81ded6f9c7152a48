// Package memstore is an in-memory [store.Store]: for tests, examples and a
// single process that needs no persistence. Every call is atomic under one
// mutex, and records are deep-copied on the way in and out, so callers
// never share memory with the store. It passes the [storetest] suite.
//
// [storetest]: https://pkg.go.dev/github.com/m2mkit/m2m/store/storetest
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/m2mkit/m2m/store"
)

// Store is an in-memory [store.Store]. The zero value is not usable; call
// [New]. It is safe for concurrent use.
type Store struct {
	// Now returns the current time, used to expire revocations (nil:
	// time.Now).
	Now func() time.Time

	mu      sync.Mutex
	clients map[string]*store.Client
	keys    map[string]*store.SigningKey
	revoked map[string]time.Time
	// settings holds store.Settings values (settings.go); nil until the
	// first is stored.
	settings map[string]string
	// trust holds trust policies by name (trust.go); nil until the first
	// is stored.
	trust map[string]*store.TrustPolicy
	swept time.Time // last sweep of expired revocations
	// usage, uses and audit hold store.Usage and store.Audit data
	// (usage.go); nil until the first is stored.
	usage    map[usageKey]int64
	uses     map[string]store.SecretUse
	audit    []store.AuditEvent
	auditSeq int64
	closed   bool
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		clients: make(map[string]*store.Client),
		keys:    make(map[string]*store.SigningKey),
		revoked: make(map[string]time.Time),
	}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// errClosed is returned by every call after Close.
var errClosed = fmt.Errorf("memstore: closed")

func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	return nil
}

// CreateClient stores a copy of c; an existing ID is [store.ErrConflict].
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := c.Validate(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memstore: client %q: %w", c.ID, store.ErrConflict)
	}
	s.clients[c.ID] = c.Clone()
	return nil
}

// GetClient returns a copy of the client with the given ID.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memstore: client %q: %w", id, store.ErrNotFound)
	}
	return c.Clone(), nil
}

// ListClients returns copies of every client, ordered by creation time
// then ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]*store.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c.Clone())
	}
	slices.SortFunc(out, func(a, b *store.Client) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// UpdateClient runs update on a copy of the client and stores the result.
// The ID cannot be changed.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(*store.Client) error) (*store.Client, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memstore: client %q: %w", id, store.ErrNotFound)
	}
	n := c.Clone()
	if err := update(n); err != nil {
		return nil, err
	}
	n.ID = id
	if err := store.ValidateUpdate(c, n); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.clients[id] = n.Clone()
	return n, nil
}

// DeleteClient removes the client with the given ID; a client that
// trust policies name is a [*store.ClientInUseError].
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("memstore: client %q: %w", id, store.ErrNotFound)
	}
	if ps := s.policiesOf(id); len(ps) > 0 {
		e := &store.ClientInUseError{ClientID: id}
		for _, p := range ps {
			e.TrustPolicies = append(e.TrustPolicies, p.Name)
		}
		return e
	}
	delete(s.clients, id)
	return nil
}

// CreateKey stores a copy of k; an existing ID is [store.ErrConflict].
func (s *Store) CreateKey(ctx context.Context, k *store.SigningKey) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("memstore: key %q: %w", k.ID, store.ErrConflict)
	}
	s.keys[k.ID] = k.Clone()
	return nil
}

// GetKey returns a copy of the key with the given ID.
func (s *Store) GetKey(ctx context.Context, id string) (*store.SigningKey, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("memstore: key %q: %w", id, store.ErrNotFound)
	}
	return k.Clone(), nil
}

// ListKeys returns copies of every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*store.SigningKey, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return s.listKeys(), nil
}

func (s *Store) listKeys() []*store.SigningKey {
	out := make([]*store.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k.Clone())
	}
	slices.SortFunc(out, func(a, b *store.SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// UpdateKey runs update on a copy of the key and stores the result. The
// ID cannot be changed.
func (s *Store) UpdateKey(ctx context.Context, id string, update func(*store.SigningKey) error) (*store.SigningKey, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("memstore: key %q: %w", id, store.ErrNotFound)
	}
	n := k.Clone()
	if err := update(n); err != nil {
		return nil, err
	}
	n.ID = id
	s.keys[id] = n.Clone()
	return n, nil
}

// DeleteKey removes the key with the given ID.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return fmt.Errorf("memstore: key %q: %w", id, store.ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}

// UpdateKeys runs update on copies of all keys (oldest first) and stores
// what it returns, creating keys with new IDs, all under one lock.
func (s *Store) UpdateKeys(ctx context.Context, update func([]*store.SigningKey) ([]*store.SigningKey, error)) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	out, err := update(s.listKeys())
	if err != nil {
		return err
	}
	for _, k := range out {
		if k.ID == "" {
			return fmt.Errorf("memstore: key with an empty ID")
		}
	}
	for _, k := range out {
		s.keys[k.ID] = k.Clone()
	}
	return nil
}

// RevokeToken records jti as revoked until expiry; revoking again keeps
// the later expiry. A zero expiry returns an error wrapping
// [store.ErrNoExpiry]; an expiry already past records nothing (the token is
// invalid anyway). Expired records are swept at most once a minute.
func (s *Store) RevokeToken(ctx context.Context, jti string, expiry time.Time) error {
	if expiry.IsZero() {
		return fmt.Errorf("memstore: revoke token: %w", store.ErrNoExpiry)
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.swept) >= time.Minute {
		s.swept = now
		for j, exp := range s.revoked {
			if !exp.After(now) {
				delete(s.revoked, j)
			}
		}
	}
	if old, ok := s.revoked[jti]; !ok || expiry.After(old) {
		s.revoked[jti] = expiry
	}
	return nil
}

// IsRevoked reports whether jti is revoked and its revocation has not
// expired.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if err := s.lock(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	exp, ok := s.revoked[jti]
	return ok && exp.After(s.now()), nil
}

// Ping reports an error once the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close makes every later call fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
