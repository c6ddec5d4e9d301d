package probe

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkConnectScan scans 127.212.0.0/24 × 20 ports (5,120 probes per op) where every
// 16th host listens on all 20 ports and every other port refuses, as the open lab
// does at a smaller scale. It fails on any wrong verdict, so a fast wrong scanner cannot
// pass, and reports probes/s for the default concurrency and a few fixed ones.
func BenchmarkConnectScan(b *testing.B) {
	lb := newLab(b, "127.212.0.0", 256, 20, func(i, _ int) bool { return i%16 == 0 })
	want := lb.truth()
	for _, conc := range []int{0, 256, 64} {
		name := fmt.Sprintf("concurrency=%d", conc)
		if conc == 0 {
			name = "concurrency=default"
		}
		b.Run(name, func(b *testing.B) {
			s := newScanner(b, Config{MaxConcurrency: conc})
			req := lb.request()
			probes, retries, pauses := 0, uint64(0), uint64(0)
			start, cpu0 := time.Now(), cpuTime()
			for b.Loop() {
				got, prog := verdicts(b, s, req)
				if !slices.Equal(got, want) {
					b.Fatalf("wrong verdicts: %s", diff(got, want))
				}
				probes += len(got)
				retries += prog.Retries
				pauses += prog.BackPressure
			}
			b.ReportMetric(float64(probes)/time.Since(start).Seconds(), "probes/s")
			b.ReportMetric((cpuTime()-cpu0)*1e6/float64(probes), "cpu-µs/probe")
			b.ReportMetric(float64(retries), "retries")
			b.ReportMetric(float64(pauses), "pauses")
		})
	}
}
