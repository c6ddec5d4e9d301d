package web

import (
	"context"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
)

// TLSStatus is GET /v1/tls: how the console's certificate is obtained and what it is.
type TLSStatus struct {
	Mode        string    `json:"mode"` // self-signed, acme or files
	MinVersion  string    `json:"min_version"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names"`
	IPAddresses []string  `json:"ip_addresses"`
	NotAfter    time.Time `json:"not_after"`
	// Fingerprint is the SHA-256 of the served certificate, hex.
	Fingerprint string `json:"fingerprint"`
	// Notes are the lines serve printed at start: the CA's path and fingerprint, the ACME
	// domain, the files watched.
	Notes []string `json:"notes"`
}

// TLSService reports the serving certificate (only while serving).
type TLSService interface {
	TLSStatus(ctx context.Context) (TLSStatus, error)
}

func (s *Server) routesTLS() {
	ts, ok := s.svc.(TLSService)
	if !ok {
		return
	}
	s.handle(http.MethodGet, "/v1/tls", authz.PlatformKeys,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			st, err := ts.TLSStatus(r.Context())
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, st)
		})
}
