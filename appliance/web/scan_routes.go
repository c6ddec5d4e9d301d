package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// ScanJobs is the discovery half of the service: scans are queued jobs that a runner works
// off with a global concurrency cap, fairly between tenants. Every method takes the id of a
// tenant whose membership guard has checked. Errors are the store's kinds: ErrInvalid for a
// bad request, ErrNotFound for an unknown job or schedule, ErrConflict for cancelling a
// finished job.
type ScanJobs interface {
	// SubmitScan validates and queues a scan; it answers the queued job.
	SubmitScan(ctx context.Context, tenantID string, req ScanRequest) (store.ScanJob, error)
	ListScans(ctx context.Context, tenantID string, p store.Page) ([]store.ScanJob, int,
		error)
	GetScan(ctx context.Context, tenantID, id string) (store.ScanJob, error)
	// CancelScan cancels a waiting job at once and a running one through its context.
	CancelScan(ctx context.Context, tenantID, id string) (store.ScanJob, error)
	// WatchScan sends the job now and on every change, and closes the channel after its
	// final state or when ctx ends.
	WatchScan(ctx context.Context, tenantID, id string) (<-chan store.ScanJob, error)
	CreateScanSchedule(ctx context.Context, tenantID string, req ScanScheduleRequest) (
		store.ScanSchedule, error)
	ListScanSchedules(ctx context.Context, tenantID string) ([]store.ScanSchedule, error)
	DeleteScanSchedule(ctx context.Context, tenantID, id string) error
}

// sseKeepAlive is how often an idle event stream gets a comment line, so that proxies do
// not close it.
const sseKeepAlive = 15 * time.Second

func (s *Server) routesScan() {
	sc, ok := s.svc.(ScanJobs)
	if !ok {
		return
	}
	tid := func(r *http.Request) string { return tenantFrom(r.Context()).ID }
	base := "/v1/tenants/:tenant/scans"
	s.handle(http.MethodPost, base, authz.TenantWrite,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			var body ScanRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			j, err := sc.SubmitScan(r.Context(), tid(r), body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("Location", "/v1/tenants/"+tenantFrom(r.Context()).Slug+
				"/scans/"+j.ID)
			writeJSON(w, http.StatusAccepted, j)
		})
	s.handle(http.MethodGet, base, authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			p, err := parsePage(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			items, total, err := sc.ListScans(r.Context(), tid(r), p)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, total, p)
		})
	s.handle(http.MethodGet, base+"/:scan", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			j, err := sc.GetScan(r.Context(), tid(r), ps.ByName("scan"))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, j)
		})
	s.handle(http.MethodDelete, base+"/:scan", authz.TenantWrite,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			j, err := sc.CancelScan(r.Context(), tid(r), ps.ByName("scan"))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, j)
		})
	s.handle(http.MethodGet, base+"/:scan/events", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			s.scanEvents(w, r, sc, ps.ByName("scan"))
		})
	s.routesScanSchedules(sc)
}

// scanEvents streams a job as server-sent events: "progress" while it waits or runs, then
// one "done" event with its final state and summary.
func (s *Server) scanEvents(w http.ResponseWriter, r *http.Request, sc ScanJobs, id string) {
	ch, err := sc.WatchScan(r.Context(), tenantFrom(r.Context()).ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case j, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(j)
			event := "progress"
			if j.State.Final() {
				event = "done"
			}
			if _, err := fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", event, j.ID,
				b); err != nil {
				return
			}
			flush()
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) routesScanSchedules(sc ScanJobs) {
	base := "/v1/tenants/:tenant/scan-schedules"
	s.handle(http.MethodPost, base, authz.TenantWrite,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			var body ScanScheduleRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			sch, err := sc.CreateScanSchedule(r.Context(), tenantFrom(r.Context()).ID, body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusCreated, sch)
		})
	s.handle(http.MethodGet, base, authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			items, err := sc.ListScanSchedules(r.Context(), tenantFrom(r.Context()).ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, len(items), store.Page{Page: 1, Size: len(items)})
		})
	s.handle(http.MethodDelete, base+"/:schedule", authz.TenantWrite,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			err := sc.DeleteScanSchedule(r.Context(), tenantFrom(r.Context()).ID,
				ps.ByName("schedule"))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
}
