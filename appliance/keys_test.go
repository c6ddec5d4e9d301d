package appliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// keysEnv is an appliance with a movable clock, a tenant with assets and sealed results.
type keysEnv struct {
	a   *Appliance
	clk *clock
	dir string
	ctx context.Context
}

func newKeysEnv(t *testing.T, tenants ...string) *keysEnv {
	t.Helper()
	e := &keysEnv{clk: &clock{t: time.Now()}, dir: t.TempDir(),
		ctx: authz.WithPrincipal(context.Background(), authz.LocalAdmin())}
	e.open(t)
	for _, slug := range tenants {
		ten, err := e.a.CreateTenant(e.ctx, slug, slug)
		if err != nil {
			t.Fatal(err)
		}
		tdb, release, err := e.a.Store().TenantDB(e.ctx, ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		var as []store.Asset
		for i := range 50 {
			as = append(as, store.Asset{ID: fmt.Sprintf("a%03d", i), Name: slug})
		}
		err = tdb.UpsertAssets(e.ctx, as)
		release()
		if err != nil {
			t.Fatal(err)
		}
		var kvs []store.KV
		for i := range 40 {
			kvs = append(kvs, store.KV{Key: fmt.Sprintf("r%03d", i), Value: []byte(slug)})
		}
		if err := e.a.Results().PutBatch(e.ctx, ten.ID, kvs); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *keysEnv) open(t *testing.T) {
	t.Helper()
	a, err := Open(context.Background(), testConfig(t, e.dir), Options{Role: "test",
		Now: e.clk.Now, PasswordCost: testCost})
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	t.Cleanup(func() { _ = a.Close() })
}

// checkTenant asserts that a tenant's rows and results are intact.
func (e *keysEnv) checkTenant(t *testing.T, slug string) {
	t.Helper()
	ten, err := e.a.GetTenant(e.ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	tdb, release, err := e.a.Store().TenantDB(e.ctx, ten.ID)
	if err != nil {
		t.Fatalf("tenant %s does not open: %v", slug, err)
	}
	n, err := tdb.CountAssets(e.ctx)
	release()
	if err != nil || n != 50 {
		t.Fatalf("tenant %s: %d assets, %v", slug, n, err)
	}
	for i := range 40 {
		v, err := e.a.Results().Get(e.ctx, ten.ID, fmt.Sprintf("r%03d", i))
		if err != nil || string(v) != slug {
			t.Fatalf("tenant %s result %d: %q %v", slug, i, v, err)
		}
	}
}

func (e *keysEnv) actions(t *testing.T, tenantID string) []string {
	t.Helper()
	evs, _, err := e.a.ListAudit(e.ctx, tenantID, store.AuditFilter{},
		store.Page{Page: 1, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Actor+" "+ev.Action+" "+ev.Outcome)
	}
	return out
}

func TestKeyStatusAndRotate(t *testing.T) {
	e := newKeysEnv(t, "acme", "beta")
	st, err := e.a.KeyStatus(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, k := range st.Keys {
		kinds = append(kinds, k.Kind+k.Tenant)
		if k.Version != 1 || k.AgeDays != 0 || k.Due ||
			k.RotateBy.Sub(k.CreatedAt) != KeyPolicyDays*24*time.Hour {
			t.Errorf("fresh key %+v", k)
		}
	}
	if got := strings.Join(kinds, ","); got !=
		"master,registry,control,results,jwt,tenantacme,tenantbeta" || st.PolicyDays != 90 {
		t.Fatalf("keys %s, policy %d", got, st.PolicyDays)
	}
	if st.Keys[0].Source != "file" || st.Keys[0].ID == "" {
		t.Fatalf("master %+v", st.Keys[0])
	}

	for _, req := range []web.KeyRotateRequest{{}, {All: true, Tenants: []string{"acme"}}} {
		if _, err := e.a.RotateKeys(e.ctx, req); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("request %+v: %v", req, err)
		}
	}
	_, err = e.a.RotateKeys(e.ctx, web.KeyRotateRequest{Tenants: []string{"nope"}})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}

	res, err := e.a.RotateKeys(e.ctx, web.KeyRotateRequest{Tenants: []string{"acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tenants) != 1 || res.Tenants[0].From != 1 || res.Tenants[0].To != 2 ||
		res.Tenants[0].Resealed != 40 || res.Tenants[0].ResealQueued {
		t.Fatalf("rotation %+v", res)
	}
	acme := res.Tenants[0].TenantID
	e.checkTenant(t, "acme")
	e.checkTenant(t, "beta")
	vs, _ := e.a.Store().KeyVersions(e.ctx, acme)
	if len(vs) != 2 || vs[0].State != "retired" || !vs[0].Live || !vs[1].Current {
		t.Fatalf("versions after rotation and re-seal: %+v", vs)
	}
	if got := e.actions(t, acme); !strings.HasPrefix(strings.Join(got, ";"),
		"local-admin key.retire success;local-admin key.rotate success") {
		t.Fatalf("tenant audit: %v", got)
	}

	m, err := e.a.RotateKeys(e.ctx, web.KeyRotateRequest{Master: true, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Master == nil || m.Master.Version != 2 || m.Master.JWTVersion != 2 ||
		m.Master.PendingFile != "" || len(m.Tenants) != 2 || len(m.Failed) != 0 {
		t.Fatalf("master and all: %+v", m)
	}
	if got := e.actions(t, ""); !strings.HasPrefix(got[0], "local-admin key.rotate_master") {
		t.Fatalf("platform audit: %v", got)
	}
	st, _ = e.a.KeyStatus(e.ctx)
	if st.Keys[0].Version != 2 || st.Keys[0].ID != m.Master.NewID || st.Keys[4].Version != 2 ||
		st.Keys[4].RetainedVersions != 1 || st.Keys[5].Version != 3 ||
		st.Keys[5].RetainedVersions != 2 {
		t.Fatalf("status after rotations: %+v", st.Keys)
	}

	// Everything survives a restart under the new master key.
	if err := e.a.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	e.checkTenant(t, "acme")
	e.checkTenant(t, "beta")
	if err := e.a.Store().Verify(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.a.VerifyAudit(e.ctx, ""); err != nil || n != 3 {
		t.Fatalf("audit chains: %d %v", n, err)
	}
}

func TestKeyPolicy(t *testing.T) {
	e := newKeysEnv(t, "acme", "beta")
	_, err := e.a.RotateKeys(e.ctx, web.KeyRotateRequest{Tenants: []string{"beta"}})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(60 * 24 * time.Hour)
	e.a.keyPolicyPass(e.ctx) // nothing is due; beta's retired v1 is destroyed (a day passed)
	beta, _ := e.a.GetTenant(e.ctx, "beta")
	if vs, _ := e.a.Store().KeyVersions(e.ctx, beta.ID); vs[0].Live {
		t.Fatalf("retired version not destroyed: %+v", vs)
	}
	if got := e.actions(t, beta.ID); !strings.HasPrefix(got[0], "key-policy key.destroy") {
		t.Fatalf("beta audit: %v", got)
	}
	e.checkTenant(t, "beta")

	e.clk.Add(31 * 24 * time.Hour) // now everything is 91 days old
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.a.keyAgeCollector())
	ages := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ages[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	acme, _ := e.a.GetTenant(e.ctx, "acme")
	if len(ages) != 7 || ages["master"] < 90.9 || ages["tenant/"+acme.ID] < 90.9 {
		t.Fatalf("key ages %v", ages)
	}

	// Keys are stamped with the real time, so the moved clock keeps them due: the loop's
	// first pass rotates each once, and the next pass is an hour away.
	stop := e.a.startKeyPolicy(e.ctx, time.Millisecond, time.Hour)
	deadline := time.Now().Add(30 * time.Second)
	for {
		infos, err := e.a.Store().TenantKeyInfos(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if infos[0].Version == 2 && infos[1].Version == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy loop did not rotate due tenant keys: %+v", infos)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A rotation while the loop runs leaves the re-seal to it.
	res, err := e.a.RotateKeys(e.ctx, web.KeyRotateRequest{Tenants: []string{"acme"}})
	if err != nil || !res.Tenants[0].ResealQueued {
		t.Fatalf("rotation with the loop running: %+v %v", res, err)
	}
	for {
		vs, _ := e.a.Store().KeyVersions(e.ctx, acme.ID)
		if vs[len(vs)-2].State == "retired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loop did not re-seal: %+v", vs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if got := e.actions(t, acme.ID); !strings.Contains(strings.Join(got, ";"),
		"key-policy key.rotate success") {
		t.Fatalf("acme audit: %v", got)
	}
	e.checkTenant(t, "acme")
	e.checkTenant(t, "beta")
}

func TestRotateMasterFromEnv(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.MasterKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a, err := Open(ctx, cfg, Options{Role: "test", PasswordCost: testCost})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.RotateKeys(ctx, web.KeyRotateRequest{Master: true})
	a.Close()
	if err != nil || res.Master.PendingFile == "" {
		t.Fatalf("rotation: %+v %v", res, err)
	}
	_, err = Open(ctx, cfg, Options{Role: "test", PasswordCost: testCost})
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(),
		res.Master.PendingFile) {
		t.Fatalf("open with the old TENA_MASTER_KEY: %v", err)
	}
}
