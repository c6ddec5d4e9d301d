package appliance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// fakeScans stands in for the scan pipeline: each run records itself and blocks until the
// test releases it or its context ends.
type fakeScans struct {
	mu       sync.Mutex
	started  []string // tenant id + " " + first target, in start order
	running  int
	max      int
	cancels  int
	release  chan struct{}
	progress web.ScanProgress
}

func (f *fakeScans) run(ctx context.Context, tenantID string, req web.ScanRequest,
	progress func(web.ScanProgress)) (web.ScanReport, error) {
	f.mu.Lock()
	f.started = append(f.started, tenantID+" "+req.Targets[0])
	f.running++
	f.max = max(f.max, f.running)
	p := f.progress
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
	if p.Stage != "" {
		progress(p)
	}
	select {
	case <-f.release:
		return web.ScanReport{Hosts: 3, OpenPorts: 5}, nil
	case <-ctx.Done():
		f.mu.Lock()
		f.cancels++
		f.mu.Unlock()
		return web.ScanReport{Hosts: 1}, ctx.Err()
	}
}

func (f *fakeScans) startedList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started...)
}

func newJobsTest(t *testing.T, dir string) (*Appliance, *fakeScans, context.Context) {
	t.Helper()
	a := openTest(t, testConfig(t, dir))
	t.Cleanup(func() { a.Close() })
	f := &fakeScans{release: make(chan struct{})}
	a.jobs.run = f.run
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	return a, f, ctx
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jobState(t *testing.T, a *Appliance, ctx context.Context, tenant, id string) store.ScanJob {
	t.Helper()
	j, err := a.GetScan(ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func submit(t *testing.T, a *Appliance, ctx context.Context, tenant, target string) string {
	t.Helper()
	j, err := a.SubmitScan(ctx, tenant, web.ScanRequest{Targets: []string{target},
		SNMPCommunities: []string{"s3cret-community"}})
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.JobQueued || strings.Contains(string(j.Request), "s3cret") {
		t.Fatalf("submitted job: %+v", j)
	}
	return j.ID
}

// TestScanJobsFairAndCapped queues three jobs for one tenant and one for another: the runner
// never runs more than its cap, takes turns between the tenants, and runs each tenant's
// jobs oldest first.
func TestScanJobsFairAndCapped(t *testing.T) {
	a, f, ctx := newJobsTest(t, t.TempDir())
	ta, _ := a.CreateTenant(ctx, "tenant-a", "A")
	tb, _ := a.CreateTenant(ctx, "tenant-b", "B")
	for _, target := range []string{"a1", "a2", "a3"} {
		submit(t, a, ctx, "tenant-a", target)
	}
	submit(t, a, ctx, "tenant-b", "b1")
	if _, err := a.SubmitScan(ctx, "tenant-a", web.ScanRequest{}); !errors.Is(err,
		store.ErrInvalid) {
		t.Fatalf("empty request: %v", err)
	}
	a.jobs.limit = 2
	defer a.StartJobs(ctx)()
	waitFor(t, "two jobs", func() bool { return len(f.startedList()) == 2 })
	time.Sleep(100 * time.Millisecond) // room for a third, which must not start
	got := f.startedList()
	if len(got) != 2 || !(strings.HasPrefix(got[0], ta.ID) != strings.HasPrefix(got[1], ta.ID)) {
		t.Fatalf("first two jobs %v: want one per tenant", got)
	}
	// One slot at a time, so that the order jobs start in is the order they were taken.
	for i := range 4 {
		f.release <- struct{}{}
		want := min(3+i, 4)
		waitFor(t, "next job", func() bool { return len(f.startedList()) >= want })
	}
	var aOrder []string
	for _, s := range f.startedList() {
		if id, target, _ := strings.Cut(s, " "); id == ta.ID {
			aOrder = append(aOrder, target)
		} else if id != tb.ID {
			t.Fatalf("job of unknown tenant %s", id)
		}
	}
	if strings.Join(aOrder, ",") != "a1,a2,a3" {
		t.Fatalf("tenant-a ran %v, want oldest first", aOrder)
	}
	if f.max > 2 {
		t.Fatalf("%d jobs ran at once, cap 2", f.max)
	}
	waitFor(t, "succeeded", func() bool {
		l, _, _ := a.ListScans(ctx, "tenant-a", store.Page{Page: 1, Size: 10})
		for _, j := range l {
			if j.State != store.JobSucceeded || !strings.Contains(string(j.Summary),
				`"hosts":3`) {
				return false
			}
		}
		return len(l) == 3
	})
}

// TestScanJobCancel cancels a running job through its context and a queued one at once.
func TestScanJobCancel(t *testing.T) {
	a, f, ctx := newJobsTest(t, t.TempDir())
	if _, err := a.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	a.jobs.limit = 1
	defer a.StartJobs(ctx)()
	running := submit(t, a, ctx, "acme", "one")
	queued := submit(t, a, ctx, "acme", "two")
	waitFor(t, "running", func() bool {
		return jobState(t, a, ctx, "acme", running).State == store.JobRunning
	})
	j, err := a.CancelScan(ctx, "acme", queued)
	if err != nil || j.State != store.JobCancelled {
		t.Fatalf("cancel queued: %+v %v", j, err)
	}
	j, err = a.CancelScan(ctx, "acme", running)
	if err != nil || j.State != store.JobCancelled || j.Finished.IsZero() {
		t.Fatalf("cancel running: %+v %v", j, err)
	}
	if _, err := a.CancelScan(ctx, "acme", running); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancel twice: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := f.startedList(); len(got) != 1 || f.cancels != 1 {
		t.Fatalf("runs %v, cancels %d: the cancelled queued job must not run", got,
			f.cancels)
	}
}

// TestScanJobCrashRecovery leaves a job running in the database as a crash would: the next
// start marks it interrupted and runs it again; a second crash fails it, keeping its
// partial summary. It is never lost.
func TestScanJobCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	crash := func(a *Appliance, ctx context.Context, tenantID, id string) {
		t.Helper()
		tdb, release, err := a.store.TenantDB(ctx, tenantID)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		j, ok, err := tdb.ClaimScanJob(ctx, time.Now())
		if err != nil || !ok || j.ID != id {
			t.Fatalf("claim: %+v %v %v", j, ok, err)
		}
		if err := tdb.UpdateScanProgress(ctx, id, "ports", 4, 9, nil); err != nil {
			t.Fatal(err)
		}
		a.Close() // the process dies with the job marked running
	}
	a, _, ctx := newJobsTest(t, dir)
	ten, _ := a.CreateTenant(ctx, "acme", "Acme")
	id := submit(t, a, ctx, "acme", "x")
	crash(a, ctx, ten.ID, id)

	a, f, ctx := newJobsTest(t, dir)
	stop := a.StartJobs(ctx)
	waitFor(t, "the re-run", func() bool { return len(f.startedList()) == 1 })
	j := jobState(t, a, ctx, "acme", id)
	if j.State != store.JobRunning || j.Interruptions != 1 {
		t.Fatalf("after the first crash: %+v", j)
	}
	stop() // a clean stop puts the job back in the queue with what it found
	if j = jobState(t, a, ctx, "acme", id); j.State != store.JobQueued || len(j.Summary) == 0 {
		t.Fatalf("after a clean stop: %+v", j)
	}
	crash(a, ctx, ten.ID, id)

	a, f, ctx = newJobsTest(t, dir)
	defer a.StartJobs(ctx)()
	j = jobState(t, a, ctx, "acme", id)
	if j.State != store.JobFailed || j.Interruptions != 2 || !strings.Contains(
		string(j.Summary), `"hosts":1`) || j.Stage != "ports" || j.Error == "" {
		t.Fatalf("after the second crash: %+v", j)
	}
	time.Sleep(50 * time.Millisecond)
	if len(f.startedList()) != 0 {
		t.Fatal("a failed job ran again")
	}
}

// TestScanSchedulesFire triggers the schedule check with a chosen clock.
func TestScanSchedulesFire(t *testing.T) {
	a, _, ctx := newJobsTest(t, t.TempDir())
	if _, err := a.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "every day", "61 * * * *", "* * * * * * *"} {
		_, err := a.CreateScanSchedule(ctx, "acme", web.ScanScheduleRequest{Cron: bad,
			Targets: []string{"127.0.0.1"}})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("cron %q: %v", bad, err)
		}
	}
	s, err := a.CreateScanSchedule(ctx, "acme", web.ScanScheduleRequest{Cron: "0 * * * *",
		Targets: []string{"127.0.0.1"}, Ports: "22"})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		_, n, err := a.ListScans(ctx, "acme", store.Page{Page: 1, Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	next := s.Created.Truncate(time.Hour).Add(time.Hour)
	a.jobs.fireSchedules(ctx, next.Add(-time.Second))
	if n := count(); n != 0 {
		t.Fatalf("%d jobs before the schedule's time", n)
	}
	a.jobs.fireSchedules(ctx, next)
	a.jobs.fireSchedules(ctx, next.Add(time.Minute))
	if n := count(); n != 1 {
		t.Fatalf("%d jobs after one hour, want 1", n)
	}
	// Down for a day: one job, not twenty-four.
	a.jobs.fireSchedules(ctx, next.Add(24*time.Hour))
	if n := count(); n != 2 {
		t.Fatalf("%d jobs after a day, want 2", n)
	}
	l, _, _ := a.ListScans(ctx, "acme", store.Page{Page: 1, Size: 1})
	if l[0].ScheduleID != s.ID || l[0].State != store.JobQueued {
		t.Fatalf("fired job %+v", l[0])
	}
	if err := a.DeleteScanSchedule(ctx, "acme", s.ID); err != nil {
		t.Fatal(err)
	}
	a.jobs.fireSchedules(ctx, next.Add(48*time.Hour))
	if n := count(); n != 2 {
		t.Fatalf("a deleted schedule fired: %d jobs", n)
	}
}

// TestScanEventsStream follows a job over HTTP as server-sent events: progress while it
// runs, then the final state.
func TestScanEventsStream(t *testing.T) {
	a, f, ctx := newJobsTest(t, t.TempDir())
	if _, err := a.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	f.progress = web.ScanProgress{Stage: "ports", Done: 1, Total: 2}
	defer a.StartJobs(ctx)()
	srv := httptest.NewServer(web.New(a, web.Options{Trusted: true}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/tenants/acme/scans", "application/json",
		strings.NewReader(`{"targets":["127.0.0.1"],"ports":"22"}`))
	if err != nil {
		t.Fatal(err)
	}
	var j store.ScanJob
	_ = json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || j.State != store.JobQueued {
		t.Fatalf("POST: %d %+v", resp.StatusCode, j)
	}
	resp, err = http.Get(srv.URL + "/v1/tenants/acme/scans/" + j.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var event string
	sawProgress, released := false, false
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var got store.ScanJob
		if err := json.Unmarshal([]byte(data), &got); err != nil {
			t.Fatal(err)
		}
		switch event {
		case "progress":
			if got.State == store.JobRunning && got.Stage == "ports" && got.Total == 2 {
				sawProgress = true
				if !released {
					released = true
					close(f.release)
				}
			}
		case "done":
			if !sawProgress || got.State != store.JobSucceeded || len(got.Summary) == 0 {
				t.Fatalf("done event %+v after progress %v", got, sawProgress)
			}
			for sc.Scan() {
				if sc.Text() != "" {
					t.Fatalf("the stream went on after done: %q", sc.Text())
				}
			}
			return
		}
	}
	t.Fatalf("the stream ended without a done event: %v", sc.Err())
}
