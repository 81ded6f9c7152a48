package redisstore

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/m2mkit/m2m/ratelimit"
	"github.com/m2mkit/m2m/ratelimit/ratelimittest"
)

// simClock is a simulated clock shared by the limiters of a test.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func newSimClock() *simClock { return &simClock{now: time.Unix(1_700_000_000, 0)} }

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// localLen returns the number of keys with a lease or a remembered peek.
func (l *Limiter) localLen() int {
	n := 0
	for i := range l.local.shards {
		s := &l.local.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// storedTAT reads a bucket's TAT in Redis (0: no key, a full bucket).
func storedTAT(t *testing.T, l *Limiter, key string) time.Time {
	t.Helper()
	v, err := l.Client.rdb.Get(t.Context(), keyName(l.Prefix, key)).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("GET %s = %q: %v", key, v, err)
	}
	return time.UnixMicro(us)
}

// TestLeaseConformance runs the conformance suite with leases and
// remembered peeks on: its limits are small, so leases are of one token
// and every decision stays exact.
func TestLeaseConformance(t *testing.T) {
	redisURL(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		p := prefix(t)
		clock := newSimClock()
		return ratelimittest.Harness{
			New: func() ratelimit.Limiter {
				return &Limiter{Client: open(t), Prefix: p, Now: clock.Now, Lease: 100 * time.Millisecond, PeekTTL: time.Second}
			},
			Advance: clock.Advance,
		}
	})
}

func TestLeaseSize(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		lim   ratelimit.Limit
		lease time.Duration
		want  int
	}{
		{"default client limit stays exact", ratelimit.Limit{Rate: 10, Burst: 50}, 100 * ms, 1},
		{"failure limit stays exact", ratelimit.DefaultFailureLimit, 100 * ms, 1},
		{"one refill per lease", ratelimit.Limit{Rate: 100, Burst: 1000}, 100 * ms, 10},
		{"an eighth of the burst", ratelimit.Limit{Rate: 1000, Burst: 500}, 100 * ms, 62},
		{"capped", ratelimit.Limit{Rate: 1e6, Burst: 1e6}, 100 * ms, MaxLeaseSize},
		{"small burst", ratelimit.Limit{Rate: 1e6, Burst: 16}, 100 * ms, 2},
		{"rate beyond a million counts as a million", ratelimit.Limit{Rate: 1e9, Burst: 1e6}, 10 * time.Microsecond, 10},
		{"no lease", ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}, 0, 1},
		{"negative lease", ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}, -ms, 1},
		{"zero rate", ratelimit.Limit{Burst: 10}, time.Second, 1},
		{"NaN rate", ratelimit.Limit{Rate: math.NaN(), Burst: 1000}, time.Second, 1},
		{"infinite rate", ratelimit.Limit{Rate: math.Inf(1), Burst: 1000}, time.Second, MaxLeaseSize},
		{"rate too slow for the script", ratelimit.Limit{Rate: 1e-20, Burst: 1000}, time.Hour, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LeaseSize(tc.lim, tc.lease); got != tc.want {
				t.Errorf("LeaseSize(%+v, %v) = %d; want %d", tc.lim, tc.lease, got, tc.want)
			}
		})
	}
}

// TestLeaseMatchesExact: on one replica and a still clock, a leased
// limiter gives the decisions of an exact one, token by token, with one
// script per lease while the bucket has a lease to give.
func TestLeaseMatchesExact(t *testing.T) {
	clock := newSimClock()
	lim := &Limiter{Client: open(t), Prefix: prefix(t), Now: clock.Now, Lease: 10 * time.Second}
	mem := &ratelimit.Memory{Now: clock.Now}
	// Leases of 64. A slow refill keeps the key in Redis, which expires it
	// in real time, while the simulated clock stands still.
	l := ratelimit.Limit{Rate: 10, Burst: 800}
	ctx := t.Context()
	for i := range 805 {
		got, err := lim.Take(ctx, "k", l, 1)
		want, _ := mem.Take(ctx, "k", l, 1)
		if err != nil || got.Allowed != want.Allowed || got.Remaining != want.Remaining || got.RetryAfter != want.RetryAfter ||
			!got.Reset.Equal(want.Reset) || got.Limit != want.Limit {
			t.Fatalf("take %d: Take = %+v, %v; want %+v", i, got, err, want)
		}
	}
	// 12 leases of 64 (768 tokens), then 32 exact takes and 5 refusals.
	if n := lim.scripts.Load(); n != 12+32+5 {
		t.Errorf("805 takes cost %d scripts; want %d", n, 12+32+5)
	}
}

