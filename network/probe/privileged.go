package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Capabilities says which discovery methods beyond TCP connects this process may use.
type Capabilities struct {
	// ARP: packet sockets for ARP sweeps (Linux with CAP_NET_RAW).
	ARP bool
	// RawICMP: raw ICMP sockets for echo sweeps (CAP_NET_RAW on Linux, an administrator on
	// Windows).
	RawICMP bool
	// PingSocket: unprivileged ICMP echo sockets (Linux when net.ipv4.ping_group_range
	// holds one of the process's groups, macOS).
	PingSocket bool
}

// detectCaps opens (and closes) one socket of each kind, once per process: capabilities do
// not change while it runs, and the appliance asks once per scan.
var detectCaps = sync.OnceValue(func() Capabilities {
	return Capabilities{ARP: haveARP(), RawICMP: canListenICMP("ip4:icmp"),
		PingSocket: canListenICMP("udp4")}
})

// DetectCapabilities reports which raw-socket discovery methods this process may use, by
// trying to open the sockets.
func DetectCapabilities() Capabilities { return detectCaps() }

// HaveRaw reports whether this process may open raw sockets (CAP_NET_RAW on Linux, which
// root and the .deb's systemd unit have; an administrator on Windows), and so whether Auto
// sweeps with ARP or ICMP echo rather than TCP connects alone.
func HaveRaw() bool {
	c := DetectCapabilities()
	return c.ARP || c.RawICMP
}

// Auto discovers hosts by the fastest evidence this process may gather. With packet sockets
// it sweeps on-link IPv4 targets by ARP: a reply proves the host without a connect and
// without a kernel neighbour entry per silent address, which is what limits TCPPing on a
// LAN (see neigh.go), and yields the host's MAC. Other IPv4 targets get an ICMP echo
// sweep (raw, or an unprivileged ping socket where the system allows one), and those that
// do not answer, as firewalled hosts often do not, a TCP ping. IPv6 targets, on-link
// targets without ARP, and everything when no such socket opens, go to TCPPing, so an
// unprivileged process finds the same hosts as TCPPing alone. Addresses of this machine
// are reported at once, as "local".
//
// An ARP sweep is authoritative for its subnet: an on-link address that answers no ARP
// request cannot answer anything else either, so it gets no TCP ping.
type Auto struct {
	// Scanner runs the TCP pings.
	Scanner *Scanner
	// Caps, when set, replaces detection: tests use it, and so may an operator who wants
	// raw methods off.
	Caps *Capabilities
	// ARPRate and ICMPRate are packets a second per sweep; 0 means ARPRate and ICMPRate.
	// Request.Rate, when set, lowers both.
	ARPRate, ICMPRate int
}

var _ Discoverer = Auto{}

// Discover finds the live hosts among req.Targets and calls alive once per host, from the
// calling goroutine. req.Ports are the TCP ping's ports (DefaultPingPorts when empty), and
// req.Timing tunes the sweeps' timeouts and retries as it does probes'. The Progress counts
// ARP requests and echo requests as attempts, along with the TCP ping's connects.
func (d Auto) Discover(ctx context.Context, req Request, alive func(Host)) (Progress,
	error) {
	caps := d.Caps
	if caps == nil {
		c := DetectCapabilities()
		caps = &c
	}
	if !caps.ARP && !caps.RawICMP && !caps.PingSocket || req.Targets == nil {
		return TCPPing{Scanner: d.Scanner}.Discover(ctx, req, alive)
	}
	ifs, err := systemIfaces()
	if err != nil {
		// Without the interface list nothing can be called on-link or local: the TCP
		// ping works without it.
		return TCPPing{Scanner: d.Scanner}.Discover(ctx, req, alive)
	}
	var ls []link
	if caps.ARP {
		ls = links(ifs)
	}
	a := &autoRun{d: d, caps: *caps, req: req, tm: req.Timing.withDefaults(), links: ls,
		local: localAddrs(ifs), onLink: onLinkPrefixes()}
	return a.run(ctx, alive)
}

// autoRun is one Auto.Discover call.
type autoRun struct {
	d      Auto
	caps   Capabilities
	req    Request
	tm     Timing
	links  []link
	local  map[netip.Addr]net.HardwareAddr
	onLink []netip.Prefix

	mu       sync.Mutex
	swept    sweepStats // all sweeps, under mu
	arpDrops uint64
}

