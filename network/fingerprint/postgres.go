package fingerprint

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
)

// PostgresInfo is what a PostgreSQL server tells a client that asks for TLS and then
// starts up as user "tenantra" on database "postgres" without a password.
type PostgresInfo struct {
	TLS            bool     `json:"tls"` // answered 'S' to SSLRequest
	Auth           string   `json:"auth,omitempty"`
	SASLMechanisms []string `json:"sasl_mechanisms,omitempty"`
	ServerVersion  string   `json:"server_version,omitempty"`
	ErrorSeverity  string   `json:"error_severity,omitempty"`
	ErrorCode      string   `json:"error_code,omitempty"` // SQLSTATE
	ErrorMessage   string   `json:"error_message,omitempty"`
	Version        string   `json:"version,omitempty"`
}

// Authentication request codes (PostgreSQL protocol, "Message Formats").
var pgAuth = map[uint32]string{
	0: "ok", 2: "kerberos", 3: "cleartext", 5: "md5", 7: "gss", 9: "sspi", 10: "sasl",
}

const (
	pgSSLRequestCode = 80877103
	pgProtocol30     = 196608
	pgUser           = "tenantra"
)

func pgSSLRequest() []byte {
	return binary.BigEndian.AppendUint32([]byte{0, 0, 0, 8}, pgSSLRequestCode)
}

