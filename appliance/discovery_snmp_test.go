package appliance

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/snmpagent"
	"github.com/tenantra/tenantra/store"
)

// TestScanSNMPDevices scans real SNMP agents (snmpsim serving a recorded FortiGate and TP-Link
// switch) with their communities and compares the inventory with the recordings' ground
// truth: vendor, model, firmware and serial; interfaces and ARP/LLDP neighbours on the asset;
// ARP neighbours as discovered assets; no duplicates on a second scan.
func TestScanSNMPDevices(t *testing.T) {
	sim := testenv.LookPath(t, "snmpsimd")
	agents := []*snmpagent.Agent{
		snmpagent.StartSnmpsim(t, sim, snmpagent.Options{Addr: "127.67.0.1:161",
			Recording: "fortigate-60f"}),
		snmpagent.StartSnmpsim(t, sim, snmpagent.Options{Addr: "127.67.0.2:161",
			Recording: "tplink-t2600g"}),
	}
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "net", "Net"); err != nil {
		t.Fatal(err)
	}
	var communities []string
	for _, ag := range agents {
		communities = append(communities, ag.Truth.Community)
	}
	req := web.ScanRequest{Targets: []string{"127.67.0.1-2"}, Ports: "22",
		SNMPCommunities: communities}
	tenantID := mustTenantID(t, a, "net")
	var firstCount int
	for round := range 2 {
		rep, err := a.Scan(ctx, "net", req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			firstCount = countAssets(t, a, tenantID)
		}
		for _, as := range rep.Assets {
			if round == 1 && as.New {
				t.Errorf("second scan created %v again", as.Addresses)
			}
		}
		for _, ag := range agents {
			tr := ag.Truth
			var got *web.ScannedAsset
			for i, as := range rep.Assets {
				if slices.Contains(as.Addresses, ag.Host) {
					got = &rep.Assets[i]
				}
			}
			if got == nil {
				t.Fatalf("round %d: no asset for %s (%s)", round, ag.Host, tr.Model)
			}
			if got.Vendor != tr.Vendor || got.Model != tr.Model || got.Firmware != tr.Firmware ||
				got.Serial != tr.Serial {
				t.Errorf("%s: got %s/%s/%s/%s, truth %s/%s/%s/%s", ag.Host, got.Vendor,
					got.Model, got.Firmware, got.Serial, tr.Vendor, tr.Model, tr.Firmware,
					tr.Serial)
			}
			d, err := a.GetAsset(ctx, tenantID, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ifc := range d.Interfaces {
				names = append(names, ifc.Name)
			}
			for _, want := range tr.Interfaces {
				if !slices.Contains(names, want) {
					t.Errorf("%s: interface %s missing from %v", tr.Model, want, names)
				}
			}
			for _, n := range tr.Neighbours {
				if !slices.ContainsFunc(d.Neighbours, func(x web.AssetNeighbour) bool {
					return x.Address == n.IP && x.MAC == n.MAC
				}) {
					t.Errorf("%s: ARP neighbour %s %s missing", tr.Model, n.IP, n.MAC)
				}
			}
			for _, l := range tr.LLDP {
				if !slices.ContainsFunc(d.Neighbours, func(x web.AssetNeighbour) bool {
					return x.Address == l.SysName && x.MAC == l.ChassisID
				}) {
					t.Errorf("%s: LLDP neighbour %s missing", tr.Model, l.SysName)
				}
			}
			// Every IPv4 ARP neighbour is an asset of its own, found by address and MAC.
			for _, n := range tr.Neighbours {
				if ip, err := netip.ParseAddr(n.IP); err != nil || !ip.Is4() {
					continue
				}
				list, _, err := a.ListAssets(ctx, tenantID, web.AssetFilter{Q: n.IP},
					store.Page{Page: 1, Size: 10})
				if err != nil {
					t.Fatal(err)
				}
				found := slices.ContainsFunc(list, func(b web.AssetBody) bool {
					return slices.Contains(b.Addresses, n.IP) && slices.Contains(b.MACs, n.MAC)
				})
				if !found {
					t.Errorf("%s: ARP neighbour %s (%s) is not an asset", tr.Model, n.IP, n.MAC)
				}
			}
		}
	}
	if n := countAssets(t, a, tenantID); n != firstCount {
		t.Errorf("%d assets after the second scan, %d after the first", n, firstCount)
	}
}
