package fingerprint

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
)

// RDP security protocols (MS-RDPBCGR §2.2.1.1.1).
const (
	rdpProtocolRDP    = 0
	rdpProtocolSSL    = 1
	rdpProtocolHybrid = 2 // CredSSP, i.e. Network Level Authentication
)

// RDPInfo is what an RDP server's X.224 Connection Confirm tells.
type RDPInfo struct {
	// Selected is the protocol the server picked: "rdp" (legacy standard security), "ssl",
	// "hybrid" (CredSSP/NLA), "hybrid-ex" or "rdstls"; empty after a failure.
	Selected string `json:"selected,omitempty"`
	// Failure is the RDP_NEG_FAILURE code name, e.g. "HYBRID_REQUIRED_BY_SERVER".
	Failure string `json:"failure,omitempty"`
	Flags   uint8  `json:"flags"`
	// NLARequired is set by GrabRDP from its second, SSL-only request; ParseRDP leaves it
	// false unless the answer itself says HYBRID_REQUIRED_BY_SERVER.
	NLARequired bool `json:"nla_required"`
	// NLASupported: the server picked CredSSP when offered.
	NLASupported bool `json:"nla_supported"`
	// NLAChecked: GrabRDP made the SSL-only request, so NLARequired is a fact, not a
	// default.
	NLAChecked bool `json:"nla_checked"`
}

var rdpProtocols = map[uint32]string{
	0: "rdp", 1: "ssl", 2: "hybrid", 4: "rdstls", 8: "hybrid-ex",
}

var rdpFailures = map[uint32]string{
	1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER",
	3: "SSL_CERT_NOT_ON_SERVER", 4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER",
	6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}

// rdpConnectionRequest builds a TPKT (RFC 1006) framed X.224 Connection Request (X.224
// §13.3) carrying a routing cookie and an RDP_NEG_REQ (MS-RDPBCGR §2.2.1.1).
func rdpConnectionRequest(protocols uint32) []byte {
	cookie := "Cookie: mstshash=tenantra\r\n"
	var x224 []byte
	x224 = append(x224, 0, 0xe0, 0, 0, 0, 0, 0) // LI (filled below), CR, dst, src, class 0
	x224 = append(x224, cookie...)
	x224 = append(x224, 0x01, 0x00, 0x08, 0x00) // RDP_NEG_REQ, flags, length 8
	x224 = binary.LittleEndian.AppendUint32(x224, protocols)
	x224[0] = byte(len(x224) - 1)
	out := append([]byte{3, 0, 0, 0}, x224...)
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	return out
}

