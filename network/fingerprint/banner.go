package fingerprint

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// BannerInfo is what a text protocol's greeting tells: FTP, SMTP, POP3 and IMAP servers
// speak first, and their greeting usually names the product.
type BannerInfo struct {
	Proto   string `json:"service"` // "ftp", "smtp", "pop3" or "imap"
	Banner  string `json:"banner"`
	Code    int    `json:"code,omitempty"` // FTP and SMTP reply code, 220 when ready
	Ready   bool   `json:"ready"`          // the server accepts commands
	Product string `json:"product,omitempty"`
	Version string `json:"version,omitempty"`
	OSHint  string `json:"os_hint,omitempty"`
}

var ftpRules = []productRule{
	{"vsftpd", regexp.MustCompile(`(?i)vsftpd ([0-9][0-9a-z.]*)`)},
	{"ProFTPD", regexp.MustCompile(`ProFTPD ([0-9][0-9a-z.]*)`)},
	{"Pure-FTPd", regexp.MustCompile(`Pure-FTPd`)},
	{"FileZilla Server", regexp.MustCompile(`FileZilla Server ?([0-9][0-9a-z.]*)?`)},
	{"Microsoft FTP Service", regexp.MustCompile(`Microsoft FTP Service`)},
	{"Serv-U", regexp.MustCompile(`Serv-U FTP Server v?([0-9][0-9.]*)`)},
}

var smtpRules = []productRule{
	{"Postfix", regexp.MustCompile(`Postfix`)},
	{"Exim", regexp.MustCompile(`Exim ([0-9][0-9.]*)`)},
	{"Sendmail", regexp.MustCompile(`Sendmail ([0-9][0-9.]*)`)},
	{"Microsoft Exchange", regexp.MustCompile(`Microsoft ESMTP MAIL Service`)},
	{"OpenSMTPD", regexp.MustCompile(`OpenSMTPD`)},
	{"Haraka", regexp.MustCompile(`Haraka ?([0-9][0-9.]*)?`)},
}

var pop3Rules = []productRule{
	{"Dovecot", regexp.MustCompile(`Dovecot`)},
	{"Courier", regexp.MustCompile(`Courier`)},
	{"Cyrus", regexp.MustCompile(`Cyrus POP3 v?([0-9][0-9.]*)?`)},
	{"Microsoft Exchange", regexp.MustCompile(`Microsoft Exchange`)},
}

var imapRules = []productRule{
	{"Dovecot", regexp.MustCompile(`Dovecot`)},
	{"Courier", regexp.MustCompile(`Courier-IMAP`)},
	{"Cyrus", regexp.MustCompile(`Cyrus IMAP v?([0-9][0-9.]*)?`)},
	{"Microsoft Exchange", regexp.MustCompile(`Microsoft Exchange`)},
}

// ParseFTP parses an FTP greeting (RFC 959 §4.2: "220" when ready, possibly multi-line
// "220-…" continued until "220 …").
func ParseFTP(captured []byte) (BannerInfo, error) { return parseCoded("ftp", captured, ftpRules) }

// ParseSMTP parses an SMTP greeting (RFC 5321 §4.2, same reply shape as FTP).
func ParseSMTP(captured []byte) (BannerInfo, error) {
	return parseCoded("smtp", captured, smtpRules)
}

// ParsePOP3 parses a POP3 greeting (RFC 1939 §4: "+OK …" or "-ERR …").
func ParsePOP3(captured []byte) (BannerInfo, error) {
	line, err := firstLine(captured)
	if err != nil {
		return BannerInfo{}, err
	}
	info := BannerInfo{Proto: "pop3", Banner: clean(line)}
	switch {
	case bytes.HasPrefix(line, []byte("+OK")):
		info.Ready = true
	case bytes.HasPrefix(line, []byte("-ERR")):
	default:
		return BannerInfo{}, fmt.Errorf("%w: pop3 greeting must start +OK or -ERR", ErrMalformed)
	}
	info.Product, info.Version = matchProduct(info.Banner, pop3Rules)
	info.OSHint = osHint(info.Banner)
	return info, nil
}

// ParseIMAP parses an IMAP greeting (RFC 9051 §7.1: "* OK", "* PREAUTH" or "* BYE").
func ParseIMAP(captured []byte) (BannerInfo, error) {
	line, err := firstLine(captured)
	if err != nil {
		return BannerInfo{}, err
	}
	info := BannerInfo{Proto: "imap", Banner: clean(line)}
	switch {
	case bytes.HasPrefix(line, []byte("* OK")), bytes.HasPrefix(line, []byte("* PREAUTH")):
		info.Ready = true
	case bytes.HasPrefix(line, []byte("* BYE")):
	default:
		return BannerInfo{}, fmt.Errorf("%w: imap greeting must be untagged OK/PREAUTH/BYE",
			ErrMalformed)
	}
	info.Product, info.Version = matchProduct(info.Banner, imapRules)
	info.OSHint = osHint(info.Banner)
	return info, nil
}

