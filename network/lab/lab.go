package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/tenantra/tenantra/network/lab/snmpagent"
)

// DefaultBase is the first host address of a lab when Spec.Base is not set.
var DefaultBase = netip.AddrFrom4([4]byte{127, 77, 0, 1})

// Defaults for the resource bounds of Spec.
const (
	DefaultMaxConns      = 32
	DefaultConnLifetime  = 60 * time.Second
	DefaultFirehoseBytes = 64 << 20
)

// maxHosts bounds a lab: a /16 of fake hosts is already far beyond a demo.
const maxHosts = 4096

// Spec describes a lab. Zero fields take defaults.
type Spec struct {
	// Base is the address of the first host; host i gets Base+i. It and every host address
	// must be IPv4 in 127.0.0.0/8. Default DefaultBase.
	Base netip.Addr
	// PortOffset is added to every service's well-known port (22, 80, …), so that a lab
	// runs without the privilege to bind ports below 1024: 20000 serves SSH on 20022.
	PortOffset int
	// Hosts are the fake hosts, in address order.
	Hosts []HostSpec
	// SNMP, when set, adds real SNMP agents on the addresses after the hosts.
	SNMP *SNMPSpec
	// MaxConns caps concurrent connections per listener; more are closed at once.
	MaxConns int
	// ConnLifetime caps how long one connection is served (a tarpit holds it this long).
	ConnLifetime time.Duration
	// FirehoseBytes caps what a firehose writes on one connection.
	FirehoseBytes int64
}

// HostSpec describes one fake host.
type HostSpec struct {
	Name     string        // host name, used in banners and certificates
	Kind     string        // device kind, for people reading the truth ("router", …)
	Services []ServiceSpec // TCP services
}

// ServiceSpec is one service of a host.
type ServiceSpec struct {
	Kind ServiceKind
	// Port replaces the kind's well-known port; Spec.PortOffset is added to either.
	Port uint16
}

// SNMPSpec asks for real SNMP agents: a FortiGate and a TP-Link switch from snmpsim
// recordings and a Linux server from net-snmp's snmpd. An empty program path leaves its
// agents out.
type SNMPSpec struct {
	Snmpd    string // path of snmpd
	Snmpsimd string // path of snmpsimd
	Port     uint16 // UDP port of every agent; default 161
}

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	spec   Spec
	truth  []HostTruth
	ports  []uint16
	agents []*snmpagent.Agent

	mu        sync.Mutex
	closed    bool
	listeners []net.Listener
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
	done      chan struct{} // closed by Close: ends the accept loops' back-off waits
}

// ErrNotLoopback rejects a lab address outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("lab: addresses must be IPv4 in 127.0.0.0/8")

// ErrPortTaken means another program listens where the lab needs a port to be open or to
// refuse.
var ErrPortTaken = errors.New("lab: port held by another listener")

func (s Spec) withDefaults() Spec {
	if !s.Base.IsValid() {
		s.Base = DefaultBase
	}
	if s.MaxConns <= 0 {
		s.MaxConns = DefaultMaxConns
	}
	if s.ConnLifetime <= 0 {
		s.ConnLifetime = DefaultConnLifetime
	}
	if s.FirehoseBytes <= 0 {
		s.FirehoseBytes = DefaultFirehoseBytes
	}
	return s
}

// hostAddr returns Base+i, checking it stays in 127.0.0.0/8.
func hostAddr(base netip.Addr, i int) (netip.Addr, error) {
	if !base.Is4() || !base.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("%w: base %v", ErrNotLoopback, base)
	}
	b := base.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n += uint32(i)
	a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	if !a.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("%w: host %d would be %v", ErrNotLoopback, i, a)
	}
	return a, nil
}

// Validate checks the spec without binding anything.
func (s Spec) Validate() error {
	s = s.withDefaults()
	if len(s.Hosts) == 0 && s.SNMP == nil {
		return errors.New("lab: no hosts")
	}
	if len(s.Hosts) > maxHosts {
		return fmt.Errorf("lab: %d hosts, at most %d", len(s.Hosts), maxHosts)
	}
	if s.PortOffset < 0 || s.PortOffset > 65535 {
		return fmt.Errorf("lab: port offset %d out of range", s.PortOffset)
	}
	extra := 0
	if s.SNMP != nil {
		extra = snmpHostCount
	}
	if _, err := hostAddr(s.Base, max(0, len(s.Hosts)+extra-1)); err != nil {
		return err
	}
	for i, h := range s.Hosts {
		seen := map[uint16]bool{}
		for _, svc := range h.Services {
			if _, ok := kinds[svc.Kind]; !ok {
				return fmt.Errorf("lab: host %d (%s): unknown service kind %q", i, h.Name,
					svc.Kind)
			}
			p, err := s.port(svc)
			if err != nil {
				return fmt.Errorf("lab: host %d (%s): %w", i, h.Name, err)
			}
			if seen[p] {
				return fmt.Errorf("lab: host %d (%s): port %d used twice", i, h.Name, p)
			}
			seen[p] = true
		}
	}
	return nil
}

// port is where svc listens: its override or its kind's well-known port plus the offset.
func (s Spec) port(svc ServiceSpec) (uint16, error) {
	base := kinds[svc.Kind].port
	if svc.Port != 0 {
		base = svc.Port
	}
	p := int(base) + s.PortOffset
	if p > 65535 {
		return 0, fmt.Errorf("%s port %d + offset %d exceeds 65535", svc.Kind, base,
			s.PortOffset)
	}
	return uint16(p), nil
}

