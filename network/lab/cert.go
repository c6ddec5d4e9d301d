package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"time"
)

// certPair is a host's self-signed certificate: what appliances ship with, and what the
// fingerprint reports as tls-cert-self-signed.
type certPair struct {
	cert tls.Certificate
}

func newCert(name string, addr netip.Addr) (*certPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("lab: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("lab: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name + ".lab.test", Organization: []string{"Lab"}},
		DNSNames:     []string{name + ".lab.test"},
		IPAddresses:  []net.IP{addr.AsSlice()},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("lab: certificate: %w", err)
	}
	return &certPair{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// serverConfig accepts exactly the versions in [minV, maxV]: the legacy variant still
// accepts TLS 1.0 and 1.1, as old appliances do.
func (c *certPair) serverConfig(minV, maxV uint16) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.cert},
		MinVersion:   minV, //nolint:gosec // the legacy host must accept TLS 1.0
		MaxVersion:   maxV,
	}
}