// TestLeaseScripts: under its limit, a client costs one script per lease.
func TestLeaseScripts(t *testing.T) {
	clock := newSimClock()
	lim := &Limiter{Client: open(t), Prefix: prefix(t), Now: clock.Now, Lease: time.Hour}
	// Leases of 64; a slow refill keeps the key in Redis (see
	// TestLeaseMatchesExact).
	l := ratelimit.Limit{Rate: 10, Burst: 10_000}
	for i := range 1000 {
		if d, err := lim.Take(t.Context(), "k", l, 1); err != nil || !d.Allowed || d.Remaining != l.Burst-1-i {
			t.Fatalf("take %d = %+v, %v; want allowed, %d remaining", i, d, err, l.Burst-1-i)
		}
	}
	if n, want := lim.scripts.Load(), int64((1000+MaxLeaseSize-1)/MaxLeaseSize); n != want {
		t.Errorf("1000 takes cost %d scripts; want %d (leases of %d)", n, want, MaxLeaseSize)
	}
	// A take of more than a lease is exact.
	before := lim.scripts.Load()
	if d, err := lim.Take(t.Context(), "k", l, 100); err != nil || !d.Allowed {
		t.Fatalf("Take(n=100) = %+v, %v; want allowed", d, err)
	}
	if n := lim.scripts.Load() - before; n != 1 {
		t.Errorf("Take(n=100) cost %d scripts; want 1", n)
	}
}

// TestLeaseSharedBudget: two replicas with leases, on one Redis and a
// simulated clock: together they grant no more than the shared GCRA
// budget (the burst plus one token per interval since the start), nor
// more in any window W than the bucket allows over W plus one lease;
// under steady demand above the limit they lose almost nothing to leases.
// One simulated step is one interval, 100 ms: a slow refill keeps the key
// in Redis, which expires it in real time.
func TestLeaseSharedBudget(t *testing.T) {
	const (
		step  = 100 * time.Millisecond
		lease = 10 * time.Second // 100 steps
		steps = 2000
	)
	l := ratelimit.Limit{Rate: 10, Burst: 500} // leases of 62, one token a step
	for _, tc := range []struct {
		name   string
		demand func(step int) int // takes per replica in a step
		steady bool
	}{
		{"three takes a step on each replica", func(int) int { return 3 }, true},
		{"bursts and pauses", func(s int) int { return []int{0, 3, 1, 0, 2}[s/37%5] }, false},
		{"just under the limit", func(s int) int { return s % 3 % 2 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newSimClock()
			p := prefix(t)
			replicas := []*Limiter{
				{Client: open(t), Prefix: p, Now: clock.Now, Lease: lease},
				{Client: open(t), Prefix: p, Now: clock.Now, Lease: lease},
			}
			granted := make([]int, steps+1)
			for s := range steps + 1 {
				for range tc.demand(s) {
					for _, r := range replicas {
						d, err := r.Take(t.Context(), "k", l, 1)
						if err != nil {
							t.Fatalf("Take at step %d = %v", s, err)
						}
						if d.Allowed {
							granted[s]++
						}
					}
				}
				clock.Advance(step)
			}
			total := 0
			for _, g := range granted {
				total += g
			}
			budget := l.Burst + steps // the bucket at 0 plus one token a step
			t.Logf("two replicas granted %d of a budget of %d", total, budget)
			if total > budget {
				t.Errorf("two replicas granted %d in %d steps; want at most the shared budget %d", total, steps, budget)
			}
			if tc.steady && total < budget*95/100 {
				t.Errorf("two replicas granted %d in %d steps; want close to the budget %d (leases lose little under steady demand)", total, steps, budget)
			}
			for _, w := range []int{1, 10, 50, 100, 250, 1000} {
				limit := l.Burst + w + int(lease/step)
				sum := 0
				for s, g := range granted {
					sum += g
					if s >= w {
						sum -= granted[s-w]
					}
					if sum > limit {
						t.Errorf("window of %d steps ending at step %d granted %d; want at most %d", w, s, sum, limit)
						break
					}
				}
			}
		})
	}
}

