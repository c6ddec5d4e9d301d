package fingerprint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Service is what the fingerprint stage records for one open port: the service name used in
// asset records (ARCHITECTURE §7, issue 4 part 7), product and version when the server tells
// them, the evidence they were read from, and findings hints for the check stage.
type Service struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"` // "tcp" or "udp"
	Name     string            `json:"service"`  // "ssh", "http", "https", "smb", …
	Product  string            `json:"product,omitempty"`
	Version  string            `json:"version,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
	Findings []string          `json:"findings,omitempty"`
}

// Findings hints. They are stable identifiers that checks (scanner/) match on, so a rename is
// a breaking change.
const (
	FindingTLS10Accepted       = "tls1.0-accepted"
	FindingTLS11Accepted       = "tls1.1-accepted"
	FindingCertExpired         = "tls-cert-expired"
	FindingCertSelfSigned      = "tls-cert-self-signed"
	FindingCertWeakKey         = "tls-cert-weak-key"
	FindingSMBv1Enabled        = "smbv1-enabled"
	FindingSMBSigningOptional  = "smb-signing-not-required"
	FindingRDPNLANotRequired   = "rdp-nla-not-required"
	FindingRDPStandardSecurity = "rdp-standard-security"
	FindingRedisNoAuth         = "redis-no-auth"
	FindingMongoDBNoAuth       = "mongodb-no-auth"
	FindingPostgresNoAuth      = "postgresql-no-auth"
	FindingPostgresCleartext   = "postgresql-cleartext-password"
	FindingPostgresNoTLS       = "postgresql-no-tls"
	FindingMySQLNoTLS          = "mysql-no-tls"
	FindingTelnetOpen          = "telnet-open"
	FindingFTPOpen             = "ftp-cleartext"
	FindingSSHProtocol1        = "ssh-protocol-1"
	FindingHTTPBasicCleartext  = "http-basic-auth-cleartext"
)

// Limits caps one grab. MaxBytes bounds everything read from the peer (and so the memory a
// grab can hold); Timeout bounds the whole exchange, on top of any context deadline. A zero
// field takes the default.
type Limits struct {
	MaxBytes int
	Timeout  time.Duration
}

// Default limits: a greeting or a negotiate answer is a few hundred bytes, an HTTP head and
// the start of the page that holds <title> fit in 64 KiB.
const (
	DefaultMaxBytes = 64 << 10
	DefaultTimeout  = 5 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// Dialer opens a fresh connection to the port being fingerprinted; grabbers that need
// several handshakes call it once per handshake.
type Dialer func(ctx context.Context) (net.Conn, error)

// Sentinel errors. Grab errors wrap one of these (or the context's error) so that a job
// report can say what happened per target.
var (
	// ErrNoResponse: the peer accepted but sent nothing within the time limit.
	ErrNoResponse = errors.New("fingerprint: no response within the time limit")
	// ErrIncomplete: the peer stopped (closed or went quiet) in the middle of a message.
	ErrIncomplete = errors.New("fingerprint: incomplete response")
	// ErrTooLarge: the peer sent more than Limits.MaxBytes without completing a message.
	ErrTooLarge = errors.New("fingerprint: response exceeds the byte limit")
	// ErrMalformed: the bytes are not a well-formed message of the protocol.
	ErrMalformed = errors.New("fingerprint: malformed response")
)

// named prefixes a grabber's error with the protocol, so that a job report line reads
// "rdp: fingerprint: malformed response: …".
func named[T any](proto string, v T, err error) (T, error) {
	if err != nil {
		err = fmt.Errorf("%s: %w", proto, err)
	}
	return v, err
}

func addFinding(s *Service, f string) {
	for _, have := range s.Findings {
		if have == f {
			return
		}
	}
	s.Findings = append(s.Findings, f)
}

func newService(port int, name string) Service {
	return Service{Port: port, Protocol: "tcp", Name: name, Evidence: map[string]string{}}
}

// setEvidence records non-empty values only, so that golden files and stored evidence stay
// free of noise.
func setEvidence(s *Service, key, value string) {
	if value != "" {
		s.Evidence[key] = value
	}
}
