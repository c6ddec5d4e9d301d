package fingerprint

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests in this file run each grabber against a tiny server on 127.0.0.1 that speaks
// just enough of the protocol, replaying the samples behind the golden files. Nothing
// leaves the loopback interface (ARCHITECTURE §9).

// peer serves handle on every connection to a fresh 127.0.0.1 listener and returns a
// Dialer for it. Connections are closed and handlers awaited when the test ends.
func peer(t *testing.T, handle func(net.Conn)) Dialer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	addr := ln.Addr().String()
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// countingConn counts the bytes a grabber read, to prove the byte cap holds.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// speakFirst sends a greeting, then drains whatever the client says until it closes.
func speakFirst(greeting []byte) func(net.Conn) {
	return func(c net.Conn) {
		_, _ = c.Write(greeting)
		_, _ = io.Copy(io.Discard, c)
	}
}

func sample(proto, name string) []byte { return samples()[proto][name] }

var testLimits = Limits{MaxBytes: 64 << 10, Timeout: 3 * time.Second}

// grabOnConn adapts a single-connection grabber to a Dialer.
func grabOnConn[T any](f func(context.Context, net.Conn, Limits) (T, error)) func(
	context.Context, Dialer, Limits) (any, error) {
	return func(ctx context.Context, dial Dialer, lim Limits) (any, error) {
		c, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return f(ctx, c, lim)
	}
}