// TestLeaseRefused: when the bucket has less than a lease left, the same
// script takes exactly one token, so a client near its limit gets the
// exact answer.
func TestLeaseRefused(t *testing.T) {
	clock := newSimClock()
	p := prefix(t)
	exact := &Limiter{Client: open(t), Prefix: p, Now: clock.Now}
	lim := &Limiter{Client: open(t), Prefix: p, Now: clock.Now, Lease: 10 * time.Second}
	l := ratelimit.Limit{Rate: 10, Burst: 100} // leases of 12, one token per 100ms
	ctx := t.Context()
	if d, err := exact.Take(ctx, "k", l, 95); err != nil || !d.Allowed {
		t.Fatalf("Take(95) = %+v, %v; want allowed", d, err)
	}
	for i := range 5 {
		if d, err := lim.Take(ctx, "k", l, 1); err != nil || !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("take %d of the last 5 = %+v, %v; want allowed, %d remaining", i, d, err, 4-i)
		}
	}
	d, err := lim.Take(ctx, "k", l, 1)
	if err != nil || d.Allowed || d.RetryAfter != 100*time.Millisecond || d.Remaining != 0 {
		t.Fatalf("take on the empty bucket = %+v, %v; want refused, RetryAfter 100ms", d, err)
	}
	if n := lim.scripts.Load(); n != 6 {
		t.Errorf("6 takes near the limit cost %d scripts; want 6 (exact)", n)
	}
	if n := lim.localLen(); n != 0 {
		t.Errorf("%d local entries after exact takes; want 0", n)
	}
	// The bucket refills: one token per 100ms, taken exactly.
	clock.Advance(100 * time.Millisecond)
	if d, err := lim.Take(ctx, "k", l, 1); err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("take after 100ms = %+v, %v; want allowed, 0 remaining", d, err)
	}
}

// TestLeaseExpiry: a lease is spent locally until it is Lease old; then
// its unspent tokens are lost (counted in Redis, never granted) and the
// next take fetches a new lease. A take under another limit does not
// spend it.
func TestLeaseExpiry(t *testing.T) {
	clock := newSimClock()
	t0 := clock.Now()
	lim := &Limiter{Client: open(t), Prefix: prefix(t), Now: clock.Now, Lease: time.Second}
	l := ratelimit.Limit{Rate: 100, Burst: 1000} // leases of 64, one token per 10ms
	iv := 10 * time.Millisecond
	ctx := t.Context()
	take := func(step string, l ratelimit.Limit, wantScripts int64, wantTAT time.Time) {
		t.Helper()
		if d, err := lim.Take(ctx, "k", l, 1); err != nil || !d.Allowed {
			t.Fatalf("%s: Take = %+v, %v; want allowed", step, d, err)
		}
		if n := lim.scripts.Load(); n != wantScripts {
			t.Errorf("%s: %d scripts so far; want %d", step, n, wantScripts)
		}
		if got := storedTAT(t, lim, "k"); !got.Equal(wantTAT) {
			t.Errorf("%s: TAT in Redis = t0+%v; want t0+%v", step, got.Sub(t0), wantTAT.Sub(t0))
		}
	}
	take("first take leases 64", l, 1, t0.Add(64*iv))
	take("same instant, from the lease", l, 1, t0.Add(64*iv))
	clock.Advance(time.Second - time.Nanosecond)
	take("just before expiry, from the lease", l, 1, t0.Add(64*iv))
	clock.Advance(time.Nanosecond)
	// The 61 unspent tokens are lost: the new lease starts from now.
	take("at expiry, a new lease", l, 2, t0.Add(time.Second+64*iv))
	other := ratelimit.Limit{Rate: 100, Burst: 2000}
	take("another limit, another lease", other, 3, t0.Add(time.Second+128*iv))
	take("the other limit's lease", other, 3, t0.Add(time.Second+128*iv))
}

