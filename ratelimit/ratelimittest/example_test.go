package ratelimittest_test

import (
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/ratelimit/ratelimittest"
)

// A backend's test file runs the suite with a simulated clock.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
			now := time.Unix(1_700_000_000, 0)
			m := &ratelimit.Memory{Now: func() time.Time { return now }}
			return ratelimittest.Harness{
				New:     func() ratelimit.Limiter { return m },
				Advance: func(d time.Duration) { now = now.Add(d) },
			}
		})
	}
}
