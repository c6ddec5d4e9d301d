package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantra/tenantra/store/keys"
)

// File names inside Config.Dir for self-signed mode.
const (
	caCertName   = "ca.pem"
	caKeyName    = "ca.key"
	leafCertName = "server.pem"
	leafKeyName  = "server.key"
)

const (
	caLifetime = 10 * 365 * 24 * time.Hour
	// leafLifetime stays under the 398 days browsers accept for a server certificate, even one
	// from a locally trusted CA (Safari enforces it).
	leafLifetime = 397 * 24 * time.Hour
	// backdate covers clients whose clocks run a little behind ours.
	backdate = time.Hour
)

// selfSigned is the self-signed mode: a long-lived local CA that operators trust once, and a
// short-lived leaf it signs, reissued when the names change or expiry nears.
type selfSigned struct {
	dir   string
	hosts []string // normalised: lower-case names, canonical IP strings, no duplicates
	now   func() time.Time
	log   *slog.Logger

	caCert *x509.Certificate
	caKey  crypto.Signer

	mu  sync.Mutex // serialises reissuing so concurrent handshakes do not each write a leaf
	cur atomic.Pointer[tls.Certificate]
}

func newSelfSigned(cfg Config, log *slog.Logger) (*selfSigned, error) {
	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = defaultHosts()
	}
	s := &selfSigned{dir: cfg.Dir, hosts: normaliseHosts(hosts), now: cfg.Now, log: log}
	if err := ensureDir(cfg.Dir); err != nil {
		return nil, err
	}
	if err := s.loadOrCreateCA(); err != nil {
		return nil, err
	}
	if leaf, err := s.loadLeaf(); err != nil {
		// The leaf is disposable: any problem with it is fixed by issuing a new one.
		s.log.Info("tls: issuing a new self-signed leaf", "reason", err.Error())
	} else {
		s.cur.Store(leaf)
	}
	if reason := s.renewReason(s.cur.Load()); reason != "" {
		if err := s.issueLeaf(reason); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func defaultHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && checkHost(h) == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

func normaliseHosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		}
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: cannot create certificate directory %q: %w; check the data "+
			"dir's permissions", dir, err)
	}
	return nil
}

func (s *selfSigned) path(name string) string { return filepath.Join(s.dir, name) }