// TestLocalBound: the leases and remembered peeks of a Limiter never
// exceed MaxLocalKeys, and a full part drops expired entries first.
func TestLocalBound(t *testing.T) {
	clock := newSimClock()
	const lease = 6 * time.Second
	lim := &Limiter{Client: open(t), Prefix: prefix(t), Now: clock.Now, Lease: lease, PeekTTL: lease, MaxLocalKeys: 2 * localShards}
	l := ratelimit.Limit{Rate: 1e5, Burst: 10_000}
	ctx := t.Context()
	for i := range 300 {
		key := fmt.Sprint("k", i)
		if d, err := lim.Take(ctx, key, l, i%2); err != nil || !d.Allowed {
			t.Fatalf("Take(%s) = %+v, %v; want allowed", key, d, err)
		}
		if n := lim.localLen(); n > lim.MaxLocalKeys {
			t.Fatalf("%d local entries after %d keys; want at most %d", n, i+1, lim.MaxLocalKeys)
		}
	}

	// Three keys of one part, which holds two: k1 expires first and makes
	// room for k3, k2 keeps its lease.
	lim = &Limiter{Client: lim.Client, Prefix: prefix(t), Now: clock.Now, Lease: lease, MaxLocalKeys: 2 * localShards}
	var same []string
	s0, _ := lim.local.shard("k")
	for i := 0; len(same) < 3; i++ {
		if s, _ := lim.local.shard(fmt.Sprint("k", i)); s == s0 {
			same = append(same, fmt.Sprint("k", i))
		}
	}
	takeOK := func(key string) {
		t.Helper()
		if d, err := lim.Take(ctx, key, l, 1); err != nil || !d.Allowed {
			t.Fatalf("Take(%s) = %+v, %v; want allowed", key, d, err)
		}
	}
	takeOK(same[0])
	clock.Advance(5 * time.Second)
	takeOK(same[1])
	clock.Advance(4 * time.Second) // same[0] expired, same[1] has 2s left
	takeOK(same[2])
	before := lim.scripts.Load()
	takeOK(same[1])
	if n := lim.scripts.Load() - before; n != 0 {
		t.Errorf("the lease that had not expired was dropped (%d scripts); want the expired one dropped", n)
	}
	s0.mu.Lock()
	_, kept := s0.m[same[0]]
	s0.mu.Unlock()
	if kept {
		t.Errorf("the expired lease of %s was kept in a full part", same[0])
	}
}

