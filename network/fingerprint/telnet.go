package fingerprint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Telnet commands (RFC 854) and the option-negotiation verbs (RFC 855).
const (
	telnetSE   = 240
	telnetSB   = 250
	telnetWILL = 251
	telnetWONT = 252
	telnetDO   = 253
	telnetDONT = 254
	telnetIAC  = 255
)

// TelnetInfo is what a Telnet server shows before login: its option negotiation and the
// banner or login prompt.
type TelnetInfo struct {
	Banner  string   `json:"banner"`
	Options []string `json:"options,omitempty"` // negotiation seen, e.g. "DO 24", "WILL 1"
	Product string   `json:"product,omitempty"`
	OSHint  string   `json:"os_hint,omitempty"`
}

var telnetRules = []productRule{
	{"Cisco IOS", regexp.MustCompile(`User Access Verification`)},
	{"BusyBox", regexp.MustCompile(`BusyBox`)},
	{"MikroTik RouterOS", regexp.MustCompile(`MikroTik`)},
	{"Linux telnetd", regexp.MustCompile(`(?i)(ubuntu|debian|linux).*login:`)},
}

const maxTelnetOptions = 32

// ParseTelnet strips the IAC command sequences from what a Telnet server sent and keeps the
// text. Subnegotiations (IAC SB … IAC SE) are dropped whole; IAC IAC is a literal 0xFF.
func ParseTelnet(captured []byte) (TelnetInfo, error) {
	var info TelnetInfo
	text, opts := stripIAC(captured)
	for _, o := range opts {
		if len(info.Options) == maxTelnetOptions {
			break
		}
		info.Options = append(info.Options, o)
	}
	info.Banner = clean(text)
	if info.Banner == "" && len(info.Options) == 0 {
		return info, fmt.Errorf("%w: telnet peer sent neither text nor negotiation",
			ErrMalformed)
	}
	info.Product, _ = matchProduct(info.Banner, telnetRules)
	info.OSHint = osHint(info.Banner)
	return info, nil
}

func stripIAC(b []byte) (text []byte, opts []string) {
	verbs := map[byte]string{telnetWILL: "WILL", telnetWONT: "WONT", telnetDO: "DO",
		telnetDONT: "DONT"}
	for i := 0; i < len(b); i++ {
		if b[i] != telnetIAC {
			text = append(text, b[i])
			continue
		}
		if i+1 >= len(b) {
			break
		}
		cmd := b[i+1]
		switch {
		case cmd == telnetIAC:
			text = append(text, telnetIAC)
			i++
		case cmd >= telnetWILL && cmd <= telnetDONT:
			if i+2 < len(b) && len(opts) < maxTelnetOptions {
				opts = append(opts, verbs[cmd]+" "+strconv.Itoa(int(b[i+2])))
			}
			i += 2
		case cmd == telnetSB:
			// Skip to IAC SE; an unterminated subnegotiation swallows the rest.
			j := i + 2
			for j+1 < len(b) && !(b[j] == telnetIAC && b[j+1] == telnetSE) {
				j++
			}
			i = j + 1
		default:
			i++
		}
	}
	return text, opts
}

// refuseAll answers every DO with WONT and every WILL with DONT. A Telnet server often
// withholds its prompt until the client has answered its requests; refusing everything is
// the smallest answer that keeps it talking and commits the client to nothing.
func refuseAll(b []byte) []byte {
	var out []byte
	for i := 0; i+2 < len(b); i++ {
		if b[i] != telnetIAC {
			continue
		}
		switch b[i+1] {
		case telnetDO:
			out = append(out, telnetIAC, telnetWONT, b[i+2])
			i += 2
		case telnetWILL:
			out = append(out, telnetIAC, telnetDONT, b[i+2])
			i += 2
		case telnetIAC:
			i++
		}
	}
	return out
}

// telnetQuiet is how long the grabber waits for more text once it has some: Telnet has no
// message boundaries, so silence marks the end of the banner.
const telnetQuiet = 300 * time.Millisecond

// GrabTelnet collects what a Telnet server sends until it goes quiet, answering option
// negotiation with refusals.
func GrabTelnet(ctx context.Context, conn net.Conn, lim Limits) (TelnetInfo, error) {
	lim = lim.withDefaults()
	s := begin(ctx, conn, lim)
	defer s.end()
	deadline := time.Now().Add(lim.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var captured []byte
	seen := 0
	for {
		// Each read takes whatever arrived: the frame function accepts any bytes.
		chunk, err := s.read(func(buf []byte, _ bool) (int, error) { return len(buf), nil })
		if err != nil {
			if len(captured) > 0 && (errors.Is(err, ErrNoResponse) ||
				errors.Is(err, ErrIncomplete)) {
				break
			}
			return TelnetInfo{}, fmt.Errorf("telnet: %w", err)
		}
		captured = append(captured, chunk...)
		if reply := refuseAll(captured[max(0, seen-2):]); len(reply) > 0 {
			_ = s.write(reply)
		}
		seen = len(captured)
		if text, _ := stripIAC(captured); strings.TrimSpace(string(text)) != "" {
			quiet := time.Now().Add(telnetQuiet)
			if quiet.Before(deadline) {
				_ = conn.SetReadDeadline(quiet)
			}
		}
	}
	info, err := ParseTelnet(captured)
	return named("telnet", info, err)
}

// Service converts the result for the asset record.
func (i TelnetInfo) Service(port int) Service {
	s := newService(port, "telnet")
	s.Product = i.Product
	setEvidence(&s, "banner", i.Banner)
	setEvidence(&s, "os_hint", i.OSHint)
	setEvidence(&s, "options", strings.Join(i.Options, ","))
	addFinding(&s, FindingTelnetOpen)
	return s
}
