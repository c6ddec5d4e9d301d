package appliance

import (
	"context"
	"testing"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

func benchIdentity(b *testing.B) (*Appliance, web.Tokens, string) {
	b.Helper()
	// The production cost (12): these benchmarks measure what a real sign-in costs.
	a, err := Open(context.Background(), testConfig(b, b.TempDir()), Options{Role: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	ten, err := a.CreateTenant(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.CreateUser(ctx, web.NewUser{Email: "bench@example.com",
		Password: idPassword, Tenant: "bench", Role: store.RoleStandard}); err != nil {
		b.Fatal(err)
	}
	tok, err := a.Login(context.Background(), web.LoginRequest{Email: "bench@example.com",
		Password: idPassword})
	if err != nil {
		b.Fatal(err)
	}
	return a, tok, ten.ID
}

// BenchmarkAuthenticatedRequest measures what every API request pays for its identity: JWT
// verification, the principal (cached per session) and the permission check.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	a, tok, tenantID := benchIdentity(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := a.Authenticate(ctx, tok.AccessToken)
		if err != nil || !authz.Allow(p, authz.TenantWrite, tenantID) {
			b.Fatal("denied", err)
		}
	}
}

// BenchmarkAuthenticateUncached is the same with the principal cache cleared every time:
// JWT verification plus the session, user and membership reads.
func BenchmarkAuthenticateUncached(b *testing.B) {
	a, tok, tenantID := benchIdentity(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a.id.invalidate()
		p, err := a.Authenticate(ctx, tok.AccessToken)
		if err != nil || !authz.Allow(p, authz.TenantWrite, tenantID) {
			b.Fatal("denied", err)
		}
	}
}

// BenchmarkLogin is bcrypt-bound (cost 12): it measures sign-ins per second on one core.
func BenchmarkLogin(b *testing.B) {
	a, _, _ := benchIdentity(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		// Distinct addresses keep the per-IP limit out of the measurement.
		ip := "10.0." + string(rune('0'+n/250%10)) + "." + string(rune('0'+n%10))
		if _, err := a.Login(ctx, web.LoginRequest{Email: "bench@example.com",
			Password: idPassword, IP: ip}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