// loadOrCreateCA loads ca.pem and ca.key, or creates both when neither exists. Anything in
// between is an error and never a silent replacement: every client that trusts the CA would
// stop trusting the appliance.
func (s *selfSigned) loadOrCreateCA() error {
	certPEM, certErr := os.ReadFile(s.path(caCertName))
	keyPEM, keyErr := os.ReadFile(s.path(caKeyName))
	certMissing, keyMissing := errors.Is(certErr, fs.ErrNotExist), errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certMissing && keyMissing:
		return s.createCA()
	case certErr != nil && !certMissing:
		return fmt.Errorf("tls: cannot read local CA certificate %q: %w; fix its permissions",
			s.path(caCertName), unwrapPath(certErr))
	case keyErr != nil && !keyMissing:
		return fmt.Errorf("tls: cannot read local CA key %q: %w; fix its permissions",
			s.path(caKeyName), unwrapPath(keyErr))
	case certMissing:
		return fmt.Errorf("tls: local CA key %q exists but its certificate %q is missing; "+
			"restore %s, or move %s away to create a new CA (clients must then trust the "+
			"new one)", s.path(caKeyName), s.path(caCertName), caCertName, caKeyName)
	case keyMissing:
		return fmt.Errorf("tls: local CA certificate %q exists but its key %q is missing; "+
			"restore %s, or move %s away to create a new CA (clients must then trust the "+
			"new one)", s.path(caCertName), s.path(caKeyName), caKeyName, caCertName)
	}
	corrupt := func(name string, err error) error {
		return fmt.Errorf("tls: local CA file %q is corrupt: %w; restore it from a backup, or "+
			"move ca.pem and ca.key away to create a new CA (clients must then trust the new "+
			"one)", s.path(name), err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return corrupt(caCertName, err)
	}
	if !cert.IsCA {
		return corrupt(caCertName, errors.New("certificate is not a CA"))
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return corrupt(caKeyName, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return corrupt(caKeyName, fmt.Errorf("key does not belong to %s", caCertName))
	}
	if now := s.now(); !now.Before(cert.NotAfter) {
		return fmt.Errorf("tls: local CA %q expired on %s; move ca.pem and ca.key away to "+
			"create a new CA (clients must then trust the new one)", s.path(caCertName),
			cert.NotAfter.UTC().Format(time.DateOnly))
	}
	warnLoosePerms(s.log, s.path(caKeyName))
	s.caCert, s.caKey = cert, key
	return nil
}

func (s *selfSigned) createCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: generate local CA key: %w", err)
	}
	// The random suffix tells apart the CAs of several appliances in a browser's trust store.
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("tls: generate local CA name: %w", err)
	}
	now := s.now()
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Tenantra Local CA " + hex.EncodeToString(suffix),
			Organization: []string{"Tenantra"},
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("tls: create local CA certificate: %w", err)
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return err
	}
	// Key first: a crash between the writes leaves a key without a certificate, which New
	// reports, rather than a certificate whose key is lost.
	if err := writeFileAtomic(s.dir, caKeyName, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(s.dir, caCertName, certPEMBytes(der), 0o644); err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("tls: parse new local CA certificate: %w", err)
	}
	s.caCert, s.caKey = cert, key
	s.log.Info("tls: created a local CA; clients must trust it to reach the console "+
		"without warnings", "ca_file", s.path(caCertName), "sha256", CAFingerprint(der))
	return nil
}

// loadLeaf reads server.pem and server.key; an error only means a new leaf is needed.
func (s *selfSigned) loadLeaf() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(s.path(leafCertName))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", leafCertName, unwrapPath(err))
	}
	keyPEM, err := os.ReadFile(s.path(leafKeyName))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", leafKeyName, unwrapPath(err))
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", leafCertName, leafKeyName, err)
	}
	return &c, nil
}

// renewReason says why leaf must be reissued, or "" when it is fine.
func (s *selfSigned) renewReason(leaf *tls.Certificate) string {
	if leaf == nil || leaf.Leaf == nil {
		return "no leaf certificate"
	}
	l := leaf.Leaf
	if err := l.CheckSignatureFrom(s.caCert); err != nil {
		return "leaf not signed by the current local CA"
	}
	if !slices.Equal(leafHosts(l), sortedCopy(s.hosts)) {
		return "host names changed"
	}
	now := s.now()
	if !now.Before(renewAt(l)) {
		// A leaf already cut short by the CA's own expiry cannot get any longer; reissuing
		// it would repeat on every handshake, so leave it and let check warn about the CA.
		if !l.NotAfter.Before(s.caCert.NotAfter) {
			return ""
		}
		return "leaf expires soon"
	}
	return ""
}

// renewAt is when a leaf is due: a third of its lifetime before expiry (132 days for a
// 397-day leaf), early enough that an appliance left off for months comes back valid.
func renewAt(l *x509.Certificate) time.Time {
	return l.NotAfter.Add(-l.NotAfter.Sub(l.NotBefore) / 3)
}