func firstLine(b []byte) ([]byte, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, fmt.Errorf("%w: greeting without a line end", ErrMalformed)
	}
	return bytes.TrimRight(b[:i], "\r"), nil
}

// parseCoded joins the lines of an FTP/SMTP multi-line reply and checks that every line
// carries the same three-digit code.
func parseCoded(svc string, captured []byte, rules []productRule) (BannerInfo, error) {
	n, err := codedFrame(captured, false)
	if err != nil {
		return BannerInfo{}, err
	}
	if n == 0 {
		return BannerInfo{}, fmt.Errorf("%w: reply has no final line", ErrMalformed)
	}
	info := BannerInfo{Proto: svc}
	info.Code, _ = strconv.Atoi(string(captured[:3]))
	var text []byte
	for _, line := range bytes.Split(bytes.TrimRight(captured[:n], "\r\n"), []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) > 4 {
			text = append(text, line[4:]...)
			text = append(text, ' ')
		}
	}
	info.Banner = clean(text)
	info.Ready = info.Code == 220
	info.Product, info.Version = matchProduct(info.Banner, rules)
	info.OSHint = osHint(info.Banner)
	return info, nil
}

// codedFrame completes after the line "NNN " that ends a reply. RFC 959 allows continuation
// lines without the code inside a multi-line reply; they are accepted.
func codedFrame(buf []byte, _ bool) (int, error) {
	if len(buf) >= 3 && !(isDigit(buf[0]) && isDigit(buf[1]) && isDigit(buf[2])) {
		return 0, fmt.Errorf("%w: reply does not start with a 3-digit code", ErrMalformed)
	}
	off := 0
	for {
		i := bytes.IndexByte(buf[off:], '\n')
		if i < 0 {
			return 0, nil
		}
		line := bytes.TrimRight(buf[off:off+i], "\r")
		off += i + 1
		// The final line is the code followed by a space or by nothing.
		if len(line) >= 3 && bytes.Equal(line[:3], buf[:3]) &&
			(len(line) == 3 || line[3] == ' ') {
			return off, nil
		}
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// GrabFTP reads an FTP greeting, then says QUIT so the server logs a clean disconnect.
func GrabFTP(ctx context.Context, conn net.Conn, lim Limits) (BannerInfo, error) {
	return grabCoded(ctx, conn, lim, "ftp", ParseFTP)
}

// GrabSMTP reads an SMTP greeting, then says QUIT.
func GrabSMTP(ctx context.Context, conn net.Conn, lim Limits) (BannerInfo, error) {
	return grabCoded(ctx, conn, lim, "smtp", ParseSMTP)
}

func grabCoded(ctx context.Context, conn net.Conn, lim Limits, svc string,
	parse func([]byte) (BannerInfo, error)) (BannerInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	msg, err := s.read(codedFrame)
	if err != nil {
		return BannerInfo{}, fmt.Errorf("%s: %w", svc, err)
	}
	_ = s.write([]byte("QUIT\r\n"))
	info, err := parse(msg)
	return named(svc, info, err)
}

// GrabPOP3 reads a POP3 greeting, then says QUIT.
func GrabPOP3(ctx context.Context, conn net.Conn, lim Limits) (BannerInfo, error) {
	return grabLine(ctx, conn, lim, "pop3", "QUIT\r\n", ParsePOP3)
}

// GrabIMAP reads an IMAP greeting, then logs out.
func GrabIMAP(ctx context.Context, conn net.Conn, lim Limits) (BannerInfo, error) {
	return grabLine(ctx, conn, lim, "imap", "a1 LOGOUT\r\n", ParseIMAP)
}

func grabLine(ctx context.Context, conn net.Conn, lim Limits, svc, bye string,
	parse func([]byte) (BannerInfo, error)) (BannerInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	msg, err := s.read(lineFrame)
	if err != nil {
		return BannerInfo{}, fmt.Errorf("%s: %w", svc, err)
	}
	_ = s.write([]byte(bye))
	info, err := parse(msg)
	return named(svc, info, err)
}

// Service converts the result for the asset record.
func (i BannerInfo) Service(port int) Service {
	s := newService(port, i.Proto)
	s.Product, s.Version = i.Product, i.Version
	setEvidence(&s, "banner", i.Banner)
	setEvidence(&s, "os_hint", i.OSHint)
	if i.Code != 0 {
		s.Evidence["code"] = strconv.Itoa(i.Code)
	}
	switch i.Proto {
	case "ftp":
		addFinding(&s, FindingFTPOpen)
	}
	return s
}
