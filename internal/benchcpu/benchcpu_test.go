package benchcpu

import (
	"runtime"
	"testing"
)

func TestCPUTimeAdvances(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread CPU time is measured on Linux only")
	}
	p0, t0 := processCPU(), threadCPU()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	if p1, t1 := processCPU(), threadCPU(); p1 <= p0 || t1 <= t0 {
		t.Fatalf("CPU time did not advance: process %d -> %d, thread %d -> %d", p0, p1, t0, t1)
	}
}

func BenchmarkLoop(b *testing.B) {
	Loop(b, func() { runtime.Gosched() })
}
