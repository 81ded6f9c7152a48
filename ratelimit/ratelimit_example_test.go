package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

func ExampleMemory_Take() {
	now := time.Unix(1_700_000_000, 0)
	m := &ratelimit.Memory{Now: func() time.Time { return now }}
	l := ratelimit.PerMinute(60, 2) // one per second, two at once
	ctx := context.Background()
	for range 3 {
		d, _ := m.Take(ctx, "client-1", l, 1)
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter)
	}
	now = now.Add(time.Second)
	d, _ := m.Take(ctx, "client-1", l, 1)
	fmt.Println(d.Allowed, d.Remaining)
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 1s
	// true 0
}

func ExampleThrottle() {
	now := time.Unix(1_700_000_000, 0)
	th := &ratelimit.Throttle{
		Limiter: &ratelimit.Memory{Now: func() time.Time { return now }},
		Limit:   ratelimit.Limit{Rate: 1.0 / 30, Burst: 3}, // 3 failures, then one per 30 s
		Prefix:  "login:",
	}
	ctx := context.Background()
	for attempt := 1; attempt <= 4; attempt++ {
		ok, wait, _ := th.Check(ctx, "alice")
		if !ok {
			fmt.Printf("attempt %d: throttled, retry in %v\n", attempt, wait)
			continue
		}
		fmt.Printf("attempt %d: checked, wrong password\n", attempt)
		th.Fail(ctx, "alice")
	}
	// Output:
	// attempt 1: checked, wrong password
	// attempt 2: checked, wrong password
	// attempt 3: checked, wrong password
	// attempt 4: throttled, retry in 30s
}

func ExampleNewThrottle() {
	th := ratelimit.NewThrottle(ratelimit.Limit{Rate: 1, Burst: 1})
	ctx := context.Background()
	th.Fail(ctx, "10.0.0.7")
	ok, _, _ := th.Check(ctx, "10.0.0.7")
	fmt.Println(ok)
	// Output: false
}

func ExampleDecision_RetryAfterSeconds() {
	d := ratelimit.Decision{RetryAfter: 1500 * time.Millisecond}
	fmt.Println(d.RetryAfterSeconds())
	// Output: 2
}
