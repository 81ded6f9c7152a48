// Package benchcpu adds a "cpu-ns/op" metric to benchmarks: the CPU time
// spent per operation. On a shared, loaded machine wall-clock ns/op mostly
// measures waiting for a CPU; CPU time does not, so BENCHMARKS.md can
// compare figures taken under load. It is used by the project's benchmarks
// only.
package benchcpu

import (
	"runtime"
	"testing"
)

// Now returns the process's user+system CPU time in nanoseconds, or 0 where
// the platform cannot tell.
func Now() int64 { return processCPU() }

// Report adds the process CPU time per operation since start (from [Now])
// as "cpu-ns/op". It reports nothing when start is 0 or b.N is 0.
func Report(b *testing.B, start int64) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// Loop runs f with b.Loop on a locked OS thread and reports that thread's
// CPU time per operation as "cpu-ns/op" (the process's where the platform
// has no per-thread figure).
func Loop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if n > 0 && start > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
	}
}
