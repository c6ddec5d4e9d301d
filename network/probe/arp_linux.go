//go:build linux

package probe

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// arpReplyFilter passes ARP replies only (operation 2, after the 14-byte Ethernet header and
// 6 bytes of the ARP header): the kernel then drops the segment's other requests, and the
// sweep's own outgoing broadcasts, which a packet socket would otherwise see, before they
// cost a read.
var arpReplyFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 20, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(arp.OperationReply), SkipFalse: 1},
	bpf.RetConstant{Val: 1 << 16},
	bpf.RetConstant{Val: 0},
}

// arpReadBuffer is the packet socket's receive buffer: room for a few thousand replies if
// the reader falls behind for a moment.
const arpReadBuffer = 1 << 20

// arpConn sends ARP requests for one link and reads the replies.
type arpConn struct {
	l   link
	c   *arp.Client
	pc  *packet.Conn
	out chan sweepReply
}

// haveARP reports whether this process may open a packet socket (CAP_NET_RAW).
func haveARP() bool {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	_ = unix.Close(fd)
	return true
}

// openARP opens a packet socket on l's interface and starts reading replies.
func openARP(l link) (*arpConn, error) {
	ifi, err := net.InterfaceByIndex(l.ifIndex)
	if err != nil {
		return nil, fmt.Errorf("arp sweep on %s: %w", l.ifName, err)
	}
	raw, err := bpf.Assemble(arpReplyFilter)
	if err != nil {
		return nil, fmt.Errorf("arp sweep: assemble filter: %w", err)
	}
	pc, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP),
		&packet.Config{Filter: raw})
	if err != nil {
		return nil, fmt.Errorf("arp sweep on %s needs CAP_NET_RAW: %w", l.ifName, err)
	}
	if rc, err := pc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			// Best effort: the default buffer works, it only holds fewer replies.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, arpReadBuffer)
		})
	}
	c, err := arp.New(ifi, pc)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("arp sweep on %s: %w", l.ifName, err)
	}
	a := &arpConn{l: l, c: c, pc: pc, out: make(chan sweepReply, 1024)}
	go a.read()
	return a, nil
}

// send broadcasts a request for target from this machine's address in the link's prefix
// (the client's own choice would be the interface's first address, which may be another
// subnet's).
func (a *arpConn) send(target netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, a.l.mac, a.l.src, ethernet.Broadcast,
		target)
	if err != nil {
		return err
	}
	return a.c.WriteTo(p, ethernet.Broadcast)
}

// read hands the replies to the sweep until the socket is closed.
func (a *arpConn) read() {
	defer close(a.out)
	for {
		p, _, err := a.c.Read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		if r, ok := arpAnswer(p, a.l); ok {
			a.out <- r
		}
	}
}

// arpAnswer says whether p is a reply that proves a host on l, and whose. A reply that our
// own interface sent (the kernel answering someone else) proves nothing.
func arpAnswer(p *arp.Packet, l link) (sweepReply, bool) {
	if p.Operation != arp.OperationReply || bytes.Equal(p.SenderHardwareAddr, l.mac) ||
		!l.prefix.Contains(p.SenderIP) || p.SenderIP == l.src {
		return sweepReply{}, false
	}
	mac := make(net.HardwareAddr, len(p.SenderHardwareAddr))
	copy(mac, p.SenderHardwareAddr)
	return sweepReply{addr: p.SenderIP, mac: mac, at: time.Now()}, true
}

// drops returns how many replies the kernel dropped because the reader fell behind.
func (a *arpConn) drops() uint64 {
	st, err := a.pc.Stats()
	if err != nil {
		return 0
	}
	return uint64(st.Drops)
}

func (a *arpConn) close() {
	_ = a.c.Close() // ends the reader; nothing to do about a failure
	for range a.out {
	} // let the reader finish
}
