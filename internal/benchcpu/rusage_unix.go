//go:build unix && !linux

package benchcpu

import "syscall"

func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// threadCPU falls back to the process's CPU time.
func threadCPU() int64 { return processCPU() }
