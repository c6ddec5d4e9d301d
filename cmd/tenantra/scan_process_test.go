package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
)

// TestScanJobSurvivesSIGKILL kills the server twice while a scan job of loopback addresses
// runs: after the first restart the job is interrupted and runs again, after the second it
// has failed with its partial summary. It is never lost.
func TestScanJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	if _, errOut, code := execCLI(t, dir, "tenant", "create", "acme"); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	// 32 loopback addresses, slowly: discovery takes seconds, the port stage minutes.
	out, errOut, code := execCLI(t, dir, "scan", "--tenant", "acme", "--targets",
		"127.77.0.0/27", "--ports", "top100", "--rate", "20", "--detach", "--json")
	var j store.ScanJob
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.State != store.JobQueued {
		t.Fatalf("scan --detach: %d %q %q", code, out, errOut)
	}
	get := func(s *server) store.ScanJob {
		t.Helper()
		resp, body, err := s.do(http.MethodGet, "/v1/tenants/acme/scans/"+j.ID, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("get job: %v %v %s", resp, err, body)
		}
		var got store.ScanJob
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	waitJob := func(s *server, what string, ok func(store.ScanJob) bool) store.ScanJob {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got := get(s)
			if ok(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("job never %s: %+v", what, got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitJob(s, "ran", func(j store.ScanJob) bool { return j.State == store.JobRunning })
	s.kill()

	s = startServer(t, dir)
	got := waitJob(s, "resumed", func(j store.ScanJob) bool {
		return j.Interruptions == 1 && (j.State == store.JobRunning && j.Stage == "ports" ||
			j.State.Final())
	})
	if got.State.Final() {
		t.Fatalf("the re-run ended early: %+v", got)
	}
	// The CLI shows the same through the admin socket.
	out, _, code = execCLI(t, dir, "scan", "status", j.ID, "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "running (ports") {
		t.Fatalf("scan status: %d %q", code, out)
	}
	s.kill()

	s = startServer(t, dir)
	got = get(s)
	var rep struct {
		Hosts int `json:"hosts"`
	}
	if got.State != store.JobFailed || got.Interruptions != 2 || got.Error == "" ||
		json.Unmarshal(got.Summary, &rep) != nil || rep.Hosts == 0 {
		t.Fatalf("after the second kill: %+v (summary %s)", got, got.Summary)
	}
	if _, err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.stderr)
	}
}
