package benchcpu

import "syscall"

func rusage(who int) int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(who, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func processCPU() int64 { return rusage(syscall.RUSAGE_SELF) }
func threadCPU() int64  { return rusage(syscall.RUSAGE_THREAD) }
