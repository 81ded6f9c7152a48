//go:build !linux

package jwtauth_test

import "testing"

// cpuLoop runs f b.N times; the thread CPU time metric is Linux-only.
func cpuLoop(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
}
