package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/m2mkit/m2m/ratelimit"
)

// DefaultLimiterPrefix prefixes the keys of a [Limiter] whose Prefix is
// empty.
const DefaultLimiterPrefix = "m2m:rl:"

// gcraScript is the generic cell rate algorithm of package ratelimit, run
// atomically in Redis, with leases. The bucket's state is its theoretical
// arrival time (TAT) in microseconds since the Unix epoch; all arithmetic
// is on whole microseconds, which a Lua number (a double) holds exactly.
//
// KEYS[1]  the bucket
// ARGV[1]  the emission interval in microseconds (one token)
// ARGV[2]  the burst in tokens
// ARGV[3]  n, the tokens the caller needs (0: peek whether one is available)
// ARGV[4]  L, a lease: when L > n, L tokens if the bucket has them, else n
// ARGV[5]  the current time in microseconds, or "" for the server's TIME
//
// It returns {taken, now, tat}: taken is 0 (refused), n or L (for a peek,
// 1 when a token is available); tat is the stored TAT after the decision
// (at least now).
const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2]) * interval
local n = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local now
if ARGV[5] == '' then
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
	now = tonumber(ARGV[5])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or 0
if tat < now then
	tat = now
end
if n == 0 then
	if now < tat + interval - burst then
		return {0, now, tat}
	end
	return {1, now, tat}
end
local take = n
if lease > n and now >= tat + lease * interval - burst then
	take = lease
elseif now < tat + n * interval - burst then
	return {0, now, tat}
