package ldap_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/sambadc"
	"github.com/tenantra/tenantra/network/ldap"
)

// BenchmarkCollectLarge collects a domain of 10,000 users and 2,000 computers (added in bulk
// over LDAP) and reports wall time, peak Go heap during a collection and the process's peak
// RSS. Benchmarks run only under -bench; TENA_BENCH_LDAP_USERS / _COMPUTERS resize it.
func BenchmarkCollectLarge(b *testing.B) {
	users, computers := envInt("TENA_BENCH_LDAP_USERS", 10000),
		envInt("TENA_BENCH_LDAP_COMPUTERS", 2000)
	dc := benchDC(b, users, computers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := ldap.New(ldap.Config{URL: dc.LDAPURL, BindDN: dc.AdminUPN,
		Password: dc.AdminPassword})
	if err != nil {
		b.Fatal(err)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample the heap while collecting
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak.Store(0)
	b.ResetTimer()
	var d *ldap.Directory
	for range b.N {
		if d, err = c.Collect(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	if len(d.Users) < users || len(d.Computers) < computers {
		b.Fatalf("collected %d users %d computers", len(d.Users), len(d.Computers))
	}
	b.ReportMetric(float64(len(d.Users)+len(d.Computers)), "objects/op")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapAlloc))/(1<<20),
		"heap-growth-MiB")
	if rss := vmHWM(); rss > 0 {
		b.ReportMetric(rss/(1<<10), "peak-rss-MiB")
	}
	b.Logf("last collection: %+v", d.Stats)
}

// bench holds the benchmark's DC across the runs with growing b.N (seeding takes minutes);
// TestMain stops it.
var bench struct {
	once sync.Once
	dc   *sambadc.DC
	err  error
}

func benchDC(b *testing.B, users, computers int) *sambadc.DC {
	b.Helper()
	if err := sambadc.CheckInstalled(); err != nil {
		testenv.MissingPeer(b, "samba", err)
	}
	bench.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if bench.dc, bench.err = sambadc.Run(ctx, sambadc.Options{}); bench.err != nil {
			return
		}
		start := time.Now()
		bench.err = bench.dc.BulkAdd(ctx, "bench", users, computers, 4)
		b.Logf("seeded %d users and %d computers in %v", users, computers, time.Since(start))
	})
	if bench.err != nil {
		b.Fatalf("benchmark DC: %v", bench.err)
	}
	return bench.dc
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// vmHWM is the process's peak resident set in KiB (Linux), 0 elsewhere.
func vmHWM() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb
		}
	}
	return 0
}
