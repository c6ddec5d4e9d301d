package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Config bounds what one collection may cost. Zero values take the defaults.
type Config struct {
	Port           uint16        // default 161, used when a target has no port
	Timeout        time.Duration // per request; default 2s
	Retries        int           // per request; default 1, negative for none
	MaxRepetitions uint32        // GETBULK max-repetitions; default 25
	MaxRows        int           // rows kept per table; default 5000
	Deadline       time.Duration // whole collection of one target; default 2m
}

func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = 161
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 1
	}
	if c.MaxRepetitions == 0 {
		c.MaxRepetitions = 25
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 5000
	}
	if c.Deadline <= 0 {
		c.Deadline = 2 * time.Minute
	}
	return c
}

// Client collects Devices over SNMP. It holds no connection: each Collect opens its own
// sockets, so one Client is safe for concurrent use by many goroutines.
type Client struct {
	cfg      Config
	profiles *Profiles
	oui      *OUITable
}

// NewClient returns a Client using cfg, the vendor profiles and the OUI table (either may be
// nil: devices then go unidentified or MAC vendors unnamed).
func NewClient(cfg Config, profiles *Profiles, oui *OUITable) *Client {
	return &Client{cfg: cfg.withDefaults(), profiles: profiles, oui: oui}
}

// Errors a collection wraps; test with errors.Is.
var (
	// ErrNoResponse: no reply within the timeout and retries. For v1/v2c this is also what a
	// wrong community looks like, since agents silently drop such requests.
	ErrNoResponse = errors.New("no response")
	// ErrAuth: an SNMPv3 agent rejected the user, digest or privacy parameters.
	ErrAuth = errors.New("authentication failed")
	// ErrNoCredentials: Collect was given no usable credential set.
	ErrNoCredentials = errors.New("no usable snmp credential")
)

// TargetError is the per-target error of a collection: every credential set tried, in order,
// with why it failed. It never contains a secret.
type TargetError struct {
	Target   string
	Attempts []AttemptError
}

// AttemptError is why one credential set failed against one target.
type AttemptError struct {
	Credential string
	Err        error
}

func (e *TargetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "snmp %s: no credential set answered", e.Target)
	for i, a := range e.Attempts {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s: %v", sep, a.Credential, a.Err)
	}
	return b.String()
}

// Unwrap lets errors.Is see each attempt's cause.
func (e *TargetError) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// session is one opened gosnmp connection with the credential that answered.
type session struct {
	g    *gosnmp.GoSNMP
	cred Credential
	cfg  Config
	dead bool // the agent stopped answering: skip the remaining tables
}

func (c *Client) dial(ctx context.Context, host string, port uint16, cred Credential) (
	*session, error) {
	g := &gosnmp.GoSNMP{
		Target:             host,
		Port:               port,
		Transport:          "udp",
		Timeout:            c.cfg.Timeout,
		Retries:            c.cfg.Retries,
		ExponentialTimeout: false,
		MaxOids:            gosnmp.MaxOids,
		MaxRepetitions:     c.cfg.MaxRepetitions,
		Context:            ctx,
	}
	switch cred.Version {
	case "v1":
		g.Version, g.Community = gosnmp.Version1, cred.Community
	case "v2c":
		g.Version, g.Community = gosnmp.Version2c, cred.Community
	case "v3":
		auth, _ := authProtocol(cred.AuthProto) // checked by Validate
		priv, _ := privProtocol(cred.PrivProto)
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.ContextName = cred.Context
		g.MsgFlags = gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 cred.User,
			AuthenticationProtocol:   auth,
			AuthenticationPassphrase: cred.AuthPass,
			PrivacyProtocol:          priv,
			PrivacyPassphrase:        cred.PrivPass,
		}
	}
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("open udp socket: %w", err)
	}
	return &session{g: g, cred: cred, cfg: c.cfg}, nil
}

func (s *session) close() {
	if s.g.Conn != nil {
		_ = s.g.Conn.Close()
	}
}

