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
// lock from Check to Fail, as rolling.Verifier, jwtauth.LoginHandler,
// basic.Verifier and the authserver token endpoint do; [KeyLocks]
// provides such locks.
//
// A Throttle is safe for concurrent use when its Limiter is.
type Throttle struct {
	Limiter Limiter // nil: a private Memory limiter
	Limit   Limit
	Prefix  string // prepended to keys, so one Limiter can serve several throttles
	// SuccessMemory is how long [Throttle.Succeed] remembers a success
	// (0: [DefaultSuccessMemory]).
	SuccessMemory time.Duration

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

// DefaultSuccessMemory is how long [Throttle.Succeed] remembers a success
// when SuccessMemory is zero.
const DefaultSuccessMemory = 24 * time.Hour

// successPrefix keeps success marks apart from failure buckets.
const successPrefix = "ok:"

func (t *Throttle) successLimit() Limit {
	m := t.SuccessMemory
	if m <= 0 {
		m = DefaultSuccessMemory
	}
	return Limit{Rate: 1 / m.Seconds(), Burst: 1}
}

// Succeed records that key (for example an address and a user name
// together) succeeded, for [Throttle.Succeeded] to report within
// SuccessMemory of the first success recorded (a success while one is
// remembered does not extend it). Callers use it to exempt a caller who
// has proved itself from a lock that others' failures put on a shared key
// (an address behind a NAT), while the lock still slows everyone else.
func (t *Throttle) Succeed(ctx context.Context, key string) error {
	lim, _ := t.lim()
	_, err := lim.Take(ctx, t.Prefix+successPrefix+key, t.successLimit(), 1)
	return err
}

// Succeeded reports whether key succeeded within SuccessMemory (see
// [Throttle.Succeed]).
func (t *Throttle) Succeeded(ctx context.Context, key string) (bool, error) {
	lim, _ := t.lim()
	d, err := lim.Take(ctx, t.Prefix+successPrefix+key, t.successLimit(), 0)
	if err != nil {
		return false, err
	}
	return !d.Allowed, nil
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
