package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock for Config.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// logBuffer collects log output; safe for the background goroutines that log.
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

func testLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func newManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, _ := newManagerLog(t, cfg)
	return m
}

// newManagerLog is newManager that also returns what the Manager logged.
func newManagerLog(t *testing.T, cfg Config) (*Manager, *logBuffer) {
	t.Helper()
	log, buf := testLogger()
	m, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Stop)
	return m, buf
}

// serveTLS serves h over TLS with cfg on a loopback port and returns the address.
func serveTLS(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
}

func caPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return pool
}

func dialTLS(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	conn, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	acme := func(mod func(*Config)) Config {
		c := Config{Mode: ModeACME, Dir: dir, Domain: "tenantra.example", Email: "ops@example.com"}
		mod(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; empty means valid
	}{
		{"zero with dir is self-signed", Config{Dir: dir}, ""},
		{"explicit self-signed", Config{Mode: ModeSelfSigned, Dir: dir, MinVersion: "1.2"}, ""},
		{"hosts with IPs", Config{Dir: dir, Hosts: []string{"a.example", "10.0.0.1", "::1",
			"*.b.example"}}, ""},
		{"unknown mode", Config{Mode: "letsencrypt", Dir: dir}, `unknown --tls "letsencrypt"`},
		{"mode case matters", Config{Mode: "ACME", Dir: dir}, "unknown --tls"},
		{"min version 1.1", Config{Dir: dir, MinVersion: "1.1"}, "unsupported --tls-min"},
		{"min version junk", Config{Dir: dir, MinVersion: "tls1.3"}, "use 1.3 (default) or 1.2"},
		{"self-signed without dir", Config{}, "no certificate directory"},
		{"host with scheme", Config{Dir: dir, Hosts: []string{"https://x.example"}},
			"bad --tls-hosts entry"},
		{"host with port", Config{Dir: dir, Hosts: []string{"x.example:8443"}},
			"bad --tls-hosts entry"},
		{"empty host", Config{Dir: dir, Hosts: []string{""}}, "bad --tls-hosts entry"},
		{"host path traversal", Config{Dir: dir, Hosts: []string{"../../etc/passwd"}},
			"bad --tls-hosts entry"},
		{"host invalid utf-8", Config{Dir: dir, Hosts: []string{"a\xffb"}},
			"bad --tls-hosts entry"},
		{"host huge", Config{Dir: dir, Hosts: []string{strings.Repeat("a", 300)}},
			"longer than 253"},
		{"acme ok", acme(func(*Config) {}), ""},
		{"acme several domains", acme(func(c *Config) { c.Domain = "a.example, b.example" }), ""},
		{"acme private CA", acme(func(c *Config) { c.CA = "https://127.0.0.1:14000/dir" }), ""},
		{"acme without domain", acme(func(c *Config) { c.Domain = "" }), "needs --domain"},
		{"acme only commas", acme(func(c *Config) { c.Domain = " , ," }), "needs --domain"},
		{"acme domain with path", acme(func(c *Config) { c.Domain = "a.example/x" }),
			"bad --domain entry"},
		{"acme without email", acme(func(c *Config) { c.Email = "" }), "needs --acme-email"},
		{"acme bad email", acme(func(c *Config) { c.Email = "ops" }), "not an email address"},
		{"acme http CA", acme(func(c *Config) { c.CA = "http://ca.example/dir" }),
			"not an https URL"},
		{"acme without dir", acme(func(c *Config) { c.Dir = "" }), "no certificate directory"},
		{"acme bad http addr", acme(func(c *Config) { c.HTTPAddr = "80" }), "bad --http-listen"},
		{"acme bad https port", acme(func(c *Config) { c.HTTPSAddr = ":99999" }),
			"bad --listen"},
		{"files ok", Config{Mode: ModeFiles, CertFile: "c.pem", KeyFile: "k.pem"}, ""},
		{"files without key", Config{Mode: ModeFiles, CertFile: "c.pem"},
			"needs both --tls-cert and --tls-key"},
		{"files without cert", Config{Mode: ModeFiles, KeyFile: "k.pem"},
			"needs both --tls-cert and --tls-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "tls: ") {
				t.Errorf("error %q does not start with the package prefix", err)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(context.Background(), Config{Mode: "bogus"}, nil)
	if err == nil || !strings.Contains(err.Error(), "unknown --tls") {
		t.Fatalf("New() error = %v, want the Validate error", err)
	}
}

// TestTLSVersions is the main requirement: TLS 1.3 only by default, 1.2 on request,
// never older.
func TestTLSVersions(t *testing.T) {
	tests := []struct {
		name       string
		minVersion string
		clientMax  uint16
		wantVer    uint16 // 0 means the handshake must fail
	}{
		{"default speaks 1.3", "", tls.VersionTLS13, tls.VersionTLS13},
		{"default refuses 1.2", "", tls.VersionTLS12, 0},
		{"default refuses 1.1", "", tls.VersionTLS11, 0},
		{"1.3 refuses 1.2", "1.3", tls.VersionTLS12, 0},
		{"1.2 prefers 1.3", "1.2", tls.VersionTLS13, tls.VersionTLS13},
		{"1.2 accepts 1.2", "1.2", tls.VersionTLS12, tls.VersionTLS12},
		{"1.2 refuses 1.1", "1.2", tls.VersionTLS11, 0},
		{"1.2 refuses 1.0", "1.2", tls.VersionTLS10, 0},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, Config{Dir: dir, MinVersion: tt.minVersion})
			addr := serveTLS(t, m.TLSConfig(), okHandler())
			st, err := dialTLS(addr, &tls.Config{
				RootCAs:    caPool(t, filepath.Join(dir, caCertName)),
				ServerName: "localhost",
				MinVersion: tls.VersionTLS10,
				MaxVersion: tt.clientMax,
			})
			if tt.wantVer == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with version %x, want failure", st.Version)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if st.Version != tt.wantVer {
				t.Fatalf("negotiated %x, want %x", st.Version, tt.wantVer)
			}
		})
	}
}

