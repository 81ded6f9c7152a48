// Package replaytest is the conformance suite for [m2m.ReplayCache]
// implementations, in the style of dex's storage/conformance: every
// implementation's tests call [Run], and must pass every case, the
// concurrent ones included.
//
//	func TestConformance(t *testing.T) {
//		replaytest.Run(t, func(t *testing.T) replaytest.Harness {
//			now := time.Unix(1_700_000_000, 0)
//			c := &replay.Memory{Now: func() time.Time { return now }}
//			return replaytest.Harness{
//				New:     func() m2m.ReplayCache { return c },
//				Now:     func() time.Time { return now },
//				Advance: func(d time.Duration) { now = now.Add(d) },
//			}
//		})
//	}
package replaytest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mkit/m2m"
)

// Concurrency is the number of goroutines racing on one key; Keys is how
// many keys the many-keys case uses.
const (
	Concurrency = 16
	Keys        = 500
)

// Lifetime is the lifetime the expiry cases give their keys. It is short
// so that backends whose entries expire in real time (Redis) can run them
// with Advance = time.Sleep.
const Lifetime = time.Second

// Harness is what an implementation gives the suite for one subtest.
type Harness struct {
	// New returns a cache on the subtest's state: every call returns an
	// instance that shares it with the earlier ones (for an in-process
	// cache, the same value; for a server, a new client on the same
	// server and prefix). The state starts empty.
	New func() m2m.ReplayCache
	// Now returns the current time of the caches' clock.
	Now func() time.Time
	// Advance moves that clock forward by d (time.Sleep for a real clock).
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
		{"FirstUse", testFirstUse},
		{"DistinctKeys", testDistinctKeys},
		{"Expiry", testExpiry},
		{"AlreadyExpired", testAlreadyExpired},
		{"SharedBetweenInstances", testShared},
		{"ConcurrentExactlyOnce", testConcurrent},
		{"ManyKeys", testManyKeys},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness(t)) })
	}
}

func use(t *testing.T, c m2m.ReplayCache, key string, expiry time.Time, want bool) {
	t.Helper()
	got, err := c.Use(t.Context(), key, expiry)
	if err != nil || got != want {
		t.Errorf("Use(%q, %v) = %v, %v; want %v, nil", key, expiry, got, err, want)
	}
}

func testFirstUse(t *testing.T, h Harness) {
	c := h.New()
	exp := h.Now().Add(time.Hour)
	use(t, c, "code-1", exp, true)
	use(t, c, "code-1", exp, false)
	use(t, c, "code-1", exp.Add(time.Hour), false)
	use(t, c, "code-2", exp, true)
}

func testDistinctKeys(t *testing.T, h Harness) {
	c := h.New()
	exp := h.Now().Add(time.Hour)
	keys := []string{
		"", "a", "A", "a\x00", "a\x00b", "ab", " a", "#a", "##a", "\xff\xfe",
		"ключ", strings.Repeat("k", 256), strings.Repeat("k", 257),
		strings.Repeat("k", 4096), strings.Repeat("k", 4095) + "j",
	}
	for _, k := range keys {
		use(t, c, k, exp, true)
	}
	for _, k := range keys {
		use(t, c, k, exp, false)
	}
}

func testExpiry(t *testing.T, h Harness) {
	c := h.New()
	use(t, c, "k", h.Now().Add(Lifetime), true)
	h.Advance(Lifetime / 5)
	use(t, c, "k", h.Now().Add(Lifetime), false)
	h.Advance(Lifetime)
	use(t, c, "k", h.Now().Add(Lifetime), true)
	use(t, c, "k", h.Now().Add(Lifetime), false)
}

func testAlreadyExpired(t *testing.T, h Harness) {
	c := h.New()
	// An expired credential is refused by its own time check; the cache
	// neither records it nor reports a replay.
	use(t, c, "old", h.Now().Add(-time.Second), true)
	use(t, c, "old", h.Now().Add(-time.Second), true)
	use(t, c, "old", h.Now(), true)
	// Recording it for real afterwards still works once.
	use(t, c, "old", h.Now().Add(time.Hour), true)
	use(t, c, "old", h.Now().Add(time.Hour), false)
}

func testShared(t *testing.T, h Harness) {
	a, b := h.New(), h.New()
	exp := h.Now().Add(time.Hour)
	use(t, a, "k", exp, true)
	use(t, b, "k", exp, false)
	use(t, b, "j", exp, true)
	use(t, a, "j", exp, false)
}

func testConcurrent(t *testing.T, h Harness) {
	caches := []m2m.ReplayCache{h.New(), h.New()}
	exp := h.Now().Add(time.Hour)
	for k := range 20 {
		key := fmt.Sprint("race-", k)
		var wins, errs atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range Concurrency {
			wg.Go(func() {
				<-start
				ok, err := caches[i%len(caches)].Use(t.Context(), key, exp)
				if err != nil {
					errs.Add(1)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := errs.Load(); n != 0 {
			t.Fatalf("%d of %d concurrent Use(%q) failed", n, Concurrency, key)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d concurrent Use(%q) = true %d times; want exactly 1", Concurrency, key, n)
		}
	}
}

func testManyKeys(t *testing.T, h Harness) {
	c := h.New()
	exp := h.Now().Add(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < Keys; i += 4 {
				if ok, err := c.Use(t.Context(), fmt.Sprint("many-", i), exp); !ok || err != nil {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("Use(many-%d) = %v, %v", i, ok, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(bad) != 0 {
		t.Fatalf("first Use of %d distinct keys: %d not true; want all: %s", Keys, len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	}
	for i := range Keys {
		if ok, err := c.Use(t.Context(), fmt.Sprint("many-", i), exp); ok || err != nil {
			t.Fatalf("second Use(many-%d) = %v, %v; want false, nil", i, ok, err)
		}
	}
}
