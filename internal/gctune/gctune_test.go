package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name           string
		live, headroom uint64
		want           int
	}{
		{"off", 2 * mib, 0, 100},
		{"empty heap", 0, 16 * mib, 401},
		{"small heap: the minimum term decides", 1536 * 1024, 16 * mib, 438},
		{"4 MiB live", 4 * mib, 16 * mib, 400},
		{"live equals headroom", 16 * mib, 16 * mib, 100},
		{"large heap: the default", 500 * mib, 16 * mib, 100},
		{"tiny heap, huge headroom: capped", 1 * mib, 1 << 40, maxPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Percent(tt.live, tt.headroom)
			if got != tt.want {
				t.Fatalf("Percent(%d, %d) = %d, want %d", tt.live, tt.headroom, got, tt.want)
			}
			if tt.headroom == 0 || got == maxPercent || got == 100 {
				return
			}
			// The goal reaches live+headroom, and one point less does not.
			live := max(tt.live, 1) // Percent counts an empty heap as one byte
			goal := func(p int) uint64 {
				return max(live*(100+uint64(p))/100, heapMinimum*uint64(p)/100)
			}
			if want := live + tt.headroom; goal(got) < want || goal(got-1) >= want {
				t.Fatalf("goal(%d) = %d, goal(%d) = %d, want the first to reach %d", got, goal(got), got-1, goal(got-1), want)
			}
		})
	}
}

func FuzzPercent(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(1<<20), uint64(16<<20))
	f.Add(^uint64(0)>>8, ^uint64(0)>>8)
	f.Fuzz(func(t *testing.T, live, headroom uint64) {
		live, headroom = live>>8, headroom>>8 // keep 100*x in range, as real heaps are
		p := Percent(live, headroom)
		if p < 100 || p > maxPercent {
			t.Fatalf("Percent(%d, %d) = %d out of [100, %d]", live, headroom, p, maxPercent)
		}
	})
}

func TestDisabled(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"GOGC": ""}, ""},
		{map[string]string{"GOGC": "200"}, "GOGC is set"},
		{map[string]string{"GOGC": "off"}, "GOGC is set"},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, "GOMEMLIMIT is set"},
	} {
		if got := Disabled(env(tt.env)); got != tt.want {
			t.Errorf("Disabled(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func gogc(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

var sink []byte

// TestStart runs the tuner in this test process, whose live heap is far
// below the default headroom: after a collection GOGC is raised, and the
// last stop puts back what was there before.
func TestStart(t *testing.T) {
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)

	stop1 := Start(0)
	stop2 := Start(1 << 20) // a second server: the first headroom applies
	for range 3 {
		sink = make([]byte, 64<<10)
		runtime.GC()
	}
	// The cleanup runs on its own goroutine after the cycle; wait for it
	// by collecting until the value settles (a bounded number of cycles).
	var got int
	for range 50 {
		runtime.GC()
		runtime.Gosched()
		if got = gogc(t); got > 100 {
			break
		}
	}
	if got <= 100 || got != Current() {
		t.Fatalf("GOGC = %d, Current = %d; want the tuner's value above 100 for a small heap", got, Current())
	}
	stop2()
	stop2() // a second call changes nothing
	if g := gogc(t); g <= 100 {
		t.Fatalf("after one of two stops GOGC = %d, want still tuned", g)
	}
	stop1()
	if g := gogc(t); g != 150 {
		t.Fatalf("after the last stop GOGC = %d, want 150 restored", g)
	}
	if Current() != 100 {
		t.Fatalf("Current after stop = %d, want 100", Current())
	}
}
