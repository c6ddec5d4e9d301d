// Package storetest owns the contract suites that every storage backend must pass: the same
// tests run against SQLite now and PostgreSQL later, so backends cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tenantra/tenantra/store"
)

// Tenants runs the tenant registry contract against a fresh, empty backend from open.
func Tenants(t *testing.T, open func(t *testing.T) store.Tenants) {
	ctx := context.Background()
	t.Run("create get list", func(t *testing.T) {
		s := open(t)
		a, err := s.CreateTenant(ctx, "acme", "Acme Corp")
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == "" || a.Slug != "acme" || a.Name != "Acme Corp" ||
			a.Status != store.TenantActive || a.KeyVersion != 1 || a.CreatedAt.IsZero() {
			t.Fatalf("created tenant: %+v", a)
		}
		for _, ref := range []string{"acme", a.ID} {
			got, err := s.GetTenant(ctx, ref)
			if err != nil || got.ID != a.ID {
				t.Fatalf("get %q: %+v, %v", ref, got, err)
			}
		}
		if _, err := s.CreateTenant(ctx, "beta", "Beta"); err != nil {
			t.Fatal(err)
		}
		list, total, err := s.ListTenants(ctx, store.Page{Page: 1, Size: 25})
		if err != nil || total != 2 || len(list) != 2 || list[0].Slug != "acme" ||
			list[1].Slug != "beta" {
			t.Fatalf("list: %+v total %d, %v", list, total, err)
		}
	})
	t.Run("pagination", func(t *testing.T) {
		s := open(t)
		for i := range 7 {
			if _, err := s.CreateTenant(ctx, fmt.Sprintf("t-%02d", i), "T"); err != nil {
				t.Fatal(err)
			}
		}
		var seen []string
		for page := 1; page <= 3; page++ {
			list, total, err := s.ListTenants(ctx, store.Page{Page: page, Size: 3})
			if err != nil || total != 7 {
				t.Fatalf("page %d: total %d, %v", page, total, err)
			}
			for _, x := range list {
				seen = append(seen, x.Slug)
			}
		}
		if strings.Join(seen, ",") != "t-00,t-01,t-02,t-03,t-04,t-05,t-06" {
			t.Fatalf("pages gave %v", seen)
		}
		list, _, err := s.ListTenants(ctx, store.Page{Page: 9, Size: 3})
		if err != nil || len(list) != 0 || list == nil {
			t.Fatalf("page past the end: %v (nil=%v), %v", list, list == nil, err)
		}
	})
	t.Run("invalid input", func(t *testing.T) {
		s := open(t)
		for _, slug := range []string{"", "ab", "Acme", "a--b", "-abc", "abc-", "../etc",
			"a b c", strings.Repeat("a", 41), "acme\x00", "caf\xc3\xa9", "\xff\xfe\xfd",
			"ac_me"} {
			if _, err := s.CreateTenant(ctx, slug, "x"); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("slug %q: got %v, want ErrInvalid", slug, err)
			}
		}
		if _, err := s.CreateTenant(ctx, "ok-name", strings.Repeat("n", 201)); !errors.Is(err,
			store.ErrInvalid) {
			t.Errorf("long name: got %v", err)
		}
		list, total, _ := s.ListTenants(ctx, store.Page{Page: 1, Size: 25})
		if total != 0 || len(list) != 0 {
			t.Fatalf("rejected creates left tenants behind: %+v", list)
		}
		for _, slug := range []string{"abc", strings.Repeat("a", 40), "a1-b2-c3"} {
			if _, err := s.CreateTenant(ctx, slug, "x"); err != nil {
				t.Errorf("slug %q must be accepted: %v", slug, err)
			}
		}
	})
	t.Run("duplicate slug", func(t *testing.T) {
		s := open(t)
		if _, err := s.CreateTenant(ctx, "acme", "A"); err != nil {
			t.Fatal(err)
		}
		_, err := s.CreateTenant(ctx, "acme", "B")
		if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "acme") {
			t.Fatalf("duplicate: got %v, want ErrConflict naming the slug", err)
		}
	})
	t.Run("concurrent creates of one slug", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.CreateTenant(ctx, "race", "R") })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d creates of one slug succeeded, want 1", ok)
		}
	})
	t.Run("update", func(t *testing.T) {
		s := open(t)
		if _, err := s.CreateTenant(ctx, "acme", "A"); err != nil {
			t.Fatal(err)
		}
		name, sus, act := "Acme Two", store.TenantSuspended, store.TenantActive
		u, err := s.UpdateTenant(ctx, "acme", store.TenantUpdate{Name: &name, Status: &sus})
		if err != nil || u.Name != name || u.Status != sus {
			t.Fatalf("update: %+v, %v", u, err)
		}
		if g, _ := s.GetTenant(ctx, "acme"); g.Status != sus || g.Name != name {
			t.Fatalf("after update: %+v", g)
		}
		if u, err = s.UpdateTenant(ctx, "acme", store.TenantUpdate{Status: &act}); err != nil ||
			u.Status != act || u.Name != name {
			t.Fatalf("resume: %+v, %v", u, err)
		}
		bad := store.TenantStatus("deleting")
		if _, err := s.UpdateTenant(ctx, "acme", store.TenantUpdate{Status: &bad}); !errors.Is(
			err, store.ErrInvalid) {
			t.Fatalf("internal status accepted: %v", err)
		}
		empty := ""
		if _, err := s.UpdateTenant(ctx, "acme", store.TenantUpdate{Name: &empty}); !errors.Is(
			err, store.ErrInvalid) {
			t.Fatalf("empty name accepted: %v", err)
		}
		if _, err := s.UpdateTenant(ctx, "nope", store.TenantUpdate{Name: &name}); !errors.Is(
			err, store.ErrNotFound) {
			t.Fatalf("update of unknown tenant: %v", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := open(t)
		a, err := s.CreateTenant(ctx, "acme", "A")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"acme", a.ID} {
			if _, err := s.GetTenant(ctx, ref); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("get %q after delete: %v", ref, err)
			}
		}
		if err := s.DeleteTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		b, err := s.CreateTenant(ctx, "acme", "Again")
		if err != nil || b.ID == a.ID {
			t.Fatalf("recreate after delete: %+v, %v", b, err)
		}
	})
}
