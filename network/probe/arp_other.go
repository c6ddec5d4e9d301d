//go:build !linux

package probe

import (
	"errors"
	"net/netip"
)

// arpConn is unused off Linux: an ARP sweep needs a packet socket, which only Linux offers
// to this package (Windows would need SendARP from iphlpapi, one blocking call per address).
type arpConn struct {
	out chan sweepReply
}

// haveARP is false off Linux; Auto sends ICMP echo to on-link targets instead.
func haveARP() bool { return false }

func openARP(link) (*arpConn, error) {
	return nil, errors.New("arp sweep: only supported on Linux")
}

func (a *arpConn) send(netip.Addr) error { return errors.New("arp sweep: not supported") }
func (a *arpConn) drops() uint64         { return 0 }
func (a *arpConn) close()                {}
