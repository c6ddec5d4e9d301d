package web_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// logBuffer collects a server's JSON log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	var b logBuffer
	return slog.New(slog.NewJSONHandler(&b, nil)), &b
}

func TestTraceID(t *testing.T) {
	srv := web.New(newMemService("acme-corp"), web.Options{})
	seen := map[string]bool{}
	for _, target := range []string{"/health", "/v1/tenants", "/v1/tenants/ghost", "/nope"} {
		r := newRequest("GET", target, "")
		r.Header.Set("X-Trace-Id", "client-chosen") // must not be trusted or echoed
		rec := serve(srv, r)
		id := rec.Header().Get("X-Trace-Id")
		if !traceIDRE.MatchString(id) {
			t.Errorf("%s: X-Trace-Id = %q, want 32 hex digits", target, id)
		}
		if seen[id] {
			t.Errorf("%s: trace id %s reused", target, id)
		}
		seen[id] = true
		if rec.Code >= 400 {
			checkEnvelope(t, rec.Header(), rec.Body.Bytes()) // trace_id == header
		}
	}
}

// TestSecurityHeaders checks the headers on every kind of response the server makes,
// including the ones written before routing (413, 403), by the router (404, 405, OPTIONS) and
// by recovery (500).
func TestSecurityHeaders(t *testing.T) {
	requests := map[string]func() *http.Request{
		"health": func() *http.Request { return newRequest("GET", "/health", "") },
		"list":   func() *http.Request { return newRequest("GET", "/v1/tenants", "") },
		"created": func() *http.Request {
			return newRequest("POST", "/v1/tenants", `{"slug":"new-co","name":"N"}`)
		},
		"404": func() *http.Request { return newRequest("GET", "/v1/nope", "") },
		"405": func() *http.Request { return newRequest("PUT", "/v1/tenants", "") },
		"413": func() *http.Request {
			r := newRequest("POST", "/v1/tenants", "{}")
			r.ContentLength = web.MaxBodyBytes + 1
			return r
		},
		"403": func() *http.Request {
			r := newRequest("GET", "/v1/tenants", "")
			r.RemoteAddr = "192.0.2.1:1234"
			return r
		},
		"500": func() *http.Request { return newRequest("GET", "/v1/tenants/boom", "") },
		"options": func() *http.Request {
			return newRequest("OPTIONS", "/v1/tenants", "")
		},
		"preflight": func() *http.Request {
			r := newRequest("OPTIONS", "/v1/tenants", "")
			r.Header.Set("Origin", "https://console.example")
			r.Header.Set("Access-Control-Request-Method", "POST")
			return r
		},
	}
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	}
	for _, useTLS := range []bool{false, true} {
		for name, req := range requests {
			t.Run(fmt.Sprintf("%s/tls=%v", name, useTLS), func(t *testing.T) {
				svc := newMemService()
				svc.before = func(_, ref string) error {
					if ref == "boom" {
						panic("boom")
					}
					return nil
				}
				srv := web.New(svc, web.Options{TLS: useTLS,
					CORSOrigins: []string{"https://console.example"}})
				h := serve(srv, req()).Header()
				for k, v := range want {
					if got := h.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				csp := h.Get("Content-Security-Policy")
				for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'",
					"object-src 'none'"} {
					if !strings.Contains(csp, d) {
						t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
					}
				}
				hsts := h.Get("Strict-Transport-Security")
				if useTLS != (hsts != "") {
					t.Errorf("Strict-Transport-Security = %q with TLS %v", hsts, useTLS)
				}
				if useTLS && !strings.Contains(hsts, "max-age=") {
					t.Errorf("Strict-Transport-Security = %q lacks max-age", hsts)
				}
			})
		}
	}

	t.Run("HSTS on a TLS connection without the option", func(t *testing.T) {
		r := newRequest("GET", "/health", "")
		r.TLS = &tls.ConnectionState{}
		h := serve(web.New(newMemService(), web.Options{}), r).Header()
		if h.Get("Strict-Transport-Security") == "" {
			t.Error("no Strict-Transport-Security on a TLS request")
		}
	})
}