// Start stands the lab up: it checks that every port the lab uses is free on every host
// address (so that closed ports refuse), listens, and starts the SNMP agents. ctx bounds
// the start only; the lab runs until Close. On error nothing is left running.
func Start(ctx context.Context, spec Spec) (*Lab, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	l := &Lab{spec: spec, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	type bound struct {
		addr netip.AddrPort
		kind ServiceKind
		host int
	}
	var plan []bound
	portSet := map[uint16]bool{}
	for i, h := range spec.Hosts {
		addr, _ := hostAddr(spec.Base, i)
		ht := HostTruth{Name: h.Name, Kind: h.Kind, Addr: addr}
		for _, svc := range h.Services {
			p, _ := spec.port(svc)
			portSet[p] = true
			plan = append(plan, bound{netip.AddrPortFrom(addr, p), svc.Kind, i})
			ht.Services = append(ht.Services, kinds[svc.Kind].truth(svc.Kind, p))
			ht.OpenPorts = append(ht.OpenPorts, p)
		}
		slices.Sort(ht.OpenPorts)
		slices.SortFunc(ht.Services, func(a, b ServiceTruth) int {
			return int(a.Port) - int(b.Port)
		})
		l.truth = append(l.truth, ht)
	}
	for p := range portSet {
		l.ports = append(l.ports, p)
	}
	slices.Sort(l.ports)
	if err := l.checkClosed(); err != nil {
		return nil, err
	}
	certs := map[int]*certPair{}
	for _, b := range plan {
		h := hostInfo{name: spec.Hosts[b.host].Name, addr: b.addr.Addr()}
		if kinds[b.kind].tls != nil {
			if certs[b.host] == nil {
				c, err := newCert(h.name, h.addr)
				if err != nil {
					_ = l.Close()
					return nil, err
				}
				certs[b.host] = c
			}
			h.cert = certs[b.host]
		}
		if err := l.listen(b.addr, b.kind, h); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	if spec.SNMP != nil {
		if err := l.startSNMP(ctx, len(spec.Hosts)); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	return l, nil
}

// checkClosed makes sure that every lab port a host does not serve refuses (see
// checkRefuses).
func (l *Lab) checkClosed() error {
	for _, h := range l.truth {
		if err := l.checkRefuses(h.Addr, h.OpenPorts); err != nil {
			return err
		}
	}
	return nil
}

func bindError(ap netip.AddrPort, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: %v (another program listens there; choose another --base "+
			"or port offset)", ErrPortTaken, ap)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("lab: listen %v: %w (ports below 1024 need privileges; set a "+
			"port offset)", ap, err)
	}
	return fmt.Errorf("lab: listen %v: %w", ap, err)
}

// listen serves one service on ap until Close.
func (l *Lab) listen(ap netip.AddrPort, kind ServiceKind, h hostInfo) error {
	ln, err := net.Listen("tcp4", ap.String())
	if err != nil {
		return bindError(ap, err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = ln.Close()
		return errors.New("lab: closed")
	}
	l.listeners = append(l.listeners, ln)
	l.wg.Add(1)
	l.mu.Unlock()
	serve := kinds[kind].serve
	env := &env{spec: &l.spec, host: h, kind: kind, tls: kinds[kind].tls}
	go func() {
		defer l.wg.Done()
		slots := make(chan struct{}, l.spec.MaxConns)
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) || l.isClosed() {
					return
				}
				// EMFILE and friends: back off instead of spinning.
				select {
				case <-l.done:
					return
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			select {
			case slots <- struct{}{}:
			default:
				_ = c.Close() // over the cap: bounded, like a busy server's backlog
				continue
			}
			if !l.track(c) {
				<-slots
				return
			}
			go func() {
				defer l.wg.Done()
				defer func() { <-slots }()
				defer l.untrack(c)
				_ = c.SetDeadline(time.Now().Add(l.spec.ConnLifetime))
				serve(env, c)
			}()
		}
	}()
	return nil
}

// track registers a connection so that Close can end it; false when the lab is closing.
func (l *Lab) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *Lab) untrack(c net.Conn) {
	_ = c.Close()
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

func (l *Lab) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close stops every listener, connection, goroutine and SNMP agent of the lab and waits for
// them. It is idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	for _, ln := range l.listeners {
		_ = ln.Close()
	}
	for c := range l.conns {
		_ = c.Close()
	}
	agents := l.agents
	l.agents = nil
	l.mu.Unlock()
	l.wg.Wait()
	var errs []error
	for _, a := range agents {
		if err := a.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("lab: stop agent %s (pid %d): %w", a.Addr, a.PID,
				err))
		}
	}
	return errors.Join(errs...)
}

// Truth returns the ground truth of every host, in address order (a copy).
func (l *Lab) Truth() []HostTruth {
	out := make([]HostTruth, len(l.truth))
	for i, h := range l.truth {
		h.OpenPorts = slices.Clone(h.OpenPorts)
		h.UDPPorts = slices.Clone(h.UDPPorts)
		h.Services = slices.Clone(h.Services)
		if h.SNMP != nil {
			snmp := *h.SNMP
			h.SNMP = &snmp
		}
		for j := range h.Services {
			h.Services[j].Findings = slices.Clone(h.Services[j].Findings)
		}
		out[i] = h
	}
	return out
}

// Ports returns every TCP port open on at least one host, sorted: scanning all of them on
// every address checks both open and closed ports against the truth.
func (l *Lab) Ports() []uint16 { return slices.Clone(l.ports) }

// Addrs returns the address of every host, SNMP agents included, in order.
func (l *Lab) Addrs() []netip.Addr {
	out := make([]netip.Addr, len(l.truth))
	for i, h := range l.truth {
		out[i] = h.Addr
	}
	return out
}
