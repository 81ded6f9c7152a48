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
	"fmt"
	"math"
	"time"
)

// Limit is a token bucket: Burst tokens at most, refilled at Rate tokens
// per second. A Limit with Rate <= 0 or Burst <= 0 allows nothing. Rates
// above one token per nanosecond count as one per nanosecond; a bucket
// that takes longer than [MaxSpan] to refill is out of range and
// [Memory.Take] refuses it with an error.
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
// one token is available; a negative n is refused (it would add tokens). Implementations are safe for concurrent use and
// atomic per key.
type Limiter interface {
	Take(ctx context.Context, key string, l Limit, n int) (Decision, error)
}

// MaxSpan bounds the time arithmetic of a bucket: Burst (or n) times the
// interval between tokens must not exceed it.
const MaxSpan = 1 << 60 // about 36 years

// refused is the decision for a limit that allows nothing.
func refused(now time.Time, l Limit) Decision {
	return Decision{Limit: max(l.Burst, 0), RetryAfter: time.Hour, Reset: now.Add(time.Hour)}
}

// gcra computes a decision from the stored theoretical arrival time tat
// (zero: a full bucket). It returns the decision and the new tat to store
// (equal to tat when nothing is consumed), or an error when the limit is
// out of range.
func gcra(now, tat time.Time, l Limit, n int) (Decision, time.Time, error) {
	if l.Rate <= 0 || l.Burst <= 0 || n < 0 || math.IsNaN(l.Rate) {
		return refused(now, l), tat, nil
	}
	iv := math.Round(float64(time.Second) / l.Rate)
	if iv > MaxSpan {
		return Decision{}, tat, fmt.Errorf("ratelimit: rate %v out of range", l.Rate)
	}
	interval := max(time.Duration(iv), 1)
	cost := max(n, 1)
	if int64(l.Burst) > MaxSpan/int64(interval) || int64(cost) > MaxSpan/int64(interval) {
		return Decision{}, tat, fmt.Errorf("ratelimit: burst %d or n %d out of range for rate %v", l.Burst, n, l.Rate)
	}
	burst := time.Duration(l.Burst) * interval
	if tat.Before(now) {
		tat = now
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
		return d, tat, nil
	}
	d.Allowed = true
	if n == 0 {
		newTat = tat
	}
	d.Reset = newTat
	d.Remaining = int((burst - newTat.Sub(now)) / interval)
	return d, newTat, nil
}
