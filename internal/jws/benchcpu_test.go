package jws

import "github.com/m2mkit/m2m/internal/benchcpu"

// cpuLoop adds a cpu-ns/op metric to a benchmark (see package benchcpu).
var cpuLoop = benchcpu.Loop
