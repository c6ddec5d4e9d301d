package appliance

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/fortigate"
	"github.com/tenantra/tenantra/network/ldap"
	"github.com/tenantra/tenantra/network/omada"
	"github.com/tenantra/tenantra/store"
)

// Source credentials (ldap, fortigate, omada): the URL and trust settings are metadata, the
// password, token or client secret is sealed. validateSource splits a request accordingly.
func validateSource(req web.CredentialRequest) (map[string]string, credSecret, error) {
	bad := func(format string, args ...any) error {
		return store.Errorf(store.ErrInvalid, format, args...)
	}
	meta := map[string]string{}
	var sec credSecret
	u, err := url.Parse(req.URL)
	schemes := map[string][]string{store.CredLDAP: {"ldap", "ldaps"},
		store.CredFortiGate: {"https"}, store.CredOmada: {"https"}}[req.Kind]
	okScheme := false
	if err == nil {
		for _, sc := range schemes {
			okScheme = okScheme || u.Scheme == sc
		}
	}
	if err != nil || !okScheme || u.Host == "" || len(req.URL) > 512 {
		return nil, sec, bad("%s needs url as %s://host[:port]", req.Kind,
			strings.Join(schemes, ":// or "))
	}
	meta["url"] = req.URL
	if req.CAPEM != "" {
		if len(req.CAPEM) > 64<<10 || !validPEM(req.CAPEM) {
			return nil, sec, bad("ca_pem must hold PEM certificates (-----BEGIN " +
				"CERTIFICATE-----), at most 64 KiB")
		}
		meta["ca_pem"] = req.CAPEM
	}
	if req.Pin != "" {
		if len(req.Pin) > 200 {
			return nil, sec, bad("pin is too long; give the SHA-256 as hex or base64")
		}
		meta["pin"] = req.Pin
	}
	onlyFor := func(kind string, fields map[string]bool) error {
		for name, set := range fields {
			if set && req.Kind != kind {
				return bad("%s is for %s credentials, not %s", name, kind, req.Kind)
			}
		}
		return nil
	}
	if err := onlyFor(store.CredLDAP, map[string]bool{"bind_dn": req.BindDN != "",
		"password": req.Password != "", "base_dn": req.BaseDN != "",
		"starttls": req.StartTLS, "stale_days": req.StaleDays != 0,
		"ntlm_domain": req.NTLMDomain != ""}); err != nil {
		return nil, sec, err
	}
	if err := onlyFor(store.CredFortiGate, map[string]bool{"token": req.Token != "",
		"vdom": req.VDOM != "", "baseline_version": req.BaselineVersion != ""}); err != nil {
		return nil, sec, err
	}
	if err := onlyFor(store.CredOmada, map[string]bool{"omadac_id": req.OmadacID != "",
		"client_id": req.ClientID != "", "client_secret": req.ClientSecret != ""}); err != nil {
		return nil, sec, err
	}
	switch req.Kind {
	case store.CredLDAP:
		if req.BindDN == "" || req.Password == "" || len(req.BindDN) > 512 ||
			len(req.Password) > 1024 {
			return nil, sec, bad("ldap needs bind_dn (a DN, UPN or DOMAIN\\\\user) and " +
				"password")
		}
		if req.StartTLS && u.Scheme == "ldaps" {
			return nil, sec, bad("starttls is for ldap:// URLs; ldaps:// is TLS already")
		}
		if req.StaleDays < 0 || req.StaleDays > 3650 {
			return nil, sec, bad("stale_days must be 1-3650 (default 90)")
		}
		meta["bind_dn"], meta["base_dn"], meta["ntlm_domain"] = req.BindDN, req.BaseDN,
			req.NTLMDomain
		if req.StartTLS {
			meta["starttls"] = "true"
		}
		if req.StaleDays > 0 {
			meta["stale_days"] = strconv.Itoa(req.StaleDays)
		}
		sec.Password = req.Password
	case store.CredFortiGate:
		if req.Token == "" || len(req.Token) > 512 {
			return nil, sec, bad("fortigate needs token, the REST API administrator's token")
		}
		meta["vdom"], meta["baseline_version"] = req.VDOM, req.BaselineVersion
		sec.Token = req.Token
	case store.CredOmada:
		if req.OmadacID == "" || req.ClientID == "" || req.ClientSecret == "" ||
			len(req.ClientSecret) > 512 {
			return nil, sec, bad("omada needs omadac_id, client_id and client_secret of the " +
				"controller's OpenAPI application")
		}
		meta["omadac_id"], meta["client_id"] = req.OmadacID, req.ClientID
		sec.Secret = req.ClientSecret
	}
	for k, v := range meta {
		if v == "" {
			delete(meta, k)
		}
	}
	// The collectors validate the rest (pin format, URL) before a secret is stored.
	if _, err := sourceClient(store.Credential{Kind: req.Kind, Metadata: meta}, sec); err != nil {
		return nil, sec, bad("%v", err)
	}
	return meta, sec, nil
}

