package probe

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
)

// ICMPRate is how many ICMP echo requests a second an echo sweep sends by default, retries
// included (Request.Rate lowers it). Off-link requests cross a router, which may rate-limit
// ICMP itself; 2,000 a second is about nmap -T4's pace for a sweep.
const ICMPRate = 2000

// ICMP types of echo (RFC 792).
const (
	icmpEchoReply   = 0
	icmpEchoRequest = 8
)

// echoMagic starts every echo payload of this package, so that a reply to someone else's
// ping (a raw socket sees them all) is recognised at a glance.
var echoMagic = [4]byte{'t', 'e', 'n', 'a'}

// echoLen is the length of an echo request: the 8-byte ICMP header, then the payload: the
// magic, the target's IPv4 address and the sweep's 8-byte nonce. A reply must carry the
// payload back unchanged and come from the address in it, so a reply is only accepted from
// the host that was asked, for this sweep.
const echoLen = 8 + 4 + 4 + 8

// echoID says which echo replies belong to a sweep.
type echoID struct {
	id      uint16 // the ICMP identifier; ignored for ping sockets, where the kernel sets it
	checkID bool
	nonce   [8]byte
}

// marshalEcho builds the echo request for target into b (echoLen bytes).
func marshalEcho(b []byte, e echoID, seq uint16, target netip.Addr) []byte {
	b = b[:echoLen]
	b[0], b[1] = icmpEchoRequest, 0
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:6], e.id)
	binary.BigEndian.PutUint16(b[6:8], seq)
	copy(b[8:12], echoMagic[:])
	t := target.As4()
	copy(b[12:16], t[:])
	copy(b[16:24], e.nonce[:])
	binary.BigEndian.PutUint16(b[2:4], icmpChecksum(b))
	return b
}

// icmpChecksum is the Internet checksum (RFC 1071) of b.
func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// parseEchoReply reports whether b, an ICMP message (IP header removed) received from
// from, is a reply to one of e's requests, sent by the host the request was for. It reads
// untrusted bytes and must accept nothing else. The checksum is not verified: the kernel
// checks it for ping sockets, and for raw sockets a corrupted reply that still carries the
// magic, the sender's own address and the nonce is not a concern.
func parseEchoReply(b []byte, from netip.Addr, e echoID) bool {
	if len(b) < echoLen || b[0] != icmpEchoReply || b[1] != 0 {
		return false
	}
	if e.checkID && binary.BigEndian.Uint16(b[4:6]) != e.id {
		return false
	}
	if [4]byte(b[8:12]) != echoMagic || [8]byte(b[16:24]) != e.nonce {
		return false
	}
	return from.Is4() && [4]byte(b[12:16]) == from.As4()
}

// icmpConn sends echo requests and reads the replies for one sweep.
type icmpConn struct {
	pc  *icmp.PacketConn
	udp bool // an unprivileged ping socket
	id  echoID
	seq uint16
	buf [echoLen]byte
	out chan sweepReply
}

// openICMP opens a raw ICMP socket (privileged) or an unprivileged ping socket, and starts
// reading replies.
func openICMP(privileged bool) (*icmpConn, error) {
	network := "udp4"
	if privileged {
		network = "ip4:icmp"
	}
	pc, err := icmp.ListenPacket(network, "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("icmp echo sweep: open %s socket: %w", network, err)
	}
	c := &icmpConn{pc: pc, udp: !privileged, out: make(chan sweepReply, 1024)}
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("icmp echo sweep: random identifier: %w", err)
	}
	c.id = echoID{id: binary.BigEndian.Uint16(r[:2]), checkID: privileged,
		nonce: [8]byte(r[2:])}
	go c.read()
	return c, nil
}

// send sends one echo request to target.
func (c *icmpConn) send(target netip.Addr) error {
	if !target.Is4() {
		return errors.New("icmp echo sweep: not an IPv4 address")
	}
	c.seq++
	b := marshalEcho(c.buf[:], c.id, c.seq, target)
	var dst net.Addr = &net.IPAddr{IP: target.AsSlice()}
	if c.udp {
		dst = &net.UDPAddr{IP: target.AsSlice()}
	}
	_, err := c.pc.WriteTo(b, dst)
	return err
}

// read hands the matching replies to the sweep until the socket is closed.
func (c *icmpConn) read() {
	defer close(c.out)
	buf := make([]byte, 1500)
	for {
		n, from, err := c.pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		var a netip.Addr
		switch f := from.(type) {
		case *net.IPAddr:
			a, _ = netip.AddrFromSlice(f.IP)
		case *net.UDPAddr:
			a, _ = netip.AddrFromSlice(f.IP)
		}
		a = a.Unmap()
		if parseEchoReply(buf[:n], a, c.id) {
			c.out <- sweepReply{addr: a, at: time.Now()}
		}
	}
}

func (c *icmpConn) close() {
	_ = c.pc.Close() // ends the reader; nothing to do about a failure
	for range c.out {
	} // let the reader finish
}

// canListenICMP reports whether an ICMP socket of network ("ip4:icmp" or "udp4") opens.
func canListenICMP(network string) bool {
	pc, err := icmp.ListenPacket(network, "0.0.0.0")
	if err != nil {
		return false
	}
	_ = pc.Close()
	return true
}
