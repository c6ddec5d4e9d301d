package probe

import (
	"context"
	"iter"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// MaxPingInFlight caps the probes host discovery keeps in flight (see Discover).
const MaxPingInFlight = 384

// OnLinkRate is how many new on-link addresses host discovery starts per second, so that
// their incomplete neighbour entries (about 3 s each) stay under Linux's default limit of
// 1,024 (see Discover).
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

// paceOnLink yields targets, waiting between on-link addresses so that no more than perSec
// of them start each second.
func paceOnLink(ctx context.Context, targets iter.Seq[netip.Addr], link []netip.Prefix,
	perSec int) iter.Seq[netip.Addr] {
	lim := rate.NewLimiter(rate.Limit(perSec), perSec/4)
	return func(yield func(netip.Addr) bool) {
		for a := range targets {
			for _, p := range link {
				if p.Contains(a) {
					if err := lim.Wait(ctx); err != nil {
						return
					}
					break
				}
			}
			if !yield(a) {
				return
			}
		}
	}
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
	// Every silent on-link address holds an incomplete neighbour (ARP) entry until it times
	// out, and Linux keeps at most 1,024 (gc_thresh3): past that, connects to new addresses
	// fail and live hosts are missed. Keeping this job's probes in flight well below it keeps
	// sweeps of a LAN complete; answered probes are fast, so the cost is small.
	if req.Concurrency == 0 || req.Concurrency > MaxPingInFlight {
		req.Concurrency = MaxPingInFlight
	}
	// The cap bounds entries in flight, not their lifetime: an incomplete entry lives about
	// 3 s, so new on-link addresses are also paced to OnLinkRate a second. Routed and loopback
	// addresses need no neighbour entry of their own and are not slowed.
	if link := onLinkPrefixes(); len(link) > 0 && req.Targets != nil {
		req.Targets = paceOnLink(ctx, req.Targets, link, OnLinkRate)
	}
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
