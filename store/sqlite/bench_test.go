package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// The benchmarks below use fixed workloads, so that `-benchtime 1x` (as `make bench` runs them)
// measures a whole workload once; rates are reported with b.ReportMetric. Results and the
// machine they ran on are recorded in docs/PERFORMANCE.md.

const (
	benchAssets    = 100_000 // rows per insert workload and in the lookup fixture
	benchBatch     = 1_000   // rows per UpsertAssets call
	benchLookups   = 100_000 // point lookups per lookup workload
	benchUpdates   = 2_000   // single-row transactions per update workload
	benchOpens     = 50      // opens per open workload
	benchPoolGets  = 10_000  // pool acquisitions per warm-open workload
	benchSeedAsset = 42
)

// benchModes are the two ways to open a tenant database: the product's AES-XTS file, and the
// unencrypted baseline that measures what XTS costs.
var benchModes = []struct {
	name  string
	plain bool
}{{"plain", true}, {"xts", false}}

// benchAssetRows returns n assets with random (UUIDv4) ids, as inventory from many sources
// would have, so inserts and lookups touch the whole B-tree rather than its right edge.
func benchAssetRows(n int) []store.Asset {
	rng := rand.New(rand.NewPCG(benchSeedAsset, 1))
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]store.Asset, n)
	for i := range out {
		var id uuid.UUID
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		out[i] = store.Asset{
			ID:      id.String(),
			Name:    fmt.Sprintf("host-%06d.corp.example.internal", i),
			Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			MAC: fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", i>>24&255, i>>16&255, i>>8&255,
				i&255),
			Vendor:    "Example Networks Inc.",
			OS:        "Linux 6.8.0-45-generic x86_64",
			FirstSeen: seen,
			LastSeen:  seen.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// openBenchTenantDB opens a fresh or existing tenant database file, encrypted or plain, with
// the defaults the store uses for tenant databases.
func openBenchTenantDB(tb testing.TB, path string, plain bool) *TenantDB {
	tb.Helper()
	db, err := OpenDB(context.Background(), path, benchXTSKey(), DBOptions{Schema: "tenant",
		Plain: plain})
	if err != nil {
		tb.Fatal(err)
	}
	return &TenantDB{Tenant: store.Tenant{ID: "bench"}, db: db}
}

var benchKey = sync.OnceValue(func() keys.Key {
	k, err := keys.NewKey()
	if err != nil {
		panic(err)
	}
	return k
})

func benchXTSKey() keys.Key { return keys.Derive(benchKey(), "tenant-db-xts", XTSKeySize) }

func upsertInBatches(tb testing.TB, tdb *TenantDB, rows []store.Asset, batch int) {
	tb.Helper()
	ctx := context.Background()
	for i := 0; i < len(rows); i += batch {
		if err := tdb.UpsertAssets(ctx, rows[i:min(i+batch, len(rows))]); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkAssetInsert writes 100k assets in batches of 1,000 (one transaction each) into a
// new tenant database, encrypted and plain, and closes it. The target is xts ≤ 2× plain.
func BenchmarkAssetInsert(b *testing.B) {
	rows := benchAssetRows(benchAssets)
	rates, cpus := map[string]float64{}, map[string]float64{}
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			var cpu cpuMeter
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tdb := openBenchTenantDB(b, filepath.Join(b.TempDir(), "t.db"), m.plain)
				b.StartTimer()
				cpu.start()
				upsertInBatches(b, tdb, rows, benchBatch)
				// Close checkpoints the WAL into the main file; it is part of the cost of
				// writing, and a larger wal_autocheckpoint only defers it.
				if err := tdb.db.Close(); err != nil {
					b.Fatal(err)
				}
				cpu.stop()
			}
			rates[m.name] = float64(benchAssets*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rates[m.name], "rows/s")
			cpus[m.name] = cpu.report(b, benchAssets*b.N, "cpu-µs/row")
			logRatio(b, "insert", rates, cpus, 2)
		})
	}
}

