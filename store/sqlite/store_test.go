package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/storetest"
)

func openStore(t testing.TB, dir string, maxOpen int) *Store {
	t.Helper()
	raw := make([]byte, keys.KeySize) // fixed keys keep reopening simple
	raw[0] = 1
	kek, err := keys.NewKEK(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{Dir: dir, KEK: kek,
		ControlKey: keys.Derive(raw, "test-control", keys.KeySize), MaxOpenTenants: maxOpen})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTenantsContract(t *testing.T) {
	storetest.Tenants(t, func(t *testing.T) store.Tenants {
		s := openStore(t, t.TempDir(), 4)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestTenantFileNeedsItsOwnKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	defer s.Close()
	a, _ := s.CreateTenant(ctx, "tenant-a", "A")
	b, _ := s.CreateTenant(ctx, "tenant-b", "B")
	_, versions, err := s.TenantKeys(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenDB(ctx, s.tenantPath(a.ID), keys.Derive(versions[1], "tenant-db-xts",
		XTSKeySize), DBOptions{Schema: "tenant"})
	if !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("tenant A's file with tenant B's key: got %v, want ErrWrongKey", err)
	}
	// The failed attempt must not have damaged A's file.
	tdb, release, err := s.TenantDB(ctx, "tenant-a")
	if err != nil {
		t.Fatalf("tenant A after a wrong-key attempt: %v", err)
	}
	if tdb.Tenant.ID != a.ID {
		t.Fatalf("got tenant %s", tdb.Tenant.ID)
	}
	release()
}

func TestPoolIsBounded(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 3)
	defer s.Close()
	for i := range 10 {
		slug := fmt.Sprintf("pool-%02d", i)
		if _, err := s.CreateTenant(ctx, slug, slug); err != nil {
			t.Fatal(err)
		}
		tdb, release, err := s.TenantDB(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		if err := tdb.UpsertAssets(ctx, []store.Asset{{ID: "x", Name: slug}}); err != nil {
			t.Fatal(err)
		}
		release()
		if n := s.OpenTenantDBs(); n > 3 {
			t.Fatalf("%d tenant dbs open while idle, max 3", n)
		}
	}
	// Many concurrent users of many tenants: all succeed, and idle ones are closed after.
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			slug := fmt.Sprintf("pool-%02d", i%10)
			tdb, release, err := s.TenantDB(ctx, slug)
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			if a, err := tdb.Asset(ctx, "x"); err != nil || a.Name != slug {
				t.Errorf("%s: %+v %v", slug, a, err)
			}
		})
	}
	wg.Wait()
	if n := s.OpenTenantDBs(); n > 3 {
		t.Fatalf("%d tenant dbs open after load, max 3", n)
	}
}

func TestRecoverRemovesHalfMadeTenants(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	keep, _ := s.CreateTenant(ctx, "keep", "Keep")
	half, _ := s.CreateTenant(ctx, "half", "Half")
	gone, _ := s.CreateTenant(ctx, "gone", "Gone")
	// Simulate crashes: one create that never reached "active", one delete after the keys
	// were destroyed, and a stray file that belongs to no tenant.
	mustExec(t, s, "UPDATE tenants SET status = 'creating' WHERE id = ?", half.ID)
	mustExec(t, s, "UPDATE tenant_keys SET wrapped = NULL WHERE tenant_id = ?", gone.ID)
	mustExec(t, s, "UPDATE tenants SET status = 'deleting' WHERE id = ?", gone.ID)
	orphan := filepath.Join(dir, TenantsDir, "01a21c5a-0000-7000-8000-000000000000.db")
	if err := os.WriteFile(orphan, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openStore(t, dir, 4) // runs Recover
	defer s.Close()
	if _, err := s.GetTenant(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TenantDB(ctx, keep.ID); err != nil {
		t.Fatalf("kept tenant must open: %v", err)
	}
	for _, id := range []string{half.ID, gone.ID} {
		var n int
		_ = s.control.reader.QueryRow("SELECT count(*) FROM tenants WHERE id = ?", id).Scan(&n)
		var k int
		_ = s.control.reader.QueryRow("SELECT count(*) FROM tenant_keys WHERE tenant_id = ?",
			id).Scan(&k)
		if n != 0 || k != 0 {
			t.Errorf("tenant %s: %d rows, %d keys left after recovery", id, n, k)
		}
		if _, err := os.Stat(s.tenantPath(id)); !os.IsNotExist(err) {
			t.Errorf("tenant %s: file left after recovery (%v)", id, err)
		}
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan file not removed")
	}
}

func mustExec(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	if _, err := s.control.writer.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	defer s.Close()
	// Make the tenants dir unwritable by replacing it with a file: the database cannot be
	// created, so the create must fail and leave no row and no key.
	tdir := filepath.Join(dir, TenantsDir)
	if err := os.RemoveAll(tdir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tdir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, "doomed", "D"); err == nil {
		t.Fatal("create succeeded without a tenants dir")
	}
	var n, k int
	_ = s.control.reader.QueryRow("SELECT count(*) FROM tenants").Scan(&n)
	_ = s.control.reader.QueryRow("SELECT count(*) FROM tenant_keys").Scan(&k)
	if n != 0 || k != 0 {
		t.Fatalf("failed create left %d tenants and %d keys", n, k)
	}
}

func TestSchemaFromTheFutureIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	mustExec(t, s, "INSERT INTO schema_migrations (version, name, applied_at) "+
		"VALUES (999, 'future', 'now')")
	s.Close()
	raw := make([]byte, keys.KeySize)
	raw[0] = 1
	kek, _ := keys.NewKEK(raw)
	_, err := Open(ctx, Options{Dir: dir, KEK: kek,
		ControlKey: keys.Derive(raw, "test-control", keys.KeySize)})
	if err == nil || !strings.Contains(err.Error(), "999") ||
		!strings.Contains(err.Error(), "newer tenantra") {
		t.Fatalf("future schema: got %v, want a refusal naming version 999", err)
	}
}
