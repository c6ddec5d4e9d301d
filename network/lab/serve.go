package lab

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRead bounds what a handler reads from one connection, beyond the greeting exchange
// (tarpits aside, which read into a fixed buffer and keep nothing).
const maxRead = 64 << 10

// limited returns a reader of at most maxRead bytes of c, buffered.
func limited(c net.Conn) *bufio.Reader {
	return bufio.NewReaderSize(io.LimitReader(c, maxRead), 4096)
}

// drain discards what the client sends until it closes, the lifetime ends or maxRead
// bytes have come, so that a client reading our greeting sees no early close.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, maxRead)) }

// readLine reads one line of at most 1 KiB; a longer line ends the session.
func readLine(r *bufio.Reader) (string, bool) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return "", false
	}
	return strings.TrimRight(string(line), "\r\n"), true
}

func serveSSH(banner string) func(*env, net.Conn) {
	return func(_ *env, c net.Conn) {
		if _, err := io.WriteString(c, banner+"\r\n"); err != nil {
			return
		}
		drain(c)
	}
}

func serveHTTPS(e *env, c net.Conn) {
	tc := tls.Server(c, e.host.cert.serverConfig(e.tls[0], e.tls[1]))
	if err := tc.Handshake(); err != nil {
		return
	}
	serveHTTP(e, tc)
}

// serveHTTP answers one request and closes, as with "Connection: close".
func serveHTTP(e *env, c net.Conn) {
	req, err := http.ReadRequest(limited(c))
	if err != nil {
		return
	}
	_ = req.Body.Close()
	status, server, title := "200 OK", "nginx/1.22.1", "Welcome to nginx!"
	extra := "Content-Type: text/html\r\n"
	switch e.kind {
	case HTTPRedirect:
		status, title = "301 Moved Permanently", "301 Moved Permanently"
		extra += "Location: https://" + e.host.addr.String() + "/\r\n"
	case HTTPBasic:
		status, server, title = "401 Unauthorized", "GoAhead-Webs/2.5.0", "401 Unauthorized"
		extra += "WWW-Authenticate: Basic realm=\"" + e.host.name + "\"\r\n"
	case HTTPS:
		title = e.host.name + " management"
	case HTTPSLegacy:
		server, title = "Microsoft-IIS/10.0", "IIS Windows Server"
		extra += "X-Powered-By: ASP.NET\r\n"
	}
	body := "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head>\n" +
		"<body><h1>" + title + "</h1></body></html>\n"
	_, _ = io.WriteString(c, "HTTP/1.1 "+status+"\r\nServer: "+server+"\r\nDate: "+
		time.Now().UTC().Format(http.TimeFormat)+"\r\n"+extra+"Content-Length: "+
		strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
}

// serveText speaks the greeting and the QUIT/LOGOUT of FTP, SMTP, POP3 and IMAP, and
// refuses every other command.
func serveText(e *env, c net.Conn) {
	fqdn := e.host.name + ".lab.test"
	var greeting string
	switch e.kind {
	case FTP:
		greeting = "220 (vsFTPd 3.0.5)"
	case SMTP:
		greeting = "220 " + fqdn + " ESMTP Exim 4.96 " + time.Now().UTC().Format(time.RFC1123Z)
	case POP3:
		greeting = "+OK Dovecot (Debian) ready."
	case IMAP:
		greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE " +
			"LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready."
	}
	if _, err := io.WriteString(c, greeting+"\r\n"); err != nil {
		return
	}
	r := limited(c)
	for range 32 {
		line, ok := readLine(r)
		if !ok {
			return
		}
		verb, _, _ := strings.Cut(line, " ")
		tag := verb
		if e.kind == IMAP {
			_, rest, _ := strings.Cut(line, " ")
			verb, _, _ = strings.Cut(rest, " ")
		}
		quit := strings.EqualFold(verb, "QUIT") || strings.EqualFold(verb, "LOGOUT")
		var reply string
		switch {
		case e.kind == FTP && quit:
			reply = "221 Goodbye."
		case e.kind == FTP:
			reply = "530 Please login with USER and PASS."
		case e.kind == SMTP && quit:
			reply = "221 " + fqdn + " closing connection"
		case e.kind == SMTP && (strings.EqualFold(verb, "EHLO") ||
			strings.EqualFold(verb, "HELO")):
			reply = "250 " + fqdn + " Hello"
		case e.kind == SMTP:
			reply = "500 unrecognized command"
		case e.kind == POP3 && quit:
			reply = "+OK Logging out."
		case e.kind == POP3:
			reply = "-ERR Unknown command."
		case quit:
			reply = "* BYE Logging out\r\n" + tag + " OK Logout completed."
		default:
			reply = tag + " BAD Error in IMAP command received by server."
		}
		if _, err := io.WriteString(c, reply+"\r\n"); err != nil || quit {
			return
		}
	}
}

// Telnet bytes (RFC 854, 855).
const (
	iac  = 255
	will = 251
	do   = 253
)

// serveTelnet asks for terminal type and window size and offers echo and suppress-go-ahead,
// waits briefly for the client's answers, then shows a BusyBox login prompt.
func serveTelnet(e *env, c net.Conn) {
	if _, err := c.Write([]byte{iac, do, 24, iac, do, 31, iac, will, 1, iac, will, 3}); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 256)
	_, _ = c.Read(buf) // the answers, if any: a client that says nothing still gets a prompt
	_ = c.SetReadDeadline(time.Now().Add(e.spec.ConnLifetime))
	_, err := io.WriteString(c, "\r\n\r\nBusyBox v1.36.1 (2024-01-01) built-in shell\r\n"+
		e.host.name+" login: ")
	if err != nil {
		return
	}
	drain(c)
}

