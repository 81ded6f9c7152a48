// Package ratelimittest is the conformance suite for [ratelimit.Limiter]
// implementations: every implementation's tests call [Run] and must pass
// every case, including concurrent takers on two instances that share one
// backend (two replicas on one Redis), which together must never grant
// more than one budget.
//
//	func TestConformance(t *testing.T) {
//		ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
//			now := time.Unix(1_700_000_000, 0)
//			m := &ratelimit.Memory{Now: func() time.Time { return now }}
//			return ratelimittest.Harness{
//				New:     func() ratelimit.Limiter { return m },
//				Advance: func(d time.Duration) { now = now.Add(d) },
//			}
//		})
//	}
package ratelimittest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

// Concurrency is the number of goroutines of the concurrent case, and
// Attempts how many takes each makes.
const (
	Concurrency = 16
	Attempts    = 10
)

// Harness is what an implementation gives the suite for one subtest.
type Harness struct {
	// New returns a limiter on the subtest's state: every call returns an
	// instance sharing its buckets with the earlier ones (for an
	// in-process limiter, the same value; for a server, a new client on
	// the same server and prefix). Buckets start full.
	New func() ratelimit.Limiter
	// Advance moves the limiters' clock forward by d. The suite calls it
	// only while no Take is running. The clock starts at a whole second.
	Advance func(d time.Duration)
}

// Run runs the suite. newHarness is called once per subtest and must
// arrange for its cleanup (t.Cleanup).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Bucket", testBucket},
		{"RetryAfter", testRetryAfter},
		{"Peek", testPeek},
		{"Keys", testKeys},
		{"ZeroLimit", testZeroLimit},
		{"MoreThanBurst", testMoreThanBurst},
		{"SharedBetweenInstances", testShared},
		{"ConcurrentBudget", testConcurrentBudget},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness(t)) })
	}
}

type step struct {
	name      string
	advance   time.Duration
	n         int
	allowed   bool
	remaining int
}

func run(t *testing.T, h Harness, lim ratelimit.Limiter, key string, l ratelimit.Limit, steps []step) {
	t.Helper()
	for _, s := range steps {
		h.Advance(s.advance)
		d, err := lim.Take(t.Context(), key, l, s.n)
		if err != nil || d.Allowed != s.allowed || d.Remaining != s.remaining || d.Limit != l.Burst {
			t.Errorf("%s: Take(%q, n=%d) = %+v, %v; want allowed=%v remaining=%d limit=%d", s.name, key, s.n, d, err, s.allowed, s.remaining, l.Burst)
		}
		if !d.Allowed && d.RetryAfter <= 0 {
			t.Errorf("%s: Take(%q, n=%d) refused with RetryAfter %v; want > 0", s.name, key, s.n, d.RetryAfter)
		}
	}
}

func testBucket(t *testing.T, h Harness) {
	l := ratelimit.Limit{Rate: 1, Burst: 3} // 3 at once, then 1 per second
	run(t, h, h.New(), "k", l, []step{
		{"first", 0, 1, true, 2},
		{"second", 0, 1, true, 1},
		{"third", 0, 1, true, 0},
		{"fourth is refused", 0, 1, false, 0},
		{"one token after a second", time.Second, 1, true, 0},
		{"refused again", 0, 1, false, 0},
		{"half a token", 500 * time.Millisecond, 1, false, 0},
		{"a whole token", 500 * time.Millisecond, 1, true, 0},
		{"full after three seconds", 3 * time.Second, 0, true, 3},
		{"full bucket stays full", time.Hour, 0, true, 3},
		{"take two at once", 0, 2, true, 1},
		{"cannot take two with one left", 0, 2, false, 1},
		{"can take the one", 0, 1, true, 0},
	})
}

func testRetryAfter(t *testing.T, h Harness) {
	lim := h.New()
	l := ratelimit.Limit{Rate: 0.5, Burst: 2} // one token every 2 s
	ctx := t.Context()
	for range 2 {
		if d, err := lim.Take(ctx, "k", l, 1); !d.Allowed || err != nil {
			t.Fatalf("Take on a full bucket = %+v, %v; want allowed", d, err)
		}
	}
	d, err := lim.Take(ctx, "k", l, 1)
	if err != nil || d.Allowed || d.RetryAfter != 2*time.Second || d.RetryAfterSeconds() != 2 {
		t.Fatalf("Take on an empty bucket = %+v, %v; want refused, RetryAfter 2s", d, err)
	}
	h.Advance(d.RetryAfter - time.Millisecond)
	if d, err := lim.Take(ctx, "k", l, 1); d.Allowed || err != nil || d.RetryAfter != time.Millisecond {
		t.Fatalf("Take 1ms before RetryAfter = %+v, %v; want refused, RetryAfter 1ms", d, err)
	}
	h.Advance(time.Millisecond)
	d, err = lim.Take(ctx, "k", l, 1)
	if !d.Allowed || err != nil {
		t.Fatalf("Take after RetryAfter = %+v, %v; want allowed", d, err)
	}
	// The bucket is empty again and full 4 s from now.
	h.Advance(time.Second)
	d, err = lim.Take(ctx, "k", l, 0)
	if d.Allowed || err != nil || d.RetryAfter != time.Second {
		t.Fatalf("peek 1s after emptying = %+v, %v; want refused, RetryAfter 1s", d, err)
	}
	h.Advance(3 * time.Second)
	if d, err := lim.Take(ctx, "k", l, 0); !d.Allowed || d.Remaining != 2 || err != nil {
		t.Fatalf("peek 4s after emptying = %+v, %v; want allowed, 2 remaining", d, err)
	}
}

