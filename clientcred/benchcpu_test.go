package clientcred

import "github.com/m2mkit/m2m/internal/benchcpu"

// CPU-time metrics for the benchmarks (see package benchcpu).
var (
	cpuTime   = benchcpu.Now
	reportCPU = benchcpu.Report
)