func TestAuthenticationRequired(t *testing.T) {
	tests := []struct {
		name    string
		auth    string
		trusted bool
		want    int
	}{
		{"no credentials", "", false, http.StatusUnauthorized},
		{"not bearer", "Basic YWRtaW46YWRtaW4=", false, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", false, http.StatusUnauthorized},
		{"bad token", "Bearer nope", false, http.StatusUnauthorized},
		{"valid token", "Bearer " + testAdminToken, false, http.StatusOK},
		{"admin socket", "", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := web.New(newMemService("acme-corp"), web.Options{Trusted: tt.trusted})
			for _, target := range []string{"/v1/tenants", "/v1/tenants/acme-corp"} {
				r := newRequest("GET", target, "")
				r.Header.Del("Authorization")
				if tt.auth != "" {
					r.Header.Set("Authorization", tt.auth)
				}
				rec := serve(srv, r)
				if rec.Code != tt.want {
					t.Fatalf("%s: status %d, want %d", target, rec.Code, tt.want)
				}
				if tt.want == http.StatusUnauthorized {
					if e := checkEnvelope(t, rec.Header(), rec.Body.Bytes()); e.Code !=
						"unauthenticated" {
						t.Errorf("code = %q, want unauthenticated", e.Code)
					}
					if rec.Header().Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				}
			}
			for _, target := range []string{"/health", "/ready"} {
				r := newRequest("GET", target, "")
				r.Header.Del("Authorization")
				if rec := serve(srv, r); rec.Code != http.StatusOK {
					t.Errorf("%s: status %d, want 200", target, rec.Code)
				}
			}
		})
	}
}

// secretPath is what internal errors and panics carry in these tests; it must reach the log
// and never a response.
const secretPath = "/var/lib/tenantra/keys/master.key"

func TestPanicIsContained(t *testing.T) {
	// Each panic, and the text the log must keep of it.
	panics := map[string]struct {
		do      func()
		wantLog string
	}{
		"string": {func() { panic("decrypt " + secretPath + ": bad tag") }, "master.key"},
		"error": {func() { panic(fmt.Errorf("open %s: permission denied", secretPath)) },
			"master.key"},
		"runtime": {func() {
			parts := strings.Split(secretPath, "/")
			_ = parts[len(parts)]
		}, "index out of range"},
	}
	requests := []struct{ method, target, body string }{
		{"GET", "/v1/tenants", ""},
		{"GET", "/v1/tenants/acme-corp", ""},
		{"POST", "/v1/tenants", `{"slug":"new-co","name":"N"}`},
		{"PATCH", "/v1/tenants/acme-corp", `{"name":"N"}`},
		{"DELETE", "/v1/tenants/acme-corp", ""},
	}
	for name, p := range panics {
		for _, req := range requests {
			t.Run(name+"/"+req.method+req.target, func(t *testing.T) {
				svc := newMemService("acme-corp")
				svc.before = func(string, string) error { p.do(); return nil }
				log, logs := newLogger()
				rec := serve(web.New(svc, web.Options{Logger: log}),
					newRequest(req.method, req.target, req.body))
				if rec.Code != http.StatusInternalServerError {
					t.Fatalf("status = %d, want 500", rec.Code)
				}
				e := checkEnvelope(t, rec.Header(), rec.Body.Bytes())
				if e.Code != "internal" || !strings.Contains(e.Message, "trace_id") {
					t.Errorf("error %q %q, want the generic internal error", e.Code, e.Message)
				}
				body := rec.Body.String()
				for _, leak := range []string{"master.key", "/var/lib", "goroutine", ".go:",
					"panic", "out of range", "runtime"} {
					if strings.Contains(body, leak) {
						t.Errorf("response leaks %q: %s", leak, body)
					}
				}
				if l := logs.String(); !strings.Contains(l, "panic in handler") ||
					!strings.Contains(l, e.TraceID) || !strings.Contains(l, p.wantLog) {
					t.Errorf("log lacks the panic under trace id %s:\n%s", e.TraceID, l)
				}
			})
		}
	}
}

