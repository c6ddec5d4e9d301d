package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"
)

// udpServe answers every datagram on addr with reply(req); a nil reply stays silent.
func udpServe(t *testing.T, addr string, reply func(req []byte) []byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES) {
		t.Skipf("binding %s needs privileges (ports 53, 123, 161): %v", addr, err)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(slices.Clone(buf[:n])); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
}

func dnsReply(req []byte) []byte {
	out := slices.Clone(req)
	out[2] |= 0x80 // QR
	out[3] = 0x05  // REFUSED: still a DNS server
	return out
}

func ntpReply(req []byte) []byte {
	out := make([]byte, 48)
	out[0] = 0x24 // version 4, mode 4 (server)
	copy(out[24:32], req[40:48])
	return out
}

// snmpReply answers with a GetResponse carrying the request's id and a sysDescr value.
func snmpReply(req []byte) []byte {
	id, ok := snmpRequestID(req, 0xa0)
	if !ok {
		return nil
	}
	reqID := binary.BigEndian.AppendUint32([]byte{0x02, 0x04}, uint32(id))
	vb := tlv(0x30, concat(tlv(0x06, sysDescr0[:]), tlv(0x04, []byte("Linux lab"))))
	pdu := tlv(0xa2, concat(reqID, []byte{2, 1, 0, 2, 1, 0}, tlv(0x30, vb)))
	return tlv(0x30, concat([]byte{2, 1, 1}, tlv(0x04, []byte("public")), pdu))
}

func TestUDPProbes(t *testing.T) {
	const (
		answers = "127.211.6.1" // real services
		closed  = "127.211.6.2" // nothing bound: ICMP port unreachable
		silent  = "127.211.6.3" // bound, never answers
		garbage = "127.211.6.4" // bound, answers with the wrong protocol
	)
	replies := map[uint16]func([]byte) []byte{53: dnsReply, 123: ntpReply, 161: snmpReply}
	for port, fn := range replies {
		udpServe(t, fmt.Sprintf("%s:%d", answers, port), fn)
		udpServe(t, fmt.Sprintf("%s:%d", silent, port), func([]byte) []byte { return nil })
		udpServe(t, fmt.Sprintf("%s:%d", garbage, port),
			func([]byte) []byte { return []byte("HTTP/1.0 400 Bad Request\r\n\r\n") })
	}
	s := newScanner(t, Config{MaxConcurrency: 8})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	hosts := []netip.Addr{netip.MustParseAddr(answers), netip.MustParseAddr(closed),
		netip.MustParseAddr(silent), netip.MustParseAddr(garbage)}
	req := Request{Targets: slices.Values(hosts), Ports: []uint16{53, 123, 161}, Proto: UDP,
		Timing: Timing{Initial: time.Second, Min: time.Second, Retries: -1}}
	_, err := s.Scan(ctx, req, func(r Result) {
		got = append(got, fmt.Sprintf("%v/%v %v %s", r.Addr, r.Proto, r.State, r.Service))
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"127.211.6.1:123/udp open ntp", "127.211.6.1:161/udp open snmp",
		"127.211.6.1:53/udp open dns",
		"127.211.6.2:123/udp closed ", "127.211.6.2:161/udp closed ",
		"127.211.6.2:53/udp closed ",
		"127.211.6.3:123/udp open|filtered ", "127.211.6.3:161/udp open|filtered ",
		"127.211.6.3:53/udp open|filtered ",
		"127.211.6.4:123/udp open ", "127.211.6.4:161/udp open ", "127.211.6.4:53/udp open ",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestUDPPayloadsMatchOnlyTheirAnswer(t *testing.T) {
	for _, port := range []uint16{53, 123, 161} {
		pl := payloadFor(port)
		req := pl.build(0x01020304)
		other := pl.build(0x0a0b0c0d)
		var reply []byte
		switch port {
		case 53:
			reply = dnsReply(req)
		case 123:
			reply = ntpReply(req)
		case 161:
			reply = snmpReply(req)
		}
		if !pl.match(req, reply) {
			t.Errorf("%d: reply to our request not matched", port)
		}
		if pl.match(other, reply) {
			t.Errorf("%d: reply to another request matched", port)
		}
		if pl.match(req, req) {
			t.Errorf("%d: our own request (an echo) matched", port)
		}
		// A bare DNS header is a complete answer (FORMERR and friends carry no question).
		short := len(reply)
		if port == 53 {
			short = 12
		}
		for n := range short {
			if pl.match(req, reply[:n]) {
				t.Errorf("%d: truncated reply (%d bytes) matched", port, n)
				break
			}
		}
	}
	// The SNMP request is what snmpget -v2c -c public sends for sysDescr.0.
	want := []byte{0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',
		0xa0, 0x1c, 0x02, 0x04, 0x01, 0x02, 0x03, 0x04, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
		0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0, 0x05, 0x00}
	if got := snmpGetRequest(0x01020304); !slices.Equal(got, want) {
		t.Fatalf("snmp request\n% x\nwant\n% x", got, want)
	}
}

func FuzzSNMPMatch(f *testing.F) {
	req := snmpGetRequest(7)
	f.Add(snmpReply(req))
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, reply []byte) {
		_ = snmpMatch(req, reply) // must not panic on any input
		_ = dnsMatch(dnsQuery(7), reply)
		_ = ntpMatch(ntpRequest(7), reply)
	})
}