func pgStartup() []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, pgProtocol30)
	for _, kv := range []string{"user", pgUser, "database", "postgres",
		"application_name", "tenantra-discovery"} {
		b = append(b, kv...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// pgFrame completes one backend message: type byte and a 4-byte length that includes
// itself.
func pgFrame(buf []byte, _ bool) (int, error) {
	if len(buf) < 5 {
		return 0, nil
	}
	n := binary.BigEndian.Uint32(buf[1:])
	if n < 4 || n > 64<<10 {
		return 0, fmt.Errorf("%w: PostgreSQL message length %d", ErrMalformed, n)
	}
	if len(buf) < 1+int(n) {
		return 0, nil
	}
	return 1 + int(n), nil
}

// ParsePostgres parses what a server sent: its one-byte answer to SSLRequest ('S' or 'N')
// followed by the messages answering the StartupMessage, up to ReadyForQuery, an error or
// an authentication request (in the 'S' case, those messages are what came through TLS).
func ParsePostgres(captured []byte) (PostgresInfo, error) {
	if len(captured) == 0 {
		return PostgresInfo{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	var info PostgresInfo
	switch captured[0] {
	case 'S':
		info.TLS = true
	case 'N':
	case 'E':
		// Servers before 7.0 answer SSLRequest with an error; parse it as the startup
		// answer.
		return parsePGMessages(info, captured)
	default:
		return PostgresInfo{}, fmt.Errorf("%w: SSLRequest answer %q", ErrMalformed,
			captured[:1])
	}
	return parsePGMessages(info, captured[1:])
}

func parsePGMessages(info PostgresInfo, b []byte) (PostgresInfo, error) {
	seen := false
	for len(b) > 0 {
		n, err := pgFrame(b, true)
		if err != nil {
			return info, err
		}
		if n == 0 {
			return info, fmt.Errorf("%w: truncated PostgreSQL message", ErrMalformed)
		}
		typ, body := b[0], b[5:n]
		b = b[n:]
		seen = true
		switch typ {
		case 'R':
			if len(body) < 4 {
				return info, fmt.Errorf("%w: short authentication message", ErrMalformed)
			}
			code := binary.BigEndian.Uint32(body)
			if info.Auth == "" || code == 0 {
				info.Auth = pgAuth[code]
				if info.Auth == "" {
					info.Auth = fmt.Sprintf("code-%d", code)
				}
			}
			if code == 10 {
				info.SASLMechanisms = cstrings(body[4:], 8)
			}
		case 'S': // ParameterStatus: name, value
			kv := cstrings(body, 2)
			if len(kv) == 2 && kv[0] == "server_version" {
				info.ServerVersion = kv[1]
			}
		case 'E':
			parsePGError(&info, body)
		}
	}
	if !seen {
		return info, fmt.Errorf("%w: no startup answer", ErrMalformed)
	}
	info.Version, _, _ = strings.Cut(info.ServerVersion, " ")
	return info, nil
}

// parsePGError reads ErrorResponse fields: a type byte and a C string each.
func parsePGError(info *PostgresInfo, body []byte) {
	for len(body) > 1 {
		t := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return
		}
		v := clean(body[1 : 1+end])
		body = body[2+end:]
		switch t {
		case 'S':
			info.ErrorSeverity = v
		case 'C':
			info.ErrorCode = v
		case 'M':
			info.ErrorMessage = v
		}
	}
}

func cstrings(b []byte, maxN int) []string {
	var out []string
	for len(b) > 0 && len(out) < maxN {
		i := bytes.IndexByte(b, 0)
		if i <= 0 {
			break
		}
		out = append(out, clean(b[:i]))
		b = b[i+1:]
	}
	return out
}

// GrabPostgres sends SSLRequest, upgrades to TLS when the server agrees (certificates
// unverified: inventory), then a StartupMessage with no password. It stops at the first
// authentication request other than "ok", at an error, or at ReadyForQuery, and
// terminates politely, so no login is ever attempted.
func GrabPostgres(ctx context.Context, conn net.Conn, lim Limits) (PostgresInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	if err := s.write(pgSSLRequest()); err != nil {
		return PostgresInfo{}, fmt.Errorf("postgresql: %w", err)
	}
	answer, err := s.read(func(buf []byte, _ bool) (int, error) { return 1, nil })
	if err != nil {
		return PostgresInfo{}, fmt.Errorf("postgresql: %w", err)
	}
	captured := bytes.Clone(answer)
	switch answer[0] {
	case 'S':
		// The TLS layer reads the raw connection; a capped wrapper keeps the byte limit.
		left := lim.withDefaults().MaxBytes - s.total
		tc := tls.Client(&cappedConn{Conn: conn, left: left},
			inventoryConfig("", tls.VersionTLS10, tls.VersionTLS13))
		if err := tc.HandshakeContext(ctx); err != nil {
			return PostgresInfo{TLS: true}, fmt.Errorf("postgresql: tls: %w", err)
		}
		s.conn, s.max, s.total = tc, left, 0
	case 'N':
	default:
		info, err := ParsePostgres(captured)
		return named("postgresql", info, err)
	}
	if err := s.write(pgStartup()); err != nil {
		return PostgresInfo{}, fmt.Errorf("postgresql: %w", err)
	}
	defer func() { _ = s.write([]byte{'X', 0, 0, 0, 4}) }() // Terminate
	for {
		msg, err := s.read(pgFrame)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				return PostgresInfo{}, fmt.Errorf("postgresql: %w", err)
			}
			if len(captured) > 1 {
				break // the server went quiet after something useful
			}
			return PostgresInfo{}, fmt.Errorf("postgresql: %w", err)
		}
		captured = append(captured, msg...)
		done := msg[0] == 'E' || msg[0] == 'Z'
		if msg[0] == 'R' && len(msg) >= 9 && binary.BigEndian.Uint32(msg[5:]) != 0 {
			done = true
		}
		if done {
			break
		}
	}
	info, err := ParsePostgres(captured)
	return named("postgresql", info, err)
}

// Service converts the result for the asset record.
func (i PostgresInfo) Service(port int) Service {
	s := newService(port, "postgresql")
	s.Product, s.Version = "PostgreSQL", i.Version
	setEvidence(&s, "auth", i.Auth)
	setEvidence(&s, "sasl", strings.Join(i.SASLMechanisms, ","))
	setEvidence(&s, "server_version", i.ServerVersion)
	if i.ErrorCode != "" {
		s.Evidence["error"] = i.ErrorCode + " " + i.ErrorMessage
	}
	s.Evidence["tls"] = fmt.Sprint(i.TLS)
	switch i.Auth {
	case "ok":
		addFinding(&s, FindingPostgresNoAuth)
	case "cleartext":
		addFinding(&s, FindingPostgresCleartext)
	}
	if !i.TLS {
		addFinding(&s, FindingPostgresNoTLS)
	}
	return s
}
