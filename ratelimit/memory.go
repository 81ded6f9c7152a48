package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys bounds a [Memory] limiter whose MaxKeys is zero.
const DefaultMaxKeys = 1 << 20

const shards = 32

// Memory is an in-process [Limiter]. Its zero value is ready to use; it is
// safe for concurrent use. State for a key is dropped once its bucket is
// full again, so memory follows the number of recently active keys, capped
// by MaxKeys (past the cap, arbitrary keys are forgotten, which gives them
// a full bucket).
type Memory struct {
	MaxKeys int              // 0 means DefaultMaxKeys
	Now     func() time.Time // nil means time.Now

	once   sync.Once
	seed   maphash.Seed
	shards [shards]memShard
}

type memShard struct {
	mu        sync.Mutex
	tat       map[string]time.Time
	lastSweep time.Time
}

var _ Limiter = (*Memory)(nil)

// Take implements [Limiter].
func (m *Memory) Take(_ context.Context, key string, l Limit, n int) (Decision, error) {
	m.once.Do(func() { m.seed = maphash.MakeSeed() })
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	s := &m.shards[maphash.String(m.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tat == nil {
		s.tat = make(map[string]time.Time)
	}
	d, newTat, err := gcra(now, s.tat[key], l, n)
	if err != nil {
		return Decision{}, err
	}
	if !newTat.After(now) {
		delete(s.tat, key)
		return d, nil
	}
	limit := m.MaxKeys
	if limit <= 0 {
		limit = DefaultMaxKeys
	}
	perShard := (limit + shards - 1) / shards
	if _, ok := s.tat[key]; !ok && len(s.tat) >= perShard || now.Sub(s.lastSweep) > 10*time.Second {
		s.lastSweep = now
		for k, t := range s.tat {
			if !t.After(now) {
				delete(s.tat, k)
			}
		}
		for k := range s.tat {
			if len(s.tat) < perShard {
				break
			}
			delete(s.tat, k)
		}
	}
	s.tat[key] = newTat
	return d, nil
}