end
local newtat = tat + take * interval
redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', string.format('%d', math.ceil((newtat - now) / 1000)))
return {take, now, newtat}
`

var gcra = redis.NewScript(gcraScript)

// Limiter is a [ratelimit.Limiter] in Redis: every replica using the same
// server and prefix takes from the same buckets, so together they grant no
// more than one budget. Each Take is one Lua script (GCRA, one timestamp
// per key, expiring once the bucket is full again) that reads the Redis
// server's clock, so replicas whose clocks differ still agree. Its
// resolution is one microsecond: rates above a million per second are
// treated as a million.
//
// Two optional local caches save round trips; with both off (the zero
// value) every Take asks Redis and the decisions are exact.
//
// With Lease set, a Take of n >= 1 on a large limit takes a lease of
// [LeaseSize] tokens from the shared bucket in one script call and hands
// them out locally until they are spent or the lease is Lease old; the
// next Take fetches another. Every token a replica grants was taken from
// the shared bucket first, so all replicas together never grant more than
// the shared GCRA budget: tokens leased but unspent when the lease
// expires are lost (an under-grant, never an over-grant), and a token is
// handed out at most Lease after Redis counted it, so over any window W
// the replicas grant at most what the bucket allows over W + Lease. The
// lease size is 1 (one script per Take, exact) unless the limit is large,
// and a refused lease falls back, in the same script call, to taking
// exactly n, so a client near its limit gets the exact answer. The
// Decision of a token from a lease is the one an exact Take would give on
// a single replica: Remaining and Reset count the lease's unspent tokens
// as still in the bucket.
//
// With PeekTTL set, a peek (n == 0) that found the bucket full (untouched,
// nothing to refill) is remembered for PeekTTL, and peeks in that time are
// answered locally (allowed, Remaining the whole burst). A Take of
// n >= 1 through this Limiter forgets it at once, so the replica that
// records a failure sees the real state from its next peek. Another
// replica's takes are seen at most PeekTTL late: for a failure throttle
// ([ratelimit.Throttle]), an attacker spreading guesses over replicas
// gains at most about one guess per replica per PeekTTL (each failed
// guess is still recorded in Redis and ends that replica's cached answer).
//
// The local state is bounded by MaxLocalKeys: expired entries are swept
// first, then arbitrary ones dropped (a dropped lease loses its tokens, a
// dropped peek asks Redis again).
//
// When Redis cannot answer, Take uses Fallback if set (local buckets: each
// replica then grants up to the whole budget on its own until Redis is
// back) and logs a warning at most once a second; without a Fallback it
// returns the error. The zero value (no Client) returns an error or uses
// the Fallback. A Limiter is safe for concurrent use; do not change its
// fields while it is in use.
type Limiter struct {
	Client *Client
	// Prefix is prepended to every key (empty means DefaultLimiterPrefix).
	Prefix string
	// Fallback answers while Redis cannot (nil: return the error).
	Fallback ratelimit.Limiter
	// Logger receives the failures (nil discards them).
	Logger *slog.Logger
	// Now, when set, replaces the Redis server's clock and the clock of
	// the leases and cached peeks (for tests with a simulated clock).
	// Nil, the default, uses the server's TIME in Redis and the local
	// monotonic clock for leases and peeks.
	Now func() time.Time
	// Lease is how long a lease of tokens taken from a shared bucket may
	// be spent locally (0, the default, means no leases: one script per
	// Take).
	Lease time.Duration
	// PeekTTL is how long a peek that found a bucket full is answered
	// locally (0, the default, means every peek asks Redis).
	PeekTTL time.Duration
	// MaxLocalKeys bounds the keys with a lease or a remembered peek (0
	// means DefaultMaxLocalKeys).
	MaxLocalKeys int

	lastLog atomic.Int64 // unix nanoseconds of the last fallback warning
	scripts atomic.Int64 // scripts sent to Redis, for tests and benchmarks
	local   localState   // leases and remembered peeks
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// Take implements [ratelimit.Limiter]. A Limit with Rate <= 0 or
// Burst <= 0 (or a NaN rate), or a negative n, is refused without asking
// Redis.
func (l *Limiter) Take(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if lim.Rate <= 0 || lim.Burst <= 0 || n < 0 || math.IsNaN(lim.Rate) {
		// As ratelimit.Memory: nothing is allowed.
		now := l.clock()
		return ratelimit.Decision{Limit: max(lim.Burst, 0), RetryAfter: time.Hour, Reset: now.Add(time.Hour)}, nil
	}
	d, err := l.take(ctx, key, lim, n)
	if err == nil || l.Fallback == nil {
		return d, err
	}
	if now := time.Now().UnixNano(); now-l.lastLog.Load() >= int64(time.Second) {
		l.lastLog.Store(now)
		logger(l.Logger).WarnContext(ctx, "redisstore: rate limiter unavailable, using local buckets", "error", err)
	}
	return l.Fallback.Take(ctx, key, lim, n)
}

// clock returns the time of the leases and peeks (and of the script when
// Now is set).
func (l *Limiter) clock() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) take(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if l.Client == nil {
		return ratelimit.Decision{}, errNoClient
	}
	// Keep every product the script forms below 2^53 microseconds past
	// the epoch (about 285 years), where a double is still exact. A lease
	// is never larger than the burst.
	interval, ok := emissionInterval(lim.Rate)
	if !ok || lim.Burst > maxSpan/int(interval) || n > maxSpan/int(interval) {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: limit %v burst %d n %d out of range", lim.Rate, lim.Burst, n)
	}
	now := l.clock()
	if l.Lease > 0 || l.PeekTTL > 0 {
		return l.cached(ctx, key, lim, interval, n, now)
	}
	res, err := l.eval(ctx, key, interval, lim.Burst, n, 0, now)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return decide(res.taken > 0, res.now, res.tat, interval, lim.Burst, n), nil
}

// maxSpan bounds the script's time arithmetic in microseconds: below 2^53,
// where a Lua number (a double) is exact, with room for now.
const maxSpan = 1 << 52

// emissionInterval returns the microseconds between two tokens at rate
// (at least 1), or false when it is beyond maxSpan.
func emissionInterval(rate float64) (int64, bool) {
	iv := math.Round(1e6 / rate)
	if !(iv <= maxSpan) {
		return 0, false
	}
	return max(int64(iv), 1), true
}

// scriptResult is a script's answer: the tokens taken (for a peek, 1 when
// one is available), the server's time and the TAT after the decision,
// in microseconds.
type scriptResult struct {
	taken, now, tat int64
}

// eval runs the GCRA script for n tokens on key, or for a lease of that
// many tokens (else exactly n) when lease > n.
func (l *Limiter) eval(ctx context.Context, key string, interval int64, burst, n, lease int, now time.Time) (scriptResult, error) {
	clock := ""
	if l.Now != nil {
		clock = strconv.FormatInt(now.UnixMicro(), 10)
	}
	prefix := l.Prefix
	if prefix == "" {
		prefix = DefaultLimiterPrefix
	}
	l.scripts.Add(1)
	var res []int64
	err := l.Client.do(ctx, func(ctx context.Context) (err error) {
		res, err = gcra.Run(ctx, l.Client.rdb, []string{keyName(prefix, key)}, interval, burst, n, lease, clock).Int64Slice()
		return err
	})
	if err != nil {
		return scriptResult{}, fmt.Errorf("redisstore: rate limiter: %w", err)
	}
	if len(res) != 3 {
		return scriptResult{}, fmt.Errorf("redisstore: rate limiter: script returned %d values", len(res))
	}
	return scriptResult{taken: res[0], now: res[1], tat: res[2]}, nil
}

// decide turns the script's answer into a Decision, with the same
// arithmetic as package ratelimit's GCRA.
func decide(allowed bool, now, tat, interval int64, burst, n int) ratelimit.Decision {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	tolerance := int64(burst) * interval
	d := ratelimit.Decision{Allowed: allowed, Limit: burst, Reset: time.UnixMicro(tat)}
	d.Remaining = int(max(tolerance-(tat-now), 0) / interval)
	if !allowed {
		cost := int64(max(n, 1))
		d.RetryAfter = us(tat + cost*interval - tolerance - now)
	}
	return d
}
