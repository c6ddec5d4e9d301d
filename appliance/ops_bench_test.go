package appliance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// benchScale picks the workload: the full sizes with TENA_BENCH_SCALE=full (slow:
// building them takes minutes), a tenth of them otherwise so that make bench stays short.
func benchScale() (tenants, assets, results int, tenantDBMiB int) {
	if os.Getenv("TENA_BENCH_SCALE") == "full" {
		return 100, 10_000, 1_000_000, 1024
	}
	return 10, 10_000, 100_000, 100
}

func benchAssets(prefix string, n int) []store.Asset {
	out := make([]store.Asset, n)
	now := time.Now()
	for i := range out {
		out[i] = store.Asset{ID: fmt.Sprintf("%s-%08d", prefix, i),
			Name:    fmt.Sprintf("host-%06d.corp.example.internal", i),
			Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			MAC: fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", i>>24&255, i>>16&255, i>>8&255,
				i&255),
			Vendor: "Example Networks Inc.", OS: "Ubuntu 24.04.1 LTS (Linux 6.8.0-45-generic)",
			FirstSeen: now, LastSeen: now}
	}
	return out
}

// BenchmarkBackupRestore measures backup and restore throughput (MB/s of archive) of an
// appliance with many tenants, each with assets, and sealed results.
func BenchmarkBackupRestore(b *testing.B) {
	nTenants, nAssets, nResults, _ := benchScale()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	src := testConfig(b, b.TempDir())
	a := openTest(b, src)
	defer a.Close()
	var ids []string
	for t := range nTenants {
		ten, err := a.CreateTenant(ctx, fmt.Sprintf("bench-%03d", t), "Bench")
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, ten.ID)
		tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
		if err != nil {
			b.Fatal(err)
		}
		all := benchAssets("a", nAssets)
		for i := 0; i < len(all); i += 1000 {
			if err := tdb.UpsertAssets(ctx, all[i:min(i+1000, len(all))]); err != nil {
				b.Fatal(err)
			}
		}
		release()
	}
	value := make([]byte, 500)
	for i := 0; i < nResults; i += 1000 {
		kvs := make([]store.KV, 0, 1000)
		for j := i; j < min(i+1000, nResults); j++ {
			kvs = append(kvs, store.KV{Key: fmt.Sprintf("r/%08d", j), Value: value})
		}
		if err := a.Results().PutBatch(ctx, ids[i/1000%len(ids)], kvs); err != nil {
			b.Fatal(err)
		}
	}
	archive := filepath.Join(b.TempDir(), "bench.backup")
	for b.Loop() {
		start := time.Now()
		plan, err := a.PrepareBackup(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(archive)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plan.Write(f, nil); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
		_ = plan.Close()
		took := time.Since(start)
		fi, _ := os.Stat(archive)
		mb := float64(fi.Size()) / 1e6
		b.ReportMetric(mb, "archive-MB")
		b.ReportMetric(mb/took.Seconds(), "backup-MB/s")

		cfg := testConfig(b, filepath.Join(b.TempDir(), "restored"))
		cfg.MasterKeyFile = src.MasterKeyFile
		start = time.Now()
		if _, err := Restore(context.Background(), archive, cfg, RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(mb/time.Since(start).Seconds(), "restore-MB/s")
	}
}

// BenchmarkRotateTenantKey measures re-encrypting one tenant database under a new key.
func BenchmarkRotateTenantKey(b *testing.B) {
	_, _, _, mib := benchScale()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(b, testConfig(b, b.TempDir()))
	defer a.Close()
	ten, err := a.CreateTenant(ctx, "big", "Big")
	if err != nil {
		b.Fatal(err)
	}
	tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(a.cfg.DataDir, "tenants", ten.ID+".db")
	for batch := 0; ; batch++ {
		if fi, err := os.Stat(path); err == nil && fi.Size() >= int64(mib)<<20 {
			break
		}
		if err := tdb.UpsertAssets(ctx, benchAssets(fmt.Sprintf("b%05d", batch),
			5000)); err != nil {
			b.Fatal(err)
		}
	}
	release()
	fi, _ := os.Stat(path)
	for b.Loop() {
		start := time.Now()
		if _, err := a.Store().RotateTenantKey(ctx, ten.ID); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.ReportMetric(float64(fi.Size())/1e6, "db-MB")
		b.ReportMetric(took.Seconds(), "rotate-s")
		b.ReportMetric(float64(fi.Size())/1e6/took.Seconds(), "MB/s")
	}
}
