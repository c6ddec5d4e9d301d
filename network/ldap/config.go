package ldap

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config says how to reach and bind to a domain controller. Plain ldap:// is allowed (labs);
// production sources should use ldaps:// or StartTLS with CAFile/CAPEM or Pin.
type Config struct {
	// URL is "ldap://host[:port]" or "ldaps://host[:port]".
	URL string
	// BindDN is a DN, a UPN ("user@corp.example") or DOMAIN\user for a simple bind; with
	// NTLMDomain set it is the NTLM user name. Empty binds anonymously.
	BindDN   string
	Password string
	// NTLMDomain selects an NTLM bind (go-ldap NTLMBind) as NTLMDomain\BindDN.
	NTLMDomain string
	// BaseDN is the domain's naming context; empty reads defaultNamingContext from the
	// rootDSE.
	BaseDN string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// CAFile or CAPEM (PEM certificates) verify the server against these CAs instead of the
	// system's.
	CAFile string
	CAPEM  []byte
	// Pin is the SHA-256 of the server certificate's SubjectPublicKeyInfo, hex (colons
	// allowed) or base64, optionally prefixed "sha256/" or "sha256//". With a pin the chain
	// and name are not checked: the key is.
	Pin string
	// ServerName is the name to verify the certificate against; default the URL's host.
	ServerName string
	// DialTimeout bounds connecting and the TLS handshake (default 10 s); Timeout bounds
	// each request (default 60 s).
	DialTimeout time.Duration
	Timeout     time.Duration
	// PageSize is the paged-results page size (default 500).
	PageSize uint32
	// SizeLimit asks the server to stop each search after this many entries (0: no limit).
	SizeLimit int
	// StaleDays is the logon window for the Stale flags (default 90).
	StaleDays int
	// Now is the clock Stale is decided against (default time.Now).
	Now func() time.Time
}

// Defaults.
const (
	DefaultPageSize    = 500
	DefaultStaleDays   = 90
	defaultDialTimeout = 10 * time.Second
	defaultTimeout     = 60 * time.Second
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("ldap: invalid configuration")

// server is a validated endpoint.
type server struct {
	host   string // without port, for the certificate name
	addr   string // host:port
	useTLS bool   // ldaps://
}

func (c *Config) withDefaults() (Config, server, error) {
	cfg := *c
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.StaleDays <= 0 {
		cfg.StaleDays = DefaultStaleDays
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return cfg, server{}, fmt.Errorf("%w: URL %q is not ldap://host or ldaps://host",
			ErrConfig, cfg.URL)
	}
	var s server
	switch strings.ToLower(u.Scheme) {
	case "ldap":
		s.addr = hostPort(u, "389")
	case "ldaps":
		s.addr, s.useTLS = hostPort(u, "636"), true
		if cfg.StartTLS {
			return cfg, s, fmt.Errorf("%w: StartTLS is for ldap:// URLs, not ldaps://",
				ErrConfig)
		}
	default:
		return cfg, s, fmt.Errorf("%w: URL scheme %q: use ldap:// or ldaps://", ErrConfig,
			u.Scheme)
	}
	s.host = u.Hostname()
	if cfg.NTLMDomain != "" && cfg.BindDN == "" {
		return cfg, s, fmt.Errorf("%w: NTLM bind needs a user name", ErrConfig)
	}
	if cfg.BindDN != "" && cfg.Password == "" {
		return cfg, s, fmt.Errorf("%w: bind as %s needs a password", ErrConfig, cfg.BindDN)
	}
	if cfg.Pin != "" {
		if _, err := parsePin(cfg.Pin); err != nil {
			return cfg, s, err
		}
	}
	return cfg, s, nil
}

func hostPort(u *url.URL, port string) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// parsePin accepts hex (with or without colons) or base64 (standard or URL, padded or not).
func parsePin(pin string) ([]byte, error) {
	p := strings.TrimSpace(pin)
	for _, pre := range []string{"sha256//", "sha256/", "sha256:"} {
		if len(p) > len(pre) && strings.EqualFold(p[:len(pre)], pre) {
			p = p[len(pre):]
			break
		}
	}
	if h := strings.ReplaceAll(p, ":", ""); len(h) == 64 {
		if b, err := hex.DecodeString(h); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(p); err == nil && len(b) == sha256.Size {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: pin is not a SHA-256 in hex or base64 (64 hex digits or "+
		"44 base64 characters)", ErrConfig)
}

// ErrPin is wrapped when the server's key does not match the configured pin.
var ErrPin = errors.New("ldap: server certificate does not match the pin")

// tlsConfig verifies the server by pin, by the configured CAs, or by the system's roots.
func (c *Config) tlsConfig(s server) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.host}
	if c.ServerName != "" {
		tc.ServerName = c.ServerName
	}
	if c.Pin != "" {
		want, err := parsePin(c.Pin)
		if err != nil {
			return nil, err
		}
		// The pin replaces chain and name verification: it names the exact key.
		tc.InsecureSkipVerify = true //nolint:gosec // VerifyConnection checks the pin
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: the server sent no certificate", ErrPin)
			}
			got := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
			if !bytes.Equal(got[:], want) {
				return fmt.Errorf("%w: its SPKI SHA-256 is %s; check the pin or the server",
					ErrPin, hex.EncodeToString(got[:]))
			}
			return nil
		}
		return tc, nil
	}
	pem := c.CAPEM
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %w", ErrConfig, err)
		}
		pem = append(append([]byte(nil), pem...), b...)
	}
	if len(pem) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: the CA file holds no PEM certificate", ErrConfig)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
