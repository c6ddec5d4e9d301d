package tlsconf

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func servedLeaf(t *testing.T, m *Manager, serverName string) *x509.Certificate {
	t.Helper()
	c, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: serverName})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func caFingerprintOnDisk(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, caCertName))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCertPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return CAFingerprint(c.Raw)
}

// TestSelfSignedClientsVerifyAgainstCA checks what an operator relies on: once ca.pem is
// trusted, the console verifies by name and by IP address.
func TestSelfSignedClientsVerifyAgainstCA(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, Config{Dir: dir})
	addr := serveTLS(t, m.TLSConfig(), okHandler())
	_, port, _ := net.SplitHostPort(addr)
	roots := caPool(t, filepath.Join(dir, caCertName))
	for _, name := range []string{"localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			// ServerName set to the IP makes crypto/tls verify against the IP SANs.
			st, err := dialTLS(net.JoinHostPort("127.0.0.1", port),
				&tls.Config{RootCAs: roots, ServerName: name})
			if err != nil {
				t.Fatalf("handshake verifying %s against ca.pem: %v", name, err)
			}
			if st.NegotiatedProtocol != "h2" && st.NegotiatedProtocol != "" {
				t.Errorf("negotiated %q", st.NegotiatedProtocol)
			}
		})
	}
	t.Run("unknown name fails", func(t *testing.T) {
		_, err := dialTLS(addr, &tls.Config{RootCAs: roots, ServerName: "other.example"})
		if err == nil {
			t.Fatal("handshake for a name not in the leaf succeeded")
		}
	})
	t.Run("untrusted without the CA", func(t *testing.T) {
		_, err := dialTLS(addr, &tls.Config{ServerName: "localhost"})
		if err == nil {
			t.Fatal("handshake without trusting ca.pem succeeded")
		}
	})
}