// BenchmarkAssetLookup reads every asset once by id, in random order, through the reader
// pool of a 100k-row tenant database, encrypted and plain. "cold" starts from a freshly
// opened database, so each page is read (and decrypted) once; "warm" repeats the pass, as a
// tenant database kept in the pool would serve it; "warm-parallel" does so from one goroutine
// per core. The target is xts ≤ 1.3× plain.
func BenchmarkAssetLookup(b *testing.B) {
	rows := benchAssetRows(benchAssets)
	order := rand.New(rand.NewPCG(7, 7)).Perm(benchLookups)
	paths := map[string]string{}
	for _, m := range benchModes {
		paths[m.name] = filepath.Join(b.TempDir(), m.name+".db")
		tdb := openBenchTenantDB(b, paths[m.name], m.plain)
		upsertInBatches(b, tdb, rows, 10*benchBatch)
		if err := tdb.db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	passes := []struct {
		name    string
		warm    bool
		workers int
	}{{"cold", false, 1}, {"warm", true, 1}, {"warm-parallel", true, 2}}
	for _, p := range passes {
		rates, cpus := map[string]float64{}, map[string]float64{}
		for _, m := range benchModes {
			b.Run(m.name+"/"+p.name, func(b *testing.B) {
				var cpu cpuMeter
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					tdb := openBenchTenantDB(b, paths[m.name], m.plain)
					if p.warm {
						lookupAll(b, tdb, rows, order, p.workers)
					}
					b.StartTimer()
					cpu.start()
					lookupAll(b, tdb, rows, order, p.workers)
					cpu.stop()
					b.StopTimer()
					if err := tdb.db.Close(); err != nil {
						b.Fatal(err)
					}
				}
				rates[m.name] = float64(benchLookups*b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rates[m.name], "lookups/s")
				cpus[m.name] = cpu.report(b, benchLookups*b.N, "cpu-µs/lookup")
				logRatio(b, "lookup "+p.name, rates, cpus, 1.3)
			})
		}
	}
}

// BenchmarkAssetUpdate changes one asset per transaction, as a discovery run that sees a
// host again does, in a 100k-row tenant database: the small-write case that a larger page
// size makes dearer, since each commit appends whole pages to the WAL.
func BenchmarkAssetUpdate(b *testing.B) {
	ctx := context.Background()
	rows := benchAssetRows(benchAssets)
	order := rand.New(rand.NewPCG(9, 9)).Perm(benchAssets)[:benchUpdates]
	rates, cpus := map[string]float64{}, map[string]float64{}
	for _, m := range benchModes {
		path := filepath.Join(b.TempDir(), m.name+".db")
		tdb := openBenchTenantDB(b, path, m.plain)
		upsertInBatches(b, tdb, rows, 10*benchBatch)
		if err := tdb.db.Close(); err != nil {
			b.Fatal(err)
		}
		b.Run(m.name, func(b *testing.B) {
			b.StopTimer()
			tdb := openBenchTenantDB(b, path, m.plain)
			defer tdb.db.Close()
			var cpu cpuMeter
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				cpu.start()
				for k, j := range order {
					a := rows[j]
					a.LastSeen = a.LastSeen.Add(time.Duration(i*len(order)+k+1) * time.Hour)
					if err := tdb.UpsertAssets(ctx, []store.Asset{a}); err != nil {
						b.Fatal(err)
					}
				}
				cpu.stop()
			}
			rates[m.name] = float64(benchUpdates*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rates[m.name], "updates/s")
			cpus[m.name] = cpu.report(b, benchUpdates*b.N, "cpu-µs/update")
			logRatio(b, "single-row update", rates, cpus, 0)
		})
	}
}

