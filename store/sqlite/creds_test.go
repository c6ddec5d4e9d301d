package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantra/tenantra/store"
)

func TestCredentialsVaultTable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	ten, err := s.CreateTenant(ctx, "creds", "Creds")
	if err != nil {
		t.Fatal(err)
	}
	tdb, release, err := s.TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	c, err := tdb.CreateCredential(ctx, store.Credential{ID: "c1", Name: "core",
		Kind: store.CredSNMPv3, Metadata: map[string]string{"user": "mon"},
		Sealed: []byte("sealed"), CreatedBy: "test"})
	if err != nil || !c.HasSecret || c.Metadata["user"] != "mon" || c.Created.IsZero() {
		t.Fatalf("create: %+v %v", c, err)
	}
	for _, bad := range []store.Credential{
		{ID: "c2", Name: "core", Kind: store.CredSNMPv2c, Sealed: []byte("x")},
		{ID: "c1", Name: "other", Kind: store.CredSNMPv2c, Sealed: []byte("x")},
	} {
		if _, err := tdb.CreateCredential(ctx, bad); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate %+v: %v", bad, err)
		}
	}
	if _, err := tdb.CreateCredential(ctx, store.Credential{ID: "c3", Name: "x",
		Kind: store.CredSNMPv2c}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no secret: %v", err)
	}
	for _, ref := range []string{"c1", "core"} {
		if got, err := tdb.Credential(ctx, ref); err != nil || got.ID != "c1" ||
			string(got.Sealed) != "sealed" {
			t.Errorf("get %s: %+v %v", ref, got, err)
		}
	}
	list, err := tdb.ListCredentials(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := tdb.DeleteCredential(ctx, "core"); err != nil {
		t.Fatal(err)
	}
	if _, err := tdb.DeleteCredential(ctx, "core"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
