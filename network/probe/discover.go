package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultPingPorts are the TCP ports host discovery tries: web, SSH, and the two ports a
// firewalled Windows host most often leaves reachable. A refusal proves a host as well as an
// accept does.
func DefaultPingPorts() []uint16 { return []uint16{80, 443, 22, 445, 3389} }

// Host is a live host and the evidence for it.
type Host struct {
	Addr netip.Addr
	// Method is the evidence: "tcp-ping", "icmp-echo", "arp", or "local" for an address of
	// this machine's own interfaces (see Auto).
	Method string
	Port   uint16 // the port that answered, for tcp-ping
	State  State  // open or closed: how the port answered, for tcp-ping
	RTT    time.Duration
	// MAC is the hardware address from the ARP reply ("arp"), or the interface's own for
	// "local"; nil otherwise.
	MAC net.HardwareAddr
}

// Discoverer finds live hosts among targets and calls alive once per live host, from a
// single goroutine. TCPPing needs no privileges; Auto adds an ARP sweep of on-link subnets
// and ICMP echo when raw sockets are available, and falls back to TCPPing otherwise.
type Discoverer interface {
	Discover(ctx context.Context, req Request, alive func(Host)) (Progress, error)
}

// TCPPing discovers hosts without privileges by TCP connects to a few ports, with the same
// pool, rate limits and adaptive timeouts as port probes. It works the same on Linux and
// Windows.
type TCPPing struct {
	Scanner *Scanner
}

var _ Discoverer = TCPPing{}

// OnLinkRate is how many new on-link addresses jobs start per second where the kernel's
// neighbour table cannot be read (off Linux): their incomplete entries, about 3 s each on
// Linux, stay under its default limit of 1,024 (see neigh.go).
const OnLinkRate = 250

// onLinkPrefixes lists the subnets of this machine's non-loopback interfaces.
func onLinkPrefixes() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() {
			continue
		}
		p, err := netip.ParsePrefix(ipn.String())
		if err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Discover probes req.Ports (DefaultPingPorts when empty) on each target, stops probing a
// host at its first answer, and reports it. req.Proto is ignored. Unless req.Timing.Retries
// says otherwise, unanswered pings are not retried: a live host answers on any of several
// ports, while every retry of a silent address costs a full timeout.
func (d TCPPing) Discover(ctx context.Context, req Request, alive func(Host)) (Progress,
	error) {
	if len(req.Ports) == 0 {
		req.Ports = DefaultPingPorts()
	}
	if req.Timing.Retries == 0 {
		req.Timing.Retries = -1
	}
	req.Proto = TCP
	// Every silent on-link address holds a neighbour entry for about 3 s; Scanner.Start
	// admits on-link addresses only while the kernel's table has room for them (neigh.go).
	var found sync.Map // netip.Addr → struct{}: written by the consumer, read by the feeder
	req.skip = func(a netip.Addr) bool { _, ok := found.Load(a); return ok }
	return d.Scanner.Scan(ctx, req, func(r Result) {
		if r.State != StateOpen && r.State != StateClosed {
			return
		}
		if _, dup := found.LoadOrStore(r.Addr.Addr(), struct{}{}); dup {
			return // a second port of a host already reported, probed before the skip
		}
		alive(Host{Addr: r.Addr.Addr(), Method: "tcp-ping", Port: r.Addr.Port(),
			State: r.State, RTT: r.RTT})
	})
}
