package results

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// fixedKeys is a KeySource over a map, standing in for the control database's key registry
// (tested in store/sqlite); Badger itself is real.
type fixedKeys map[string]map[int]keys.Key

func (f fixedKeys) TenantKeys(_ context.Context, id string) (int, map[int]keys.Key, error) {
	v, ok := f[id]
	if !ok {
		return 0, nil, store.Errorf(store.ErrNotFound, "tenant %s has no keys", id)
	}
	cur := 0
	for n := range v {
		cur = max(cur, n)
	}
	return cur, v, nil
}

func openTest(t *testing.T, dir string, ks fixedKeys) *Store {
	t.Helper()
	k := make(keys.Key, keys.KeySize)
	s, err := Open(Options{Dir: dir, Key: k, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResults(t *testing.T) {
	ctx := context.Background()
	ka, _ := keys.NewKey()
	kb, _ := keys.NewKey()
	ks := fixedKeys{"ta": {1: ka}, "tb": {1: kb}}
	dir := t.TempDir()
	s := openTest(t, dir, ks)
	if err := s.Put(ctx, "ta", "k1", []byte("va")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBatch(ctx, "tb", []store.KV{{Key: "k1", Value: []byte("vb")},
		{Key: "k2", Value: nil}}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "ta", "k1"); err != nil || string(v) != "va" {
		t.Fatalf("get: %q %v", v, err)
	}
	if _, err := s.Get(ctx, "ta", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	for _, tc := range []struct{ tenant, key string }{{"", "k"}, {"a/b", "k"}, {"ta", ""}} {
		if err := s.Put(ctx, tc.tenant, tc.key, []byte("x")); !errors.Is(err,
			store.ErrInvalid) && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("put %q/%q: %v", tc.tenant, tc.key, err)
		}
	}
	// Dropping one tenant leaves the other alone.
	if err := s.DropTenant(ctx, "ta"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountPrefix("ta"); n != 0 {
		t.Fatalf("%d keys left after drop", n)
	}
	if v, err := s.Get(ctx, "tb", "k1"); err != nil || string(v) != "vb" {
		t.Fatalf("other tenant after drop: %q %v", v, err)
	}
	// Crypto-shredding: once a tenant's keys are gone its values cannot be opened.
	delete(ks, "tb")
	s.Forget("tb")
	if _, err := s.Get(ctx, "tb", "k1"); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("value after key destruction: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Badger's own key must match.
	other := make(keys.Key, keys.KeySize)
	other[0] = 9
	if _, err := Open(Options{Dir: dir, Key: other, Keys: ks}); !errors.Is(err,
		store.ErrWrongKey) {
		t.Fatalf("open with another results key: %v", err)
	}
}

// TestEmptyMemtableAfterKill reproduces what SIGKILL can leave: a memtable file created but
// never initialised. Open must recover instead of failing.
func TestEmptyMemtableAfterKill(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, fixedKeys{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00009.mem"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, fixedKeys{})
	s.Close()
}

func TestGCReclaimsDroppedTenants(t *testing.T) {
	ctx := context.Background()
	k, _ := keys.NewKey()
	s := openTest(t, t.TempDir(), fixedKeys{"ta": {1: k}})
	defer s.Close()
	v := make([]byte, 1000)
	for i := range 20 {
		kvs := make([]store.KV, 0, 1000)
		for j := range 1000 {
			kvs = append(kvs, store.KV{Key: fmt.Sprintf("k%02d-%04d", i, j), Value: v})
		}
		if err := s.PutBatch(ctx, "ta", kvs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DropTenant(ctx, "ta"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(); err != nil {
		t.Fatalf("GC: %v", err)
	}
}
