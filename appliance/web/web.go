// Package web owns the HTTP face of the appliance: the router, middleware (trace ids,
// recovery, security headers, body caps, logging, metrics), the JSON API conventions (error
// envelope, pagination, ETags, strict decoding) and the tenant routes. It knows the
// application only through the Service interface, so it never imports the appliance.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// Service is what the API needs from the application.
type Service interface {
	store.Tenants
	Ready(ctx context.Context) error

	Authenticate(ctx context.Context, bearer string) (*authz.Principal, error)
	Login(ctx context.Context, req LoginRequest) (Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (Tokens, error)
	Logout(ctx context.Context) error
	Me(ctx context.Context) (Me, error)
	Sessions(ctx context.Context) ([]store.Session, error)
	RevokeOwnSession(ctx context.Context, id string) error
	RevokeOwnSessions(ctx context.Context) error
	ChangePassword(ctx context.Context, oldPassword, newPassword string) error
	StartTOTP(ctx context.Context) (TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, code string) ([]string, error)
	DisableTOTP(ctx context.Context, password string) error

	CreateUser(ctx context.Context, nu NewUser) (store.User, error)
	GetUser(ctx context.Context, ref string) (store.User, error)
	ListUsers(ctx context.Context, tenantID string, p store.Page) ([]store.User, int, error)
	UpdateUser(ctx context.Context, ref string, up UserUpdate) (store.User, error)
	ResetPassword(ctx context.Context, ref, password string) error
	SetTenantRole(ctx context.Context, tenantID, userRef string, role store.TenantRole) (
		store.User, error)
	RemoveTenantUser(ctx context.Context, tenantID, userRef string) error

	CreateAPIToken(ctx context.Context, tenantID string, req NewAPIToken) (CreatedAPIToken,
		error)
	ListAPITokens(ctx context.Context, tenantID string) ([]store.APIToken, error)
	RevokeAPIToken(ctx context.Context, tenantID, id string) error

	ListAudit(ctx context.Context, tenantID string, f store.AuditFilter, p store.Page) (
		[]store.AuditEvent, int, error)
	// VerifyAudit checks the platform chain and every tenant's, or one tenant's.
	VerifyAudit(ctx context.Context, tenant string) (int, error)
	// BackupTo streams a sealed backup of the whole appliance to w; size is called with the
	// size of the snapshot before the first byte is written.
	BackupTo(ctx context.Context, passphrase []byte, w io.Writer, size func(int64)) error
	// Export streams one tenant's data: a tar, or a sealed archive with a passphrase.
	Export(ctx context.Context, tenantRef, format string, passphrase []byte,
		w io.Writer) error
	// AuditDenied records a refused request in the tenant's chain (or the platform's).
	AuditDenied(ctx context.Context, tenantID, action, target, reason string)
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// Registry receives the HTTP metrics and is served on /metrics; nil disables both.
	Registry *prometheus.Registry
	// Trusted marks the admin socket: its peers are the data dir's owner (the socket is mode
	// 0600), so every request runs as the local admin without credentials.
	Trusted bool
	// TLS adds HSTS to every response.
	TLS bool
	// CORSOrigins lists the origins allowed to call the API from a browser.
	CORSOrigins []string
	// UI serves the console for paths outside the API; nil answers 404 there.
	UI http.Handler
}

// MaxBodyBytes caps every request body (ARCHITECTURE §5).
const MaxBodyBytes = 10 << 20

// Server is the appliance's HTTP handler.
type Server struct {
	svc     Service
	opt     Options
	log     *slog.Logger
	router  *httprouter.Router
	routes  []Route
	metrics *httpMetrics
}

// Route is one registered route with the action it performs, for the OpenAPI check and the
// authorization matrix test.
type Route struct {
	Method, Path string
	Action       authz.Action
}

// New builds the handler with every route registered.
func New(svc Service, opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{svc: svc, opt: opt, log: opt.Logger, router: httprouter.New()}
	if opt.Registry != nil {
		s.metrics = newHTTPMetrics(opt.Registry)
	}
	s.router.HandleMethodNotAllowed = true
	s.router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed",
			"%s is not allowed on %s", r.Method, r.URL.Path))
	})
	s.router.NotFound = http.HandlerFunc(s.notFound)
	s.router.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		if s.recovered(w, r, v) {
			panic(http.ErrAbortHandler) // ServeHTTP records the request and aborts
		}
	}
	s.routesV1()
	s.handle(http.MethodGet, "/health", authz.Public, s.health)
	s.handle(http.MethodGet, "/ready", authz.Public, s.ready)
	if opt.Registry != nil {
		h := promhttp.HandlerFor(opt.Registry, promhttp.HandlerOpts{})
		s.handle(http.MethodGet, "/metrics", authz.Public, func(w http.ResponseWriter,
			r *http.Request,
			_ httprouter.Params) {
			h.ServeHTTP(w, r)
		})
	}
	return s
}

// Routes lists the registered routes.
func (s *Server) Routes() []Route { return s.routes }