func lookupAll(b *testing.B, tdb *TenantDB, rows []store.Asset, order []int, workers int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(order); i += workers {
				want := rows[order[i]%len(rows)]
				a, err := tdb.Asset(ctx, want.ID)
				if err == nil && a.Name != want.Name {
					err = fmt.Errorf("asset %s: name %q, want %q", want.ID, a.Name, want.Name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// logRatio prints, once both modes have run (from the xts sub-benchmark, whose log is always
// printed), how much slower xts is than plain by throughput and by CPU time, against the
// target (0: none). The CPU ratio is steadier on a shared machine, where other processes
// stretch wall time.
func logRatio(b *testing.B, what string, rates, cpus map[string]float64, target float64) {
	b.Helper()
	if rates["plain"] == 0 || rates["xts"] == 0 {
		return
	}
	r := rates["plain"] / rates["xts"]
	verdict := "no target"
	if target > 0 && r <= target {
		verdict = fmt.Sprintf("target ≤ %.1f×: meets", target)
	} else if target > 0 {
		verdict = fmt.Sprintf("target ≤ %.1f×: MISSES", target)
	}
	cpuRatio := "n/a"
	if cpus["plain"] > 0 && cpus["xts"] > 0 {
		cpuRatio = fmt.Sprintf("%.2f×", cpus["xts"]/cpus["plain"])
	}
	b.Logf("%s: xts is %.2f× slower than plain (%s); CPU time %s", what, r, verdict,
		cpuRatio)
}

// cpuMeter adds up the process's CPU time (user and system, all threads) over the measured
// sections of a benchmark. It reads /proc/self/stat, so it measures nothing off Linux.
type cpuMeter struct {
	total, began time.Duration
	ok           bool
}

func (c *cpuMeter) start() { c.began, c.ok = processCPU() }

func (c *cpuMeter) stop() {
	if end, ok := processCPU(); ok && c.ok {
		c.total += end - c.began
	} else {
		c.ok = false
	}
}

// report publishes the CPU time per operation in µs and returns it (0 when unknown).
func (c *cpuMeter) report(b *testing.B, ops int, unit string) float64 {
	if !c.ok || ops == 0 {
		return 0
	}
	v := float64(c.total.Microseconds()) / float64(ops)
	b.ReportMetric(v, unit)
	return v
}

// processCPU returns utime+stime from /proc/self/stat (in clock ticks of 10 ms, USER_HZ).
func processCPU() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name may contain spaces; the fields after it are space-separated.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// BenchmarkTenantDBOpen measures opening a tenant database: cold (OpenDB of an existing
// file, as the pool does on a miss: header, key, WAL mode, migration check) and warm
// (Store.TenantDB served from the pool, including the tenant lookup in control.db).
func BenchmarkTenantDBOpen(b *testing.B) {
	ctx := context.Background()
	rows := benchAssetRows(1_000)
	for _, m := range benchModes {
		b.Run("cold/"+m.name, func(b *testing.B) {
			b.StopTimer()
			path := filepath.Join(b.TempDir(), "t.db")
			tdb := openBenchTenantDB(b, path, m.plain)
			upsertInBatches(b, tdb, rows, benchBatch)
			if err := tdb.db.Close(); err != nil {
				b.Fatal(err)
			}
			var opened time.Duration
			for i := 0; i < b.N; i++ {
				for range benchOpens {
					start := time.Now()
					b.StartTimer()
					db, err := OpenDB(ctx, path, benchXTSKey(), DBOptions{Schema: "tenant",
						Plain: m.plain})
					b.StopTimer()
					opened += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					if err := db.Close(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(opened.Microseconds())/float64(benchOpens*b.N), "µs/open")
		})
	}
	b.Run("warm/pool", func(b *testing.B) {
		b.StopTimer()
		s := openBenchStore(b, 64)
		t, err := s.CreateTenant(ctx, "acme", "Acme")
		if err != nil {
			b.Fatal(err)
		}
		_, release, err := s.TenantDB(ctx, t.Slug)
		if err != nil {
			b.Fatal(err)
		}
		release()
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			for range benchPoolGets {
				_, release, err := s.TenantDB(ctx, t.Slug)
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(benchPoolGets*b.N),
			"µs/open")
	})
	// A pool of one with two tenants alternating: every TenantDB is a miss that unwraps
	// nothing (keys are cached) but opens, verifies and later closes a database file.
	b.Run("miss/pool", func(b *testing.B) {
		b.StopTimer()
		s := openBenchStore(b, 1)
		var slugs []string
		for _, slug := range []string{"acme", "globex"} {
			if _, err := s.CreateTenant(ctx, slug, slug); err != nil {
				b.Fatal(err)
			}
			slugs = append(slugs, slug)
		}
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			for j := range benchOpens {
				_, release, err := s.TenantDB(ctx, slugs[j%2])
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(benchOpens*b.N), "µs/open")
	})
}

func openBenchStore(b *testing.B, maxOpen int) *Store {
	b.Helper()
	kek, err := keys.NewKEK(benchKey())
	if err != nil {
		b.Fatal(err)
	}
	control, err := keys.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(context.Background(), Options{Dir: b.TempDir(), KEK: kek,
		ControlKey: control, MaxOpenTenants: maxOpen})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