func TestSelfSignedDefaultsAndBanner(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, Config{Dir: dir})
	leaf := servedLeaf(t, m, "")
	got := leafHosts(leaf)
	for _, want := range []string{"localhost", "127.0.0.1", "::1"} {
		if !slices.Contains(got, want) {
			t.Errorf("default leaf names %v lack %s", got, want)
		}
	}
	if h, err := os.Hostname(); err == nil && checkHost(h) == nil &&
		!slices.Contains(got, strings.ToLower(h)) {
		t.Errorf("default leaf names %v lack the host name %s", got, h)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 398*24*time.Hour {
		t.Errorf("leaf lifetime %v exceeds 398 days", life)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("leaf key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	banner := strings.Join(m.Banner(), "\n")
	for _, want := range []string{filepath.Join(dir, caCertName), caFingerprintOnDisk(t, dir),
		"localhost", leaf.NotAfter.UTC().Format(time.RFC3339)} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	ca := m.src.(*selfSigned).caCert
	if !strings.HasPrefix(ca.Subject.CommonName, "Tenantra Local CA ") || !ca.IsCA {
		t.Errorf("CA subject %q IsCA %v", ca.Subject.CommonName, ca.IsCA)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life < 9*365*24*time.Hour {
		t.Errorf("CA lifetime %v, want about 10 years", life)
	}
}

func TestSelfSignedRestartKeepsCAAndLeaf(t *testing.T) {
	dir := t.TempDir()
	m1 := newManager(t, Config{Dir: dir, Hosts: []string{"console.example", "10.1.2.3"}})
	fp1, leaf1 := caFingerprintOnDisk(t, dir), servedLeaf(t, m1, "console.example")
	m1.Stop()

	m2 := newManager(t, Config{Dir: dir, Hosts: []string{"10.1.2.3", "Console.Example"}})
	if fp2 := caFingerprintOnDisk(t, dir); fp2 != fp1 {
		t.Fatalf("CA fingerprint changed across restart: %s -> %s", fp1, fp2)
	}
	if leaf2 := servedLeaf(t, m2, "console.example"); leaf2.SerialNumber.Cmp(
		leaf1.SerialNumber) != 0 {
		t.Fatal("leaf reissued although names (in another order and case) did not change")
	}

	// New names: same CA, new leaf carrying exactly the new names.
	m3 := newManager(t, Config{Dir: dir, Hosts: []string{"new.example", "192.0.2.7"}})
	if fp3 := caFingerprintOnDisk(t, dir); fp3 != fp1 {
		t.Fatal("CA replaced when only the host names changed")
	}
	leaf3 := servedLeaf(t, m3, "new.example")
	if got := leafHosts(leaf3); !slices.Equal(got, []string{"192.0.2.7", "new.example"}) {
		t.Fatalf("reissued leaf names %v", got)
	}
	if len(leaf3.IPAddresses) != 1 || len(leaf3.DNSNames) != 1 {
		t.Fatalf("IP not an IP SAN: DNS %v IP %v", leaf3.DNSNames, leaf3.IPAddresses)
	}
	if err := leaf3.CheckSignatureFrom(m3.src.(*selfSigned).caCert); err != nil {
		t.Fatalf("reissued leaf not signed by the kept CA: %v", err)
	}
}

func TestSelfSignedRenewal(t *testing.T) {
	tests := []struct {
		name      string
		after     time.Duration // time past issuance
		viaTicker bool          // the periodic check instead of a handshake
		wantNew   bool
	}{
		{"fresh leaf kept", 24 * time.Hour, false, false},
		{"before renewal window kept", 250 * 24 * time.Hour, false, false},
		{"inside renewal window renewed at handshake", 300 * 24 * time.Hour, false, true},
		{"inside renewal window renewed by check", 380 * 24 * time.Hour, true, true},
		{"expired renewed", 400 * 24 * time.Hour, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, clock := t.TempDir(), newTestClock()
			m := newManager(t, Config{Dir: dir, Now: clock.Now})
			old := servedLeaf(t, m, "localhost")
			clock.Add(tt.after)
			var cur *x509.Certificate
			if tt.viaTicker {
				// Look at the stored leaf, not a handshake, which would renew by itself.
				m.src.check()
				cur = m.src.(*selfSigned).cur.Load().Leaf
			} else {
				cur = servedLeaf(t, m, "localhost")
			}
			renewed := cur.SerialNumber.Cmp(old.SerialNumber) != 0
			if renewed != tt.wantNew {
				t.Fatalf("renewed = %v, want %v (leaf expires %v, clock %v)", renewed,
					tt.wantNew, old.NotAfter, clock.Now())
			}
			if !tt.wantNew {
				return
			}
			if want := clock.Now().Add(leafLifetime); cur.NotAfter.Sub(want).Abs() > time.Minute {
				t.Errorf("renewed leaf expires %v, want about %v", cur.NotAfter, want)
			}
			onDisk, err := os.ReadFile(filepath.Join(dir, leafCertName))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, certPEMBytes(cur.Raw)) {
				t.Error("server.pem on disk is not the renewed leaf")
			}
			// A restart at the same time serves the renewed leaf without reissuing.
			again := servedLeaf(t, newManager(t, Config{Dir: dir, Now: clock.Now}), "localhost")
			if again.SerialNumber.Cmp(cur.SerialNumber) != 0 {
				t.Error("restart reissued the freshly renewed leaf")
			}
		})
	}
}

func TestSelfSignedFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	dir := filepath.Join(t.TempDir(), "certs")
	newManager(t, Config{Dir: dir})
	for name, want := range map[string]os.FileMode{
		".": 0o700, caKeyName: 0o600, leafKeyName: 0o600, caCertName: 0o644, leafCertName: 0o644,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %v, want %v", name, got, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestSelfSignedBadCA checks that a damaged CA is reported, never replaced: replacing it
// would silently break every client that trusts it.
func TestSelfSignedBadCA(t *testing.T) {
	otherKey := func() []byte {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p, err := marshalKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		damage func(dir string) error
		want   []string
	}{
		{"garbage ca.pem", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, caCertName), []byte("not a cert"), 0o644)
		}, []string{"ca.pem", "is corrupt", "move ca.pem and ca.key away", "trust the new one"}},
		{"truncated ca.pem", func(dir string) error {
			p := filepath.Join(dir, caCertName)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			cut := bytes.Replace(data, data[40:len(data)/2], nil, 1)
			return os.WriteFile(p, cut, 0o644)
		}, []string{"ca.pem", "is corrupt"}},
		{"garbage ca.key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, caKeyName), []byte("\x00\xff"), 0o600)
		}, []string{"ca.key", "is corrupt", "restore it from a backup"}},
		{"foreign ca.key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, caKeyName), otherKey(), 0o600)
		}, []string{"ca.key", "does not belong to ca.pem"}},
		{"leaf as ca.pem", func(dir string) error {
			data, err := os.ReadFile(filepath.Join(dir, leafCertName))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, caCertName), data, 0o644)
		}, []string{"ca.pem", "not a CA"}},
		{"ca.pem missing", func(dir string) error {
			return os.Remove(filepath.Join(dir, caCertName))
		}, []string{"ca.key", "exists but its certificate", "ca.pem", "is missing"}},
		{"ca.key missing", func(dir string) error {
			return os.Remove(filepath.Join(dir, caKeyName))
		}, []string{"ca.pem", "exists but its key", "is missing", "move ca.pem away"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			newManager(t, Config{Dir: dir}).Stop()
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir, caCertName, caKeyName)
			_, err := New(context.Background(), Config{Dir: dir}, nil)
			if err == nil {
				t.Fatal("New succeeded with a damaged CA")
			}
			for _, want := range append(tt.want, dir) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if after := snapshot(t, dir, caCertName, caKeyName); after != before {
				t.Error("the damaged CA files were modified")
			}
		})
	}
}

func snapshot(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		b.WriteString(n + "=" + string(data) + "\n")
	}
	return b.String()
}

func TestSelfSignedBadLeafIsReplaced(t *testing.T) {
	dir := t.TempDir()
	newManager(t, Config{Dir: dir}).Stop()
	fp := caFingerprintOnDisk(t, dir)
	if err := os.WriteFile(filepath.Join(dir, leafKeyName), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Config{Dir: dir})
	if err := servedLeaf(t, m, "localhost").CheckSignatureFrom(
		m.src.(*selfSigned).caCert); err != nil {
		t.Fatal(err)
	}
	if caFingerprintOnDisk(t, dir) != fp {
		t.Fatal("CA changed when only the leaf was damaged")
	}
}
