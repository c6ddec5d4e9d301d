// Package tlsconf owns the appliance's TLS modes: where the HTTPS console's certificate comes
// from and how it stays valid. It offers three modes:
//
//   - self-signed (the default): a local CA kept in the certs dir signs a leaf for the
//     appliance's names, so an operator trusts one CA certificate once and the leaf can be
//     reissued (new names, expiry) without touching browsers again;
//   - acme: certmagic obtains and renews a certificate from an ACME CA (Let's Encrypt by
//     default, or a private one such as Pebble or step-ca);
//   - files: a certificate and key the operator manages, reloaded when they change on disk.
//
// A Manager hands the HTTPS server a GetCertificate-based *tls.Config, runs the background
// renewal or reload checks between Start and Stop, and gives the plain-HTTP listener a handler
// that answers ACME HTTP-01 challenges and otherwise only redirects to HTTPS.
package tlsconf

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mode selects where the HTTPS certificate comes from.
type Mode string

// The TLS modes. The zero Mode means ModeSelfSigned.
const (
	ModeSelfSigned Mode = "self-signed"
	ModeACME       Mode = "acme"
	ModeFiles      Mode = "files"
)

// Config is the TLS part of the appliance configuration. The zero value plus Dir is a valid
// self-signed setup.
type Config struct {
	// Mode is the TLS mode; empty means ModeSelfSigned.
	Mode Mode
	// Dir is <data-dir>/certs. It is created 0700 and every private key in it is written 0600.
	// Self-signed mode keeps ca.pem, ca.key, server.pem and server.key here; acme mode keeps
	// certmagic's storage under Dir/acme.
	Dir string
	// Hosts are the names and IP addresses of the self-signed leaf. Empty means localhost,
	// 127.0.0.1, ::1 and the machine's host name.
	Hosts []string
	// MinVersion is the lowest TLS version accepted: "1.3" (default) or "1.2".
	MinVersion string

	// Domain is, in acme mode, the domain name(s) to obtain a certificate for; several may be
	// given separated by commas.
	Domain string
	// Email is the ACME account's contact address.
	Email string
	// CA is the ACME directory URL; empty means Let's Encrypt production.
	CA string
	// CARootFile is an optional PEM bundle of roots to trust when talking to the ACME server,
	// for private CAs whose certificate is not in the system pool.
	CARootFile string
	// HTTPAddr and HTTPSAddr are the addresses the appliance's own HTTP (--http-listen,
	// HTTPHandler) and HTTPS (--listen, TLSConfig) servers listen on. In acme mode they tell
	// certmagic's challenge solvers that the appliance already answers HTTP-01 and
	// TLS-ALPN-01 there; without them certmagic opens temporary listeners of its own on ports
	// 80 and 443 while solving.
	HTTPAddr, HTTPSAddr string
	// DisableTLSALPN turns off the TLS-ALPN-01 challenge, for when the HTTPS listener is not
	// what the CA reaches on port 443 (a TLS-terminating proxy in front, another port).
	DisableTLSALPN bool

	// CertFile and KeyFile are the PEM certificate (chain) and private key of files mode.
	CertFile, KeyFile string

	// Now is the clock; nil means time.Now. Tests inject one to drive renewal.
	Now func() time.Time
}

// Intervals of the background checks. Self-signed leaves live for a year, so an hourly check
// is plenty; operator-managed files may be replaced at any time, so they are looked at often,
// but no more than every 30 s so a busy server does not stat files on every handshake.
const (
	selfSignedCheckInterval = time.Hour
	filesCheckInterval      = 30 * time.Second
)

