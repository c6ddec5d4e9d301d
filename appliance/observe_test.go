package appliance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/store"
)

// TestObserveReconcilesIntoOneAsset drives the real store: a port scan, SNMP and an AD
// record of the same hosts, twice, end as one asset per host; a DHCP address reused by
// another machine becomes a second asset; two assets proven one device are merged.
func TestObserveReconcilesIntoOneAsset(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	ten, err := a.CreateTenant(ctx, "lan", "LAN")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for round := range 2 {
		for i := range 10 {
			ip := fmt.Sprintf("10.3.0.%d", i+1)
			obs := []inventory.Observation{
				{Source: "scan", At: at, Addresses: []string{ip}},
				{Source: "snmp", At: at, Addresses: []string{ip},
					MACs:      []string{fmt.Sprintf("00:50:56:00:01:%02x", i)},
					Hostnames: []string{fmt.Sprintf("srv-%d.lab", i)}},
				{Source: "ldap", At: at, Hostnames: []string{fmt.Sprintf("SRV-%d", i)},
					ADObjectGUID: fmt.Sprintf("guid-%d", i)},
			}
			for _, o := range obs {
				f := Facts{}
				if o.Source == "scan" {
					f.Services = []store.Service{{Port: 22, Protocol: "tcp", Service: "ssh",
						Product: "OpenSSH", Version: "9.2p1"}}
				}
				if _, _, err := a.Observe(ctx, ten.ID, o, f); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := countAssets(t, a, ten.ID); n != 10 {
			t.Fatalf("round %d: %d assets for 10 hosts", round, n)
		}
		at = at.Add(time.Hour)
	}
	// The address of srv-0 now answers with another machine's MAC: a new asset.
	id, created, err := a.Observe(ctx, ten.ID, inventory.Observation{Source: "snmp", At: at,
		Addresses: []string{"10.3.0.1"}, MACs: []string{"3c:52:82:aa:bb:cc"}}, Facts{})
	if err != nil || !created {
		t.Fatalf("DHCP reuse: %s %v %v", id, created, err)
	}
	// A device first seen by serial, then by MAC, then by both: one asset in the end.
	s1, _, _ := a.Observe(ctx, ten.ID, inventory.Observation{Source: "snmp", At: at,
		Serial: "FGT60F0000000042"}, Facts{Vendor: "Fortinet", Model: "FortiGate 60F"})
	s2, _, _ := a.Observe(ctx, ten.ID, inventory.Observation{Source: "scan", At: at,
		MACs: []string{"00:09:0f:00:00:42"}}, Facts{})
	if s1 == s2 {
		t.Fatal("unrelated observations matched")
	}
	before := countAssets(t, a, ten.ID)
	merged, _, err := a.Observe(ctx, ten.ID, inventory.Observation{Source: "snmp", At: at,
		Serial: "FGT60F0000000042", MACs: []string{"00:09:0f:00:00:42"}}, Facts{})
	if err != nil {
		t.Fatal(err)
	}
	if after := countAssets(t, a, ten.ID); after != before-1 {
		t.Fatalf("merge: %d assets before, %d after", before, after)
	}
	tdb, release, _ := a.Store().TenantDB(ctx, ten.ID)
	defer release()
	got, err := tdb.Asset(ctx, merged)
	if err != nil || got.Vendor != "Fortinet" || got.Serial != "FGT60F0000000042" ||
		got.MAC != "00:09:0f:00:00:42" {
		t.Fatalf("merged asset: %+v %v", got, err)
	}
}

func countAssets(t *testing.T, a *Appliance, tenantID string) int {
	t.Helper()
	tdb, release, err := a.Store().TenantDB(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	n, err := tdb.CountAssets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
