package appliance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/config"
)

// benchTenants is how many tenants the start-up benchmark's data dir holds. Creating them
// takes most of the benchmark's time, so it happens once and every iteration reuses the dir.
const benchTenants = 1_000

// BenchmarkOpenWithTenants measures start-up: appliance.Open (lock, keys, control.db, results
// store, recovery) and Close of a data dir holding 1,000 tenants. Tenant databases open
// lazily, so the number of tenants should barely matter. The target is < 1 s.
func BenchmarkOpenWithTenants(b *testing.B) {
	ctx := context.Background()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		b.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.MasterKey = base64.StdEncoding.EncodeToString(master)

	start := time.Now()
	a, err := Open(ctx, cfg, Options{Role: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchTenants {
		if _, err := a.Store().CreateTenant(ctx, fmt.Sprintf("tenant-%04d", i),
			fmt.Sprintf("Tenant %d", i)); err != nil {
			a.Close()
			b.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}
	created := time.Since(start)

	logged := false
	b.Run(fmt.Sprintf("tenants=%d", benchTenants), func(b *testing.B) {
		if !logged { // the function runs more than once unless -benchtime is 1x
			b.Logf("setup: created %d tenants in %v", benchTenants, created.Round(time.Millisecond))
			logged = true
		}
		for i := 0; i < b.N; i++ {
			a, err := Open(ctx, cfg, Options{Role: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if got := a.Store().OpenTenantDBs(); got != 0 {
				b.Fatalf("%d tenant databases open after start-up, want 0 (lazy)", got)
			}
			if err := a.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
	})
}