// Validate reports the first problem with c, naming the flag at fault and how to fix it. It
// reads no files: New does, and reports unreadable ones.
func (c Config) Validate() error {
	switch c.Mode {
	case "", ModeSelfSigned, ModeACME, ModeFiles:
	default:
		return fmt.Errorf("tls: unknown --tls %q; use self-signed, acme or files", c.Mode)
	}
	if _, err := parseMinVersion(c.MinVersion); err != nil {
		return err
	}
	switch c.mode() {
	case ModeSelfSigned:
		if c.Dir == "" {
			return errors.New("tls: no certificate directory; set the data dir (certs are kept " +
				"in <data-dir>/certs)")
		}
		for _, h := range c.Hosts {
			if err := checkHost(h); err != nil {
				return fmt.Errorf("tls: bad --tls-hosts entry %q: %w; give DNS names or IP "+
					"addresses, without scheme or port", h, err)
			}
		}
	case ModeACME:
		if c.Dir == "" {
			return errors.New("tls: no certificate directory; set the data dir (ACME state " +
				"is kept in <data-dir>/certs/acme)")
		}
		domains := splitDomains(c.Domain)
		if len(domains) == 0 {
			return errors.New("tls: --tls acme needs --domain; give the public DNS " +
				"name(s) of this appliance, comma-separated")
		}
		for _, d := range domains {
			if err := checkHost(d); err != nil {
				return fmt.Errorf("tls: bad --domain entry %q: %w; give DNS names without "+
					"scheme or port", d, err)
			}
		}
		if c.Email == "" {
			return errors.New("tls: --tls acme needs --acme-email; give the address " +
				"the CA may write to about this appliance's certificates")
		}
		if strings.ContainsAny(c.Email, " \t\r\n") || !strings.Contains(c.Email, "@") {
			return fmt.Errorf("tls: --acme-email %q is not an email address; give one like "+
				"ops@example.com", c.Email)
		}
		if c.CA != "" {
			u, err := url.Parse(c.CA)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("tls: --acme-ca %q is not an https URL; give the ACME "+
					"directory URL, e.g. https://acme.example.com/directory", c.CA)
			}
		}
		for _, a := range []struct{ flag, addr string }{
			{"--http-listen", c.HTTPAddr}, {"--listen", c.HTTPSAddr},
		} {
			if a.addr == "" {
				continue
			}
			if _, err := addrPort(a.addr); err != nil {
				return fmt.Errorf("tls: bad %s %q: %w; give host:port", a.flag, a.addr, err)
			}
		}
	case ModeFiles:
		if c.CertFile == "" || c.KeyFile == "" {
			return fmt.Errorf("tls: --tls files needs both --tls-cert and --tls-key "+
				"(got cert %q, key %q); give the paths of a PEM certificate and its key",
				c.CertFile, c.KeyFile)
		}
	}
	return nil
}

func (c Config) mode() Mode {
	if c.Mode == "" {
		return ModeSelfSigned
	}
	return c.Mode
}

func parseMinVersion(v string) (uint16, error) {
	switch v {
	case "", "1.3":
		return tls.VersionTLS13, nil
	case "1.2":
		return tls.VersionTLS12, nil
	}
	return 0, fmt.Errorf("tls: unsupported --tls-min %q; use 1.3 (default) or 1.2", v)
}

// checkHost accepts a DNS name (wildcards allowed) or an IP address. It is deliberately loose
// about DNS syntax: it only rejects what is surely a mistake (a URL, a port, spaces).
func checkHost(h string) error {
	if h == "" {
		return errors.New("empty name")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("name longer than 253 characters")
	}
	for _, r := range h {
		ok := r == '-' || r == '.' || r == '*' || r == '_' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		if !ok {
			return fmt.Errorf("character %q not allowed in a host name", r)
		}
	}
	if strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return errors.New("empty label")
	}
	return nil
}

func splitDomains(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func addrPort(addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number between 1 and 65535", port)
	}
	return p, nil
}

// certSource is one mode's certificate supply.
type certSource interface {
	getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// check renews or reloads when due; it logs instead of failing, because a certificate
	// that still works must keep being served.
	check()
	banner() []string
}

