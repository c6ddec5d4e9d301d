package results

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// The workload is fixed, so `-benchtime 1x` (as `make bench` runs it) measures it once; the
// rate and the peak RSS are reported with b.ReportMetric. Peak RSS is the process's, so run
// one sub-benchmark per process for a clean number:
//
//	go test -run '^$' -bench 'PutBatch/reclaim$' -benchtime 1x ./store/results/
//	go test -run '^$' -bench 'PutBatch/mapped$' -benchtime 1x ./store/results/
//
// It resets the kernel's high-water mark first where Linux allows it (clear_refs 5).

const (
	benchValues     = 1_000_000
	benchValueBytes = 500
	benchBatch      = 1_000
	benchTenants    = 10
)

// benchKeys is a KeySource with one random key per tenant.
type benchKeys map[string]keys.Key

func (k benchKeys) TenantKeys(_ context.Context, id string) (int, map[int]keys.Key, error) {
	key, ok := k[id]
	if !ok {
		return 0, nil, store.Errorf(store.ErrNotFound, "no tenant %s", id)
	}
	return 1, map[int]keys.Key{1: key}, nil
}

// BenchmarkPutBatch writes 1M sealed 500-byte values in batches of 1,000 spread over 10
// tenants, with the default Options, and reports values/s (including Close, which flushes the
// memtables) and the peak RSS. Targets: ≥ 30k values/s within 512 MiB RSS. "reclaim" runs
// with the default Options, "mapped" without reclaiming Badger's mapped pages
// (ReclaimInterval < 0), as the store ran before.
func BenchmarkPutBatch(b *testing.B) {
	b.Run("reclaim", func(b *testing.B) { benchPutBatch(b, 0) })
	b.Run("mapped", func(b *testing.B) { benchPutBatch(b, -1) })
}

func benchPutBatch(b *testing.B, reclaim time.Duration) {
	ctx := context.Background()
	ks := benchKeys{}
	tenants := make([]string, benchTenants)
	for i := range tenants {
		tenants[i] = fmt.Sprintf("0190f0e4-0000-7000-8000-%012d", i)
		k, err := keys.NewKey()
		if err != nil {
			b.Fatal(err)
		}
		ks[tenants[i]] = k
	}
	rootKey, err := keys.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	value := make([]byte, benchValueBytes)
	batch := make([]store.KV, benchBatch)
	resetPeakRSS()
	stop := sampleRSS()
	var closed time.Duration
	for i := 0; i < b.N; i++ {
		s, err := Open(Options{Dir: b.TempDir(), Key: rootKey, Keys: ks,
			ReclaimInterval: reclaim})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchValues; n += benchBatch {
			tenant := tenants[(n/benchBatch)%benchTenants]
			for j := range batch {
				_, _ = rng.Read(value) // sealed values are random bytes anyway
				// A module result: module, target and time, as the scanner keys them.
				batch[j] = store.KV{
					Key: fmt.Sprintf("nmap/10.%d.%d.%d/%d", j>>8&255, j&255, n>>16&255,
						1767225600+n),
					Value: bytes.Clone(value),
				}
			}
			if err := s.PutBatch(ctx, tenant, batch); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		closed += time.Since(start)
	}
	b.ReportMetric(float64(benchValues*b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(closed.Milliseconds())/float64(b.N), "close-ms")
	anon, file := stop()
	st, err := procStatus()
	if err != nil {
		b.Logf("peak RSS unavailable: %v", err)
		return
	}
	b.ReportMetric(float64(st["VmHWM"])/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "peak-anon-MiB")
	b.ReportMetric(float64(file)/(1<<20), "peak-file-MiB")
}

// sampleRSS polls the process's anonymous and file-backed resident memory until the returned
// function is called, which returns the peaks of each. Badger maps its tables and logs, so
// part of its RSS is file pages the kernel can drop; the split shows how much.
func sampleRSS() (stop func() (anon, file int64)) {
	done := make(chan struct{})
	var peakAnon, peakFile int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := procStatus(); err == nil {
				peakAnon = max(peakAnon, st["RssAnon"])
				peakFile = max(peakFile, st["RssFile"]+st["RssShmem"])
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return peakAnon, peakFile
	}
}

// resetPeakRSS resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak measured is this
// benchmark's and not that of an earlier one in the same process.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// procStatus reads the memory sizes (in bytes) from /proc/self/status.
func procStatus() (map[string]int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		rest = strings.TrimSpace(rest)
		if !ok || !strings.HasSuffix(rest, " kB") {
			continue
		}
		if kib, err := strconv.ParseInt(strings.TrimSuffix(rest, " kB"), 10, 64); err == nil {
			out[name] = kib << 10
		}
	}
	if _, ok := out["VmHWM"]; !ok {
		return nil, errors.New("no VmHWM in /proc/self/status")
	}
	return out, nil
}
