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
	"time"

	"github.com/tenantra/tenantra/store"
)

func seedAssets(t *testing.T, s *Store, ref string, from, n int) {
	t.Helper()
	tdb, release, err := s.TenantDB(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var as []store.Asset
	for i := from; i < from+n; i++ {
		as = append(as, store.Asset{ID: fmt.Sprintf("asset-%05d", i),
			Name: fmt.Sprintf("host-%d", i), Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250)})
	}
	if err := tdb.UpsertAssets(context.Background(), as); err != nil {
		t.Fatal(err)
	}
}

// checkTenant asserts the tenant opens with every one of n assets intact, has exactly one
// current key version and no pending one, and that no rotation copy is left.
func checkTenant(t *testing.T, s *Store, ref string, n, wantVersion int) {
	t.Helper()
	ctx := context.Background()
	tdb, release, err := s.TenantDB(ctx, ref)
	if err != nil {
		t.Fatalf("tenant does not open: %v", err)
	}
	defer release()
	if got, err := tdb.CountAssets(ctx); err != nil || got != n {
		t.Fatalf("%d assets (%v), want %d", got, err, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		a, err := tdb.Asset(ctx, fmt.Sprintf("asset-%05d", i))
		if err != nil || a.Name != fmt.Sprintf("host-%d", i) {
			t.Fatalf("asset %d: %+v %v", i, a, err)
		}
	}
	vs, err := s.KeyVersions(ctx, tdb.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	current := 0
	for _, v := range vs {
		if v.State == "pending" {
			t.Errorf("version %d is still pending", v.Version)
		}
		if v.Current {
			current++
			if v.Version != wantVersion || !v.Live {
				t.Errorf("current version %+v, want %d", v, wantVersion)
			}
		}
	}
	if current != 1 {
		t.Errorf("%d current versions: %+v", current, vs)
	}
	cur, versions, err := s.TenantKeys(ctx, tdb.Tenant.ID)
	if err != nil || cur != wantVersion {
		t.Fatalf("TenantKeys: %d %v", cur, err)
	}
	if err := probe(s.tenantPath(tdb.Tenant.ID), tenantXTS(versions[cur]),
		tdb.Tenant.ID); err != nil {
		t.Errorf("the current key does not open the file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.opt.Dir, TenantsDir))
	for _, e := range entries {
		if strings.Contains(e.Name(), rotatingSuffix) {
			t.Errorf("%s left behind", e.Name())
		}
	}
	if err := s.Verify(ctx); err != nil {
		t.Error(err)
	}
}

func TestRotateTenantKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	defer s.Close()
	if _, err := s.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateTenant(ctx, "other", "Other")
	if err != nil {
		t.Fatal(err)
	}
	seedAssets(t, s, "acme", 0, 300)
	seedAssets(t, s, "other", 0, 10)
	res, err := s.RotateTenantKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 1 || res.To != 2 || res.Slug != "acme" {
		t.Fatalf("rotation %+v", res)
	}
	checkTenant(t, s, "acme", 300, 2)
	checkTenant(t, s, "other", 10, 1)
	// The old version stays live (results may be sealed under it) and no longer opens the
	// file; another rotation moves on from the current version.
	_, versions, _ := s.TenantKeys(ctx, res.TenantID)
	if err := probe(s.tenantPath(res.TenantID), tenantXTS(versions[1]),
		res.TenantID); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("old key on the new file: %v", err)
	}
	seedAssets(t, s, "acme", 300, 20)
	if res, err = s.RotateTenantKey(ctx, "acme"); err != nil || res.To != 3 {
		t.Fatalf("second rotation: %+v %v", res, err)
	}
	checkTenant(t, s, "acme", 320, 3)
	if _, err := s.RotateTenantKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	// Retiring and destroying never touch the current version.
	if err := s.RetireKeyVersion(ctx, res.TenantID, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.RetireKeyVersion(ctx, res.TenantID, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyKeyVersion(ctx, res.TenantID, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyKeyVersion(ctx, res.TenantID, 2); err != nil { // not retired: kept
		t.Fatal(err)
	}
	vs, _ := s.KeyVersions(ctx, res.TenantID)
	want := []string{"1 retired false", "2 active true", "3 active true"}
	for i, v := range vs {
		if got := fmt.Sprintf("%d %s %t", v.Version, v.State, v.Live); got != want[i] {
			t.Errorf("version %d: %s, want %s", v.Version, got, want[i])
		}
	}
	infos, err := s.TenantKeyInfos(ctx)
	if err != nil || len(infos) != 2 || infos[0].Slug != "acme" || infos[0].Version != 3 ||
		infos[0].Retained != 1 || infos[1].Retained != 0 {
		t.Fatalf("key infos: %+v %v", infos, err)
	}
	_ = other
}

// TestRotateCrashRecovery stops a rotation at each of its steps as a crash would (no cleanup),
// reopens the store and checks that recovery left the tenant whole under exactly one key.
func TestRotateCrashRecovery(t *testing.T) {
	for i, step := range TenantSteps {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openStore(t, dir, 4)
			ten, err := s.CreateTenant(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			seedAssets(t, s, "acme", 0, 200)
			_, err = s.rotateTenantKey(ctx, "acme", func(at string) bool { return at == step })
			if !errors.Is(err, errCrashed) {
				t.Fatalf("rotation did not stop at %s: %v", step, err)
			}
			s.pool.closeAll()
			s.control.Close() // as a crash would, without anything else
			s = openStore(t, dir, 4)
			defer s.Close()
			want := 1
			if i >= 5 { // renamed or committed: the new key opens the file
				want = 2
			}
			checkTenant(t, s, ten.ID, 200, want)
			// Once recovered, a rotation works and starts from the surviving version.
			res, err := s.RotateTenantKey(ctx, "acme")
			if err != nil || res.From != want {
				t.Fatalf("rotation after recovery: %+v %v", res, err)
			}
			checkTenant(t, s, ten.ID, 200, res.To)
		})
	}
}

// TestRotateFailureRollsBack makes the copy fail in-process and checks that the tenant is
// left as it was, usable, with no pending version.
func TestRotateFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	defer s.Close()
	ten, _ := s.CreateTenant(ctx, "acme", "Acme")
	seedAssets(t, s, "acme", 0, 50)
	cctx, cancel := context.WithCancel(ctx)
	_, err := s.rotateTenantKey(cctx, "acme", func(at string) bool {
		if at == StepTenantCopyPartial {
			cancel() // the copy stops at its next chunk
		}
		return false
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rotation: %v", err)
	}
	checkTenant(t, s, ten.ID, 50, 1)
}

// TestRotateWhileWriting rotates while writers insert into the tenant: writers wait during
// the swap and every insert they report lands in the re-encrypted database.
func TestRotateWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	defer s.Close()
	ten, _ := s.CreateTenant(ctx, "acme", "Acme")
	seedAssets(t, s, "acme", 0, 100)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	written := 100
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				id := written
				written++
				mu.Unlock()
				tdb, release, err := s.TenantDB(ctx, "acme")
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				err = tdb.UpsertAssets(ctx, []store.Asset{{ID: fmt.Sprintf("asset-%05d", id),
					Name: fmt.Sprintf("host-%d", id)}})
				release()
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	for range 3 {
		time.Sleep(20 * time.Millisecond)
		if _, err := s.RotateTenantKey(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	checkTenant(t, s, ten.ID, written, 4)
}

// TestRotationGate checks the per-tenant gate: a rotation waits for the tenant's users and
// keeps new ones out until it opens the gate again; other tenants are never held up.
func TestRotationGate(t *testing.T) {
	ctx := context.Background()
	var r rotation
	leave, err := r.enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = r.shut(sctx, "a")
	cancel()
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("shut while in use past the deadline: %v", err)
	}
	shut := make(chan func())
	go func() {
		open, err := r.shut(ctx, "a")
		if err != nil {
			t.Error(err)
		}
		shut <- open
	}()
	select {
	case <-shut:
		t.Fatal("shut returned while the tenant was in use")
	case <-time.After(30 * time.Millisecond):
	}
	leave()
	leave() // idempotent
	open := <-shut
	ectx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	if _, err := r.enter(ectx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("enter while shut: %v", err)
	}
	cancel()
	if l, err := r.enter(ctx, "b"); err != nil {
		t.Fatalf("another tenant: %v", err)
	} else {
		l()
	}
	if _, err := r.shut(ctx, "a"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second shut: %v", err)
	}
	entered, left := make(chan struct{}), make(chan struct{})
	go func() {
		l, err := r.enter(ctx, "a")
		if err != nil {
			t.Error(err)
		}
		close(entered)
		l()
		close(left)
	}()
	select {
	case <-entered:
		t.Fatal("entered while shut")
	case <-time.After(30 * time.Millisecond):
	}
	open()
	<-left
	r.mu.Lock()
	n := len(r.gates)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d idle gates kept", n)
	}
}
