package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fileSource is files mode: a certificate and key the operator manages (an internal PKI, a
// certificate bought elsewhere). They are reloaded when either file changes, so renewing them
// needs no restart.
type fileSource struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger

	cur atomic.Pointer[tls.Certificate]

	// lastCheck (unix nanoseconds) is read without the lock so that handshakes between
	// checks cost one atomic load.
	lastCheck atomic.Int64

	mu        sync.Mutex // guards the stamps and serialises reloads
	certStamp fileStamp
	keyStamp  fileStamp
}

// fileStamp is what tells a changed file: editors and ACME clients either rewrite in place
// (size or mtime change) or rename a new file over the old one (mtime change).
type fileStamp struct {
	mtime time.Time
	size  int64
}

func newFileSource(cfg Config, log *slog.Logger) (*fileSource, error) {
	f := &fileSource{certFile: cfg.CertFile, keyFile: cfg.KeyFile, now: cfg.Now, log: log}
	cs, ks, err := f.stamps()
	if err != nil {
		return nil, err
	}
	c, err := loadPair(f.certFile, f.keyFile)
	if err != nil {
		return nil, err
	}
	f.warnValidity(c.Leaf)
	f.cur.Store(c)
	f.certStamp, f.keyStamp = cs, ks
	f.lastCheck.Store(f.now().UnixNano())
	return f, nil
}

func (f *fileSource) stamps() (cert, key fileStamp, err error) {
	stat := func(flag, path, what string) (fileStamp, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return fileStamp{}, fmt.Errorf("tls: cannot read %s %q: %w; give the path of %s",
				flag, path, unwrapPath(err), what)
		}
		return fileStamp{mtime: fi.ModTime(), size: fi.Size()}, nil
	}
	if cert, err = stat("--tls-cert", f.certFile, "a PEM certificate"); err != nil {
		return cert, key, err
	}
	key, err = stat("--tls-key", f.keyFile, "the certificate's PEM private key")
	return cert, key, err
}

// loadPair reads and checks a certificate and its key, with an error for each way an operator
// can get them wrong.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls: cannot read --tls-cert %q: %w; give the path of a PEM "+
			"certificate", certFile, unwrapPath(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: cannot read --tls-key %q: %w; give the path of the "+
			"certificate's PEM private key", keyFile, unwrapPath(err))
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		hint := ""
		if pemHasBlock(certPEM, "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY") {
			hint = " (it holds a private key: are --tls-cert and --tls-key swapped?)"
		}
		return nil, fmt.Errorf("tls: --tls-cert %q holds no PEM certificate%s; give a file "+
			"that starts with -----BEGIN CERTIFICATE-----", certFile, hint)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("tls: --tls-cert %q: cannot parse the certificate: %w; give a "+
			"valid PEM X.509 certificate", certFile, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: --tls-key %q: %w; give the certificate's unencrypted PEM "+
			"private key", keyFile, err)
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, fmt.Errorf("tls: --tls-key %q does not belong to the certificate in "+
			"--tls-cert %q (%s); give the key the certificate was issued for", keyFile,
			certFile, leaf.Subject)
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// warnValidity logs but does not fail: an expired certificate still lets an operator reach
// the console (past a browser warning) to fix things, which refusing to start would not.
func (f *fileSource) warnValidity(leaf *x509.Certificate) {
	now := f.now()
	switch {
	case now.After(leaf.NotAfter):
		f.log.Warn("tls: the --tls-cert certificate has expired; replace the files (they "+
			"are reloaded automatically)", "file", f.certFile, "expired", leaf.NotAfter.UTC())
	case now.Before(leaf.NotBefore):
		f.log.Warn("tls: the --tls-cert certificate is not valid yet; check the clock",
			"file", f.certFile, "not_before", leaf.NotBefore.UTC())
	}
}

// reloadIfChanged reloads the pair when either file changed since the last load. A pair that
// fails to load (for example, the certificate replaced but not the key yet) keeps the old one
// in service and is retried at the next check.
// The caller holds f.mu.
func (f *fileSource) reloadIfChanged() {
	f.lastCheck.Store(f.now().UnixNano())
	cs, ks, err := f.stamps()
	if err != nil {
		f.log.Error("tls: cannot check certificate files; serving the loaded one", "err", err)
		return
	}
	if cs == f.certStamp && ks == f.keyStamp {
		return
	}
	c, err := loadPair(f.certFile, f.keyFile)
	if err != nil {
		f.log.Error("tls: cannot reload changed certificate files; serving the loaded one",
			"err", err)
		return
	}
	f.warnValidity(c.Leaf)
	f.cur.Store(c)
	f.certStamp, f.keyStamp = cs, ks
	f.log.Info("tls: reloaded certificate files", "file", f.certFile,
		"subject", c.Leaf.Subject.String(), "expires", c.Leaf.NotAfter.UTC())
}

func (f *fileSource) due() bool {
	return f.now().UnixNano()-f.lastCheck.Load() >= int64(filesCheckInterval)
}

func (f *fileSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	// TryLock keeps handshakes from queueing behind a reload in progress: they serve the
	// current pair, and the reload's result is there for the next one.
	if f.due() && f.mu.TryLock() {
		if f.due() {
			f.reloadIfChanged()
		}
		f.mu.Unlock()
	}
	if c := f.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("tls: no certificate")
}

func (f *fileSource) check() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloadIfChanged()
}

func (f *fileSource) banner() []string {
	c := f.cur.Load()
	names := append(append([]string(nil), c.Leaf.DNSNames...), ipStrings(c.Leaf)...)
	return []string{
		"TLS: certificate from file " + f.certFile,
		fmt.Sprintf("TLS: subject %s, names %s, issuer %s", c.Leaf.Subject,
			strings.Join(names, ", "), c.Leaf.Issuer),
		"TLS: expires " + expiryText(c.Leaf.NotAfter, f.now()),
	}
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

var _ certSource = (*fileSource)(nil)
var _ certSource = (*selfSigned)(nil)