func dialOne(t *testing.T, dial Dialer) net.Conn {
	t.Helper()
	c, err := dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGrabSSH(t *testing.T) {
	dial := peer(t, speakFirst(sample("ssh", "openssh-debian")))
	info, err := GrabSSH(context.Background(), dialOne(t, dial), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if info.Product != "OpenSSH" || info.Version != "9.2p1" || info.OSHint != "debian" {
		t.Errorf("got %+v", info)
	}
}

func TestGrabBanners(t *testing.T) {
	cases := []struct {
		name, proto, sample, product string
		grab                         func(context.Context, net.Conn, Limits) (BannerInfo, error)
		bye                          string
	}{
		{"ftp", "ftp", "filezilla", "FileZilla Server", GrabFTP, "QUIT\r\n"},
		{"smtp", "smtp", "sendmail-multiline", "Sendmail", GrabSMTP, "QUIT\r\n"},
		{"pop3", "pop3", "dovecot", "Dovecot", GrabPOP3, "QUIT\r\n"},
		{"imap", "imap", "cyrus", "Cyrus", GrabIMAP, "a1 LOGOUT\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			said := make(chan string, 1)
			dial := peer(t, func(c net.Conn) {
				_, _ = c.Write(sample(tc.proto, tc.sample))
				line, _ := bufio.NewReader(c).ReadString('\n')
				said <- line
			})
			info, err := tc.grab(context.Background(), dialOne(t, dial), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if info.Product != tc.product || !info.Ready {
				t.Errorf("got %+v", info)
			}
			if got := <-said; got != tc.bye {
				t.Errorf("client said %q, want %q", got, tc.bye)
			}
		})
	}
}

func TestGrabHTTP(t *testing.T) {
	handle := func(c net.Conn) {
		req, err := readHTTPRequest(c)
		if err != nil || !strings.HasPrefix(req, "GET / HTTP/1.1\r\nHost: ") {
			return
		}
		_, _ = c.Write(sample("http", "nginx-redirect"))
	}
	t.Run("plain", func(t *testing.T) {
		info, err := GrabHTTP(context.Background(), dialOne(t, peer(t, handle)), testLimits)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != 301 || info.Location != "https://10.0.0.5/" || info.TLS {
			t.Errorf("got %+v", info)
		}
	})
	t.Run("tls", func(t *testing.T) {
		cfg := serverTLS(t, tls.VersionTLS12, tls.VersionTLS13)
		dial := peer(t, func(c net.Conn) { handle(tls.Server(c, cfg)) })
		conn := TLSClient(dialOne(t, dial), "")
		info, err := GrabHTTP(context.Background(), conn, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		if s := info.Service(443); s.Name != "https" || s.Product != "nginx" {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("endless body is cut", func(t *testing.T) {
		var read atomic.Int64
		dial := peer(t, func(c net.Conn) {
			if _, err := readHTTPRequest(c); err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nServer: stream\r\n\r\n<title>x</title>"))
			_, _ = c.Write(bytes.Repeat([]byte("A"), 10<<20))
		})
		c := countingConn{Conn: dialOne(t, dial), n: &read}
		info, err := GrabHTTP(context.Background(), c, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		if info.Title != "x" || read.Load() > int64(testLimits.MaxBytes) {
			t.Errorf("got %+v after reading %d bytes", info, read.Load())
		}
	})
}

func readHTTPRequest(c net.Conn) (string, error) {
	r := bufio.NewReader(c)
	var sb strings.Builder
	for {
		line, err := r.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

func serverTLS(t *testing.T, minV, maxV uint16) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert := makeCert(t, certSpec{cn: "lab.test", dns: []string{"lab.test"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1)}, notBefore: now.Add(-time.Hour),
		notAfter: now.Add(24 * time.Hour)}, key, nil, nil)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
		MinVersion:   minV,
		MaxVersion:   maxV,
	}
}

func TestGrabTLS(t *testing.T) {
	cases := []struct {
		name       string
		minV, maxV uint16
		want       string
		finding    string
	}{
		{"legacy 1.0-1.2", tls.VersionTLS10, tls.VersionTLS12, "TLS1.2,TLS1.1,TLS1.0",
			FindingTLS10Accepted},
		{"modern 1.3 only", tls.VersionTLS13, tls.VersionTLS13, "TLS1.3", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := serverTLS(t, tc.minV, tc.maxV)
			dial := peer(t, func(c net.Conn) {
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					_, _ = io.Copy(io.Discard, tc)
				}
			})
			info, err := GrabTLS(context.Background(), dial, "lab.test", testLimits,
				time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(info.Versions, ","); got != tc.want {
				t.Errorf("versions %s, want %s", got, tc.want)
			}
			if info.Cert.Subject != "CN=lab.test,O=Test" || !info.Cert.SelfSigned ||
				info.Cert.KeyType != "ECDSA" || info.Expired {
				t.Errorf("cert %+v", info.Cert)
			}
			s := info.Service(443)
			if tc.finding != "" && !contains(s.Findings, tc.finding) {
				t.Errorf("findings %v lack %s", s.Findings, tc.finding)
			}
			// A day later the same certificate is expired.
			if !info.Cert.Expired(time.Now().Add(48 * time.Hour)) {
				t.Error("certificate not expired after not-after")
			}
		})
	}
	t.Run("not tls", func(t *testing.T) {
		dial := peer(t, speakFirst(sample("ssh", "openssh-debian")))
		if _, err := GrabTLS(context.Background(), dial, "", testLimits,
			time.Now()); err == nil {
			t.Fatal("an SSH server passed as TLS")
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestGrabTelnet(t *testing.T) {
	got := make(chan []byte, 1)
	dial := peer(t, func(c net.Conn) {
		_, _ = c.Write([]byte{telnetIAC, telnetDO, 24, telnetIAC, telnetWILL, 1})
		reply := make([]byte, 6)
		if _, err := io.ReadFull(c, reply); err != nil {
			got <- nil
			return
		}
		got <- reply
		_, _ = c.Write([]byte("Debian GNU/Linux 12\r\nfileserver login: "))
		_, _ = io.Copy(io.Discard, c)
	})
	info, err := GrabTelnet(context.Background(), dialOne(t, dial), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{telnetIAC, telnetWONT, 24, telnetIAC, telnetDONT, 1}
	if r := <-got; !bytes.Equal(r, want) {
		t.Errorf("client answered % x, want % x", r, want)
	}
	if info.Banner != "Debian GNU/Linux 12 fileserver login:" || info.OSHint != "debian" {
		t.Errorf("got %+v", info)
	}
}

// readNetBIOS reads one NetBIOS session message.
func readNetBIOS(c net.Conn) ([]byte, error) {
	h := make([]byte, 4)
	if _, err := io.ReadFull(c, h); err != nil {
		return nil, err
	}
	msg := make([]byte, int(h[1])<<16|int(h[2])<<8|int(h[3]))
	_, err := io.ReadFull(c, msg)
	return msg, err
}

func TestGrabSMB(t *testing.T) {
	for _, smb1 := range []bool{true, false} {
		t.Run(map[bool]string{true: "smb1 enabled", false: "smb1 disabled"}[smb1],
			func(t *testing.T) {
				dial := peer(t, func(c net.Conn) {
					msg, err := readNetBIOS(c)
					if err != nil || len(msg) < 4 {
						return
					}
					switch {
					case string(msg[:4]) == "\xfeSMB" && validSMB2Negotiate(msg):
						_, _ = c.Write(sample("smb", "windows-2022"))
					case string(msg[:4]) == "\xffSMB" && smb1 &&
						bytes.Contains(msg, []byte("\x02NT LM 0.12\x00")):
						_, _ = c.Write(sample("smb", "samba-smb1"))
					}
					// Otherwise hang up, as Windows does with SMB1 disabled.
				})
				info, err := GrabSMB(context.Background(), dial, testLimits)
				if err != nil {
					t.Fatal(err)
				}
				if info.Dialect != "3.1.1" || !info.SigningRequired ||
					info.SMBv1Enabled != smb1 {
					t.Errorf("got %+v", info)
				}
				if got := contains(info.Service(445).Findings, FindingSMBv1Enabled); got != smb1 {
					t.Errorf("smbv1 finding %v, want %v", got, smb1)
				}
			})
	}
}

// validSMB2Negotiate checks the request the way a server would: header size, command,
// dialect list and the negotiate contexts that 3.1.1 requires.
func validSMB2Negotiate(msg []byte) bool {
	le := binary.LittleEndian
	if len(msg) < 64+36 || le.Uint16(msg[4:]) != 64 || le.Uint16(msg[12:]) != 0 {
		return false
	}
	b := msg[64:]
	n := int(le.Uint16(b[2:]))
	off, count := int(le.Uint32(b[28:])), int(le.Uint16(b[32:]))
	if le.Uint16(b) != 36 || len(b) < 36+2*n || off%8 != 0 || off+8 > len(msg) || count != 2 {
		return false
	}
	return le.Uint16(b[36+2*(n-1):]) == 0x0311 && le.Uint16(msg[off:]) == 1
}

func TestGrabRDP(t *testing.T) {
	cases := []struct {
		name        string
		sslOnly     string // sample answering an SSL-only request
		nlaRequired bool
	}{
		{"nla required", "hybrid-required", true},
		{"nla optional", "ssl-only", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dial := peer(t, func(c net.Conn) {
				h := make([]byte, 4)
				if _, err := io.ReadFull(c, h); err != nil || h[0] != 3 {
					return
				}
				req := make([]byte, int(binary.BigEndian.Uint16(h[2:]))-4)
				if _, err := io.ReadFull(c, req); err != nil || req[1] != 0xe0 {
					return
				}
				switch binary.LittleEndian.Uint32(req[len(req)-4:]) {
				case rdpProtocolSSL | rdpProtocolHybrid:
					_, _ = c.Write(sample("rdp", "windows-hybrid"))
				case rdpProtocolSSL:
					_, _ = c.Write(sample("rdp", tc.sslOnly))
				}
			})
			info, err := GrabRDP(context.Background(), dial, testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if !info.NLASupported || info.NLARequired != tc.nlaRequired || !info.NLAChecked {
				t.Errorf("got %+v", info)
			}
			finding := contains(info.Service(3389).Findings, FindingRDPNLANotRequired)
			if finding == tc.nlaRequired {
				t.Errorf("nla-not-required finding %v with NLA required %v", finding,
					tc.nlaRequired)
			}
		})
	}
}

func TestGrabMySQL(t *testing.T) {
	dial := peer(t, speakFirst(sample("mysql", "mariadb-10.11")))
	info, err := GrabMySQL(context.Background(), dialOne(t, dial), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if info.Product != "MariaDB" || info.Version != "10.11.6" ||
		info.AuthPlugin != "mysql_native_password" {
		t.Errorf("got %+v", info)
	}
}

func TestGrabPostgres(t *testing.T) {
	cases := []struct {
		name, sample string
		tls          bool
		auth         string
	}{
		{"trust without tls", "trust-16", false, "ok"},
		{"scram over tls", "scram", true, "sasl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := serverTLS(t, tls.VersionTLS12, tls.VersionTLS13)
			startup := make(chan string, 1)
			dial := peer(t, func(c net.Conn) {
				req := make([]byte, 8)
				if _, err := io.ReadFull(c, req); err != nil ||
					binary.BigEndian.Uint32(req[4:]) != pgSSLRequestCode {
					return
				}
				rw := c
				if tc.tls {
					_, _ = c.Write([]byte("S"))
					tc := tls.Server(c, cfg)
					if tc.Handshake() != nil {
						return
					}
					rw = tc
				} else {
					_, _ = c.Write([]byte("N"))
				}
				if _, err := io.ReadFull(rw, req[:4]); err != nil {
					return
				}
				body := make([]byte, binary.BigEndian.Uint32(req)-4)
				if _, err := io.ReadFull(rw, body); err != nil {
					return
				}
				startup <- string(body[4:])
				_, _ = rw.Write(sample("postgres", tc.sample)[1:])
				_, _ = io.Copy(io.Discard, rw)
			})
			info, err := GrabPostgres(context.Background(), dialOne(t, dial), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if info.TLS != tc.tls || info.Auth != tc.auth {
				t.Errorf("got %+v", info)
			}
			if got := <-startup; !strings.Contains(got, "user\x00tenantra\x00database\x00"+
				"postgres\x00") {
				t.Errorf("startup parameters %q", got)
			}
		})
	}
}

func TestGrabRedis(t *testing.T) {
	full := sample("redis", "no-auth-7.2")
	cases := []struct {
		name, pong, info string
		auth             bool
	}{
		{"open", "+PONG\r\n", string(full[len("+PONG\r\n"):]), false},
		{"password", "-NOAUTH Authentication required.\r\n", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dial := peer(t, func(c net.Conn) {
				r := bufio.NewReader(c)
				if !readRESPCommand(r, "PING") {
					return
				}
				_, _ = c.Write([]byte(tc.pong))
				if tc.info != "" && readRESPCommand(r, "INFO") {
					_, _ = c.Write([]byte(tc.info))
				}
				_, _ = io.Copy(io.Discard, r)
			})
			info, err := GrabRedis(context.Background(), dialOne(t, dial), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if info.AuthRequired != tc.auth || (!tc.auth && info.Version != "7.2.4") {
				t.Errorf("got %+v", info)
			}
			if got := contains(info.Service(6379).Findings, FindingRedisNoAuth); got == tc.auth {
				t.Errorf("redis-no-auth finding %v with auth %v", got, tc.auth)
			}
		})
	}
}

// readRESPCommand reads one RESP array of bulk strings and checks its first element.
func readRESPCommand(r *bufio.Reader, want string) bool {
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "*") {
		return false
	}
	n := int(head[1] - '0')
	var first string
	for i := 0; i < n; i++ {
		if _, err := r.ReadString('\n'); err != nil {
			return false
		}
		v, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if i == 0 {
			first = strings.TrimSpace(v)
		}
	}
	return first == want
}

func TestGrabMongoDB(t *testing.T) {
	cases := []struct {
		sample, access, version string
	}{
		{"open-7.0", "open", "7.0.5"},
		{"auth-6.0", "auth-required", "6.0.13"},
		{"replset-3.6", "open", "3.6.23"},
	}
	for _, tc := range cases {
		t.Run(tc.sample, func(t *testing.T) {
			replies := splitMongo(sample("mongodb", tc.sample))
			dial := peer(t, func(c net.Conn) {
				for {
					h := make([]byte, 16)
					if _, err := io.ReadFull(c, h); err != nil {
						return
					}
					body := make([]byte, binary.LittleEndian.Uint32(h)-16)
					if _, err := io.ReadFull(c, body); err != nil {
						return
					}
					doc, _, err := parseBSON(body[5:])
					if err != nil || doc.get("$db") != "admin" {
						return
					}
					reply, ok := replies[int32(binary.LittleEndian.Uint32(h[4:]))]
					if !ok {
						reply = opMsgReply(int32(binary.LittleEndian.Uint32(h[4:])),
							bson("ok", 0.0, "errmsg", "no such command", "code", int32(59)))
					}
					_, _ = c.Write(reply)
				}
			})
			info, err := GrabMongoDB(context.Background(), dialOne(t, dial), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if info.Access != tc.access || info.Version != tc.version {
				t.Errorf("got %+v", info)
			}
		})
	}
}

// splitMongo indexes a captured reply sequence by responseTo.
func splitMongo(b []byte) map[int32][]byte {
	out := map[int32][]byte{}
	for len(b) >= 16 {
		n := int(binary.LittleEndian.Uint32(b))
		out[int32(binary.LittleEndian.Uint32(b[8:]))] = b[:n]
		b = b[n:]
	}
	return out
}

// grabbers lists every grabber behind one signature for the hostile-peer tests.
var grabbers = map[string]func(context.Context, Dialer, Limits) (any, error){
	"ssh":    grabOnConn(GrabSSH),
	"http":   grabOnConn(GrabHTTP),
	"ftp":    grabOnConn(GrabFTP),
	"smtp":   grabOnConn(GrabSMTP),
	"pop3":   grabOnConn(GrabPOP3),
	"imap":   grabOnConn(GrabIMAP),
	"telnet": grabOnConn(GrabTelnet),
	"mysql":  grabOnConn(GrabMySQL),
	"pg":     grabOnConn(GrabPostgres),
	"redis":  grabOnConn(GrabRedis),
	"mongo":  grabOnConn(GrabMongoDB),
	"smb": func(ctx context.Context, d Dialer, l Limits) (any, error) {
		return GrabSMB(ctx, d, l)
	},
	"rdp": func(ctx context.Context, d Dialer, l Limits) (any, error) {
		return GrabRDP(ctx, d, l)
	},
	"tls": func(ctx context.Context, d Dialer, l Limits) (any, error) {
		return GrabTLS(ctx, d, "", l, time.Now())
	},
}

// TestSilentPeer: a host that accepts and never answers gives ErrNoResponse (or a TLS
// handshake timeout) once the time limit passes, never a hang.
func TestSilentPeer(t *testing.T) {
	t.Parallel()
	dial := peer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	lim := Limits{MaxBytes: 4096, Timeout: 200 * time.Millisecond}
	for name, grab := range grabbers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			done := make(chan error, 1)
			go func() { _, err := grab(context.Background(), dial, lim); done <- err }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a silent peer was fingerprinted")
				}
				t.Log(err)
				var ne net.Error
				if !errors.Is(err, ErrNoResponse) && !(errors.As(err, &ne) && ne.Timeout()) &&
					!errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v is not a timeout", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("grabber ignored its time limit")
			}
		})
	}
}

// TestFloodingPeer: a host that streams 10 MiB of junk gives a clean error, and no grabber
// reads more than Limits.MaxBytes from one connection.
func TestFloodingPeer(t *testing.T) {
	t.Parallel()
	junk := bytes.Repeat([]byte("A"), 10<<20)
	dial := peer(t, func(c net.Conn) {
		go func() { _, _ = io.Copy(io.Discard, c) }()
		_, _ = c.Write(junk)
	})
	lim := Limits{MaxBytes: 32 << 10, Timeout: 5 * time.Second}
	for name, grab := range grabbers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var counters []*atomic.Int64
			counted := func(ctx context.Context) (net.Conn, error) {
				c, err := dial(ctx)
				if err != nil {
					return nil, err
				}
				n := new(atomic.Int64)
				mu.Lock()
				counters = append(counters, n)
				mu.Unlock()
				return countingConn{Conn: c, n: n}, nil
			}
			_, err := grab(context.Background(), counted, lim)
			if err == nil {
				t.Fatal("10 MiB of junk was fingerprinted")
			}
			t.Log(err)
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) &&
				!strings.Contains(err.Error(), "tls") {
				t.Errorf("unclear error: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(counters) == 0 {
				t.Fatal("grabber never dialled")
			}
			for _, n := range counters {
				if n.Load() > int64(lim.MaxBytes) {
					t.Errorf("read %d bytes from one connection, cap %d", n.Load(),
						lim.MaxBytes)
				}
			}
		})
	}
}

// TestCancel: cancelling the context stops a grab blocked on a silent peer at once and
// reports the cancellation.
func TestCancel(t *testing.T) {
	dial := peer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := GrabSSH(ctx, dialOne(t, dial), Limits{Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
