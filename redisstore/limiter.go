package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/m2mkit/m2m/ratelimit"
)

// DefaultLimiterPrefix prefixes the keys of a [Limiter] whose Prefix is
// empty.
const DefaultLimiterPrefix = "m2m:rl:"

// gcraScript is the generic cell rate algorithm of package ratelimit, run
// atomically in Redis. The bucket's state is its theoretical arrival time
// (TAT) in microseconds since the Unix epoch; all arithmetic is on whole
// microseconds, which a Lua number (a double) holds exactly.
//
// KEYS[1]  the bucket
// ARGV[1]  the emission interval in microseconds (one token)
// ARGV[2]  the burst in tokens
// ARGV[3]  n, the tokens to take (0: peek whether one is available)
// ARGV[4]  the current time in microseconds, or "" for the server's TIME
//
// It returns {allowed (0 or 1), now, tat}: tat is the stored TAT after the
// decision (at least now).
const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2]) * interval
local n = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
	now = tonumber(ARGV[4])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or 0
if tat < now then
	tat = now
end
local cost = n
if cost == 0 then
	cost = 1
end
local newtat = tat + cost * interval
if now < newtat - burst then
	return {0, now, tat}
end
if n == 0 then
	return {1, now, tat}
end
redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', string.format('%d', math.ceil((newtat - now) / 1000)))
return {1, now, newtat}
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
	// Now, when set, replaces the Redis server's clock (for tests with a
	// simulated clock). Nil, the default, uses the server's TIME.
	Now func() time.Time

	lastLog atomic.Int64 // unix nanoseconds of the last fallback warning
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// Take implements [ratelimit.Limiter]. A Limit with Rate <= 0 or
// Burst <= 0, or a negative n, is refused without asking Redis.
func (l *Limiter) Take(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if lim.Rate <= 0 || lim.Burst <= 0 || n < 0 {
		// As ratelimit.Memory: nothing is allowed.
		now := time.Now()
		if l.Now != nil {
			now = l.Now()
		}
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

func (l *Limiter) take(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if l.Client == nil {
		return ratelimit.Decision{}, errNoClient
	}
	interval := int64(math.Round(1e6 / lim.Rate))
	if interval < 1 {
		interval = 1
	}
	// Keep every product the script forms below 2^53 microseconds past
	// the epoch (about 285 years), where a double is still exact.
	const maxSpan = 1 << 52
	if lim.Burst > maxSpan/int(interval) || n > maxSpan/int(interval) {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: limit %v burst %d n %d out of range", lim.Rate, lim.Burst, n)
	}
	now := ""
	if l.Now != nil {
		now = fmt.Sprint(l.Now().UnixMicro())
	}
	prefix := l.Prefix
	if prefix == "" {
		prefix = DefaultLimiterPrefix
	}
	var res []int64
	err := l.Client.do(ctx, func(ctx context.Context) (err error) {
		res, err = gcra.Run(ctx, l.Client.rdb, []string{keyName(prefix, key)}, interval, lim.Burst, n, now).Int64Slice()
		return err
	})
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: rate limiter: %w", err)
	}
	if len(res) != 3 {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: rate limiter: script returned %d values", len(res))
	}
	return decide(res[0] == 1, res[1], res[2], interval, lim.Burst, n), nil
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
