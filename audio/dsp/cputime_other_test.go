//go:build !unix

package dsp

// cpuNanos is not available here; benchmarks report wall time only.
func cpuNanos() int64 { return 0 }
