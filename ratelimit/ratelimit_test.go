package ratelimit_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
)

func TestMemoryTake(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := &ratelimit.Memory{Now: func() time.Time { return now }}
	l := ratelimit.Limit{Rate: 1, Burst: 3} // 3 at once, then 1 per second
	ctx := context.Background()
	steps := []struct {
		name      string
		advance   time.Duration
		n         int
		allowed   bool
		remaining int
	}{
		{"peek on a full bucket", 0, 0, true, 3},
		{"first", 0, 1, true, 2},
		{"second", 0, 1, true, 1},
		{"third", 0, 1, true, 0},
		{"fourth is refused", 0, 1, false, 0},
		{"peek when empty", 0, 0, false, 0},
		{"one token after a second", time.Second, 1, true, 0},
		{"refused again", 0, 1, false, 0},
		{"full after three seconds", 3 * time.Second, 0, true, 3},
		{"take two at once", 0, 2, true, 1},
		{"cannot take two with one left", 0, 2, false, 1},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		d, err := m.Take(ctx, "k", l, s.n)
		if err != nil || d.Allowed != s.allowed || d.Remaining != s.remaining {
			t.Errorf("%s: Take(n=%d) = %+v, %v; want allowed=%v remaining=%d", s.name, s.n, d, err, s.allowed, s.remaining)
		}
		if !d.Allowed && d.RetryAfter <= 0 {
			t.Errorf("%s: refused with RetryAfter %v; want > 0", s.name, d.RetryAfter)
		}
	}
	if d, _ := m.Take(ctx, "other", l, 1); !d.Allowed {
		t.Error("another key shares the bucket")
	}
}

func TestZeroLimitAllowsNothing(t *testing.T) {
	var m ratelimit.Memory
	d, err := m.Take(context.Background(), "k", ratelimit.Limit{}, 1)
	if err != nil || d.Allowed {
		t.Fatalf("Take with zero limit = %+v, %v; want refused", d, err)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := &ratelimit.Throttle{
		Limiter: &ratelimit.Memory{Now: func() time.Time { return now }},
		Limit:   ratelimit.Limit{Rate: 0.5, Burst: 2},
	}
	ctx := context.Background()
	for i := range 2 {
		if ok, _, _ := th.Check(ctx, "u"); !ok {
			t.Fatalf("Check before failure %d refused", i+1)
		}
		th.Fail(ctx, "u")
	}
	ok, wait, err := th.Check(ctx, "u")
	if ok || err != nil || wait <= 0 {
		t.Fatalf("Check after 2 failures = %v, %v, %v; want refused with a wait", ok, wait, err)
	}
	if ok, _, _ := th.Check(ctx, "v"); !ok {
		t.Fatal("another key is throttled")
	}
	now = now.Add(wait)
	if ok, _, _ := th.Check(ctx, "u"); !ok {
		t.Fatal("still throttled after the wait")
	}
}

func BenchmarkMemoryTake(b *testing.B) {
	var m ratelimit.Memory
	l := ratelimit.Limit{Rate: 1e9, Burst: 1 << 30}
	ctx := context.Background()
	for b.Loop() {
		m.Take(ctx, "client", l, 1)
	}
}

// TestLimitEdges checks limits at the edges of the arithmetic: they must
// neither panic (a zero interval divides by zero) nor hand out tokens.
func TestLimitEdges(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		l       ratelimit.Limit
		n       int
		allowed bool
		err     bool
	}{
		{"rate above one per ns", ratelimit.Limit{Rate: 2e9, Burst: 1}, 1, true, false},
		{"infinite rate", ratelimit.Limit{Rate: math.Inf(1), Burst: 1}, 1, true, false},
		{"NaN rate", ratelimit.Limit{Rate: math.NaN(), Burst: 1}, 1, false, false},
		{"negative n", ratelimit.Limit{Rate: 1, Burst: 1}, -5, false, false},
		{"tiny rate", ratelimit.Limit{Rate: 1e-12, Burst: 1}, 1, false, true},
		{"huge burst", ratelimit.Limit{Rate: 1, Burst: math.MaxInt}, 1, false, true},
		{"huge n", ratelimit.Limit{Rate: 1, Burst: 1}, math.MaxInt, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &ratelimit.Memory{Now: func() time.Time { return now }}
			d, err := m.Take(context.Background(), "k", tt.l, tt.n)
			if d.Allowed != tt.allowed || (err != nil) != tt.err {
				t.Errorf("Take(%+v, n=%d) = %+v, %v; want allowed=%v, error=%v", tt.l, tt.n, d, err, tt.allowed, tt.err)
			}
		})
	}
	// A negative n must not refill a bucket either.
	m := &ratelimit.Memory{Now: func() time.Time { return now }}
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	m.Take(context.Background(), "k", l, 1)
	m.Take(context.Background(), "k", l, -10)
	if d, _ := m.Take(context.Background(), "k", l, 1); d.Allowed {
		t.Errorf("Take after Take(n=-10) on an empty bucket = %+v; want refused", d)
	}
}

func TestThrottleSucceeded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := &ratelimit.Throttle{Limiter: &ratelimit.Memory{Now: func() time.Time { return now }}, SuccessMemory: time.Hour}
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		succeed string
		key     string
		want    bool
	}{
		{name: "nothing recorded", key: "a", want: false},
		{name: "recorded", succeed: "a", key: "a", want: true},
		{name: "other key", key: "b", want: false},
		{name: "failures do not count", key: "a", want: true},
		{name: "within memory", advance: 59 * time.Minute, key: "a", want: true},
		{name: "forgotten", advance: 2 * time.Minute, key: "a", want: false},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.succeed != "" {
			if err := th.Succeed(ctx, st.succeed); err != nil {
				t.Fatalf("%s: Succeed = %v", st.name, err)
			}
		}
		if got, err := th.Succeeded(ctx, st.key); err != nil || got != st.want {
			t.Errorf("%s: Succeeded(%q) = %v, %v; want %v", st.name, st.key, got, err, st.want)
		}
	}
	// A failure bucket of the same name is separate from the success mark.
	if err := th.Fail(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if got, _ := th.Succeeded(ctx, "c"); got {
		t.Errorf("Succeeded(c) after Fail(c) = true; want false")
	}
}
