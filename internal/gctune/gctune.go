// Package gctune paces the garbage collector of a server whose live heap is
// small but whose allocation rate is high, as m2m serve's is: a token
// request allocates about 18 KB (half of it inside crypto/ecdsa) and keeps
// almost none of it, so with Go's default GOGC=100 and a live heap of 1-2
// MB the heap goal sits at its 4 MB minimum and the collector runs about a
// hundred times a second under load. Each cycle has a fixed cost (its
// background worker takes a whole P of two, write barriers slow every
// goroutine while it marks), which made the collector the largest cost of a
// token after the signature.
//
// The tuner gives the heap a fixed headroom instead: after every cycle it
// sets GOGC so that the next goal is about the live heap plus Headroom (16
// MiB by default), and never below GOGC=100, so a large live heap is paced
// exactly as Go would pace it. Memory stays bounded: the goal is at most
// live + Headroom while that is more than twice the live heap.
//
// It does nothing when the environment sets GOGC or GOMEMLIMIT: the
// operator's choice wins. Why by hand: the runtime offers only a fixed
// percentage (GOGC) or a ceiling (GOMEMLIMIT); neither is a floor, and the
// maintained libraries that add one (GC "tuners" built on the same
// finalizer trick) pull in far more than these few lines.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultHeadroom is the heap the tuner leaves above the live heap.
const DefaultHeadroom = 16 << 20

// maxPercent bounds the GOGC the tuner sets.
const maxPercent = 2000

// heapMinimum is the runtime's minimum heap goal at GOGC=100; the runtime
// scales it by GOGC/100 (runtime/mgcpacer.go, defaultHeapMinimum).
const heapMinimum = 4 << 20

// Percent returns the GOGC that makes the next heap goal about live +
// headroom bytes, at least 100 (the default) and at most maxPercent. The
// heap goal at GOGC=p is max(live*(1+p/100), heapMinimum*p/100); Percent
// picks the smallest p whose goal reaches live + headroom.
func Percent(live, headroom uint64) int {
	if headroom == 0 {
		return 100
	}
	if live == 0 {
		live = 1
	}
	want := live + headroom
	// From the first term: live*(1+p/100) >= want.
	p1 := ceilDiv(100*headroom, live)
	// From the minimum: heapMinimum*p/100 >= want.
	p2 := ceilDiv(100*want, heapMinimum)
	p := min(p1, p2)
	return int(max(100, min(p, maxPercent)))
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

// Tuner state: one per process, shared by every Start (tests run several
// servers in one process).
var (
	mu       sync.Mutex
	users    int
	stopped  bool
	headroom uint64
	previous int // GOGC before the first Start
	current  int
)

// Disabled reports why the environment turns the tuner off ("" when it
// does not): GOGC or GOMEMLIMIT set.
func Disabled(lookup func(string) (string, bool)) string {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := lookup(k); ok && v != "" {
			return k + " is set"
		}
	}
	return ""
}

// Start paces the collector with the given headroom (0 means
// DefaultHeadroom) until the returned stop is called; the last stop
// restores the GOGC that was in force before. It is the caller's job to
// check [Disabled] first. Start is safe for concurrent use; while several
// are running, the first one's headroom applies.
func Start(h uint64) (stop func()) {
	if h == 0 {
		h = DefaultHeadroom
	}
	mu.Lock()
	defer mu.Unlock()
	users++
	if users == 1 {
		headroom = h
		stopped = false
		previous = debug.SetGCPercent(100)
		current = 100
		tuneLocked()
		arm()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			users--
			if users == 0 {
				stopped = true
				debug.SetGCPercent(previous)
			}
		})
	}
}

// sentinel is garbage made on purpose: its cleanup runs after the cycle
// that found it unreachable, and makes the next one. It holds a pointer
// and is larger than the tiny-allocator's 16 bytes, so it is an object of
// its own.
type sentinel struct {
	_ [32]byte
	_ *int
}

func arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(struct{}) { afterGC() }, struct{}{})
}

func afterGC() {
	mu.Lock()
	defer mu.Unlock()
	if stopped || users == 0 {
		return
	}
	tuneLocked()
	arm()
}

var sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

func tuneLocked() {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := Percent(sample[0].Value.Uint64(), headroom)
	// Changes under a tenth are not worth a pacer update every cycle.
	if d := p - current; d*10 > current || -d*10 > current || (p == 100) != (current == 100) {
		debug.SetGCPercent(p)
		current = p
	}
}

// Current returns the GOGC the tuner last set (100 when it is not
// running).
func Current() int {
	mu.Lock()
	defer mu.Unlock()
	if users == 0 {
		return 100
	}
	return current
}
