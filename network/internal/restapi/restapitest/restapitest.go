// Package restapitest owns the test stand-ins the REST collectors share: a loopback TLS
// server with a certificate of its own, a replay device that records what it was asked and
// lets a test take over a path, misbehaving handlers, a log sink safe for concurrent use,
// and fuzz seeds from recorded responses. It is imported by tests only.
package restapitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NewTLSServer starts h over TLS on loopback with a self-signed certificate of its own for
// commonName and 127.0.0.1 (httptest's built-in one is shared by every server, which would
// make a "wrong CA" the right one). The server closes when the test ends.
func NewTLSServer(t testing.TB, commonName string, h http.Handler) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: commonName},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der},
		PrivateKey: key}}}
	// Refused handshakes are the point of some tests; the server need not log them.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// CAFile writes srv's certificate as PEM into a file named name in a temporary directory,
// as an operator would export it, and returns its path.
func CAFile(t testing.TB, srv *httptest.Server, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Replay is a device stand-in over TLS on loopback. It records the time of every request
// and the last query by path, and serves a path from the handler an override set for it,
// or else from the fallback.
type Replay struct {
	Server *httptest.Server

	fallback  http.HandlerFunc
	mu        sync.Mutex
	overrides map[string]http.HandlerFunc
	hits      map[string][]time.Time
	queries   map[string]string
}

// NewReplay starts a Replay whose certificate names commonName; fallback serves every path
// without an override.
func NewReplay(t testing.TB, commonName string, fallback http.HandlerFunc) *Replay {
	t.Helper()
	r := &Replay{fallback: fallback, overrides: map[string]http.HandlerFunc{},
		hits: map[string][]time.Time{}, queries: map[string]string{}}
	r.Server = NewTLSServer(t, commonName, http.HandlerFunc(r.serve))
	return r
}

func (r *Replay) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hits[req.URL.Path] = append(r.hits[req.URL.Path], time.Now())
	r.queries[req.URL.Path] = req.URL.RawQuery
	h := r.overrides[req.URL.Path]
	r.mu.Unlock()
	if h == nil {
		h = r.fallback
	}
	h(w, req)
}

// Override serves path from h from now on.
func (r *Replay) Override(path string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.overrides[path] = h
}

// Count is how many requests path received.
func (r *Replay) Count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hits[path])
}

// Hits are the times path was requested, in order.
func (r *Replay) Hits(path string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hits[path])
}

// Query is the raw query of the last request for path.
func (r *Replay) Query(path string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries[path]
}

// Truncated declares a JSON body longer than it sends (half of body), then drops the
// connection.
func Truncated(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" +
			string(body[:len(body)/2]))
		_ = rw.Flush()
	}
}

// Logs collects log lines from concurrent requests.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

// Logger logs everything, debug included, as JSON into l.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// DiffJSON fails t, showing both as indented JSON, when got and want differ.
func DiffJSON(t testing.TB, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Errorf("mismatch\n got: %s\nwant: %s", g, w)
}

// AddFileSeeds adds every file matching pattern, whole and cut in half, to f's corpus.
func AddFileSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
}

// ErrorWant is what a test expects of an error a collector returned.
type ErrorWant struct {
	Secrets   []string // none may appear in the message
	Forbidden string   // characters that may not appear: "\n" keeps the message one line
	Sentinel  error    // the error must wrap it; nil checks nothing
	Contains  string   // the message must contain it
}

// CheckError fails t unless err is not nil and meets w.
func CheckError(t testing.TB, err error, w ErrorWant) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range w.Secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
	if w.Forbidden != "" && strings.ContainsAny(err.Error(), w.Forbidden) {
		t.Errorf("error is not one printable line: %q", err)
	}
	if w.Sentinel != nil && !errors.Is(err, w.Sentinel) {
		t.Errorf("error %v does not wrap %v", err, w.Sentinel)
	}
	if !strings.Contains(err.Error(), w.Contains) {
		t.Errorf("error %q does not contain %q", err, w.Contains)
	}
}

// CheckHits fails t unless path received want requests; want 0 checks nothing.
func (r *Replay) CheckHits(t testing.TB, path string, want int) {
	t.Helper()
	if n := r.Count(path); want > 0 && n != want {
		t.Errorf("%s requested %d times, want %d", path, n, want)
	}
}

// CheckRetriedAfter fails t unless path received two requests at least gap apart: a client
// must not retry before the Retry-After the server asked for (gap is that, less timer slop).
func (r *Replay) CheckRetriedAfter(t testing.TB, path string, gap time.Duration) {
	t.Helper()
	hits := r.Hits(path)
	if len(hits) != 2 {
		t.Fatalf("%d requests, want 2", len(hits))
	}
	// A lower bound only: timing above it depends on the machine.
	if d := hits[1].Sub(hits[0]); d < gap {
		t.Errorf("retried after %v, before Retry-After allowed (at least %v)", d, gap)
	}
}
