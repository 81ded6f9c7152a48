package redisstore

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

// MaxLeaseSize is the most tokens one lease of a [Limiter] takes.
const MaxLeaseSize = 64

// DefaultMaxLocalKeys bounds the leases and remembered peeks of a
// [Limiter] whose MaxLocalKeys is zero.
const DefaultMaxLocalKeys = 10_000

// LeaseSize returns how many tokens a [Limiter] with the given Lease
// takes from the shared bucket of lim at once:
//
//	min(Burst/8, tokens refilled in one lease, MaxLeaseSize), at least 1
//
// A lease of 1 is an exact take, one script per token. The burst/8 bound
// keeps a lease small beside the bucket, so that a few replicas holding
// leases leave tokens for the others; the refill bound keeps the tokens
// lost to an expiring lease, and the time a token may be handed out after
// Redis counted it, within one lease's refill, and keeps low limits exact
// (with a 100 ms lease, every limit up to 10 per second). A limit that
// refills in whole microseconds (rates above a million per second count as
// a million, as in the script) is what counts.
func LeaseSize(lim ratelimit.Limit, lease time.Duration) int {
	if !(lim.Rate > 0) || lim.Burst <= 0 {
		return 1
	}
	interval, ok := emissionInterval(lim.Rate)
	if !ok {
		return 1
	}
	return leaseSize(interval, lim.Burst, lease)
}

// leaseSize is LeaseSize for a bucket of burst tokens, one every interval
// microseconds.
func leaseSize(interval int64, burst int, lease time.Duration) int {
	if lease <= 0 {
		return 1
	}
	refill := lease.Microseconds() / interval
	return int(max(min(int64(burst/8), refill, MaxLeaseSize), 1))
}

// localShards is the number of independently locked parts of the local
// state, so that takes on different keys seldom wait for each other.
const localShards = 32

// localState holds a Limiter's leases and remembered peeks.
type localState struct {
	once   sync.Once
	seed   maphash.Seed
	shards [localShards]localShard
}

type localShard struct {
	mu sync.Mutex
	m  map[string]*localEntry
	// takes counts the takes of n >= 1 on the shard's keys: a peek whose
	// answer arrives after a take began is not remembered, since it may
	// predate the take.
	takes     uint64
	lastSweep time.Time
}

// localEntry is one key's lease and remembered peek.
type localEntry struct {
	// The lease: tokens left to hand out before expires, taken under lim
	// (interval is its emission interval in microseconds). srvNow and tat
	// are the script's clock and the bucket's TAT when the last lease was
	// taken, at local time at; they give the decisions' Remaining and
	// Reset.
	lim      ratelimit.Limit
	interval int64
	tokens   int
	expires  time.Time
	at       time.Time
	srvNow   int64
	tat      int64
	// fullUntil is when the remembered answer of a peek that found the
	// bucket full expires (zero: none remembered).
	fullUntil time.Time
}

// stale reports whether e holds nothing usable at now.
func (e *localEntry) stale(now time.Time) bool {
	return (e.tokens == 0 || !now.Before(e.expires)) && !now.Before(e.fullUntil)
}

// spend hands out n tokens of the lease when it is valid for lim at now.
func (e *localEntry) spend(now time.Time, lim ratelimit.Limit, n int) (ratelimit.Decision, bool) {
	if e.tokens < n || e.lim != lim || !now.Before(e.expires) {
		return ratelimit.Decision{}, false
	}
	e.tokens -= n
	return e.decision(now, n), true
}

// decision is the Decision of a take of n from the lease, counting the
// unspent tokens as still in the bucket.
func (e *localEntry) decision(now time.Time, n int) ratelimit.Decision {
	srvNow := e.srvNow + now.Sub(e.at).Microseconds()
	tat := max(e.tat-int64(e.tokens)*e.interval, srvNow)
	return decide(true, srvNow, tat, e.interval, e.lim.Burst, n)
}

// shard returns key's shard and the key the local state files it under
// (a long key by its digest, as in Redis, so that memory stays bounded).
func (st *localState) shard(key string) (*localShard, string) {
	st.once.Do(func() { st.seed = maphash.MakeSeed() })
	if len(key) > MaxKeyLen {
		key = keyName("", key)
	}
	return &st.shards[maphash.String(st.seed, key)%localShards], key
}

