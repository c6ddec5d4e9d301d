//go:build !unix

package probe

// cpuTime is not measured here; benchmarks then report 0 CPU per probe.
func cpuTime() float64 { return 0 }
