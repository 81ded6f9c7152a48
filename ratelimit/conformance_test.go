package ratelimit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/ratelimit/ratelimittest"
)

func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		var mu sync.Mutex
		now := time.Unix(1_700_000_000, 0)
		m := &ratelimit.Memory{Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}}
		return ratelimittest.Harness{
			New: func() ratelimit.Limiter { return m },
			Advance: func(d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				now = now.Add(d)
			},
		}
	})
}