// sweepRate is the packets a second for a sweep with default def.
func (a *autoRun) sweepRate(set, def int) float64 {
	r := float64(def)
	if set > 0 {
		r = float64(set)
	}
	if a.req.Rate > 0 {
		r = min(r, float64(a.req.Rate))
	}
	return r
}

func (a *autoRun) add(st sweepStats, drops uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.swept.sent += st.sent
	a.swept.retries += st.retries
	a.swept.alive += st.alive
	a.swept.dead += st.dead
	a.swept.errs += st.errs
	a.swept.backPressure += st.backPressure
	a.arpDrops += drops
}

func (a *autoRun) run(ctx context.Context, alive func(Host)) (Progress, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hosts := make(chan Host, 256)
	emit := func(h Host) {
		select {
		case hosts <- h:
		case <-ctx.Done():
		}
	}
	var producers sync.WaitGroup

	// The TCP ping takes what the sweeps cannot decide, through a relay with an unbounded
	// queue, so that a sweep never stalls (and misreads replies as timeouts) while the TCP
	// ping works through a backlog.
	toTCP := make(chan netip.Addr)
	var tcpFeeders sync.WaitGroup
	tcpFeeders.Add(1) // the router
	tcpIn := make(chan netip.Addr)
	go relay(ctx, toTCP, tcpIn)
	go func() { tcpFeeders.Wait(); close(toTCP) }()
	var tcpProg Progress
	var tcpErr error
	producers.Add(1)
	go func() {
		defer producers.Done()
		treq := a.req
		treq.Total = 0
		treq.Targets = func(yield func(netip.Addr) bool) {
			for t := range tcpIn {
				if !yield(t) {
					return
				}
			}
		}
		tcpProg, tcpErr = TCPPing{Scanner: a.d.Scanner}.Discover(ctx, treq, emit)
		cancelDrain(tcpIn)
	}()
	toTCPSend := func(t netip.Addr) {
		select {
		case toTCP <- t:
		case <-ctx.Done():
		}
	}

	// The router: every target goes to exactly one of local, an ARP sweep, the echo sweep
	// or the TCP ping.
	producers.Add(1)
	go func() {
		defer producers.Done()
		defer tcpFeeders.Done()
		arpIn := make([]chan netip.Addr, len(a.links))
		arpDead := make([]bool, len(a.links)) // a link whose packet socket did not open
		var icmpIn chan netip.Addr
		icmpDead := false
		defer func() {
			for _, c := range arpIn {
				if c != nil {
					close(c)
				}
			}
			if icmpIn != nil {
				close(icmpIn)
			}
		}()
		for t := range a.req.Targets {
			t = t.Unmap()
			if ctx.Err() != nil {
				return
			}
			if mac, ok := a.local[t]; ok {
				emit(Host{Addr: t, Method: "local", MAC: mac})
				continue
			}
			var in chan netip.Addr
			if i := route(a.links, t); i >= 0 && !arpDead[i] {
				if arpIn[i] == nil {
					arpIn[i] = a.startARP(ctx, a.links[i], emit, &producers)
					arpDead[i] = arpIn[i] == nil
				}
				in = arpIn[i]
			} else if t.Is4() && !a.isOnLink(t) && !icmpDead &&
				(a.caps.RawICMP || a.caps.PingSocket) {
				if icmpIn == nil {
					tcpFeeders.Add(1)
					icmpIn = a.startICMP(ctx, emit, toTCPSend, &producers, &tcpFeeders)
					icmpDead = icmpIn == nil
				}
				in = icmpIn
			}
			if in == nil {
				toTCPSend(t)
				continue
			}
			select {
			case in <- t:
			case <-ctx.Done():
				return
			}
		}
	}()

	go func() { producers.Wait(); close(hosts) }()
	found := map[netip.Addr]bool{}
	for h := range hosts {
		if !found[h.Addr] {
			found[h.Addr] = true
			alive(h)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	p := tcpProg
	p.Planned = a.req.Total
	p.Done += a.swept.alive + a.swept.dead
	p.Attempts += a.swept.sent
	p.Retries += a.swept.retries
	p.Errors += a.swept.errs
	p.BackPressure += a.swept.backPressure
	if err := ctx.Err(); err != nil && tcpErr == nil {
		tcpErr = err
	}
	return p, tcpErr
}

// isOnLink reports whether t is in a subnet of this machine's interfaces, where any IP
// packet to it, an echo request as much as a connect, costs a kernel neighbour entry.
func (a *autoRun) isOnLink(t netip.Addr) bool { return inAny(t, a.onLink) }

// startARP opens an ARP sweep of l and returns its input, or nil when the packet socket
// does not open (the link's targets then go to the TCP ping).
func (a *autoRun) startARP(ctx context.Context, l link, emit func(Host),
	producers *sync.WaitGroup) chan netip.Addr {
	conn, err := openARP(l)
	if err != nil {
		return nil
	}
	in := make(chan netip.Addr, 256)
	s := &sweep{rate: a.sweepRate(a.d.ARPRate, ARPRate), tm: a.tm, method: "arp",
		send: conn.send, replies: conn.out, alive: emit,
		// No answer to ARP is the answer: nothing else reaches an on-link address that
		// does not resolve.
		dead: func(netip.Addr) {}}
	producers.Add(1)
	go func() {
		defer producers.Done()
		st := s.run(ctx, in)
		drops := conn.drops()
		conn.close()
		cancelDrain(in)
		a.add(st, drops)
	}()
	return in
}

// startICMP opens the echo sweep and returns its input, or nil when no ICMP socket opens;
// the silent go to the TCP ping through toTCP. It calls tcpFeeders.Done when it stops
// feeding the TCP ping.
func (a *autoRun) startICMP(ctx context.Context, emit func(Host), toTCP func(netip.Addr),
	producers, tcpFeeders *sync.WaitGroup) chan netip.Addr {
	conn, err := openICMP(a.caps.RawICMP)
	if err != nil && a.caps.RawICMP && a.caps.PingSocket {
		conn, err = openICMP(false)
	}
	if err != nil {
		tcpFeeders.Done()
		return nil
	}
	in := make(chan netip.Addr, 256)
	s := &sweep{rate: a.sweepRate(a.d.ICMPRate, ICMPRate), tm: a.tm, method: "icmp-echo",
		send: conn.send, replies: conn.out, alive: emit, dead: toTCP}
	producers.Add(1)
	go func() {
		defer producers.Done()
		defer tcpFeeders.Done()
		st := s.run(ctx, in)
		conn.close()
		cancelDrain(in)
		a.add(st, 0)
	}()
	return in
}

// relay forwards in to out through an unbounded queue, and closes out after in is closed
// and drained (or ctx ends).
func relay(ctx context.Context, in <-chan netip.Addr, out chan<- netip.Addr) {
	defer close(out)
	var q []netip.Addr
	for in != nil || len(q) > 0 {
		var send chan<- netip.Addr
		var head netip.Addr
		if len(q) > 0 {
			send, head = out, q[0]
		}
		select {
		case t, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			q = append(q, t)
		case send <- head:
			q = q[1:]
			if len(q) == 0 {
				q = nil
			}
		case <-ctx.Done():
			return
		}
	}
}

// cancelDrain empties a channel whose consumer stopped early, so that its producer, which
// also watches ctx, is not left blocked before it sees the cancellation.
func cancelDrain(c <-chan netip.Addr) {
	go func() {
		for range c {
		}
	}()
}

// minSeededInitial is the lowest first timeout PortTiming sets: below it, a busy appliance's
// own scheduling delays (a thousand connects started at once on two cores) would be taken
// for dropped SYNs.
const minSeededInitial = 250 * time.Millisecond

// PortTiming returns t for a port scan of hosts discovery has just found, with Initial
// lowered to Multiplier × the largest round-trip time discovery measured to them (at least
// 250 ms and Min): a port scan's first probes all start before any of them has answered,
// and at the default 1 s initial timeout, doubled on the retry, every filtered port among
// them costs 3 s on a LAN whose hosts answer within a millisecond. Hosts without an RTT
// ("local") are ignored; t is returned unchanged when no host has one, or when the default
// is lower.
func PortTiming(t Timing, hosts []Host) Timing {
	var worst time.Duration
	for _, h := range hosts {
		worst = max(worst, h.RTT)
	}
	if worst <= 0 {
		return t
	}
	d := t.withDefaults()
	if init := max(time.Duration(d.Multiplier*float64(worst)), minSeededInitial,
		d.Min); init < d.Initial {
		t.Initial = init
	}
	return t
}