func leafHosts(l *x509.Certificate) []string {
	var out []string
	for _, n := range l.DNSNames {
		out = append(out, strings.ToLower(n))
	}
	for _, ip := range l.IPAddresses {
		out = append(out, ip.String())
	}
	return sortedCopy(out)
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *selfSigned) issueLeaf(reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Another handshake may have reissued while this one waited for the lock.
	if cur := s.cur.Load(); cur != nil && s.renewReason(cur) == "" {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: generate leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	now := s.now()
	notAfter := now.Add(leafLifetime)
	if notAfter.After(s.caCert.NotAfter) {
		notAfter = s.caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.hosts[0], Organization: []string{"Tenantra"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range s.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.caCert, key.Public(), s.caKey)
	if err != nil {
		return fmt.Errorf("tls: sign leaf certificate: %w", err)
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("tls: parse new leaf certificate: %w", err)
	}
	// The key goes first so that server.pem never names a key that is not on disk yet; a
	// crash in between leaves a mismatched pair, which the next start simply reissues.
	if err := writeFileAtomic(s.dir, leafKeyName, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(s.dir, leafCertName, certPEMBytes(der), 0o644); err != nil {
		return err
	}
	s.cur.Store(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf})
	s.log.Info("tls: issued self-signed leaf", "reason", reason,
		"names", strings.Join(s.hosts, ","), "expires", leaf.NotAfter.UTC())
	return nil
}

// getCertificate also renews at handshake time, so a leaf that expired while the machine was
// suspended (and the hourly check had no chance to run) is replaced on first use.
func (s *selfSigned) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cur := s.cur.Load()
	if reason := s.renewReason(cur); reason != "" {
		if err := s.issueLeaf(reason); err != nil {
			s.log.Error("tls: cannot renew self-signed leaf; serving the old one", "err", err)
		}
		cur = s.cur.Load()
	}
	if cur == nil {
		return nil, errors.New("tls: no certificate")
	}
	return cur, nil
}

func (s *selfSigned) check() {
	if reason := s.renewReason(s.cur.Load()); reason != "" {
		if err := s.issueLeaf(reason); err != nil {
			s.log.Error("tls: cannot renew self-signed leaf; serving the old one", "err", err)
		}
	}
	if left := s.caCert.NotAfter.Sub(s.now()); left < leafLifetime/3 {
		s.log.Warn("tls: the local CA expires soon; move ca.pem and ca.key away and restart "+
			"to create a new CA (clients must then trust the new one)",
			"ca_file", s.path(caCertName), "expires", s.caCert.NotAfter.UTC())
	}
}

func (s *selfSigned) banner() []string {
	now := s.now()
	lines := []string{
		"TLS: self-signed certificate from the appliance's local CA",
		"TLS: CA certificate (install it in browsers to trust the console): " +
			s.path(caCertName),
		"TLS: CA SHA-256 fingerprint: " + CAFingerprint(s.caCert.Raw),
	}
	if cur := s.cur.Load(); cur != nil && cur.Leaf != nil {
		lines = append(lines, fmt.Sprintf("TLS: certificate for %s, expires %s",
			strings.Join(s.hosts, ", "), expiryText(cur.Leaf.NotAfter, now)))
	}
	return lines
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tls: generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func certPEMBytes(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func marshalKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tls: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCertPEM returns the first certificate of a PEM file.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// parseKeyPEM returns the first private key of a PEM file in any of the usual encodings.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key block")
		}
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted; decrypt it (openssl pkey)")
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			signer, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported private key type %T", k)
			}
			return signer, nil
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		}
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

// writeFileAtomic writes dir/name through keys.WriteFileAtomic (temporary file, sync, rename),
// so a crash never leaves a half-written certificate or key behind.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) error {
	if err := keys.WriteFileAtomic(filepath.Join(dir, name), data, perm); err != nil {
		return fmt.Errorf("tls: write %q: %w; check free space and the directory's permissions",
			filepath.Join(dir, name), unwrapPath(err))
	}
	return nil
}

func warnLoosePerms(log *slog.Logger, path string) {
	if runtime.GOOS == "windows" {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("tls: private key is readable by other users; run chmod 600 on it",
			"file", path, "mode", fi.Mode().Perm().String())
	}
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats a path the caller's message
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// pemHasBlock reports whether data holds a PEM block of one of the given types.
func pemHasBlock(data []byte, types ...string) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if slices.Contains(types, b.Type) {
			return true
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return false
		}
	}
}
