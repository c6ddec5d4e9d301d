package sqlite

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
)

// TestAssetAddressOrder checks the generated sort key of migration 0005: IPv4 addresses in
// numeric order, anything that only looks like one (leading zeros, octets over 255, three
// octets) as text after them, and empty addresses last either way. These assets come from
// UpsertAssets, so they have no identifiers: the list and its subnet filter must work from
// the asset's own address.
func TestAssetAddressOrder(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	defer s.Close()
	ten, err := s.CreateTenant(ctx, "order", "Order")
	if err != nil {
		t.Fatal(err)
	}
	tdb, release, err := s.TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	addrs := []string{"10.0.0.10", "", "9.255.255.255", "10.0.0.9", "255.255.255.255",
		"0.0.0.0", "10.0.0.010", "256.1.1.1", "1.2.3", "2001:db8::1", "10.0.0.9.1", "-1.0.0.0"}
	var assets []store.Asset
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i, a := range addrs {
		assets = append(assets, store.Asset{ID: fmt.Sprintf("a%02d", i), Address: a,
			FirstSeen: at, LastSeen: at})
	}
	if err := tdb.UpsertAssets(ctx, assets); err != nil {
		t.Fatal(err)
	}
	list := func(q store.AssetQuery) []string {
		t.Helper()
		recs, total, err := tdb.ListAssets(ctx, q, store.Page{Page: 1, Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		if total != len(recs) {
			t.Fatalf("%+v: total %d for %d records", q, total, len(recs))
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.Address)
		}
		return out
	}
	want := []string{"0.0.0.0", "9.255.255.255", "10.0.0.9", "10.0.0.10", "255.255.255.255",
		"-1.0.0.0", "1.2.3", "10.0.0.010", "10.0.0.9.1", "2001:db8::1", "256.1.1.1", ""}
	if got := list(store.AssetQuery{Sort: store.SortAddress}); !slices.Equal(got, want) {
		t.Fatalf("ascending:\n got %q\nwant %q", got, want)
	}
	desc := list(store.AssetQuery{Sort: store.SortAddress, Desc: true})
	if slices.Reverse(want[:len(want)-1]); !slices.Equal(desc, want) {
		t.Fatalf("descending:\n got %q\nwant %q", desc, want)
	}
	for _, tt := range []struct {
		prefix string
		want   []string
	}{
		{"10.0.0.0/24", []string{"10.0.0.9", "10.0.0.10"}},
		{"0.0.0.0/0", []string{"0.0.0.0", "9.255.255.255", "10.0.0.9", "10.0.0.10",
			"255.255.255.255"}},
		{"255.255.255.255/32", []string{"255.255.255.255"}},
		{"2001:db8::/64", []string{"2001:db8::1"}},
		{"192.0.2.0/24", nil},
	} {
		got := list(store.AssetQuery{Subnet: netip.MustParsePrefix(tt.prefix),
			Sort: store.SortAddress})
		if !slices.Equal(got, tt.want) {
			t.Errorf("subnet %s: %q, want %q", tt.prefix, got, tt.want)
		}
	}
	if _, _, err := tdb.ListAssets(ctx, store.AssetQuery{Sort: "id; DROP TABLE assets"},
		store.Page{Page: 1, Size: 10}); err == nil {
		t.Fatal("unknown sort accepted")
	}
}