// Manager serves the appliance's TLS certificate in the configured mode and keeps it valid.
// Its methods are safe for concurrent use.
type Manager struct {
	mode       Mode
	minVersion uint16
	log        *slog.Logger
	src        certSource // self-signed or files
	acme       *acmeSource

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New validates cfg and prepares the certificate: in self-signed mode it creates or loads the
// local CA and the leaf, in files mode it loads the pair, in acme mode it sets up certmagic
// (the certificate itself is obtained by Start).
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	minVersion, _ := parseMinVersion(cfg.MinVersion)
	m := &Manager{mode: cfg.mode(), minVersion: minVersion, log: log.With("component", "tls")}
	var err error
	switch m.mode {
	case ModeSelfSigned:
		m.src, err = newSelfSigned(cfg, m.log)
	case ModeFiles:
		m.src, err = newFileSource(cfg, m.log)
	case ModeACME:
		m.acme, err = newACMESource(ctx, cfg, m.log)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// TLSConfig returns a fresh *tls.Config for the HTTPS server. Certificates come from
// GetCertificate, so renewals and reloads take effect without restarting the listener. In acme
// mode handshakes fail until Start has obtained the certificate.
func (m *Manager) TLSConfig() *tls.Config {
	c := &tls.Config{
		MinVersion: m.minVersion,
		NextProtos: []string{"h2", "http/1.1"},
	}
	if m.minVersion < tls.VersionTLS13 {
		// TLS 1.3 suites are not configurable; for 1.2 allow only forward-secret AEAD suites
		// (what Mozilla calls "intermediate"). The RSA ones stay for operator or ACME RSA keys,
		// and ECDHE-RSA-AES128-GCM must be present for HTTP/2.
		c.CipherSuites = []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		}
	}
	if m.acme != nil {
		c.GetCertificate = m.acme.magic.GetCertificate
		// certmagic answers TLS-ALPN-01 challenges on this protocol from GetCertificate.
		c.NextProtos = append(c.NextProtos, acmeTLS1Protocol)
	} else {
		c.GetCertificate = m.src.getCertificate
	}
	return c
}

// Start begins keeping the certificate valid. In acme mode it first obtains (or loads from
// storage) the certificate and returns only when it is ready, so the first visitor gets a
// valid one and configuration mistakes surface at once; certmagic then renews it in the
// background. Listen on Config.HTTPAddr and HTTPSAddr before calling Start, since the CA
// validates through those listeners. In the other modes Start begins the periodic renewal
// (self-signed) or reload (files) check. ctx bounds only the work Start itself does; the
// background work runs until Stop.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return errors.New("tls: Start after Stop; create a new Manager")
	}
	if m.started {
		m.mu.Unlock()
		return errors.New("tls: already started")
	}
	m.started = true
	m.mu.Unlock()

	if m.acme != nil {
		return m.acme.start(ctx)
	}
	interval := selfSignedCheckInterval
	if m.mode == ModeFiles {
		interval = filesCheckInterval
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	m.mu.Lock()
	m.cancel, m.done = cancel, done
	m.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-t.C:
				m.src.check()
			}
		}
	}()
	return nil
}

// Stop ends the background work and waits for it. It is idempotent.
func (m *Manager) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if m.acme != nil {
		m.acme.stop()
	}
}

// HTTPHandler is the handler for the plain-HTTP listener (--http-listen). In acme mode it
// answers HTTP-01 challenges; every other request gets a 308 redirect to the same host, path
// and query on httpsPort ("443" or "" leaves the port out). It never serves content, so
// nothing of the console is ever reachable without TLS.
func (m *Manager) HTTPHandler(httpsPort string) http.Handler {
	httpsPort = strings.TrimPrefix(httpsPort, ":")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.acme != nil && m.acme.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if host == "" || strings.Contains(host, "%") || checkHost(host) != nil {
			// Without a usable Host there is nowhere sane to redirect to; refusing is safer
			// than echoing an arbitrary header back into Location.
			http.Error(w, "use https", http.StatusBadRequest)
			return
		}
		target := host
		if httpsPort != "" && httpsPort != "443" {
			target = net.JoinHostPort(host, httpsPort)
		} else if strings.Contains(host, ":") {
			target = "[" + host + "]"
		}
		w.Header().Set("Location", "https://"+target+r.URL.RequestURI())
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// Banner returns the lines the server prints at start: what certificate it serves and, in
// self-signed mode, what an operator must trust (the CA file and its fingerprint).
func (m *Manager) Banner() []string {
	if m.acme != nil {
		return m.acme.banner()
	}
	return m.src.banner()
}

// CAFingerprint returns the SHA-256 fingerprint of a DER certificate as colon-separated
// upper-case hex, the form browsers and openssl show, so an operator can compare it by eye.
func CAFingerprint(certDER []byte) string {
	sum := sha256.Sum256(certDER)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// expiryText formats an expiry for banners and logs, with the days left because that is
// what an operator acts on.
func expiryText(notAfter, now time.Time) string {
	days := int(notAfter.Sub(now).Hours() / 24)
	if notAfter.Before(now) {
		return fmt.Sprintf("%s (EXPIRED)", notAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s (in %d days)", notAfter.UTC().Format(time.RFC3339), days)
}
