package scanner

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRunAllChecks10k runs every released check of the embedded catalog over 10,000
// synthetic assets (varied services, TLS, SMB, RDP, SNMP, firewalls with policies, admins
// and interfaces) and a directory of 1,005 users.
func BenchmarkRunAllChecks10k(b *testing.B) { benchmarkRun(b, 10000) }

// BenchmarkRunAllChecks1k is the same over 1,000 assets, for quick profiles.
func BenchmarkRunAllChecks1k(b *testing.B) { benchmarkRun(b, 1000) }

func benchmarkRun(b *testing.B, assets int) {
	c, err := LoadEmbedded()
	if c == nil {
		b.Fatal(err)
	}
	if err != nil {
		b.Logf("catalog loaded with errors (bad modules are skipped): %v", err)
	}
	facts := syntheticFacts(assets, 42)
	ctx := context.Background()
	var res *Result
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		res, err = c.Run(ctx, facts, RunOptions{Now: testNow})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The machine is shared, so wall time is noisy: report this process's CPU time too
	// (user + system, all threads, GC included).
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	evals := 0
	for _, t := range res.Checks {
		evals += t.Passed + t.Failed + t.NotApplicable + t.Errors
	}
	b.ReportMetric(float64(len(res.Checks)), "checks")
	b.ReportMetric(float64(evals), "evaluations")
	b.ReportMetric(float64(len(res.Findings)), "findings")
	if len(res.Errors) > 0 {
		b.Logf("%d evaluation errors, first: %+v", len(res.Errors), res.Errors[0])
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
