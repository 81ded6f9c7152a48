package jws

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuLoop runs f b.N times (via b.Loop) on a locked OS thread and reports
// the thread's CPU time per operation as "cpu-ns/op": on a shared, loaded
// machine wall-clock ns/op mostly measures waiting for a CPU, while the
// thread's own CPU time does not.
func cpuLoop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
	}
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
