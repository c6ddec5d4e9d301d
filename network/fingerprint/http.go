package fingerprint

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// HTTPInfo is what an HTTP/1.x response to "GET /" tells.
type HTTPInfo struct {
	TLS           bool   `json:"tls"`
	Proto         string `json:"proto"`
	Status        int    `json:"status"`
	Server        string `json:"server,omitempty"`
	PoweredBy     string `json:"powered_by,omitempty"`
	Title         string `json:"title,omitempty"`
	Location      string `json:"location,omitempty"`
	ContentType   string `json:"content_type,omitempty"`
	Authenticate  string `json:"authenticate,omitempty"` // WWW-Authenticate scheme
	BodyTruncated bool   `json:"body_truncated,omitempty"`
	Product       string `json:"product,omitempty"`
	Version       string `json:"version,omitempty"`
}

// maxTitleBody is how much of the body is searched for <title>: it sits in <head>.
const maxTitleBody = 32 << 10

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title`)

// ParseHTTP parses a raw HTTP/1.x response. The body may be cut short (the grabber caps
// it), so a truncated body is recorded, not an error.
func ParseHTTP(captured []byte) (HTTPInfo, error) {
	if !bytes.HasPrefix(captured, []byte("HTTP/")) {
		return HTTPInfo{}, fmt.Errorf("%w: not an HTTP response", ErrMalformed)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(captured)),
		&http.Request{Method: http.MethodGet})
	if err != nil {
		return HTTPInfo{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	defer resp.Body.Close()
	info := HTTPInfo{
		Proto:       resp.Proto,
		Status:      resp.StatusCode,
		Server:      clean([]byte(resp.Header.Get("Server"))),
		PoweredBy:   clean([]byte(resp.Header.Get("X-Powered-By"))),
		Location:    clean([]byte(resp.Header.Get("Location"))),
		ContentType: clean([]byte(resp.Header.Get("Content-Type"))),
	}
	if a := resp.Header.Get("WWW-Authenticate"); a != "" {
		scheme, _, _ := strings.Cut(a, " ")
		info.Authenticate = clean([]byte(scheme))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTitleBody))
	if err != nil {
		info.BodyTruncated = true
	}
	if m := titleRE.FindSubmatch(body); m != nil {
		info.Title = clean([]byte(html.UnescapeString(string(m[1]))))
	}
	info.Product, info.Version = splitServer(info.Server)
	return info, nil
}

// splitServer reads the first product token of a Server header (RFC 9110 §10.2.4):
// "nginx/1.22.1", "Apache/2.4.57 (Debian)", "Microsoft-IIS/10.0".
func splitServer(server string) (product, version string) {
	tok, _, _ := strings.Cut(server, " ")
	product, version, _ = strings.Cut(tok, "/")
	return product, version
}

// httpFrame completes at the end of the body when its length is known, and otherwise
// settles for whatever arrived once the peer closes or a limit is reached: only the head
// and the start of the body matter here.
func httpFrame(buf []byte, atEOF bool) (int, error) {
	if len(buf) >= 5 && !bytes.HasPrefix(buf, []byte("HTTP/")) {
		return 0, fmt.Errorf("%w: not an HTTP response", ErrMalformed)
	}
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, nil
	}
	end += 4
	if atEOF {
		return len(buf), nil
	}
	head := buf[:end]
	if i := bytes.Index(bytes.ToLower(head), []byte("\ncontent-length:")); i >= 0 {
		v := head[i+len("\ncontent-length:"):]
		v = v[:max(0, bytes.IndexByte(v, '\r'))]
		n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err == nil && n >= 0 && len(buf)-end >= min(n, maxTitleBody) {
			return end + min(n, maxTitleBody), nil
		}
	}
	if len(buf)-end >= maxTitleBody {
		return len(buf), nil
	}
	return 0, nil
}

// GrabHTTP sends "GET /" and parses the answer. For HTTPS pass a *tls.Conn (see TLSClient);
// the handshake then happens on the first write, under the same limits.
func GrabHTTP(ctx context.Context, conn net.Conn, lim Limits) (HTTPInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	host := "localhost"
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		host = a.IP.String()
		if a.IP.To4() == nil {
			host = "[" + host + "]"
		}
	}
	_, isTLS := conn.(*tls.Conn)
	if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().ServerName != "" {
		host = tc.ConnectionState().ServerName
	}
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: Tenantra-Discovery/1\r\n" +
		"Accept: */*\r\nConnection: close\r\n\r\n"
	if err := s.write([]byte(req)); err != nil {
		return HTTPInfo{}, fmt.Errorf("http: %w", err)
	}
	msg, err := s.read(httpFrame)
	if err != nil {
		return HTTPInfo{}, fmt.Errorf("http: %w", err)
	}
	info, err := ParseHTTP(msg)
	info.TLS = isTLS
	return named("http", info, err)
}

// Service converts the result for the asset record.
func (i HTTPInfo) Service(port int) Service {
	name := "http"
	if i.TLS {
		name = "https"
	}
	s := newService(port, name)
	s.Product, s.Version = i.Product, i.Version
	s.Evidence["status"] = strconv.Itoa(i.Status)
	setEvidence(&s, "server", i.Server)
	setEvidence(&s, "powered_by", i.PoweredBy)
	setEvidence(&s, "title", i.Title)
	setEvidence(&s, "location", i.Location)
	setEvidence(&s, "authenticate", i.Authenticate)
	if !i.TLS && i.Authenticate == "Basic" {
		addFinding(&s, FindingHTTPBasicCleartext)
	}
	return s
}
