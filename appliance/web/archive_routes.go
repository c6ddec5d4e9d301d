package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
)

func (s *Server) routesArchive() {
	s.handle(http.MethodPost, "/v1/backup", authz.PlatformBackup, s.backup)
	s.handle(http.MethodPost, "/v1/tenants/:tenant/export", authz.TenantExport, s.export)
}

// BackupRequest is the body of POST /v1/backup.
type BackupRequest struct {
	Passphrase string `json:"passphrase,omitempty"`
}

// ExportRequest is the body of POST /v1/tenants/{tenant}/export.
type ExportRequest struct {
	Format     string `json:"format,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
}

// streamWriter sends headers on the first write, so that a failure before any data still
// gets the error envelope.
type streamWriter struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (sw *streamWriter) Write(b []byte) (int, error) {
	if !sw.started {
		sw.started = true
		sw.header(sw.w.Header())
		sw.w.WriteHeader(http.StatusOK)
	}
	return sw.w.Write(b)
}

// finish reports the outcome of a stream: the envelope when nothing was sent yet, else an
// aborted connection, so that the client sees a truncated body rather than a complete one.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, sw *streamWriter, err error) {
	switch {
	case err == nil && !sw.started:
		_, _ = sw.Write(nil)
	case err == nil:
	case !sw.started:
		s.fail(w, r, err)
	default:
		s.log.ErrorContext(r.Context(), "stream failed after it started", "trace_id",
			TraceID(r.Context()), "error", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) backup(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body BackupRequest
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	sw := &streamWriter{w: w}
	err := s.svc.BackupTo(r.Context(), []byte(body.Passphrase), sw, func(size int64) {
		sw.header = func(h http.Header) {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", `attachment; filename="tenantra-`+
				time.Now().UTC().Format("20060102-150405")+`.backup"`)
			h.Set("X-Tenantra-Backup-Size", strconv.FormatInt(size, 10))
			h.Set("Cache-Control", "no-store")
		}
	})
	s.finish(w, r, sw, err)
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body ExportRequest
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	t := tenantFrom(r.Context())
	sealed := body.Passphrase != ""
	sw := &streamWriter{w: w, header: func(h http.Header) {
		ext, ct := ".tar", "application/x-tar"
		if sealed {
			ext, ct = ".tenantra", "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Disposition", `attachment; filename="`+t.Slug+"-export"+ext+`"`)
		h.Set("Cache-Control", "no-store")
	}}
	if body.Format == "" {
		body.Format = "csv"
	}
	err := s.svc.Export(r.Context(), t.ID, body.Format, []byte(body.Passphrase), sw)
	s.finish(w, r, sw, err)
}
