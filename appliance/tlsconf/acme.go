package tlsconf

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
)

// acmeTLS1Protocol is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const acmeTLS1Protocol = "acme-tls/1"

// acmeSource is acme mode: certmagic obtains, stores (under Dir/acme) and renews the
// certificate. It has its own cache and config, never certmagic's package-level Default, so
// nothing is shared with other users of certmagic in the process.
type acmeSource struct {
	domains []string
	ca      string
	now     func() time.Time
	log     *slog.Logger

	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer

	stopOnce sync.Once
}

func newACMESource(_ context.Context, cfg Config, log *slog.Logger) (*acmeSource, error) {
	if err := ensureDir(cfg.Dir); err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if cfg.CARootFile != "" {
		data, err := os.ReadFile(cfg.CARootFile)
		if err != nil {
			return nil, fmt.Errorf("tls: cannot read --acme-ca-root %q: %w; give the path of "+
				"a PEM bundle of the ACME server's root certificates", cfg.CARootFile,
				unwrapPath(err))
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("tls: --acme-ca-root %q holds no PEM certificate; give a "+
				"file that starts with -----BEGIN CERTIFICATE-----", cfg.CARootFile)
		}
	}
	ca := cfg.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	zl := newZapLogger(log, cfg.Email)
	s := &acmeSource{domains: splitDomains(cfg.Domain), ca: ca, now: cfg.Now, log: log}

	// The cache asks for the config of each certificate it maintains; there is only one.
	var magic atomic.Pointer[certmagic.Config]
	s.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) {
			return magic.Load(), nil
		},
		Logger: zl,
	})
	s.magic = certmagic.New(s.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: filepath.Join(cfg.Dir, "acme")},
		// Stapling would make the appliance contact the CA's OCSP responder on its own;
		// browsers that care fetch OCSP themselves, and Let's Encrypt has ended OCSP anyway.
		OCSP:   certmagic.OCSPConfig{DisableStapling: true},
		Logger: zl,
		// Clients that connect by IP address send no SNI; serve them the certificate anyway
		// (with a name mismatch) rather than failing the handshake with no certificate.
		DefaultServerName: s.domains[0],
	})
	magic.Store(s.magic)

	tmpl := certmagic.ACMEIssuer{
		CA:                      ca,
		Email:                   cfg.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableTLSALPNChallenge: cfg.DisableTLSALPN,
		Logger:                  zl,
	}
	// When the appliance's own servers hold the challenge ports, the solvers find the ports
	// busy and leave answering to HTTPHandler (HTTP-01) and TLSConfig (TLS-ALPN-01), which
	// reach the same challenge state through certmagic.
	if cfg.HTTPAddr != "" {
		host, _, _ := net.SplitHostPort(cfg.HTTPAddr)
		tmpl.ListenHost = host
		tmpl.AltHTTPPort, _ = addrPort(cfg.HTTPAddr)
	}
	if cfg.HTTPSAddr != "" {
		if host, _, _ := net.SplitHostPort(cfg.HTTPSAddr); tmpl.ListenHost == "" {
			tmpl.ListenHost = host
		}
		tmpl.AltTLSALPNPort, _ = addrPort(cfg.HTTPSAddr)
	}
	s.issuer = certmagic.NewACMEIssuer(s.magic, tmpl)
	s.magic.Issuers = []certmagic.Issuer{s.issuer}
	return s, nil
}

// start obtains the certificate, or loads it from storage, before returning; certmagic's cache
// then renews it in the background.
func (s *acmeSource) start(ctx context.Context) error {
	s.log.Info("tls: obtaining ACME certificate", "domains", strings.Join(s.domains, ","),
		"ca", s.ca)
	if err := s.magic.ManageSync(ctx, s.domains); err != nil {
		return fmt.Errorf("tls: cannot obtain a certificate for %s from %s: %w; check that "+
			"the names resolve to this appliance and that ports 80/443 reach it, or use "+
			"--tls self-signed", strings.Join(s.domains, ", "), s.ca, err)
	}
	return nil
}

func (s *acmeSource) stop() {
	s.stopOnce.Do(s.cache.Stop)
}

func (s *acmeSource) banner() []string {
	lines := []string{fmt.Sprintf("TLS: ACME certificate for %s from %s",
		strings.Join(s.domains, ", "), s.ca)}
	if certs := s.cache.AllMatchingCertificates(s.domains[0]); len(certs) > 0 {
		if leaf := certs[0].Leaf; leaf != nil {
			lines = append(lines, "TLS: issuer "+leaf.Issuer.String()+", expires "+
				expiryText(leaf.NotAfter, s.now()))
		}
	}
	return lines
}
