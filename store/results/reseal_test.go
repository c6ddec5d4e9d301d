package results

import (
	"context"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

func TestReseal(t *testing.T) {
	ctx := context.Background()
	k1, _ := keys.NewKey()
	k2, _ := keys.NewKey()
	k9, _ := keys.NewKey()
	ks := fixedKeys{"ta": {1: k1}, "tb": {1: k1}, "tc": {9: k9}}
	s := openTest(t, t.TempDir(), ks)
	defer s.Close()
	var kvs []store.KV
	for i := range 600 { // more than two batches
		kvs = append(kvs, store.KV{Key: fmt.Sprintf("r%04d", i), Value: []byte(fmt.Sprint(i))})
	}
	for _, tenant := range []string{"ta", "tb"} {
		if err := s.PutBatch(ctx, tenant, kvs); err != nil {
			t.Fatal(err)
		}
	}
	// One value of ta sealed under a version that is later destroyed: it cannot be re-sealed.
	if err := s.Put(ctx, "tc", "x", []byte("lost")); err != nil {
		t.Fatal(err)
	}
	var lost []byte
	_ = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(dbKey("tc", "x"))
		if err == nil {
			lost, err = item.ValueCopy(nil)
		}
		return err
	})
	_ = s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(dbKey("ta", "lost"), lost) // wrong aad too: never opens
	})

	// Rotation: ta now writes with version 2 and still reads version 1.
	ks["ta"] = map[int]keys.Key{1: k1, 2: k2}
	batches := 0
	st, err := s.reseal(ctx, "ta", func() { batches++ })
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 2 || st.Scanned != 601 || st.Resealed != 600 || batches != 1 ||
		len(st.Remaining) != 1 || st.Remaining[9] != 1 {
		t.Fatalf("stats %+v, first-batch hook %d", st, batches)
	}
	// Version 1 now protects nothing of ta: drop it, and every value still reads.
	ks["ta"] = map[int]keys.Key{2: k2}
	s.Forget("ta")
	for i := range 600 {
		v, err := s.Get(ctx, "ta", fmt.Sprintf("r%04d", i))
		if err != nil || string(v) != fmt.Sprint(i) {
			t.Fatalf("value %d after re-seal: %q %v", i, v, err)
		}
	}
	// The other tenant is untouched, and a second pass has nothing to do.
	if st, err := s.Reseal(ctx, "tb"); err != nil || st.Resealed != 0 || st.Scanned != 600 {
		t.Fatalf("tenant without rotation: %+v %v", st, err)
	}
	if st, err := s.Reseal(ctx, "ta"); err != nil || st.Resealed != 0 {
		t.Fatalf("second pass: %+v %v", st, err)
	}
	if _, err := s.Reseal(ctx, "a/b"); err == nil {
		t.Fatal("a tenant id with '/' was accepted")
	}
}
