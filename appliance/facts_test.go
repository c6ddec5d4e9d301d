package appliance

import (
	"context"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/scanner"
)

// TestAssetHistoryAndFacts re-observes a device whose firmware and OS change: the asset keeps
// its id, its history lists each changed field with old and new values (newest first), and
// its fact document merges services from both observations.
func TestAssetHistoryAndFacts(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	ten, err := a.CreateTenant(ctx, "hist", "History")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	obs := inventory.Observation{Source: "scan+snmp", At: at, Addresses: []string{"10.9.0.1"},
		MACs: []string{"00:09:0f:00:00:01"}, Serial: "FGT60F0001"}
	steps := []struct {
		firmware, os string
		svc          scanner.Service
	}{
		{"7.0.12", "FortiOS", scanner.Service{Port: 443, Protocol: "tcp", Name: "https"}},
		{"7.2.5", "FortiOS", scanner.Service{Port: 22, Protocol: "tcp", Name: "ssh"}},
		{"7.2.5", "FortiOS 7", scanner.Service{Port: 443, Protocol: "tcp", Name: "https",
			Product: "FortiGate"}},
	}
	var id string
	for i, s := range steps {
		obs.At = at.Add(time.Duration(i) * time.Hour)
		doc := factDoc{Updated: obs.At, Services: []scanner.Service{s.svc},
			Sources: []string{"scan"}}
		got, created, err := a.Observe(ctx, ten.ID, obs, Facts{Vendor: "Fortinet",
			Firmware: s.firmware, OS: s.os, doc: &doc})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && (created || got != id) {
			t.Fatalf("step %d: asset %s (created %v), want %s", i, got, created, id)
		}
		id = got
	}
	d, err := a.GetAsset(ctx, ten.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ field, old, new string }{
		{"os", "FortiOS", "FortiOS 7"}, {"firmware", "7.0.12", "7.2.5"}}
	if len(d.History) != len(want) {
		t.Fatalf("history %+v, want %d changes", d.History, len(want))
	}
	for i, w := range want {
		h := d.History[i]
		if h.Field != w.field || h.Old != w.old || h.New != w.new {
			t.Errorf("history[%d] = %+v, want %+v", i, h, w)
		}
	}
	doc, ok := d.Facts.(factDoc)
	if !ok {
		t.Fatalf("facts are %T", d.Facts)
	}
	if len(doc.Services) != 2 || doc.Services[0].Port != 22 ||
		doc.Services[1].Product != "FortiGate" {
		t.Errorf("merged services %+v", doc.Services)
	}
}