func validPEM(s string) bool {
	rest := []byte(s)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return n > 0
		}
		if b.Type != "CERTIFICATE" {
			return false
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return false
		}
		n++
	}
}

// source is a ready collector of one source credential.
type source struct {
	kind string
	ldap *ldap.Client
	fg   *fortigate.Client
	om   *omada.Controller
	// staleDays is the LDAP source's stale window; url is where the source answers.
	staleDays int
	url       string
}

func (s source) close() {
	if s.fg != nil {
		s.fg.Close()
	}
	if s.om != nil {
		s.om.Close()
	}
}

// sourceClient builds the collector of a source credential.
func sourceClient(c store.Credential, sec credSecret) (source, error) {
	m := c.Metadata
	out := source{kind: c.Kind, url: m["url"]}
	var err error
	switch c.Kind {
	case store.CredLDAP:
		out.staleDays, _ = strconv.Atoi(m["stale_days"])
		if out.staleDays == 0 {
			out.staleDays = 90
		}
		out.ldap, err = ldap.New(ldap.Config{URL: m["url"], BindDN: m["bind_dn"],
			Password: sec.Password, NTLMDomain: m["ntlm_domain"], BaseDN: m["base_dn"],
			StartTLS: m["starttls"] == "true",
			CAPEM:    []byte(m["ca_pem"]), Pin: m["pin"], StaleDays: out.staleDays,
			DialTimeout: 10 * time.Second, Timeout: time.Minute})
	case store.CredFortiGate:
		out.fg, err = fortigate.New(fortigate.Options{BaseURL: m["url"],
			Token: fortigate.Secret(sec.Token), CAPEM: []byte(m["ca_pem"]),
			PinSHA256: m["pin"], VDOM: m["vdom"], BaselineVersion: m["baseline_version"]})
	case store.CredOmada:
		out.om, err = omada.New(omada.Options{BaseURL: m["url"], OmadacID: m["omadac_id"],
			ClientID: m["client_id"], ClientSecret: omada.Secret(sec.Secret),
			CAPEM: []byte(m["ca_pem"]), PinSHA256: m["pin"]})
	default:
		return out, fmt.Errorf("credential %q is a %s credential, not a discovery source",
			c.Name, c.Kind)
	}
	return out, err
}

// testSource runs a source credential's test-connection.
func testSource(ctx context.Context, c store.Credential, sec credSecret) (
	web.CredentialTestResult, error) {
	res := web.CredentialTestResult{Target: c.Metadata["url"]}
	src, err := sourceClient(c, sec)
	if err != nil {
		return res, err
	}
	defer src.close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch c.Kind {
	case store.CredLDAP:
		info, err := src.ldap.Test(ctx)
		if err == nil {
			res.Detail = fmt.Sprintf("bound; naming context %s on %s (TLS %v)",
				info.DefaultNamingContext, info.DNSHostName, info.TLS)
		}
		res.OK, res.Error = err == nil, errText(err)
	case store.CredFortiGate:
		st, err := src.fg.Test(ctx)
		if err == nil {
			res.Detail = fmt.Sprintf("%s %s FortiOS %s build %d, serial %s", st.Hostname,
				st.Model, st.Version, st.Build, st.Serial)
		}
		res.OK, res.Error = err == nil, errText(err)
	case store.CredOmada:
		n, err := src.om.Test(ctx)
		if err == nil {
			res.Detail = fmt.Sprintf("authorised; %d site(s) visible", n)
		}
		res.OK, res.Error = err == nil, errText(err)
	}
	return res, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
