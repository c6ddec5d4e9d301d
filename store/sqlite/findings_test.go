package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
)

func TestModuleCatalogSeeding(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	v := store.ModuleVersion{Slug: "telnet-exposed", Kind: "check", Name: "Telnet",
		Category: "network-exposure", Version: "1.0.0", Checksum: "aaa", State: "released",
		Platforms: []string{"any"}, Frameworks: []string{"CIS"}, Source: []byte("x"),
		ParamsSchema: "{}"}
	for i, want := range []string{SeedCreated, SeedUnchanged} {
		got, err := s.UpsertModuleVersion(ctx, v)
		if err != nil || got != want {
			t.Fatalf("seed %d: %s %v, want %s", i, got, err, want)
		}
	}
	edited := v
	edited.Checksum = "bbb"
	if _, err := s.UpsertModuleVersion(ctx, edited); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("edit of a released version: %v", err)
	}
	draft := v
	draft.Version, draft.State = "1.1.0", "draft"
	if _, err := s.UpsertModuleVersion(ctx, draft); err != nil {
		t.Fatal(err)
	}
	draft.Checksum = "ccc"
	if got, err := s.UpsertModuleVersion(ctx, draft); err != nil || got != SeedUpdated {
		t.Fatalf("edit of a draft: %s %v", got, err)
	}
	if err := s.SetModuleState(ctx, "telnet-exposed", "1.0.0", "deprecated",
		"2027-01-01"); err != nil {
		t.Fatal(err)
	}
	// A restart re-seeds the file: the state set through the API stays.
	if _, err := s.UpsertModuleVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.ModuleVersion(ctx, "telnet-exposed", "1.0.0")
	if err != nil || got.State != "deprecated" || got.Sunset != "2027-01-01" {
		t.Fatalf("after re-seed: %+v %v", got, err)
	}
	list, err := s.ModuleVersions(ctx, store.ModuleFilter{Framework: "CIS", State: "draft"})
	if err != nil || len(list) != 1 || list[0].Version != "1.1.0" {
		t.Fatalf("filtered list: %+v %v", list, err)
	}
	if _, err := s.ModuleVersion(ctx, "nope", "1.0.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing module: %v", err)
	}
}

func TestFindingsLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	ten, err := s.CreateTenant(ctx, "find", "Find")
	if err != nil {
		t.Fatal(err)
	}
	tdb, release, err := s.TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := func(id, check, sev string) store.Finding {
		return store.Finding{ID: id, Check: check, Version: "1.0.0", Severity: sev,
			Title: check, Resource: "host-" + id, AssetID: "a-" + id,
			Mappings: map[string][]string{"CIS": {"4.8"}}}
	}
	run := func(id string, at time.Time, fs ...store.Finding) {
		t.Helper()
		if err := tdb.RecordRun(ctx, store.ModuleRun{ID: id, Started: at, Finished: at},
			fs, []string{"telnet-exposed", "tls-cert-expired"}); err != nil {
			t.Fatal(err)
		}
	}
	run("r1", t0, f("1", "telnet-exposed", "high"), f("2", "tls-cert-expired", "critical"))
	run("r2", t0.Add(time.Hour), f("1", "telnet-exposed", "high"))
	list, total, err := tdb.Findings(ctx, store.FindingFilter{Now: t0}, store.Page{Page: 1,
		Size: 10})
	if err != nil || total != 2 {
		t.Fatalf("list: %v %v", total, err)
	}
	if list[0].ID != "1" || list[0].Status != store.FindingOpen || list[1].Status !=
		store.FindingResolved || !list[0].FirstSeen.Equal(t0) {
		t.Fatalf("statuses: %+v", list)
	}
	if err := tdb.SetWaiver(ctx, store.Waiver{FindingID: "1", Reason: "legacy PLC",
		Approver: "ciso@example.com", Expires: t0.Add(48 * time.Hour),
		Created: t0}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		status string
		at     time.Time
		want   int
	}{{store.FindingWaived, t0, 1}, {store.FindingOpen, t0, 0},
		{store.FindingOpen, t0.Add(72 * time.Hour), 1}, {store.FindingResolved, t0, 1}} {
		_, n, err := tdb.Findings(ctx, store.FindingFilter{Status: tt.status, Now: tt.at},
			store.Page{Page: 1, Size: 10})
		if err != nil || n != tt.want {
			t.Errorf("%s at %s: %d %v, want %d", tt.status, tt.at, n, err, tt.want)
		}
	}
	// The resolved finding fails again: reopened, first_seen kept.
	run("r3", t0.Add(2*time.Hour), f("1", "telnet-exposed", "high"),
		f("2", "tls-cert-expired", "critical"))
	got, err := tdb.Finding(ctx, "2", t0)
	if err != nil || got.Status != store.FindingOpen || !got.FirstSeen.Equal(t0) {
		t.Fatalf("reopened: %+v %v", got, err)
	}
	if _, _, err := tdb.Findings(ctx, store.FindingFilter{Status: "bogus"},
		store.Page{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
	snaps := []store.ComplianceSnapshot{{Day: "2026-11-01", Framework: "CIS", Score: 50},
		{Day: "2026-11-02", Framework: "CIS", Score: 60}}
	if err := tdb.PutSnapshots(ctx, snaps); err != nil {
		t.Fatal(err)
	}
	snaps[1].Score = 70
	if err := tdb.PutSnapshots(ctx, snaps[1:]); err != nil {
		t.Fatal(err)
	}
	trend, err := tdb.Snapshots(ctx, "2026-11-02")
	if err != nil || len(trend) != 1 || trend[0].Score != 70 {
		t.Fatalf("trend: %+v %v", trend, err)
	}
}
