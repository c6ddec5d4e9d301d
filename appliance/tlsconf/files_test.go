package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPair is a self-signed certificate and key in PEM, as an operator would supply.
type testPair struct {
	cert, key []byte
	leaf      *x509.Certificate
}

func makePair(t *testing.T, cn string, notBefore, notAfter time.Time) testPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testPair{cert: certPEMBytes(der), key: keyPEM, leaf: leaf}
}

func validPair(t *testing.T, cn string) testPair {
	return makePair(t, cn, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFilesModeServesPair(t *testing.T) {
	dir := t.TempDir()
	p := validPair(t, "console.internal.example")
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writeFile(t, certFile, p.cert)
	writeFile(t, keyFile, p.key)
	m := newManager(t, Config{Mode: ModeFiles, CertFile: certFile, KeyFile: keyFile})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.TLSConfig(), okHandler())
	roots := x509.NewCertPool()
	roots.AddCert(p.leaf)
	st, err := dialTLS(addr, &tls.Config{RootCAs: roots, ServerName: "console.internal.example"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if !st.PeerCertificates[0].Equal(p.leaf) {
		t.Fatal("served certificate is not the configured one")
	}
	banner := strings.Join(m.Banner(), "\n")
	for _, want := range []string{certFile, "CN=console.internal.example",
		p.leaf.NotAfter.UTC().Format(time.RFC3339)} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}

func TestFilesModeErrors(t *testing.T) {
	good, other := validPair(t, "a.example"), validPair(t, "b.example")
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
	tests := []struct {
		name      string
		cert, key []byte // nil means the file does not exist
		want      []string
	}{
		{"missing cert", nil, good.key,
			[]string{`cannot read --tls-cert "`, "no such file",
				"give the path of a PEM certificate"}},
		{"missing key", good.cert, nil,
			[]string{`cannot read --tls-key "`, "no such file", "PEM private key"}},
		{"mismatched key", good.cert, other.key,
			[]string{"does not belong to the certificate", "CN=a.example", "give the key"}},
		{"garbage cert", []byte("hello\x00\xff"), good.key,
			[]string{"holds no PEM certificate", "-----BEGIN CERTIFICATE-----"}},
		{"corrupt cert body", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
			Bytes: []byte("nope")}), good.key, []string{"cannot parse the certificate"}},
		{"garbage key", good.cert, []byte("-----BEGIN NOTHING-----\n"),
			[]string{"--tls-key", "no PEM private key block"}},
		{"swapped files", good.key, good.cert,
			[]string{"holds no PEM certificate", "swapped"}},
		{"encrypted key", good.cert, encrypted, []string{"encrypted", "decrypt"}},
		{"empty cert", []byte{}, good.key, []string{"holds no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
			if tt.cert != nil {
				writeFile(t, certFile, tt.cert)
			}
			if tt.key != nil {
				writeFile(t, keyFile, tt.key)
			}
			_, err := New(context.Background(),
				Config{Mode: ModeFiles, CertFile: certFile, KeyFile: keyFile}, nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestFilesModeExpiredIsAWarning(t *testing.T) {
	dir := t.TempDir()
	p := makePair(t, "old.example", time.Now().Add(-100*24*time.Hour),
		time.Now().Add(-24*time.Hour))
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writeFile(t, certFile, p.cert)
	writeFile(t, keyFile, p.key)
	log, buf := testLogger()
	m, err := New(context.Background(),
		Config{Mode: ModeFiles, CertFile: certFile, KeyFile: keyFile}, log)
	if err != nil {
		t.Fatalf("an expired certificate must not be fatal: %v", err)
	}
	defer m.Stop()
	if out := buf.String(); !strings.Contains(out, "level=WARN") ||
		!strings.Contains(out, "expired") {
		t.Fatalf("no expiry warning logged:\n%s", out)
	}
	if !strings.Contains(strings.Join(m.Banner(), "\n"), "EXPIRED") {
		t.Error("banner does not say the certificate expired")
	}
}

// TestFilesModeReload replaces the files on disk the way an operator (or an external ACME
// client) does and checks that handshakes pick the new pair up, but not more often than the
// check interval and never with a half-replaced pair.
func TestFilesModeReload(t *testing.T) {
	dir, clock := t.TempDir(), newTestClock()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	first, second := validPair(t, "first.example"), validPair(t, "second.example")
	writeFile(t, certFile, first.cert)
	writeFile(t, keyFile, first.key)
	m := newManager(t, Config{Mode: ModeFiles, CertFile: certFile, KeyFile: keyFile,
		Now: clock.Now})

	// Mtimes are set explicitly so the test does not depend on file system granularity.
	touch := func(path string, d time.Duration) {
		t.Helper()
		mt := time.Now().Add(d)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		change  func()
		advance time.Duration
		wantCN  string
	}{
		{"unchanged", func() {}, time.Minute, "first.example"},
		{"only the cert replaced keeps the old pair", func() {
			writeFile(t, certFile, second.cert)
			touch(certFile, time.Minute)
		}, time.Minute, "first.example"},
		{"key replaced too, not yet checked", func() {
			writeFile(t, keyFile, second.key)
			touch(keyFile, 2*time.Minute)
		}, 10 * time.Second, "first.example"},
		{"picked up after the interval", func() {}, 25 * time.Second, "second.example"},
		{"files removed keeps serving", func() {
			_ = os.Remove(certFile)
		}, time.Minute, "second.example"},
	}
	for _, s := range steps {
		s.change()
		clock.Add(s.advance)
		if got := servedLeaf(t, m, "").Subject.CommonName; got != s.wantCN {
			t.Fatalf("%s: serving %s, want %s", s.name, got, s.wantCN)
		}
	}
}