func tpktFrame(buf []byte, _ bool) (int, error) {
	if len(buf) < 4 {
		return 0, nil
	}
	if buf[0] != 3 {
		return 0, fmt.Errorf("%w: not a TPKT header", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(buf[2:]))
	if n < 4 {
		return 0, fmt.Errorf("%w: TPKT length %d", ErrMalformed, n)
	}
	if len(buf) < n {
		return 0, nil
	}
	return n, nil
}

// ParseRDP parses the server's answer to a Connection Request: a TPKT-framed X.224
// Connection Confirm, optionally carrying RDP_NEG_RSP or RDP_NEG_FAILURE. A confirm
// without either comes from servers too old to negotiate, which use standard RDP security.
func ParseRDP(captured []byte) (RDPInfo, error) {
	n, err := tpktFrame(captured, true)
	if err != nil {
		return RDPInfo{}, err
	}
	if n == 0 {
		return RDPInfo{}, fmt.Errorf("%w: truncated TPKT", ErrMalformed)
	}
	x := captured[4:n]
	if len(x) < 7 || int(x[0]) > len(x)-1 || int(x[0]) < 6 {
		return RDPInfo{}, fmt.Errorf("%w: short X.224 TPDU", ErrMalformed)
	}
	if x[1]&0xf0 != 0xd0 {
		return RDPInfo{}, fmt.Errorf("%w: X.224 code %#x, want Connection Confirm",
			ErrMalformed, x[1])
	}
	neg := x[7 : 1+int(x[0])]
	if len(neg) == 0 {
		return RDPInfo{Selected: "rdp"}, nil
	}
	if len(neg) < 8 || binary.LittleEndian.Uint16(neg[2:]) != 8 {
		return RDPInfo{}, fmt.Errorf("%w: bad RDP negotiation structure", ErrMalformed)
	}
	v := binary.LittleEndian.Uint32(neg[4:])
	info := RDPInfo{Flags: neg[1]}
	switch neg[0] {
	case 0x02: // RDP_NEG_RSP
		info.Selected = rdpProtocols[v]
		if info.Selected == "" {
			info.Selected = fmt.Sprintf("0x%x", v)
		}
		info.NLASupported = v == rdpProtocolHybrid || v == 8
	case 0x03: // RDP_NEG_FAILURE
		info.Failure = rdpFailures[v]
		if info.Failure == "" {
			info.Failure = fmt.Sprintf("0x%x", v)
		}
		info.NLARequired = v == 5
		info.NLASupported = v == 5
	default:
		return RDPInfo{}, fmt.Errorf("%w: RDP negotiation type %#x", ErrMalformed, neg[0])
	}
	return info, nil
}

// GrabRDP asks twice, on two connections. Offering SSL|HYBRID shows what the server
// prefers; a server that picks HYBRID (NLA) may still accept SSL alone, so a second request
// offering only SSL tells whether NLA is required: HYBRID_REQUIRED_BY_SERVER means it is.
func GrabRDP(ctx context.Context, dial Dialer, lim Limits) (RDPInfo, error) {
	info, err := connectRDP(ctx, dial, lim, rdpProtocolSSL|rdpProtocolHybrid)
	if err != nil {
		return RDPInfo{}, fmt.Errorf("rdp: %w", err)
	}
	if !info.NLASupported || info.NLARequired {
		return info, nil
	}
	ssl, err := connectRDP(ctx, dial, lim, rdpProtocolSSL)
	if err != nil {
		return info, fmt.Errorf("rdp: ssl-only request: %w", err)
	}
	info.NLARequired = ssl.Failure == "HYBRID_REQUIRED_BY_SERVER"
	info.NLAChecked = true
	return info, nil
}

func connectRDP(ctx context.Context, dial Dialer, lim Limits, protocols uint32) (RDPInfo,
	error) {
	conn, err := dial(ctx)
	if err != nil {
		return RDPInfo{}, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	return exchangeRDP(ctx, conn, lim, protocols)
}

func exchangeRDP(ctx context.Context, conn net.Conn, lim Limits, protocols uint32) (RDPInfo,
	error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	if err := s.write(rdpConnectionRequest(protocols)); err != nil {
		return RDPInfo{}, err
	}
	msg, err := s.read(tpktFrame)
	if err != nil {
		return RDPInfo{}, err
	}
	return ParseRDP(msg)
}

// Service converts the result for the asset record.
func (i RDPInfo) Service(port int) Service {
	s := newService(port, "rdp")
	setEvidence(&s, "selected_protocol", i.Selected)
	setEvidence(&s, "negotiation_failure", i.Failure)
	s.Evidence["nla_required"] = fmt.Sprint(i.NLARequired)
	// NLA is known not to be required when the server chose a non-CredSSP protocol while
	// CredSSP was offered, refused SSL itself, or accepted the SSL-only request.
	legacy := i.Selected == "rdp" || i.Failure == "SSL_NOT_ALLOWED_BY_SERVER"
	if !i.NLARequired && (legacy || i.Selected == "ssl" || i.NLAChecked) {
		addFinding(&s, FindingRDPNLANotRequired)
	}
	if legacy {
		addFinding(&s, FindingRDPStandardSecurity)
	}
	return s
}