// usmReports names the USM statistics an agent reports instead of answering (RFC 3414).
var usmReports = map[string]string{
	".1.3.6.1.6.3.15.1.1.1.0": "unsupported security level",
	".1.3.6.1.6.3.15.1.1.2.0": "message outside the time window",
	".1.3.6.1.6.3.15.1.1.3.0": "unknown user name",
	".1.3.6.1.6.3.15.1.1.4.0": "unknown engine id",
	".1.3.6.1.6.3.15.1.1.5.0": "wrong digest (auth passphrase or protocol)",
	".1.3.6.1.6.3.15.1.1.6.0": "decryption error (priv passphrase or protocol)",
}

// get fetches oids and classifies failures into ErrNoResponse, ErrAuth or a protocol error.
func (s *session) get(oids []string) ([]gosnmp.SnmpPDU, error) {
	pkt, err := s.g.Get(oids)
	if err != nil {
		return nil, s.classify(err)
	}
	if pkt.PDUType == gosnmp.Report {
		for _, v := range pkt.Variables {
			if why, ok := usmReports[v.Name]; ok {
				return nil, fmt.Errorf("%w: %s", ErrAuth, why)
			}
		}
		return nil, fmt.Errorf("%w: agent sent a report", ErrAuth)
	}
	if pkt.PDUType != gosnmp.GetResponse {
		return nil, fmt.Errorf("malformed response: pdu type %v, want a response", pkt.PDUType)
	}
	if pkt.Error != gosnmp.NoError {
		return nil, fmt.Errorf("agent error %v at varbind %d", pkt.Error, pkt.ErrorIndex)
	}
	if len(pkt.Variables) != len(oids) {
		return nil, fmt.Errorf("malformed response: %d varbinds for %d requested",
			len(pkt.Variables), len(oids))
	}
	return pkt.Variables, nil
}

func (s *session) classify(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	case strings.Contains(msg, "timeout"):
		return fmt.Errorf("%w within %d tries of %v (agent down, filtered, or wrong community)",
			ErrNoResponse, s.cfg.Retries+1, s.cfg.Timeout)
	case strings.Contains(msg, "connection refused"):
		return fmt.Errorf("%w: port unreachable (ICMP refused)", ErrNoResponse)
	case strings.Contains(msg, "wrong digest"), strings.Contains(msg, "authentic"),
		strings.Contains(msg, "unknown user"), strings.Contains(msg, "decrypt"),
		strings.Contains(msg, "usmStats"):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return fmt.Errorf("malformed or unexpected response: %w", err)
}

// splitTarget returns host and port of "host", "host:port" or "[v6]:port".
func splitTarget(target string, def uint16) (string, uint16, error) {
	host, portStr, err := net.SplitHostPort(target)
	if err != nil {
		if strings.Count(target, ":") > 1 || !strings.Contains(target, ":") {
			return strings.Trim(target, "[]"), def, nil
		}
		return "", 0, fmt.Errorf("target %q: %w", target, err)
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("target %q: bad port", target)
	}
	return host, uint16(p), nil
}

// open tries creds in order and returns the first session whose agent answers a GET of the
// system group. It returns the system PDUs so they are not fetched twice.
func (c *Client) open(ctx context.Context, target string, creds []Credential) (
	*session, []gosnmp.SnmpPDU, error) {
	host, port, err := splitTarget(target, c.cfg.Port)
	if err != nil {
		return nil, nil, err
	}
	te := &TargetError{Target: target}
	for _, cred := range creds {
		if err := ctx.Err(); err != nil {
			te.Attempts = append(te.Attempts, AttemptError{cred.String(), err})
			break
		}
		if err := cred.Validate(); err != nil {
			te.Attempts = append(te.Attempts, AttemptError{cred.String(), err})
			continue
		}
		s, err := c.dial(ctx, host, port, cred)
		if err == nil {
			var pdus []gosnmp.SnmpPDU
			pdus, err = s.systemGroup()
			if err == nil {
				return s, pdus, nil
			}
			s.close()
		}
		te.Attempts = append(te.Attempts, AttemptError{cred.String(), err})
	}
	if len(te.Attempts) == 0 {
		te.Attempts = append(te.Attempts, AttemptError{"(none)", ErrNoCredentials})
	}
	return nil, nil, te
}
