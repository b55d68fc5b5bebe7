//go:build unix

package dsp

import "syscall"

// cpuNanos returns the CPU time (user and system) the process has used. On
// a shared machine it measures the work done, where wall time also
// measures the neighbours.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
