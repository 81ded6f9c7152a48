package jwtauth_test

import "github.com/m2mkit/m2m/internal/benchcpu"

// CPU-time metrics for the benchmarks (see package benchcpu).
var (
	cpuLoop   = benchcpu.Loop
	cpuTime   = benchcpu.Now
	reportCPU = benchcpu.Report
)