type handlerFunc = func(http.ResponseWriter, *http.Request, httprouter.Params)

// handle registers a route; the wrapper labels metrics and logs with the route's pattern, not
// the raw path, so that tenant slugs never become metric labels.
// Every route declares its action; guard authenticates the caller and checks the action (and,
// for tenant routes, the membership) before the handler runs.
func (s *Server) handle(method, path string, action authz.Action, h handlerFunc) {
	if action == "" {
		panic("web: route " + method + " " + path + " declares no action") // a programming error
	}
	s.routes = append(s.routes, Route{Method: method, Path: path, Action: action})
	s.router.Handle(method, path, func(w http.ResponseWriter, r *http.Request,
		p httprouter.Params) {
		if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
			info.route = path
		}
		r, err := s.guard(r, action, p.ByName("tenant"))
		if err != nil {
			s.deny(w, r, err)
			return
		}
		h(w, r, p)
	})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.opt.UI != nil && r.Method == http.MethodGet && !isAPIPath(r.URL.Path) {
		s.opt.UI.ServeHTTP(w, r)
		return
	}
	writeError(w, r, errorf(http.StatusNotFound, "not_found", "no route %s %s",
		r.Method, r.URL.Path))
}

func isAPIPath(p string) bool {
	return p == "/v1" || len(p) >= 4 && p[:4] == "/v1/"
}

// recovered handles a panic from a handler: it logs it and writes the 500 envelope. When the
// response has already begun, or the handler panicked with http.ErrAbortHandler, it writes
// nothing and reports that the connection must be aborted instead: an envelope appended to a
// half-written response would turn it into a corrupt one with a success status.
func (s *Server) recovered(w http.ResponseWriter, r *http.Request, v any) (abort bool) {
	abortPanic := v == http.ErrAbortHandler //nolint:errorlint // a recover() value, never wrapped
	if !abortPanic {
		s.log.ErrorContext(r.Context(), "panic in handler", "trace_id", TraceID(r.Context()),
			"panic", v, "path", r.URL.Path)
	}
	if sw, ok := w.(*statusWriter); abortPanic || ok && sw.status != 0 {
		return true
	}
	writeError(w, r, errorf(http.StatusInternalServerError, "internal",
		"internal error; the server log has details under this trace_id"))
	return false
}

type reqInfoKey struct{}

type reqInfo struct {
	traceID  string
	clientIP string
	route    string
}

// ClientIP returns the address of the request's peer, for audit entries.
func ClientIP(ctx context.Context) string {
	if info, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return info.clientIP
	}
	return ""
}

// TraceID returns the request's trace id.
func TraceID(ctx context.Context) string {
	if info, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return info.traceID
	}
	return ""
}

func newTraceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP runs the middleware chain around the router.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &reqInfo{traceID: newTraceID(), route: "unmatched", clientIP: clientIP(r)}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
	rw := &statusWriter{ResponseWriter: w}
	s.secureHeaders(rw.Header(), r)
	rw.Header().Set("X-Trace-Id", info.traceID)
	defer func() {
		abort := false
		if v := recover(); v != nil {
			abort = s.recovered(rw, r, v)
		}
		s.observe(r, info, rw, time.Since(start))
		if abort {
			panic(http.ErrAbortHandler) // net/http drops the connection quietly
		}
	}()
	if r.ContentLength > MaxBodyBytes {
		writeError(rw, r, errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"request body is larger than %d bytes", MaxBodyBytes))
		return
	}
	// The server's own writer, not the wrapper: net/http recognises it and closes the
	// connection after a body over the cap instead of trying to drain it.
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if s.cors(rw, r) {
		return
	}
	s.router.ServeHTTP(rw, r)
}

func (s *Server) secureHeaders(h http.Header, r *http.Request) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; "+
		"style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "+
		"object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if s.opt.TLS || r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

// cors answers allowed cross-origin requests; it reports true when it wrote the response.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.opt.CORSOrigins) == 0 {
		return false
	}
	allowed := false
	for _, o := range s.opt.CORSOrigins {
		allowed = allowed || o == origin
	}
	w.Header().Add("Vary", "Origin")
	if !allowed {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func (s *Server) observe(r *http.Request, info *reqInfo, rw *statusWriter, d time.Duration) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	if s.metrics != nil {
		s.metrics.observe(r.Method, info.route, status, d)
	}
	lvl := slog.LevelInfo
	if status >= 500 {
		lvl = slog.LevelError
	}
	s.log.LogAttrs(r.Context(), lvl, "request",
		slog.String("trace_id", info.traceID), slog.String("method", r.Method),
		slog.String("route", info.route), slog.Int("status", status),
		slog.Int64("bytes", rw.bytes), slog.Duration("duration", d))
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets server-sent events stream through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantra_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantra_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "trace_id", TraceID(ctx), "error", err)
		writeError(w, r, errorf(http.StatusServiceUnavailable, "not_ready",
			"storage is not reachable; the server log has details under this trace_id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
