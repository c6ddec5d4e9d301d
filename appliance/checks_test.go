package appliance

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/fixtures"
	"github.com/tenantra/tenantra/network/lab"
	"github.com/tenantra/tenantra/scanner"
	"github.com/tenantra/tenantra/store"
)

// TestChecksAfterScan scans the lab network and checks what the module engine made of it:
// the findings the lab's ground truth implies (Telnet on the router, SMBv1, RDP without NLA
// and legacy TLS on the legacy Windows host, FTP on the NAS) and none of them on hosts
// without those services; a second scan keeps them open without duplicates; a waiver
// takes a finding out of the score but keeps it listed; compliance and both reports read
// the run.
func TestChecksAfterScan(t *testing.T) {
	spec := lab.Default(10)
	spec.Base = netip.MustParseAddr("127.69.0.1")
	l, err := lab.Start(context.Background(), spec)
	if err != nil {
		t.Skipf("lab does not start here: %v", err)
	}
	defer l.Close()
	var ports []string
	for _, p := range l.Ports() {
		ports = append(ports, fmt.Sprint(p))
	}
	truth := l.Truth()
	req := web.ScanRequest{Targets: []string{truth[0].Addr.String() + "-" +
		truth[len(truth)-1].Addr.String()}, Ports: strings.Join(ports, ",")}
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "acme", "Acme Zürich"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SeedModules(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // lab host kind → checks that must fail there
		"router":         {"telnet-exposed"},
		"legacy-windows": {"smbv1-enabled", "rdp-without-nla", "tls-legacy-protocols"},
		"nas":            {"smbv1-enabled", "ftp-cleartext"},
	}
	var firstIDs []string
	for round := range 2 {
		rep, err := a.Scan(ctx, "acme", req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Findings == 0 || rep.Score == nil {
			t.Fatalf("round %d: the scan's check run found nothing: %+v", round, rep.Errors)
		}
		byAddr := map[string]string{}
		for _, as := range rep.Assets {
			byAddr[as.Addresses[0]] = as.ID
		}
		items, total, err := a.ListFindings(ctx, "acme", store.FindingFilter{},
			store.Page{Page: 1, Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]bool{} // asset id → checks failing
		var ids []string
		for _, f := range items {
			if got[f.AssetID] == nil {
				got[f.AssetID] = map[string]bool{}
			}
			got[f.AssetID][f.Check] = f.Status == store.FindingOpen
			ids = append(ids, f.ID)
		}
		for _, h := range truth {
			id := byAddr[h.Addr.String()]
			for _, check := range want[h.Kind] {
				if !got[id][check] {
					t.Errorf("round %d: %s (%s) lacks an open %s finding; has %v", round,
						h.Addr, h.Kind, check, got[id])
				}
			}
			if h.Kind == "linux-server" || h.Kind == "web-server" {
				for _, check := range []string{"telnet-exposed", "smbv1-enabled",
					"ftp-cleartext", "rdp-without-nla"} {
					if got[id][check] {
						t.Errorf("%s (%s) has a %s finding it does not deserve", h.Addr,
							h.Kind, check)
					}
				}
			}
		}
		slices.Sort(ids)
		if round == 0 {
			firstIDs = ids
		} else if !slices.Equal(ids, firstIDs) {
			t.Errorf("findings changed between two scans of the same lab: %d then %d",
				len(firstIDs), total)
		}
	}
	// A waiver: the finding stays listed as waived and leaves the score.
	before, err := a.ComplianceSummary(ctx, "acme")
	if err != nil || before.Score == nil || len(before.Frameworks) != 4 {
		t.Fatalf("compliance: %+v %v", before, err)
	}
	telnet, _, err := a.ListFindings(ctx, "acme", store.FindingFilter{Check: "telnet-exposed"},
		store.Page{Page: 1, Size: 10})
	if err != nil || len(telnet) != 1 {
		t.Fatalf("telnet findings: %+v %v", telnet, err)
	}
	if _, err := a.WaiveFinding(ctx, "acme", telnet[0].ID, web.WaiverRequest{Reason: "short",
		ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
		t.Fatal("a waiver without a real reason was accepted")
	}
	w, err := a.WaiveFinding(ctx, "acme", telnet[0].ID, web.WaiverRequest{
		Reason:    "Legacy router, replacement ordered (CHG-1234)",
		ExpiresAt: time.Now().Add(30 * 24 * time.Hour)})
	if err != nil || w.Status != store.FindingWaived || w.Waiver == nil ||
		w.Waiver.Approver != "local-admin" {
		t.Fatalf("waive: %+v %v", w, err)
	}
	after, err := a.ComplianceSummary(ctx, "acme")
	if err != nil || after.Score == nil || *after.Score <= *before.Score {
		t.Fatalf("score after the waiver %v, before %v (%v)", after.Score, *before.Score, err)
	}
	cis, err := a.ComplianceFramework(ctx, "acme", "CIS")
	if err != nil {
		t.Fatal(err)
	}
	failing := 0
	for _, c := range cis.Controls {
		if c.Status == scanner.StatusFail {
			failing++
			if len(c.FailingAssets) == 0 || len(c.Checks) == 0 {
				t.Errorf("CIS %s fails without assets or checks: %+v", c.ID, c)
			}
		}
	}
	if failing == 0 || cis.Framework.Failed != failing {
		t.Errorf("CIS: %d failing controls, summary says %d", failing, cis.Framework.Failed)
	}
	if _, err := a.ComplianceFramework(ctx, "acme", "SOX"); err == nil {
		t.Error("an unknown framework was accepted")
	}
	trend, err := a.ComplianceTrend(ctx, "acme", 30)
	if err != nil || len(trend) != 5 { // the tenant and four frameworks, today
		t.Fatalf("trend: %+v %v", trend, err)
	}
	var csv, pdf bytes.Buffer
	if err := a.ComplianceReport(ctx, "acme", "csv", &csv); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(csv.String(), "framework_id,") || !strings.Contains(csv.String(),
		"CIS,") || !strings.Contains(csv.String(), ",fail,") {
		t.Errorf("csv report: %.300s", csv.String())
	}
	if err := a.ComplianceReport(ctx, "acme", "pdf", &pdf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
		t.Errorf("pdf report starts %q", pdf.Bytes()[:min(8, pdf.Len())])
	}
	if err := a.ComplianceReport(ctx, "acme", "docx", &pdf); err == nil {
		t.Error("an unknown report format was accepted")
	}
	// Switching a check off resolves its findings at the next run.
	if _, err := a.SetTenantModules(ctx, "acme", web.TenantModulesRequest{
		Items: []web.TenantModule{{Slug: "ftp-cleartext", Enabled: false}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetTenantModules(ctx, "acme", web.TenantModulesRequest{
		Items: []web.TenantModule{{Slug: "no-such-check"}}}); err == nil {
		t.Error("an unknown module was switched")
	}
	if _, err := a.RunChecks(ctx, "acme", "test"); err != nil {
		t.Fatal(err)
	}
	open, _, err := a.ListFindings(ctx, "acme", store.FindingFilter{Check: "ftp-cleartext",
		Status: store.FindingOpen}, store.Page{Page: 1, Size: 10})
	if err != nil || len(open) != 0 {
		t.Errorf("ftp-cleartext still open after it was switched off: %+v %v", open, err)
	}
}

// TestModuleSeeding seeds the embedded catalog twice (the second time changes nothing),
// then loads fixtures where a released file was edited: seeding refuses it and `modules
// check` reports the drift.
func TestModuleSeeding(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	first, err := a.SeedModules(ctx)
	if err != nil || first.Created < 150 || len(first.Errors) != 0 {
		t.Fatalf("first seed: %+v %v", first, err)
	}
	second, err := a.SeedModules(ctx)
	if err != nil || second.Created != 0 || second.Updated != 0 ||
		second.Unchanged != first.Created {
		t.Fatalf("second seed: %+v %v", second, err)
	}
	d, err := a.CheckModules(ctx)
	if err != nil || d.Drifted() || d.Fixtures != d.Database {
		t.Fatalf("drift after seeding: %+v %v", d, err)
	}
	// Edit one released check in a copy of the fixtures.
	edited := fstest.MapFS{}
	var victim string
	err = fs.WalkDir(fixtures.Modules(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fixtures.Modules(), p)
		if err != nil {
			return err
		}
		if victim == "" && strings.HasSuffix(p, "telnet-exposed@1.0.0.yaml") {
			victim = p
			b = append(b, []byte("# an edit\n")...)
		}
		edited[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil || victim == "" {
		t.Fatalf("copy fixtures: %v (victim %q)", err, victim)
	}
	a.checks.load = func() (*scanner.Catalog, error) {
		fws, _ := scanner.LoadFrameworks(fixtures.Frameworks())
		eol, _ := scanner.LoadEOL(fixtures.EOL())
		return scanner.LoadCatalog(edited, scanner.Config{Frameworks: fws, EOL: eol})
	}
	d, err = a.CheckModules(ctx)
	if err != nil || !slices.Contains(d.Changed, "telnet-exposed@1.0.0") {
		t.Fatalf("drift not detected: %+v %v", d, err)
	}
	rep, err := a.SeedModules(ctx)
	if err != nil || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "immutable") {
		t.Fatalf("seeding an edited released module: %+v %v", rep, err)
	}
	// State changes: allowed ones are recorded and audited; others are refused.
	if _, err := a.SetModuleState(ctx, "telnet-exposed", "1.0.0",
		web.ModuleStateRequest{State: "deprecated"}); err == nil {
		t.Error("deprecation without a sunset date was accepted")
	}
	m, err := a.SetModuleState(ctx, "telnet-exposed", "1.0.0",
		web.ModuleStateRequest{State: "deprecated", Sunset: "2027-06-30"})
	if err != nil || m.State != "deprecated" || m.Sunset != "2027-06-30" {
		t.Fatalf("deprecate: %+v %v", m, err)
	}
	if _, err := a.SetModuleState(ctx, "telnet-exposed", "1.0.0",
		web.ModuleStateRequest{State: "draft"}); err == nil {
		t.Error("deprecated → draft was accepted")
	}
}

// TestModulePinning adds a 1.1.0 of telnet-exposed to a copy of the fixtures: runs use the
// newest released version, a tenant may pin the previous one (still schedulable), and a
// version that does not exist is refused with the ones it could pin.
func TestModulePinning(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	files := fstest.MapFS{}
	err := fs.WalkDir(fixtures.Modules(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fixtures.Modules(), p)
		files[p] = &fstest.MapFile{Data: b}
		if strings.HasSuffix(p, "telnet-exposed@1.0.0.yaml") {
			next := strings.Replace(string(b), "version: 1.0.0", "version: 1.1.0", 1)
			next = strings.Replace(next, "changelog: Initial release.",
				"changelog: Names the ports in the title.", 1)
			files[strings.Replace(p, "1.0.0", "1.1.0", 1)] = &fstest.MapFile{Data: []byte(next)}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.checks.load = func() (*scanner.Catalog, error) {
		fws, _ := scanner.LoadFrameworks(fixtures.Frameworks())
		eol, _ := scanner.LoadEOL(fixtures.EOL())
		return scanner.LoadCatalog(files, scanner.Config{Frameworks: fws, EOL: eol})
	}
	if rep, err := a.SeedModules(ctx); err != nil || len(rep.Errors) != 0 {
		t.Fatalf("seed: %+v %v", rep, err)
	}
	ten, err := a.CreateTenant(ctx, "pin", "Pin")
	if err != nil {
		t.Fatal(err)
	}
	doc := factDoc{Services: []scanner.Service{{Port: 23, Protocol: "tcp", Name: "telnet",
		Evidence: map[string]string{}, Hints: []string{}}}}
	if _, _, err := a.Observe(ctx, ten.ID, inventory.Observation{Source: "scan",
		At: time.Now().UTC(), Addresses: []string{"10.7.0.1"}},
		Facts{Services: []store.Service{{Port: 23, Protocol: "tcp", Service: "telnet"}},
			doc: &doc}); err != nil {
		t.Fatal(err)
	}
	version := func() string {
		t.Helper()
		if _, err := a.RunChecks(ctx, "pin", "test"); err != nil {
			t.Fatal(err)
		}
		fs, _, err := a.ListFindings(ctx, "pin", store.FindingFilter{Check: "telnet-exposed"},
			store.Page{Page: 1, Size: 10})
		if err != nil || len(fs) != 1 {
			t.Fatalf("telnet findings: %+v %v", fs, err)
		}
		return fs[0].Version
	}
	if v := version(); v != "1.1.0" {
		t.Errorf("unpinned run used %s, want the newest 1.1.0", v)
	}
	mods, err := a.SetTenantModules(ctx, "pin", web.TenantModulesRequest{Items: []web.TenantModule{
		{Slug: "telnet-exposed", Enabled: true, Version: "1.0.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if m.Slug == "telnet-exposed" && (m.Version != "1.0.0" ||
			!slices.Equal(m.Schedulable, []string{"1.1.0", "1.0.0"})) {
			t.Errorf("tenant module %+v", m)
		}
	}
	if v := version(); v != "1.0.0" {
		t.Errorf("pinned run used %s, want 1.0.0", v)
	}
	if _, err := a.SetTenantModules(ctx, "pin", web.TenantModulesRequest{
		Items: []web.TenantModule{{Slug: "telnet-exposed", Enabled: true,
			Version: "0.9.0"}}}); err == nil || !strings.Contains(err.Error(), "1.1.0") {
		t.Errorf("pinning a version that does not exist: %v", err)
	}
}
