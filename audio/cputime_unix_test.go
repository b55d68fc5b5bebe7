//go:build unix

package audio_test

import (
	"syscall"
	"time"
)

// cpuTime is the process's user plus system CPU time so far: a benchmark
// that reports it per op is less at the mercy of other processes on a
// shared machine than its wall-clock ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
