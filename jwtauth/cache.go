package jwtauth

import (
	"sync"
	"time"
)

// verifyCache remembers verified tokens by the SHA-256 of the whole
// token. It is sharded to keep lock contention low; each shard holds at
// most size/shards entries and, when full, drops expired entries or else
// an arbitrary one. Only successes are cached, so a flood of bad tokens
// cannot push good ones out faster than new good tokens could.
type verifyCache struct {
	shards [cacheShards]cacheShard
	per    int
}

const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*VerifiedToken
}

func newVerifyCache(size int) *verifyCache {
	c := &verifyCache{per: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*VerifiedToken)
	}
	return c
}

func (c *verifyCache) shard(d [32]byte) *cacheShard { return &c.shards[d[0]%cacheShards] }

func (c *verifyCache) get(d [32]byte) *VerifiedToken {
	s := c.shard(d)
	s.mu.RLock()
	vt := s.m[d]
	s.mu.RUnlock()
	return vt
}

func (c *verifyCache) put(d [32]byte, vt *VerifiedToken, now time.Time) {
	s := c.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.per {
		for k, v := range s.m {
			if !v.Claims.ExpiresAt.IsZero() && v.Claims.ExpiresAt.Before(now) {
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
	s.m[d] = vt
}

func (c *verifyCache) remove(d [32]byte) {
	s := c.shard(d)
	s.mu.Lock()
	delete(s.m, d)
	s.mu.Unlock()
}
