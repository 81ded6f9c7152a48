// Package vcache remembers verified tokens by the SHA-256 of the whole
// token, so that a token presented again costs a hash and a map lookup
// instead of a signature check. The verifier of access tokens
// (jwtauth.AccessTokens) and the token server's introspection use it.
package vcache

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// Digest is the SHA-256 of token, computed over the string's bytes in
// place: a []byte conversion would copy (and allocate) the whole token on
// every lookup. sha256.Sum256 only reads its argument.
func Digest(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// Cache holds verification results by digest. It is sharded to keep lock
// contention low; each shard holds at most size/shards entries and, when
// full, drops expired entries or else an arbitrary one. Callers cache
// only successes, so a flood of bad tokens cannot push good ones out
// faster than new good tokens could; a result is immutable once cached.
// It is safe for concurrent use.
type Cache[V any] struct {
	shards  [shards]shard[V]
	per     int
	expires func(V) time.Time // when a cached result is no longer valid (zero: never)
}

const shards = 16

type shard[V any] struct {
	mu sync.RWMutex
	m  map[[32]byte]V
}

// New returns a cache of about size entries whose results expire at
// expires(v).
func New[V any](size int, expires func(V) time.Time) *Cache[V] {
	c := &Cache[V]{per: max(1, size/shards), expires: expires}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]V)
	}
	return c
}

func (c *Cache[V]) shard(d [32]byte) *shard[V] { return &c.shards[d[0]%shards] }

// Get returns the result cached under d.
func (c *Cache[V]) Get(d [32]byte) (V, bool) {
	s := c.shard(d)
	s.mu.RLock()
	v, ok := s.m[d]
	s.mu.RUnlock()
	return v, ok
}

// Put caches v under d, making room (expired results first) when the
// shard is full.
func (c *Cache[V]) Put(d [32]byte, v V, now time.Time) {
	s := c.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.per {
		for k, old := range s.m {
			if exp := c.expires(old); !exp.IsZero() && exp.Before(now) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.per {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[d] = v
}

// Remove forgets d.
func (c *Cache[V]) Remove(d [32]byte) {
	s := c.shard(d)
	s.mu.Lock()
	delete(s.m, d)
	s.mu.Unlock()
}