// TestPanicAfterWrite checks that a handler that panics after it began its response gets the
// connection aborted rather than an error envelope appended to a 200, and that a handler's own
// http.ErrAbortHandler is passed through to net/http without being logged as a crash.
func TestPanicAfterWrite(t *testing.T) {
	tests := []struct {
		name    string
		ui      http.HandlerFunc
		wantLog bool
	}{
		{name: "panic after write", wantLog: true,
			ui: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("<html>partial"))
				panic("half way")
			}},
		{name: "ErrAbortHandler", ui: func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := newLogger()
			srv := web.New(newMemService(), web.Options{Logger: log, UI: tt.ui})
			rec, v := serveRecover(srv, newRequest("GET", "/console", ""))
			if v != http.ErrAbortHandler {
				t.Fatalf("ServeHTTP panicked with %v, want http.ErrAbortHandler", v)
			}
			if strings.Contains(rec.Body.String(), `"error"`) {
				t.Errorf("error envelope written into the response: %q", rec.Body.String())
			}
			if got := strings.Count(logs.String(), "panic in handler"); got != map[bool]int{
				false: 0, true: 1}[tt.wantLog] {
				t.Errorf("logged the panic %d times:\n%s", got, logs.String())
			}
		})
	}
}

func serveRecover(h http.Handler, r *http.Request) (rec *recorder, v any) {
	rec = newRecorder()
	defer func() { v = recover() }()
	h.ServeHTTP(rec, r)
	return rec, nil
}

