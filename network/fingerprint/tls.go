package fingerprint

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// CertInfo describes a server certificate: inventory, not trust, so nothing is verified
// against roots; expiry and self-signature are reported as facts.
type CertInfo struct {
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	DNSNames   []string  `json:"dns_names,omitempty"`
	IPs        []string  `json:"ips,omitempty"`
	Serial     string    `json:"serial"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	SelfSigned bool      `json:"self_signed"`
	KeyType    string    `json:"key_type"` // "RSA", "ECDSA", "Ed25519"
	KeyBits    int       `json:"key_bits,omitempty"`
	SigAlg     string    `json:"signature_algorithm"`
	ChainLen   int       `json:"chain_length"`
}

// Expired tells whether the certificate is outside its validity window at now.
func (c CertInfo) Expired(now time.Time) bool {
	return now.After(c.NotAfter) || now.Before(c.NotBefore)
}

// maxChain bounds how many certificates are parsed from one capture.
const maxChain = 10

// ParseCertificates describes the leaf of a chain captured as concatenated DER certificates,
// leaf first (as a TLS Certificate message lists them).
func ParseCertificates(captured []byte) (CertInfo, error) {
	certs, err := x509.ParseCertificates(captured)
	if err != nil {
		return CertInfo{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(certs) == 0 {
		return CertInfo{}, fmt.Errorf("%w: no certificate", ErrMalformed)
	}
	return describeCert(certs[0], min(len(certs), maxChain)), nil
}

func describeCert(c *x509.Certificate, chainLen int) CertInfo {
	info := CertInfo{
		Subject:   clean([]byte(c.Subject.String())),
		Issuer:    clean([]byte(c.Issuer.String())),
		Serial:    c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		SigAlg:    c.SignatureAlgorithm.String(),
		ChainLen:  chainLen,
	}
	for i, n := range c.DNSNames {
		if i == 32 {
			break
		}
		info.DNSNames = append(info.DNSNames, clean([]byte(n)))
	}
	for i, ip := range c.IPAddresses {
		if i == 32 {
			break
		}
		info.IPs = append(info.IPs, ip.String())
	}
	// Self-signed: issuer equals subject and the certificate's own key verifies it. Not
	// CheckSignatureFrom, which also demands CA flags that device certificates lack.
	if string(c.RawIssuer) == string(c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
		info.SelfSigned = true
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		info.KeyType, info.KeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		info.KeyType = "ECDSA"
		if k.Curve != nil {
			info.KeyBits = k.Curve.Params().BitSize
		}
	case ed25519.PublicKey:
		info.KeyType, info.KeyBits = "Ed25519", 256
	default:
		info.KeyType = c.PublicKeyAlgorithm.String()
	}
	return info
}

// TLSInfo is the result of probing a TLS port: which protocol versions the server accepts
// and the certificate it presents.
type TLSInfo struct {
	Versions    []string `json:"versions"` // accepted, newest first: "TLS1.3", …
	CipherSuite string   `json:"cipher_suite,omitempty"`
	ALPN        string   `json:"alpn,omitempty"`
	Cert        CertInfo `json:"cert"`
	Expired     bool     `json:"expired"`
}

var tlsVersions = []struct {
	v    uint16
	name string
}{
	{tls.VersionTLS13, "TLS1.3"}, {tls.VersionTLS12, "TLS1.2"},
	{tls.VersionTLS11, "TLS1.1"}, {tls.VersionTLS10, "TLS1.0"},
}

// TLSClient wraps conn in a TLS client for inventory: no verification, and every version
// and cipher suite Go still implements, because the point is to see what the server
// accepts. Go's defaults leave out TLS 1.0/1.1 and RSA key exchange; setting them
// explicitly re-enables them for this connection only.
func TLSClient(conn net.Conn, serverName string) *tls.Conn {
	return tls.Client(conn, inventoryConfig(serverName, tls.VersionTLS10, tls.VersionTLS13))
}

func inventoryConfig(serverName string, minV, maxV uint16) *tls.Config {
	var suites []uint16
	for _, cs := range tls.CipherSuites() {
		suites = append(suites, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		suites = append(suites, cs.ID)
	}
	return &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, //nolint:gosec // inventory: record, never trust
		MinVersion:         minV,
		MaxVersion:         maxV,
		CipherSuites:       suites,
		NextProtos:         []string{"h2", "http/1.1"},
	}
}

// GrabTLS handshakes once per protocol version (MinVersion = MaxVersion, a fresh connection
// each time, because a version is only proven accepted by a completed handshake) and
// describes the certificate of the newest accepted version. serverName is sent as SNI when
// not empty. now decides Expired; pass time.Now() outside tests.
func GrabTLS(ctx context.Context, dial Dialer, serverName string, lim Limits,
	now time.Time) (TLSInfo, error) {
	var info TLSInfo
	var firstErr error
	for _, v := range tlsVersions {
		state, err := handshake(ctx, dial, inventoryConfig(serverName, v.v, v.v), lim)
		if err != nil {
			if ctx.Err() != nil {
				return info, fmt.Errorf("tls: %w", ctx.Err())
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		info.Versions = append(info.Versions, v.name)
		if len(info.Versions) == 1 {
			info.CipherSuite = tls.CipherSuiteName(state.CipherSuite)
			info.ALPN = state.NegotiatedProtocol
			if len(state.PeerCertificates) > 0 {
				info.Cert = describeCert(state.PeerCertificates[0],
					min(len(state.PeerCertificates), maxChain))
				info.Expired = info.Cert.Expired(now)
			}
		}
	}
	if len(info.Versions) == 0 {
		return info, fmt.Errorf("tls: no version accepted: %w", firstErr)
	}
	return info, nil
}

func handshake(ctx context.Context, dial Dialer, cfg *tls.Config,
	lim Limits) (tls.ConnectionState, error) {
	lim = lim.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	raw, err := dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, fmt.Errorf("dial: %w", err)
	}
	defer raw.Close()
	// The handshake reads through a capped connection, so a peer streaming garbage cannot
	// make it buffer more than MaxBytes.
	tc := tls.Client(&cappedConn{Conn: raw, left: lim.MaxBytes}, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return tc.ConnectionState(), nil
}

// cappedConn fails reads once more than left bytes have been read.
type cappedConn struct {
	net.Conn
	left int
}

func (c *cappedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrTooLarge
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

// Service converts the result for the asset record. The name is "tls": the caller knows
// from the port or an HTTP grab whether it is "https", "ldaps" and so on.
func (i TLSInfo) Service(port int) Service {
	s := newService(port, "tls")
	s.Evidence["versions"] = strings.Join(i.Versions, ",")
	setEvidence(&s, "cipher_suite", i.CipherSuite)
	setEvidence(&s, "alpn", i.ALPN)
	setEvidence(&s, "cert_subject", i.Cert.Subject)
	setEvidence(&s, "cert_issuer", i.Cert.Issuer)
	setEvidence(&s, "cert_sans", strings.Join(append(i.Cert.DNSNames, i.Cert.IPs...), ","))
	if !i.Cert.NotAfter.IsZero() {
		s.Evidence["cert_not_after"] = i.Cert.NotAfter.Format(time.RFC3339)
	}
	setEvidence(&s, "cert_key", strings.TrimSpace(i.Cert.KeyType+" "+
		strconv.Itoa(i.Cert.KeyBits)))
	for _, v := range i.Versions {
		switch v {
		case "TLS1.0":
			addFinding(&s, FindingTLS10Accepted)
		case "TLS1.1":
			addFinding(&s, FindingTLS11Accepted)
		}
	}
	if i.Expired {
		addFinding(&s, FindingCertExpired)
	}
	if i.Cert.SelfSigned {
		addFinding(&s, FindingCertSelfSigned)
	}
	if (i.Cert.KeyType == "RSA" && i.Cert.KeyBits < 2048) ||
		(i.Cert.KeyType == "ECDSA" && i.Cert.KeyBits < 256) {
		addFinding(&s, FindingCertWeakKey)
	}
	return s
}
