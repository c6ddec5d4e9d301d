package appliance

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"

	"github.com/tenantra/tenantra/appliance/tlsconf"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// TLSStatus describes the certificate the HTTPS listener serves right now.
func (a *Appliance) TLSStatus(_ context.Context) (web.TLSStatus, error) {
	tm := a.tlsMgr.Load()
	if tm == nil {
		return web.TLSStatus{}, store.Errorf(store.ErrNotFound, "the TLS status is known "+
			"only while tenantra serve runs")
	}
	return tlsStatus(a.cfg.TLS.Mode, a.cfg.TLS.MinVersion, tm)
}

func tlsStatus(mode, minVersion string, tm *tlsconf.Manager) (web.TLSStatus, error) {
	st := web.TLSStatus{Mode: mode, MinVersion: minVersion, Notes: tm.Banner(),
		DNSNames: []string{}, IPAddresses: []string{}}
	if st.Notes == nil {
		st.Notes = []string{}
	}
	cfg := tm.TLSConfig()
	var cert *tls.Certificate
	var err error
	switch {
	case cfg.GetCertificate != nil:
		cert, err = cfg.GetCertificate(&tls.ClientHelloInfo{})
	case len(cfg.Certificates) > 0:
		cert = &cfg.Certificates[0]
	}
	if err != nil || cert == nil || len(cert.Certificate) == 0 {
		return st, nil // ACME before its first certificate: the notes say what happens
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return st, nil
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	st.Subject, st.Issuer, st.NotAfter = leaf.Subject.String(), leaf.Issuer.String(),
		leaf.NotAfter
	st.Fingerprint = hex.EncodeToString(sum[:])
	st.DNSNames = append(st.DNSNames, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		st.IPAddresses = append(st.IPAddresses, ip.String())
	}
	return st, nil
}
