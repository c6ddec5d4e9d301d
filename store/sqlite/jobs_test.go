package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
)

func TestScanJobsQueueAndRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	ten, err := s.CreateTenant(ctx, "jobs", "Jobs")
	if err != nil {
		t.Fatal(err)
	}
	tdb, release, err := s.TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		j, err := tdb.CreateScanJob(ctx, store.ScanJob{Request: []byte(`{"targets":["x"]}`),
			Created: t0.Add(time.Duration(i) * time.Second), RequestedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	// Oldest first.
	j, ok, err := tdb.ClaimScanJob(ctx, t0.Add(time.Minute))
	if err != nil || !ok || j.ID != ids[0] || j.State != store.JobRunning {
		t.Fatalf("claim: %+v %v %v", j, ok, err)
	}
	if err := tdb.UpdateScanProgress(ctx, j.ID, "ports", 3, 10, nil); err != nil {
		t.Fatal(err)
	}
	// A queued job cancels at once; a final one is a conflict.
	c, err := tdb.CancelScanJob(ctx, ids[2], t0)
	if err != nil || c.State != store.JobCancelled {
		t.Fatalf("cancel queued: %+v %v", c, err)
	}
	if _, err := tdb.CancelScanJob(ctx, ids[2], t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancel twice: %v", err)
	}
	if _, err := tdb.CancelScanJob(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	release()

	// A crash: the store is reopened with ids[0] still running.
	s.Close()
	s = openStore(t, dir, 4)
	tdb, release, err = s.TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	rq, failed, err := tdb.RecoverScanJobs(ctx, t0)
	if err != nil || rq != 1 || failed != 0 {
		t.Fatalf("recover: %d %d %v", rq, failed, err)
	}
	got, _ := tdb.ScanJob(ctx, ids[0])
	if got.State != store.JobInterrupted || got.Interruptions != 1 || got.Stage != "ports" {
		t.Fatalf("after first crash: %+v", got)
	}
	if n, _ := tdb.CountWaitingScanJobs(ctx); n != 2 {
		t.Fatalf("waiting %d, want 2", n)
	}
	// The interrupted job is the oldest, so it runs again first; a second crash fails it.
	j, ok, err = tdb.ClaimScanJob(ctx, t0)
	if err != nil || !ok || j.ID != ids[0] {
		t.Fatalf("reclaim: %+v %v", j, err)
	}
	if _, err := tdb.FinishScanJob(ctx, j.ID, store.JobRunning, []byte(`{"hosts":2}`), "",
		t0); err != nil {
		t.Fatal(err)
	}
	if rq, failed, err = tdb.RecoverScanJobs(ctx, t0); err != nil || rq != 0 || failed != 1 {
		t.Fatalf("second recover: %d %d %v", rq, failed, err)
	}
	got, _ = tdb.ScanJob(ctx, ids[0])
	if got.State != store.JobFailed || string(got.Summary) != `{"hosts":2}` ||
		got.Finished.IsZero() {
		t.Fatalf("after second crash: %+v", got)
	}
	list, total, err := tdb.ListScanJobs(ctx, store.Page{Page: 1, Size: 2})
	if err != nil || total != 3 || len(list) != 2 || list[0].ID != ids[2] {
		t.Fatalf("list: %d %v %v", total, list, err)
	}
}

func TestScanSchedulesFireOnce(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), 4)
	ten, _ := s.CreateTenant(ctx, "sched", "Sched")
	tdb, release, err := s.TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	sc, err := tdb.CreateScanSchedule(ctx, store.ScanSchedule{Cron: "@hourly",
		Request: []byte(`{"targets":["x"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	j, err := tdb.FireScanSchedule(ctx, sc, at)
	if err != nil || j.ScheduleID != sc.ID || j.State != store.JobQueued {
		t.Fatalf("fire: %+v %v", j, err)
	}
	// The same stale copy fires no second job.
	if _, err := tdb.FireScanSchedule(ctx, sc, at); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("fire twice: %v", err)
	}
	all, _ := tdb.ScanSchedules(ctx)
	if len(all) != 1 || !all[0].LastFired.Equal(at) {
		t.Fatalf("schedules: %+v", all)
	}
	if err := tdb.DeleteScanSchedule(ctx, sc.ID); err != nil {
		t.Fatal(err)
	}
	if err := tdb.DeleteScanSchedule(ctx, sc.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}