// serveRedis answers PING and INFO without asking for a password, like a Redis with
// protected mode off; other commands get an error.
func serveRedis(e *env, c net.Conn) {
	r := limited(c)
	info := "# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n" +
		"os:Linux 6.1.0-lab x86_64\r\narch_bits:64\r\ntcp_port:6379\r\n"
	for range 64 {
		args, ok := readRESP(r)
		if !ok || len(args) == 0 {
			return
		}
		var reply string
		switch strings.ToUpper(args[0]) {
		case "PING":
			reply = "+PONG\r\n"
		case "INFO":
			reply = "$" + strconv.Itoa(len(info)) + "\r\n" + info + "\r\n"
		case "QUIT":
			_, _ = io.WriteString(c, "+OK\r\n")
			return
		default:
			reply = "-ERR unknown command '" + sanitize(args[0]) + "'\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// readRESP reads an array of bulk strings (at most 16 of at most 512 bytes) or an inline
// command.
func readRESP(r *bufio.Reader) ([]string, bool) {
	line, ok := readLine(r)
	if !ok {
		return nil, false
	}
	if !strings.HasPrefix(line, "*") {
		return strings.Fields(line), true
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 || n > 16 {
		return nil, false
	}
	args := make([]string, 0, n)
	for range n {
		h, ok := readLine(r)
		if !ok || !strings.HasPrefix(h, "$") {
			return nil, false
		}
		size, err := strconv.Atoi(h[1:])
		if err != nil || size < 0 || size > 512 {
			return nil, false
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, false
		}
		args = append(args, string(b[:size]))
	}
	return args, true
}

// sanitize keeps an echoed client string printable and short.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if len(s) > 32 {
		s = s[:32]
	}
	return s
}

// serveMySQL sends a Protocol::HandshakeV10 greeting that offers no TLS, then waits.
func serveMySQL(_ *env, c net.Conn) {
	const capLow, capHigh = 0xffff &^ 0x0800, 0xdfff // everything but CLIENT_SSL
	p := []byte{10}
	p = append(append(p, "8.0.36"...), 0)
	p = binary.LittleEndian.AppendUint32(p, 8)
	p = append(p, "lab-salt"...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, capLow)
	p = append(p, 0xff, 0x02, 0x00) // utf8mb4, SERVER_STATUS_AUTOCOMMIT
	p = binary.LittleEndian.AppendUint16(p, capHigh)
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "lab-salt-two\x00"...)
	p = append(append(p, "caching_sha2_password"...), 0)
	n := len(p)
	packet := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0}, p...)
	if _, err := c.Write(packet); err != nil {
		return
	}
	drain(c)
}

// PostgreSQL protocol codes.
const (
	pgSSLRequest = 80877103
	pgGSSRequest = 80877104
	pgProtocol3  = 196608
)

// servePostgres refuses TLS and GSS encryption, reads the StartupMessage and either lets
// the client in (trust) or asks for SCRAM-SHA-256.
func servePostgres(e *env, c net.Conn) {
	r := limited(c)
	for range 3 {
		head := make([]byte, 8)
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head)
		code := binary.BigEndian.Uint32(head[4:])
		switch {
		case n == 8 && (code == pgSSLRequest || code == pgGSSRequest):
			if _, err := c.Write([]byte("N")); err != nil {
				return
			}
			continue
		case code != pgProtocol3 || n < 8 || n > 10000:
			return
		}
		if _, err := io.CopyN(io.Discard, r, int64(n-8)); err != nil {
			return
		}
		var out []byte
		if e.kind == PostgresAuth {
			out = pgMsg(out, 'R', "\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00")
		} else {
			out = pgMsg(out, 'R', "\x00\x00\x00\x00")
			for _, kv := range [][2]string{{"server_version", "16.2 (Debian 16.2-1.pgdg120+2)"},
				{"server_encoding", "UTF8"}, {"client_encoding", "UTF8"}} {
				out = pgMsg(out, 'S', kv[0]+"\x00"+kv[1]+"\x00")
			}
			out = pgMsg(out, 'K', "\x00\x00\x30\x39\x01\x02\x03\x04")
			out = pgMsg(out, 'Z', "I")
		}
		if _, err := c.Write(out); err != nil {
			return
		}
		drain(r)
		return
	}
}

func pgMsg(b []byte, typ byte, body string) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	return append(b, body...)
}

// serveTarpit accepts and never answers: it reads into a fixed buffer and keeps nothing,
// until the client leaves, the lifetime ends or the lab closes.
func serveTarpit(_ *env, c net.Conn) {
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// serveFirehose streams bytes without a line end or any protocol framing, up to
// Spec.FirehoseBytes, never reading what the client says.
func serveFirehose(e *env, c net.Conn) {
	chunk := bytes.Repeat([]byte("firehose"), 4096) // 32 KiB
	var sent int64
	for sent < e.spec.FirehoseBytes {
		n, err := c.Write(chunk[:min(int64(len(chunk)), e.spec.FirehoseBytes-sent)])
		sent += int64(n)
		if err != nil {
			return
		}
	}
}
