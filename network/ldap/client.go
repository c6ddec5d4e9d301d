package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// Client collects one domain. It is safe for concurrent use: each call opens its own
// connection.
type Client struct {
	cfg Config
	srv server
}

// New validates cfg and returns a client; it does not connect.
func New(cfg Config) (*Client, error) {
	c, s, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if s.useTLS || c.StartTLS {
		if _, err := c.tlsConfig(s); err != nil {
			return nil, err
		}
	}
	return &Client{cfg: c, srv: s}, nil
}

// Errors callers tell apart with errors.Is.
var (
	// ErrConnect: the server could not be reached or the TLS handshake failed.
	ErrConnect = errors.New("ldap: connect failed")
	// ErrBind: the server refused the credentials or the bind method.
	ErrBind = errors.New("ldap: bind failed")
	// ErrPartial: the collection ended early; the Directory holds what was read.
	ErrPartial = errors.New("ldap: partial directory")
)

// ServerInfo is what Test reads from the rootDSE.
type ServerInfo struct {
	DefaultNamingContext string `json:"default_naming_context"`
	DNSHostName          string `json:"dns_host_name"`
	DomainFunctionality  int    `json:"domain_functionality"`
	TLS                  bool   `json:"tls"` // the connection is encrypted
}

// Test connects, binds and reads the rootDSE: the credential "test connection" action.
func (c *Client) Test(ctx context.Context) (*ServerInfo, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.close()
	info, err := conn.rootDSE()
	if err != nil {
		return nil, err
	}
	_, info.TLS = conn.c.TLSConnectionState()
	return info, nil
}

// session is one bound connection that closes when its context ends.
type session struct {
	c    *goldap.Conn
	cfg  *Config
	stop func() bool
}

func (s *session) close() {
	s.stop()
	_ = s.c.Close()
}

// connect dials, upgrades to TLS when asked and binds.
func (c *Client) connect(ctx context.Context) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(dctx, "tcp", c.srv.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, c.srv.addr, err)
	}
	var tc *tls.Config
	var pinErr error // go-ldap's StartTLS flattens the handshake error; keep the pin's
	if c.srv.useTLS || c.cfg.StartTLS {
		if tc, err = c.cfg.tlsConfig(c.srv); err != nil {
			_ = raw.Close()
			return nil, err
		}
		if verify := tc.VerifyConnection; verify != nil {
			tc.VerifyConnection = func(cs tls.ConnectionState) error {
				pinErr = verify(cs)
				return pinErr
			}
		}
	}
	if c.srv.useTLS {
		t := tls.Client(raw, tc)
		if err := t.HandshakeContext(dctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("%w: TLS with %s: %w", ErrConnect, c.srv.addr, err)
		}
		raw = t
	}
	lc := goldap.NewConn(raw, c.srv.useTLS)
	lc.Start()
	lc.SetTimeout(c.cfg.Timeout)
	s := &session{c: lc, cfg: &c.cfg, stop: context.AfterFunc(ctx, func() { _ = lc.Close() })}
	if c.cfg.StartTLS {
		// go-ldap's StartTLS has no context; the dial context closes the connection.
		stopDial := context.AfterFunc(dctx, func() { _ = lc.Close() })
		err := lc.StartTLS(tc)
		stopDial()
		if err != nil {
			s.close()
			if pinErr != nil {
				err = pinErr
			}
			return nil, fmt.Errorf("%w: StartTLS with %s: %w", ErrConnect, c.srv.addr, err)
		}
	}
	if err := c.bind(lc); err != nil {
		s.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrConnect, ctx.Err())
		}
		return nil, err
	}
	return s, nil
}

func (c *Client) bind(lc *goldap.Conn) error {
	var err error
	who := c.cfg.BindDN
	switch {
	case c.cfg.NTLMDomain != "":
		who = c.cfg.NTLMDomain + `\` + c.cfg.BindDN
		err = lc.NTLMBind(c.cfg.NTLMDomain, c.cfg.BindDN, c.cfg.Password)
	case c.cfg.BindDN != "":
		err = lc.Bind(c.cfg.BindDN, c.cfg.Password)
	default:
		return nil // anonymous
	}
	if err == nil {
		return nil
	}
	return bindError(who, c.cfg.NTLMDomain != "", err)
}

// adDataCode is the "data 52e" sub-code AD puts in invalidCredentials diagnostics.
var adDataCode = regexp.MustCompile(`data ([0-9a-fA-F]{3,8})`)

// adBindReasons explains AD's sub-codes (MS-ADTS / ldap_err diagnostic "data" values).
var adBindReasons = map[string]string{
	"525": "no such user (check the bind name)",
	"52e": "invalid credentials (check the password)",
	"530": "logon not permitted at this time",
	"531": "logon not permitted from this workstation",
	"532": "the password has expired (reset it)",
	"533": "the account is disabled",
	"701": "the account has expired",
	"773": "the password must be changed before first logon",
	"775": "the account is locked out",
}

// bindError explains a failed bind in one line without repeating any secret.
func bindError(who string, ntlm bool, err error) error {
	// Samba, for one, does not implement Microsoft's "sicily" NTLM bind and hangs up.
	hint := ""
	if ntlm {
		hint = " (the server may not support NTLM binds: use a simple bind over TLS)"
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("%w: bind as %s failed%s: %v", ErrBind, who, hint,
			CleanString(err.Error()))
	}
	switch le.ResultCode {
	case goldap.LDAPResultInvalidCredentials:
		reason := "invalid credentials (check the password)"
		if m := adDataCode.FindStringSubmatch(errText(le)); m != nil {
			if r, ok := adBindReasons[strings.ToLower(m[1])]; ok {
				reason = r
			}
		}
		return fmt.Errorf("%w: bind as %s failed: %s", ErrBind, who, reason)
	case goldap.LDAPResultStrongAuthRequired, goldap.LDAPResultConfidentialityRequired:
		return fmt.Errorf("%w: bind as %s failed: the server requires an encrypted or "+
			"signed connection (use ldaps:// or StartTLS)", ErrBind, who)
	case goldap.LDAPResultInappropriateAuthentication, goldap.LDAPResultAuthMethodNotSupported:
		return fmt.Errorf("%w: bind as %s failed: the server does not accept this bind "+
			"method (%s)", ErrBind, who, goldap.LDAPResultCodeMap[le.ResultCode])
	case goldap.ErrorNetwork:
		return fmt.Errorf("%w: bind as %s: the server closed the connection%s: %v", ErrBind,
			who, hint, errText(le))
	}
	return fmt.Errorf("%w: bind as %s failed: %s: %v", ErrBind, who,
		goldap.LDAPResultCodeMap[le.ResultCode], CleanString(errText(le)))
}

// rootDSE reads the server's root entry.
func (s *session) rootDSE() (*ServerInfo, error) {
	req := goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0,
		false, "(objectClass=*)",
		[]string{"defaultNamingContext", "dnsHostName", "domainFunctionality"}, nil)
	res, err := s.c.Search(req)
	if err != nil {
		return nil, fmt.Errorf("ldap: read the rootDSE: %w", err)
	}
	if len(res.Entries) == 0 {
		return nil, errors.New("ldap: the server returned no rootDSE")
	}
	e := res.Entries[0]
	return &ServerInfo{
		DefaultNamingContext: CleanString(e.GetAttributeValue("defaultNamingContext")),
		DNSHostName:          CleanString(e.GetAttributeValue("dnsHostName")),
		DomainFunctionality:  atoi(e.GetAttributeValue("domainFunctionality")),
	}, nil
}