func testPeek(t *testing.T, h Harness) {
	lim := h.New()
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	// Peeking never consumes, however often.
	for i := range 10 {
		d, err := lim.Take(t.Context(), "k", l, 0)
		if !d.Allowed || d.Remaining != 2 || err != nil {
			t.Fatalf("peek %d = %+v, %v; want allowed, 2 remaining", i, d, err)
		}
	}
	run(t, h, lim, "k", l, []step{
		{"take one", 0, 1, true, 1},
		{"peek with one left", 0, 0, true, 1},
		{"take the last", 0, 1, true, 0},
		{"peek when empty", 0, 0, false, 0},
		{"peek again when empty", 0, 0, false, 0},
		{"peek after refill", time.Second, 0, true, 1},
		{"take after peeks", 0, 1, true, 0},
	})
}

func testKeys(t *testing.T, h Harness) {
	lim := h.New()
	l := ratelimit.Limit{Rate: 1.0 / 3600, Burst: 1}
	keys := []string{"a", "A", "a\x00", "", "#a", "ключ", fmt.Sprintf("%0300d", 1), fmt.Sprintf("%0300d", 2)}
	for _, k := range keys {
		if d, err := lim.Take(t.Context(), k, l, 1); !d.Allowed || err != nil {
			t.Errorf("first Take(%q) = %+v, %v; want allowed (keys are independent)", k, d, err)
		}
	}
	for _, k := range keys {
		if d, err := lim.Take(t.Context(), k, l, 1); d.Allowed || err != nil {
			t.Errorf("second Take(%q) = %+v, %v; want refused", k, d, err)
		}
	}
}

func testZeroLimit(t *testing.T, h Harness) {
	lim := h.New()
	for _, l := range []ratelimit.Limit{{}, {Rate: 1}, {Burst: 5}, {Rate: -1, Burst: 5}, {Rate: 1, Burst: -1}} {
		for _, n := range []int{0, 1} {
			d, err := lim.Take(t.Context(), "k", l, n)
			if err != nil || d.Allowed || d.RetryAfter <= 0 {
				t.Errorf("Take(%+v, n=%d) = %+v, %v; want refused with a RetryAfter", l, n, d, err)
			}
		}
	}
}

func testMoreThanBurst(t *testing.T, h Harness) {
	l := ratelimit.Limit{Rate: 1, Burst: 3}
	run(t, h, h.New(), "k", l, []step{
		{"four of three", 0, 4, false, 3},
		{"still four of three an hour later", time.Hour, 4, false, 3},
		{"three of three", 0, 3, true, 0},
	})
}

func testShared(t *testing.T, h Harness) {
	a, b := h.New(), h.New()
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	run(t, h, a, "k", l, []step{{"a takes", 0, 1, true, 1}})
	run(t, h, b, "k", l, []step{
		{"b sees a's take", 0, 0, true, 1},
		{"b takes the last", 0, 1, true, 0},
	})
	run(t, h, a, "k", l, []step{{"a is refused", 0, 1, false, 0}})
	run(t, h, b, "k", l, []step{{"b after a second", time.Second, 1, true, 0}})
}

func testConcurrentBudget(t *testing.T, h Harness) {
	limiters := []ratelimit.Limiter{h.New(), h.New()}
	const budget = 25
	l := ratelimit.Limit{Rate: 1.0 / 3600, Burst: budget}
	for _, key := range []string{"one", "two"} {
		var granted, errs atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range Concurrency {
			wg.Go(func() {
				<-start
				for range Attempts {
					d, err := limiters[i%len(limiters)].Take(t.Context(), key, l, 1)
					if err != nil {
						errs.Add(1)
					}
					if d.Allowed {
						granted.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if n := errs.Load(); n != 0 {
			t.Fatalf("%d concurrent Take(%q) failed", n, key)
		}
		if n := granted.Load(); n != budget {
			t.Fatalf("%d concurrent takers on %d instances were granted %d of %d attempts; want exactly the budget %d",
				Concurrency, len(limiters), n, Concurrency*Attempts, budget)
		}
	}
}
