package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"time"
)

// udpPayload is a request a UDP service answers, and a check that a datagram answers it.
type udpPayload struct {
	service string
	build   func(id uint32) []byte
	match   func(req, reply []byte) bool
}

// payloadFor returns the request for a UDP port. Ports without a known protocol get an empty
// datagram: only an ICMP port unreachable (closed) can be learnt from it.
func payloadFor(port uint16) udpPayload {
	switch port {
	case 53:
		return udpPayload{"dns", dnsQuery, dnsMatch}
	case 123:
		return udpPayload{"ntp", ntpRequest, ntpMatch}
	case 161:
		return udpPayload{"snmp", snmpGetRequest, snmpMatch}
	}
	return udpPayload{build: func(uint32) []byte { return nil },
		match: func(_, _ []byte) bool { return false }}
}

// dnsQuery asks for the root NS set with recursion not desired: every DNS server can answer
// it from its hints, and it makes a recursive resolver look nothing up outside.
func dnsQuery(id uint32) []byte {
	q := make([]byte, 0, 17)
	q = binary.BigEndian.AppendUint16(q, uint16(id))
	q = append(q, 0x00, 0x00) // standard query, RD=0
	q = append(q, 0, 1, 0, 0, 0, 0, 0, 0)
	q = append(q, 0)          // root name
	q = append(q, 0, 2, 0, 1) // NS, IN
	return q
}

// dnsMatch accepts any response (QR set) to our ID, whatever its rcode: a REFUSED still
// proves a DNS server listens.
func dnsMatch(req, reply []byte) bool {
	return len(reply) >= 12 && reply[0] == req[0] && reply[1] == req[1] && reply[2]&0x80 != 0
}

// ntpRequest is an NTPv4 client packet whose transmit timestamp carries the probe id; a
// server copies it into the reply's origin timestamp.
func ntpRequest(id uint32) []byte {
	p := make([]byte, 48)
	p[0] = 0x23 // LI 0, version 4, mode 3 (client)
	binary.BigEndian.PutUint32(p[40:], id)
	binary.BigEndian.PutUint32(p[44:], ^id)
	return p
}

func ntpMatch(req, reply []byte) bool {
	if len(reply) < 48 {
		return false
	}
	mode := reply[0] & 7
	return (mode == 4 || mode == 5) && bytes.Equal(reply[24:32], req[40:48])
}

// sysDescr0 is the OID 1.3.6.1.2.1.1.1.0, BER-encoded.
var sysDescr0 = [...]byte{0x2b, 6, 1, 2, 1, 1, 1, 0}

// snmpGetRequest is an SNMPv2c get-request for sysDescr.0 with community "public". Agents
// drop requests with a wrong community silently, so a silent 161 is open|filtered.
func snmpGetRequest(id uint32) []byte {
	reqID := binary.BigEndian.AppendUint32([]byte{0x02, 0x04}, id&0x7fffffff)
	varbind := tlv(0x30, append(tlv(0x06, sysDescr0[:]), 0x05, 0x00))
	pdu := tlv(0xa0, concat(reqID, []byte{0x02, 0x01, 0x00, 0x02, 0x01, 0x00},
		tlv(0x30, varbind)))
	return tlv(0x30, concat([]byte{0x02, 0x01, 0x01}, tlv(0x04, []byte("public")), pdu))
}

// snmpMatch parses just enough BER to see a response PDU carrying our request id.
func snmpMatch(req, reply []byte) bool {
	want, ok := snmpRequestID(req, 0xa0)
	if !ok {
		return false
	}
	got, ok := snmpRequestID(reply, 0xa2) // GetResponse-PDU
	return ok && got == want
}

// snmpRequestID walks message → version → community → PDU (of pduTag) → request-id.
func snmpRequestID(b []byte, pduTag byte) (uint64, bool) {
	msg, _, ok := berNext(b, 0x30)
	for _, tag := range []byte{0x02, 0x04} { // version, community
		if !ok {
			return 0, false
		}
		_, msg, ok = berNext(msg, tag)
	}
	if !ok {
		return 0, false
	}
	pdu, _, ok := berNext(msg, pduTag)
	if !ok {
		return 0, false
	}
	id, _, ok := berNext(pdu, 0x02)
	return berUint(id), ok
}

func tlv(tag byte, v []byte) []byte {
	if len(v) > 127 {
		panic("probe: tlv longer than 127 bytes") // every request here is short
	}
	return append([]byte{tag, byte(len(v))}, v...)
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// berNext reads one element with the given tag and returns its contents and the rest.
func berNext(b []byte, tag byte) (val, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hdr += k
	}
	if len(b)-hdr < n {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

func berUint(b []byte) uint64 {
	if len(b) == 0 || len(b) > 8 {
		return ^uint64(0)
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// udpReadMax caps what is read from one reply; a reply's first bytes suffice to match it.
const udpReadMax = 2048

func (r *run) attemptUDP(ctx context.Context, ap netip.AddrPort, timeout time.Duration) outcome {
	if !r.acquire(ctx) {
		return outcome{class: errOther, err: ctx.Err()}
	}
	defer r.release()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := r.s.dialer.DialContext(actx, "udp", ap.String())
	if err != nil {
		return outcome{class: classify(actx, err), err: err}
	}
	defer conn.Close()
	deadline, _ := actx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	pl := payloadFor(ap.Port())
	req := pl.build(rand.Uint32()) //nolint:gosec // a probe id, not a secret
	start := time.Now()
	if _, err := conn.Write(req); err != nil {
		return outcome{class: classify(actx, err), err: err}
	}
	buf := make([]byte, udpReadMax)
	var stray time.Duration // when a datagram that did not match arrived
	for {
		n, err := conn.Read(buf)
		rtt := time.Since(start)
		if err != nil {
			c := classify(actx, err)
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				c = errTimeout
			}
			if c == errTimeout && stray > 0 && ctx.Err() == nil {
				// Something answered from that port, just not recognisably: it is open.
				return outcome{open: true, rtt: stray}
			}
			return outcome{class: c, rtt: rtt, err: err}
		}
		if pl.match(req, buf[:n]) {
			return outcome{open: true, rtt: rtt, service: pl.service}
		}
		if pl.service == "" {
			// No protocol to check against: any datagram from the port proves it open.
			return outcome{open: true, rtt: rtt}
		}
		// A datagram that does not answer our request (a late reply to an earlier attempt,
		// another protocol): wait for a better one until the deadline.
		if stray == 0 {
			stray = rtt
		}
	}
}
