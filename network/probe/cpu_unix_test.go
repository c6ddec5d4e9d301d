//go:build unix

package probe

import "syscall"

// cpuTime returns the process's user+system CPU seconds, so benchmarks on a shared host can
// report the cost per probe, which other tenants' load does not inflate as much as wall time.
func cpuTime() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
