package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Throttle refuses keys that failed too often. Call Check before the
// expensive or secret-dependent work, and Fail after a failure; successes
// cost nothing. The zero Limit means DefaultFailureLimit.
//
// Check only peeks, so concurrent attempts for one key can all pass Check
// before the first of them records its failure: a burst of N parallel
// guesses gets N tries. Callers that must bound guesses hold a per-key
// lock from Check to Fail, as rolling.Verifier, jwtauth.LoginHandler and
// basic.Verifier do; [KeyLocks] provides such locks.
//
// A Throttle is safe for concurrent use when its Limiter is.
type Throttle struct {
	Limiter Limiter // nil: a private Memory limiter
	Limit   Limit
	Prefix  string // prepended to keys, so one Limiter can serve several throttles

	once sync.Once
	mem  *Memory
}

// DefaultFailureLimit allows 10 failures in a burst, then one every 6 s.
var DefaultFailureLimit = Limit{Rate: 1.0 / 6, Burst: 10}

func (t *Throttle) lim() (Limiter, Limit) {
	l := t.Limit
	if l.Rate == 0 && l.Burst == 0 {
		l = DefaultFailureLimit
	}
	if t.Limiter != nil {
		return t.Limiter, l
	}
	t.once.Do(func() { t.mem = &Memory{} })
	return t.mem, l
}

// NewThrottle returns a Throttle with its own in-memory limiter.
func NewThrottle(l Limit) *Throttle { return &Throttle{Limiter: &Memory{}, Limit: l} }

// Check reports whether key may try again now; when not, it returns how
// long to wait.
func (t *Throttle) Check(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	lim, l := t.lim()
	d, err := lim.Take(ctx, t.Prefix+key, l, 0)
	if err != nil {
		return false, 0, err
	}
	return d.Allowed, d.RetryAfter, nil
}

// Fail records a failure for key.
func (t *Throttle) Fail(ctx context.Context, key string) error {
	lim, l := t.lim()
	_, err := lim.Take(ctx, t.Prefix+key, l, 1)
	return err
}