// TestPeekCache: a peek that finds a bucket full is answered locally for
// PeekTTL; another replica's failure is seen at most PeekTTL late, and a
// take through the same replica is seen at once.
func TestPeekCache(t *testing.T) {
	clock := newSimClock()
	p := prefix(t)
	const peekTTL = time.Second
	a := &Limiter{Client: open(t), Prefix: p, Now: clock.Now, Lease: 100 * time.Millisecond, PeekTTL: peekTTL}
	b := &Limiter{Client: open(t), Prefix: p, Now: clock.Now, Lease: 100 * time.Millisecond, PeekTTL: peekTTL}
	l := ratelimit.DefaultFailureLimit
	ctx := t.Context()
	peek := func(step string, lim *Limiter, key string, wantRemaining int, wantScript bool) {
		t.Helper()
		before := lim.scripts.Load()
		d, err := lim.Take(ctx, key, l, 0)
		if err != nil || !d.Allowed || d.Remaining != wantRemaining || d.Limit != l.Burst {
			t.Errorf("%s: peek = %+v, %v; want allowed, %d remaining", step, d, err, wantRemaining)
		}
		if asked := lim.scripts.Load() > before; asked != wantScript {
			t.Errorf("%s: asked Redis = %v; want %v", step, asked, wantScript)
		}
	}
	fail := func(lim *Limiter, key string) {
		t.Helper()
		if _, err := lim.Take(ctx, key, l, 1); err != nil {
			t.Fatal(err)
		}
	}

	peek("first peek", b, "k", 10, true)
	peek("remembered", b, "k", 10, false)
	fail(a, "k")
	peek("a's failure not seen yet", b, "k", 10, false)
	clock.Advance(peekTTL - time.Nanosecond)
	peek("still remembered", b, "k", 10, false)
	clock.Advance(time.Nanosecond)
	peek("after PeekTTL, a's failure is seen", b, "k", 9, true)
	peek("a bucket not full is not remembered", b, "k", 9, true)

	peek("another key", b, "j", 10, true)
	fail(b, "j")
	peek("b's own failure is seen at once", b, "j", 9, true)

	// A peek that refuses is never remembered.
	for range 9 {
		fail(a, "z")
	}
	fail(a, "z")
	d, err := a.Take(ctx, "z", l, 0)
	if err != nil || d.Allowed || d.RetryAfter <= 0 {
		t.Errorf("peek on an empty bucket = %+v, %v; want refused", d, err)
	}

	off := &Limiter{Client: open(t), Prefix: p, Now: clock.Now, Lease: 100 * time.Millisecond}
	peek("PeekTTL 0 asks Redis", off, "full", 10, true)
	peek("every time", off, "full", 10, true)
}

// TestPeekAfterTake: concurrent takes and peeks of one key on one
// replica: a peek after a take never reports the bucket full, even when an
// older peek's answer arrives late.
func TestPeekAfterTake(t *testing.T) {
	clock := newSimClock()
	lim := &Limiter{Client: open(t), Prefix: prefix(t), Now: clock.Now, PeekTTL: time.Minute}
	l := ratelimit.Limit{Rate: 1.0 / 3600, Burst: 1000}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprint("k", i)
				if g%2 == 0 {
					lim.Take(t.Context(), key, l, 0) // a peek that may find the bucket full
				}
				if _, err := lim.Take(t.Context(), key, l, 1); err != nil {
					t.Error(err)
					return
				}
				if d, err := lim.Take(t.Context(), key, l, 0); err != nil || d.Remaining == l.Burst {
					t.Errorf("peek after a take of %s = %+v, %v; want the take seen", key, d, err)
					return
				}
			}
		})
	}
	wg.Wait()

	// The race, step by step: a peek finds the bucket full, a take begins
	// and ends, then the peek's answer is to be remembered: it is not.
	s, lkey := lim.local.shard("late")
	s.mu.Lock()
	takes := s.takes
	s.mu.Unlock()
	if _, err := lim.Take(t.Context(), "late", l, 1); err != nil {
		t.Fatal(err)
	}
	lim.rememberFull(s, lkey, takes, clock.Now())
	if d, err := lim.Take(t.Context(), "late", l, 0); err != nil || d.Remaining != l.Burst-1 {
		t.Errorf("peek after a take = %+v, %v; want the take seen, not a late peek's full bucket", d, err)
	}
}

// TestLeaseFallback: with leases and remembered peeks on, a Redis that
// cannot answer still sends every call to the Fallback.
func TestLeaseFallback(t *testing.T) {
	c := lazy(t, deadAddr(t))
	lim := &Limiter{Client: c, Fallback: &ratelimit.Memory{}, Lease: 100 * time.Millisecond, PeekTTL: time.Second}
	ctx := t.Context()
	l := ratelimit.Limit{Rate: 1000, Burst: 2}
	for i, tc := range []struct {
		n       int
		allowed bool
	}{{0, true}, {1, true}, {1, true}, {1, false}, {0, false}} {
		if d, err := lim.Take(ctx, "k", l, tc.n); err != nil || d.Allowed != tc.allowed {
			t.Errorf("call %d: Take(n=%d) with Redis down = %+v, %v; want allowed=%v from the fallback", i, tc.n, d, err, tc.allowed)
		}
	}
	if n := lim.localLen(); n != 0 {
		t.Errorf("%d local entries while Redis is down; want 0", n)
	}
}
