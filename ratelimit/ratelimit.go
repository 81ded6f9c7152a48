// Package ratelimit limits how often a key (a client id, a user, an
// address) may do something, with the generic cell rate algorithm (GCRA):
// a token bucket that stores one timestamp per key. [Memory] keeps the
// state in process; package redisstore shares it between replicas.
//
// [Throttle] builds failure throttling on a Limiter: a key that failed too
// often is refused until its bucket refills, so a guessed secret costs an
// attacker time while a legitimate caller is unaffected.
package ratelimit

import (
	"context"
	"math"
	"time"
)

// Limit is a token bucket: Burst tokens at most, refilled at Rate tokens
// per second. A Limit with Rate <= 0 or Burst <= 0 allows nothing.
type Limit struct {
	Rate  float64
	Burst int
}

// PerMinute returns a Limit of n per minute with a burst of burst.
func PerMinute(n, burst int) Limit { return Limit{Rate: float64(n) / 60, Burst: burst} }

// Decision is the outcome of [Limiter.Take].
type Decision struct {
	Allowed    bool
	Limit      int           // the bucket size (Burst)
	Remaining  int           // whole tokens left after this decision
	RetryAfter time.Duration // when refused: how long until it would be allowed
	Reset      time.Time     // when the bucket is full again
}

// RetryAfterSeconds rounds RetryAfter up to whole seconds (at least 1), as
// the Retry-After header needs.
func (d Decision) RetryAfterSeconds() int {
	s := int(math.Ceil(d.RetryAfter.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// Limiter takes tokens from per-key buckets.
//
// Take consumes n tokens from key's bucket when that many are available and
// reports the decision. With n == 0 it consumes nothing and reports whether
// one token is available. Implementations are safe for concurrent use and
// atomic per key.
type Limiter interface {
	Take(ctx context.Context, key string, l Limit, n int) (Decision, error)
}

// gcra computes a decision from the stored theoretical arrival time tat
// (zero: a full bucket). It returns the decision and the new tat to store
// (equal to tat when nothing is consumed).
func gcra(now, tat time.Time, l Limit, n int) (Decision, time.Time) {
	if l.Rate <= 0 || l.Burst <= 0 {
		return Decision{Limit: max(l.Burst, 0), RetryAfter: time.Hour, Reset: now.Add(time.Hour)}, tat
	}
	interval := time.Duration(float64(time.Second) / l.Rate)
	burst := time.Duration(l.Burst) * interval
	if tat.Before(now) {
		tat = now
	}
	cost := n
	if cost == 0 {
		cost = 1
	}
	newTat := tat.Add(time.Duration(cost) * interval)
	allowAt := newTat.Add(-burst)
	d := Decision{Limit: l.Burst}
	if now.Before(allowAt) {
		d.RetryAfter = allowAt.Sub(now)
		d.Reset = tat
		d.Remaining = int((burst - tat.Sub(now)) / interval)
		if d.Remaining < 0 {
			d.Remaining = 0
		}
		return d, tat
	}
	d.Allowed = true
	if n == 0 {
		newTat = tat
	}
	d.Reset = newTat
	d.Remaining = int((burst - newTat.Sub(now)) / interval)
	return d, newTat
}
