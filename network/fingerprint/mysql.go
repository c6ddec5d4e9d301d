package fingerprint

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// MySQLInfo is what a MySQL or MariaDB server's initial handshake packet tells, or the
// error packet it sends instead (for example when the client host is not allowed).
type MySQLInfo struct {
	ProtocolVersion int    `json:"protocol_version"`
	ServerVersion   string `json:"server_version,omitempty"`
	ConnectionID    uint32 `json:"connection_id,omitempty"`
	Capabilities    uint32 `json:"capabilities"`
	TLS             bool   `json:"tls"` // CLIENT_SSL offered
	AuthPlugin      string `json:"auth_plugin,omitempty"`
	ErrorCode       int    `json:"error_code,omitempty"`
	ErrorMessage    string `json:"error_message,omitempty"`
	Product         string `json:"product,omitempty"` // "MySQL" or "MariaDB"
	Version         string `json:"version,omitempty"`
}

const (
	mysqlClientSSL        = 0x00000800
	mysqlClientPluginAuth = 0x00080000
)

// mysqlFrame completes one packet: 3-byte little-endian length and a sequence id. A
// greeting never comes near 16 MiB, so the length is bounded before it is trusted.
func mysqlFrame(buf []byte, _ bool) (int, error) {
	if len(buf) < 4 {
		return 0, nil
	}
	n := int(buf[0]) | int(buf[1])<<8 | int(buf[2])<<16
	if n == 0 || n > 64<<10 {
		return 0, fmt.Errorf("%w: MySQL packet length %d", ErrMalformed, n)
	}
	if len(buf) < 4+n {
		return 0, nil
	}
	return 4 + n, nil
}

// ParseMySQL parses the first packet a MySQL server sends: Protocol::HandshakeV10 (MySQL
// client/server protocol, "Connection Phase") or an ERR_Packet.
func ParseMySQL(captured []byte) (MySQLInfo, error) {
	n, err := mysqlFrame(captured, true)
	if err != nil {
		return MySQLInfo{}, err
	}
	if n == 0 {
		return MySQLInfo{}, fmt.Errorf("%w: truncated MySQL packet", ErrMalformed)
	}
	p := captured[4:n]
	switch p[0] {
	case 0xff: // ERR_Packet: code, then (pre-4.1 style, sent before the handshake) message
		if len(p) < 3 {
			return MySQLInfo{}, fmt.Errorf("%w: short MySQL error packet", ErrMalformed)
		}
		msg := p[3:]
		if len(msg) > 0 && msg[0] == '#' && len(msg) >= 6 {
			msg = msg[6:] // SQL state marker and state
		}
		return MySQLInfo{ErrorCode: int(binary.LittleEndian.Uint16(p[1:])),
			ErrorMessage: clean(msg)}, nil
	case 0x0a:
	default:
		return MySQLInfo{}, fmt.Errorf("%w: MySQL protocol version %d", ErrMalformed, p[0])
	}
	info := MySQLInfo{ProtocolVersion: 10}
	rest := p[1:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return MySQLInfo{}, fmt.Errorf("%w: unterminated server version", ErrMalformed)
	}
	info.ServerVersion = clean(rest[:end])
	rest = rest[end+1:]
	// connection id (4), auth data part 1 (8), filler (1), capability flags low (2)
	if len(rest) < 15 {
		return MySQLInfo{}, fmt.Errorf("%w: short MySQL handshake", ErrMalformed)
	}
	info.ConnectionID = binary.LittleEndian.Uint32(rest)
	info.Capabilities = uint32(binary.LittleEndian.Uint16(rest[13:]))
	rest = rest[15:]
	// charset (1), status (2), capability flags high (2), auth data length (1), reserved 10
	if len(rest) >= 16 {
		info.Capabilities |= uint32(binary.LittleEndian.Uint16(rest[3:])) << 16
		authLen := int(rest[5])
		rest = rest[16:]
		part2 := max(13, authLen-8)
		if info.Capabilities&mysqlClientPluginAuth != 0 && len(rest) >= part2 {
			name := rest[part2:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			info.AuthPlugin = clean(name)
		}
	}
	info.TLS = info.Capabilities&mysqlClientSSL != 0
	info.Product, info.Version = mysqlProduct(info.ServerVersion)
	return info, nil
}

// mysqlProduct tells MariaDB from MySQL. MariaDB 10+ prefixes "5.5.5-" to its real version
// so that old clients accept it: "5.5.5-10.11.6-MariaDB-0+deb12u1".
func mysqlProduct(v string) (product, version string) {
	if strings.Contains(v, "MariaDB") {
		v = strings.TrimPrefix(v, "5.5.5-")
		version, _, _ = strings.Cut(v, "-")
		return "MariaDB", version
	}
	version, _, _ = strings.Cut(v, "-")
	if version == "" {
		return "", ""
	}
	return "MySQL", version
}

// GrabMySQL reads the server's greeting; MySQL servers speak first and nothing is sent, so
// the server logs an aborted connection, never a failed login.
func GrabMySQL(ctx context.Context, conn net.Conn, lim Limits) (MySQLInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	msg, err := s.read(mysqlFrame)
	if err != nil {
		return MySQLInfo{}, fmt.Errorf("mysql: %w", err)
	}
	info, err := ParseMySQL(msg)
	return named("mysql", info, err)
}

// Service converts the result for the asset record.
func (i MySQLInfo) Service(port int) Service {
	s := newService(port, "mysql")
	s.Product, s.Version = i.Product, i.Version
	setEvidence(&s, "server_version", i.ServerVersion)
	setEvidence(&s, "auth_plugin", i.AuthPlugin)
	if i.ErrorCode != 0 {
		s.Evidence["error"] = strconv.Itoa(i.ErrorCode) + " " + i.ErrorMessage
		return s
	}
	if !i.TLS {
		addFinding(&s, FindingMySQLNoTLS)
	}
	return s
}
