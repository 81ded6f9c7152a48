package clientcred

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// RetryPolicy bounds retries. Zero fields take the values of
// [DefaultRetry]; set MaxAttempts to 1 to disable retries.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the exponential backoff: before retry n
	// (n = 1, 2, ...) the client sleeps a uniformly random time in
	// [0, min(MaxDelay, BaseDelay*2^(n-1))] ("full jitter").
	BaseDelay, MaxDelay time.Duration
	// MaxElapsed bounds the total time spent, sleeps included. A server
	// that asks for a longer wait (Retry-After, X-RateLimit-Reset) than
	// what is left ends the retries at once.
	MaxElapsed time.Duration
}

// DefaultRetry is the policy used for zero fields of a [RetryPolicy].
var DefaultRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 8 * time.Second, MaxElapsed: 30 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetry.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetry.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetry.MaxDelay
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultRetry.MaxElapsed
	}
	return p
}

// backoff returns the full-jitter delay before retry n (n >= 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// sleepFunc waits d or until ctx ends.
type sleepFunc func(ctx context.Context, d time.Duration) error

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryableStatus reports whether an HTTP status is worth retrying:
// 429 and 503 always (the server did not act on the request), other 5xx
// only for idempotent requests.
func retryableStatus(status int, idempotent bool) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return idempotent
	}
	return false
}

// retryableErr reports whether a transport error is worth retrying: a
// network failure, but not the caller's context ending.
func retryableErr(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// Any other error from a RoundTripper is a connection-level failure
	// (refused, reset, timeout, EOF before the response).
	return true
}

// waitBeforeRetry computes the wait before retry n given the response
// headers (nil after a connection error). ok is false when the wait would
// exceed the deadline, and the retries should stop.
func (p RetryPolicy) waitBeforeRetry(n int, h http.Header, now, deadline time.Time) (time.Duration, bool) {
	d := p.backoff(n)
	if h != nil {
		if ra, _, ok := retryAfter(h, now); ok {
			d = ra
		}
	}
	if now.Add(d).After(deadline) {
		return d, false
	}
	return d, true
}
