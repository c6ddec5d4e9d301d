package restapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// newHTTPClient builds the HTTP client for one device: TLS 1.2+, trust from the CA file
// and/or pin, no proxy (collectors talk to devices on the tenant's network directly) and no
// redirects (a redirect means the URL is not the REST API, and following it could carry the
// Authorization header elsewhere).
func newHTTPClient(tr Trust, l Limits, errs Sentinels) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.CAFile != "" || len(tr.CAPEM) > 0 {
		pem := tr.CAPEM
		if tr.CAFile != "" {
			b, err := os.ReadFile(tr.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%w: read CA file: %w", errs.Invalid, err)
			}
			pem = b
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate",
				errs.Invalid, tr.CAFile)
		}
		tc.RootCAs = pool
	}
	if tr.PinSHA256 != "" {
		pin, err := ParsePin(tr.PinSHA256)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errs.Invalid, err)
		}
		if tr.CAFile == "" && len(tr.CAPEM) == 0 {
			// The pin replaces chain and name verification: appliances ship self-signed
			// certificates for names nobody resolves, and the pin identifies this one.
			tc.InsecureSkipVerify = true //nolint:gosec // VerifyConnection checks the pin
		}
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: the server sent no certificate", errs.TLS)
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return fmt.Errorf("%w: certificate SHA-256 %s does not match the pin",
					errs.TLS, hex.EncodeToString(sum[:]))
			}
			return nil
		}
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: l.DialTimeout}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   l.DialTimeout,
		ResponseHeaderTimeout: l.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}