// entry returns key's entry, creating it; s.mu is held. A full shard
// first drops its stale entries, then arbitrary ones.
func (s *localShard) entry(key string, now time.Time, maxKeys int) *localEntry {
	if e := s.m[key]; e != nil {
		return e
	}
	if s.m == nil {
		s.m = make(map[string]*localEntry)
	}
	perShard := max((maxKeys+localShards-1)/localShards, 1)
	if len(s.m) >= perShard || now.Sub(s.lastSweep) > 10*time.Second {
		s.lastSweep = now
		for k, e := range s.m {
			if e.stale(now) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < perShard {
				break
			}
			delete(s.m, k)
		}
	}
	e := new(localEntry)
	s.m[key] = e
	return e
}

// cached answers a Take through the leases and remembered peeks.
func (l *Limiter) cached(ctx context.Context, key string, lim ratelimit.Limit, interval int64, n int, now time.Time) (ratelimit.Decision, error) {
	s, lkey := l.local.shard(key)
	if n == 0 {
		return l.peek(ctx, s, key, lkey, lim, interval, now)
	}
	size := leaseSize(interval, lim.Burst, l.Lease)
	s.mu.Lock()
	s.takes++
	if e := s.m[lkey]; e != nil {
		e.fullUntil = time.Time{}
		if d, ok := e.spend(now, lim, n); ok {
			s.mu.Unlock()
			return d, nil
		}
	}
	s.mu.Unlock()
	if size <= n {
		size = 0 // an exact take
	}
	res, err := l.eval(ctx, key, interval, lim.Burst, n, size, now)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	if res.taken <= int64(n) {
		return decide(res.taken > 0, res.now, res.tat, interval, lim.Burst, n), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(lkey, now, l.maxLocalKeys())
	spare := int(res.taken) - n
	if e.tokens > 0 && e.lim == lim && now.Before(e.expires) {
		// Another take on this replica fetched a lease meanwhile: keep
		// both, under the earlier expiry (tokens may only be lost early).
		e.tokens += spare
		if res.tat <= e.tat {
			// The other lease was taken after this one: its TAT counts both.
			return e.decision(now, n), nil
		}
	} else {
		e.lim, e.interval, e.tokens, e.expires = lim, interval, spare, now.Add(l.Lease)
	}
	e.at, e.srvNow, e.tat = now, res.now, res.tat
	return e.decision(now, n), nil
}

// peek answers a peek from a remembered full bucket, else asks Redis and
// remembers a full bucket for PeekTTL.
func (l *Limiter) peek(ctx context.Context, s *localShard, key, lkey string, lim ratelimit.Limit, interval int64, now time.Time) (ratelimit.Decision, error) {
	s.mu.Lock()
	if e := s.m[lkey]; e != nil && now.Before(e.fullUntil) {
		s.mu.Unlock()
		return ratelimit.Decision{Allowed: true, Limit: lim.Burst, Remaining: lim.Burst, Reset: now}, nil
	}
	takes := s.takes
	s.mu.Unlock()
	res, err := l.eval(ctx, key, interval, lim.Burst, 0, 0, now)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	if res.taken > 0 && res.tat <= res.now {
		l.rememberFull(s, lkey, takes, now)
	}
	return decide(res.taken > 0, res.now, res.tat, interval, lim.Burst, 0), nil
}

// rememberFull remembers for PeekTTL that a peek begun when the shard had
// counted takes found lkey's bucket full, unless a take has begun since
// (the peek's answer may predate it).
func (l *Limiter) rememberFull(s *localShard, lkey string, takes uint64, now time.Time) {
	if l.PeekTTL <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.takes == takes {
		s.entry(lkey, now, l.maxLocalKeys()).fullUntil = now.Add(l.PeekTTL)
	}
}

func (l *Limiter) maxLocalKeys() int {
	if l.MaxLocalKeys > 0 {
		return l.MaxLocalKeys
	}
	return DefaultMaxLocalKeys
}
