//go:build !linux

package jws

import "testing"

// cpuLoop runs f b.N times; the thread CPU time metric is Linux-only.
func cpuLoop(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
}