func TestTLSConfigShape(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		minVersion  string
		wantSuites  bool
		wantVersion uint16
	}{
		{"", false, tls.VersionTLS13},
		{"1.2", true, tls.VersionTLS12},
	} {
		c := newManager(t, Config{Dir: dir, MinVersion: tt.minVersion}).TLSConfig()
		if c.MinVersion != tt.wantVersion {
			t.Errorf("MinVersion(%q) = %x, want %x", tt.minVersion, c.MinVersion, tt.wantVersion)
		}
		if got := strings.Join(c.NextProtos, ","); got != "h2,http/1.1" {
			t.Errorf("NextProtos = %s, want h2,http/1.1", got)
		}
		if (len(c.CipherSuites) > 0) != tt.wantSuites {
			t.Errorf("CipherSuites(%q) = %v", tt.minVersion, c.CipherSuites)
		}
		for _, id := range c.CipherSuites {
			name := tls.CipherSuiteName(id)
			if !strings.HasPrefix(name, "TLS_ECDHE_") || strings.Contains(name, "CBC") {
				t.Errorf("cipher suite %s is not forward-secret AEAD", name)
			}
		}
		if c.GetCertificate == nil || len(c.Certificates) != 0 {
			t.Error("TLSConfig must serve certificates through GetCertificate only")
		}
	}
}

func TestHTTPHandlerRedirects(t *testing.T) {
	m := newManager(t, Config{Dir: t.TempDir()})
	tests := []struct {
		name, method, host, target, httpsPort string
		wantCode                              int
		wantLocation                          string
	}{
		{"path and query kept", "GET", "tenantra.example", "/a/b?x=1&y=%2F", "8443", 308,
			"https://tenantra.example:8443/a/b?x=1&y=%2F"},
		{"http port dropped", "GET", "tenantra.example:8080", "/", "8443", 308,
			"https://tenantra.example:8443/"},
		{"default https port left out", "GET", "tenantra.example:80", "/x", "443", 308,
			"https://tenantra.example/x"},
		{"port with colon", "HEAD", "10.0.0.5", "/", ":9443", 308, "https://10.0.0.5:9443/"},
		{"ipv6", "GET", "[::1]:8080", "/z", "8443", 308, "https://[::1]:8443/z"},
		{"ipv6 default port", "GET", "[::1]", "/z", "", 308, "https://[::1]/z"},
		{"post keeps method via 308", "POST", "tenantra.example", "/v1/login", "8443", 308,
			"https://tenantra.example:8443/v1/login"},
		{"double slash stays on host", "GET", "tenantra.example", "//evil.example/x", "8443",
			308, "https://tenantra.example:8443//evil.example/x"},
		{"hostile host refused", "GET", "evil.example\"><script>", "/", "8443", 400, ""},
		{"userinfo host refused", "GET", "user@evil.example", "/", "8443", 400, ""},
		{"empty host refused", "GET", "", "/", "8443", 400, ""},
		{"zone refused", "GET", "[fe80::1%25eth0]:80", "/", "8443", 400, ""},
		{"challenge path in self-signed mode redirects", "GET", "tenantra.example",
			"/.well-known/acme-challenge/abc", "8443", 308,
			"https://tenantra.example:8443/.well-known/acme-challenge/abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://placeholder"+tt.target, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			m.HTTPHandler(tt.httpsPort).ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", w.Code, tt.wantCode)
			}
			if got := w.Header().Get("Location"); got != tt.wantLocation {
				t.Fatalf("Location %q, want %q", got, tt.wantLocation)
			}
			if tt.wantCode == 308 && w.Body.Len() != 0 {
				t.Fatalf("redirect has a body %q; it must serve no content", w.Body.String())
			}
		})
	}
}

func TestCAFingerprint(t *testing.T) {
	tests := []struct {
		der  []byte
		want string
	}{
		// sha256("") and sha256("abc"), as `openssl x509 -fingerprint -sha256` prints them.
		{nil, "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:" +
			"99:1B:78:52:B8:55"},
		{[]byte("abc"), "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:" +
			"7A:9C:B4:10:FF:61:F2:00:15:AD"},
	}
	for _, tt := range tests {
		if got := CAFingerprint(tt.der); got != tt.want {
			t.Errorf("CAFingerprint(%q) = %s, want %s", tt.der, got, tt.want)
		}
	}
}

func TestStartStop(t *testing.T) {
	m := newManager(t, Config{Dir: t.TempDir()})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	m.Stop()
	m.Stop() // idempotent
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
}

func TestZapBridgeScrubsEmail(t *testing.T) {
	tests := []struct{ email, in, want string }{
		{"ops@example.com", "users/ops@example.com/ops.json", "users/[email]/ops.json"},
		{"Ops@Example.com", "mailto:ops@example.com and OPS@EXAMPLE.COM",
			"mailto:[email] and [email]"},
		{"ops@example.com", "nothing here", "nothing here"},
		{"", "ops@example.com", "ops@example.com"},
		{"ops@example.com", "", ""},
	}
	for _, tt := range tests {
		c := &slogCore{email: tt.email}
		if got := c.scrub(tt.in); got != tt.want {
			t.Errorf("scrub(%q) with %q = %q, want %q", tt.in, tt.email, got, tt.want)
		}
	}
}
