// Package replay provides an in-memory [m2m.ReplayCache]: each key is
// accepted once until its expiry. It suits a single process; several
// replicas share one through package redisstore.
package replay

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/m2mkit/m2m"
)

// ErrFull is returned when the cache holds MaxEntries unexpired keys. The
// cache never evicts a live entry, since that would let its credential be
// replayed; callers fail closed.
var ErrFull = errors.New("replay: cache full")

// DefaultMaxEntries bounds a [Memory] cache whose MaxEntries is zero.
const DefaultMaxEntries = 1 << 20

const shards = 32

// Memory is an in-memory replay cache. Its zero value is ready to use. It is
// safe for concurrent use.
type Memory struct {
	// MaxEntries bounds the number of live keys (0 means
	// DefaultMaxEntries). The cache is split into 32 shards of
	// ceil(MaxEntries/32) keys each, so Use may return ErrFull a little
	// before MaxEntries keys are held (when keys hash unevenly), and a
	// MaxEntries that is not a multiple of 32 is rounded up to one.
	MaxEntries int
	// Now returns the current time (nil means time.Now).
	Now func() time.Time

	once   sync.Once
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu        sync.Mutex
	m         map[string]time.Time
	lastSweep time.Time
}

var _ m2m.ReplayCache = (*Memory)(nil)

func (c *Memory) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Use records key until expiry and reports whether it was unseen. A key
// whose expiry has already passed is not recorded and reports true: the
// credential it stands for is refused by its own time check.
func (c *Memory) Use(ctx context.Context, key string, expiry time.Time) (bool, error) {
	c.once.Do(func() { c.seed = maphash.MakeSeed() })
	now := c.now()
	s := &c.shards[maphash.String(c.seed, key)%shards]
	max := c.MaxEntries
	if max <= 0 {
		max = DefaultMaxEntries
	}
	perShard := (max + shards - 1) / shards

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]time.Time)
	}
	if exp, ok := s.m[key]; ok && now.Before(exp) {
		return false, nil
	}
	if !now.Before(expiry) {
		return true, nil
	}
	if len(s.m) >= perShard || now.Sub(s.lastSweep) > time.Second {
		s.sweep(now)
	}
	if len(s.m) >= perShard {
		return false, ErrFull
	}
	s.m[key] = expiry
	return true, nil
}

func (s *shard) sweep(now time.Time) {
	s.lastSweep = now
	for k, exp := range s.m {
		if !now.Before(exp) {
			delete(s.m, k)
		}
	}
}

// Len returns the number of keys held, expired ones included until the
// next sweep.
func (c *Memory) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