// recorder is a minimal ResponseWriter for tests that expect ServeHTTP to panic.
type recorder struct {
	header http.Header
	Body   bytes.Buffer
	Code   int
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.Code == 0 {
		r.Code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	return r.Body.Write(b)
}

func TestInternalErrorIsHidden(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"plain error", fmt.Errorf("open %s: permission denied", secretPath)},
		{"wrapped io error", fmt.Errorf("read %s: %w", secretPath, io.ErrUnexpectedEOF)},
		{"wrong key", fmt.Errorf("open %s: %w", secretPath, store.ErrWrongKey)},
		{"corrupt", fmt.Errorf("parse %s: %w", secretPath, store.ErrCorrupt)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newMemService("acme-corp")
			svc.before = func(string, string) error { return tt.err }
			log, logs := newLogger()
			rec := serve(web.New(svc, web.Options{Logger: log}),
				newRequest("GET", "/v1/tenants/acme-corp", ""))
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status = %d, want 500", rec.Code)
			}
			e := checkEnvelope(t, rec.Header(), rec.Body.Bytes())
			const generic = "internal error; the server log has details under this trace_id"
			if e.Code != "internal" || e.Message != generic {
				t.Errorf("error %q %q, want internal %q", e.Code, e.Message, generic)
			}
			if strings.Contains(rec.Body.String(), "master.key") {
				t.Errorf("response leaks the path: %s", rec.Body.String())
			}
			if l := logs.String(); !strings.Contains(l, "master.key") ||
				!strings.Contains(l, e.TraceID) {
				t.Errorf("log lacks the cause under trace id %s:\n%s", e.TraceID, l)
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		readyErr   error
		wantStatus int
		wantBody   string // for 200s
	}{
		{"health", "/health", nil, 200, `{"status":"ok"}`},
		{"health while not ready", "/health", errors.New("down"), 200, `{"status":"ok"}`},
		{"ready", "/ready", nil, 200, `{"status":"ready"}`},
		{"not ready", "/ready", fmt.Errorf("ping %s: database is locked", secretPath), 503,
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newMemService()
			svc.readyErr = tt.readyErr
			rec := serve(web.New(svc, web.Options{}), newRequest("GET", tt.target, ""))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
					t.Errorf("body = %s, want %s", got, tt.wantBody)
				}
				return
			}
			e := checkEnvelope(t, rec.Header(), rec.Body.Bytes())
			if e.Code != "not_ready" || strings.Contains(e.Message, "master.key") {
				t.Errorf("error %q %q, want not_ready without the cause", e.Code, e.Message)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := web.New(newMemService("acme-corp"), web.Options{Registry: reg})
	anonymous := newRequest("GET", "/v1/tenants/acme-corp", "")
	anonymous.Header.Del("Authorization")
	for _, r := range []*http.Request{
		newRequest("GET", "/v1/tenants/acme-corp", ""),
		newRequest("GET", "/v1/tenants/acme-corp", ""),
		newRequest("GET", "/v1/tenants/secret-slug", ""),
		newRequest("GET", "/v1/secret-path", ""),
		anonymous,
	} {
		serve(srv, r)
	}
	rec := serve(srv, newRequest("GET", "/metrics", ""))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`tenantra_http_requests_total{method="GET",route="/v1/tenants/:tenant",status="200"} 2`,
		`tenantra_http_requests_total{method="GET",route="/v1/tenants/:tenant",status="404"} 1`,
		`tenantra_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`tenantra_http_requests_total{method="GET",route="/v1/tenants/:tenant",status="401"} 1`,
		`tenantra_http_request_duration_seconds_count{method="GET",route="/v1/tenants/:tenant"} 4`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{"acme-corp", "secret-slug", "secret-path"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics has a raw path or slug %q as a label", leak)
		}
	}

	t.Run("without a registry", func(t *testing.T) {
		srv := web.New(newMemService(), web.Options{})
		if rec := serve(srv, newRequest("GET", "/metrics", "")); rec.Code != 404 {
			t.Errorf("GET /metrics without a registry: %d, want 404", rec.Code)
		}
	})
}

func TestCORS(t *testing.T) {
	const allowed = "https://console.example"
	tests := []struct {
		name      string
		origins   []string
		method    string
		origin    string
		preflight bool
		// wantAllow says the origin is echoed in Access-Control-Allow-Origin.
		wantAllow  bool
		wantStatus int
	}{
		{name: "allowed origin", origins: []string{allowed}, method: "GET", origin: allowed,
			wantAllow: true, wantStatus: 200},
		{name: "second allowed origin", origins: []string{"https://a.example", allowed},
			method: "GET", origin: allowed, wantAllow: true, wantStatus: 200},
		{name: "other origin", origins: []string{allowed}, method: "GET",
			origin: "https://evil.example", wantStatus: 200},
		{name: "suffix trick", origins: []string{allowed}, method: "GET",
			origin: allowed + ".evil.example", wantStatus: 200},
		{name: "case variant", origins: []string{allowed}, method: "GET",
			origin: "HTTPS://CONSOLE.EXAMPLE", wantStatus: 200},
		{name: "null origin", origins: []string{allowed}, method: "GET", origin: "null",
			wantStatus: 200},
		{name: "no allowlist", method: "GET", origin: allowed, wantStatus: 200},
		{name: "no origin", origins: []string{allowed}, method: "GET", wantStatus: 200},
		{name: "preflight", origins: []string{allowed}, method: "OPTIONS", origin: allowed,
			preflight: true, wantAllow: true, wantStatus: 204},
		{name: "preflight from another origin", origins: []string{allowed}, method: "OPTIONS",
			origin: "https://evil.example", preflight: true, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := web.New(newMemService("acme-corp"), web.Options{CORSOrigins: tt.origins})
			r := newRequest(tt.method, "/v1/tenants", "")
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "PATCH")
				r.Header.Set("Access-Control-Request-Headers", "content-type")
			}
			rec := serve(srv, r)
			h := rec.Header()
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			acao := h.Get("Access-Control-Allow-Origin")
			if !tt.wantAllow {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("%s = %q for an origin not on the list", k, h.Get(k))
					}
				}
				return
			}
			if acao != tt.origin || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("Allow-Origin %q Allow-Credentials %q, want %q and true", acao,
					h.Get("Access-Control-Allow-Credentials"), tt.origin)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q, want Origin", h.Values("Vary"))
			}
			if !tt.preflight {
				return
			}
			if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PATCH") {
				t.Errorf("Allow-Methods = %q, want PATCH", m)
			}
			if hd := h.Get("Access-Control-Allow-Headers"); !strings.Contains(hd,
				"Content-Type") {
				t.Errorf("Allow-Headers = %q, want Content-Type", hd)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("preflight body %q", rec.Body.String())
			}
		})
	}
}
