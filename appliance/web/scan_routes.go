package web

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
)

// Scanner is the discovery half of the service. Scan runs to completion and answers its
// report; the jobs part of the discovery issue turns this into queued jobs with progress
// events, schedules and cancellation.
type Scanner interface {
	Scan(ctx context.Context, tenantRef string, req ScanRequest,
		progress func(ScanProgress)) (ScanReport, error)
}

func (s *Server) routesScan() {
	sc, ok := s.svc.(Scanner)
	if !ok {
		return
	}
	s.handle(http.MethodPost, "/v1/tenants/:tenant/scans", authz.TenantWrite,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			var body ScanRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			rep, err := sc.Scan(r.Context(), tenantFrom(r.Context()).ID, body, nil)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusCreated, rep)
		})
}
