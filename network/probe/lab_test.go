package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"
)

// The tests scan only 127.211.0.0/16: loopback, so nothing leaves the machine, and a second
// octet other packages' tests are unlikely to use.

// lab is a synthetic network of loopback hosts with known open and closed ports.
type lab struct {
	hosts []netip.Addr
	ports []uint16
	open  map[netip.AddrPort]bool // ground truth: listening
}

// freePorts returns n port numbers the kernel considers free on 127.211.0.1; binding there
// also fails for a port someone holds on 0.0.0.0, so no foreign wildcard listener can make
// one of our "closed" ports answer.
func freePorts(t testing.TB, n int) []uint16 {
	t.Helper()
	var ports []uint16
	var ls []net.Listener
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.211.0.1:0")
		if err != nil {
			t.Fatalf("allocate port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, uint16(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		l.Close()
	}
	slices.Sort(ports)
	return ports
}

// newLab listens on port j of host i when isOpen(i, j). Accepted connections are held open
// and never written to, like a service that accepts and never answers.
func newLab(t testing.TB, subnet string, nHosts, nPorts int, isOpen func(i, j int) bool) *lab {
	t.Helper()
	base := netip.MustParseAddr(subnet)
	lb := &lab{ports: freePorts(t, nPorts), open: map[netip.AddrPort]bool{}}
	a := base
	for i := range nHosts {
		a = a.Next()
		lb.hosts = append(lb.hosts, a)
		for j, p := range lb.ports {
			if !isOpen(i, j) {
				continue
			}
			ap := netip.AddrPortFrom(a, p)
			l, err := net.Listen("tcp", ap.String())
			if err != nil {
				t.Fatalf("listen %v: %v", ap, err)
			}
			lb.open[ap] = true
			t.Cleanup(func() { l.Close() })
			go func() {
				var held []net.Conn
				defer func() {
					for _, c := range held {
						c.Close()
					}
				}()
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					held = append(held, c) // accept and never answer
					if len(held) > 4 {     // bounded: a benchmark makes thousands
						held[0].Close()
						held = held[1:]
					}
				}
			}()
		}
	}
	return lb
}

func (lb *lab) request() Request {
	return Request{Targets: slices.Values(lb.hosts), Total: uint64(len(lb.hosts)),
		Ports: lb.ports, Timing: Timing{Initial: 2 * time.Second, Max: 5 * time.Second}}
}

// verdicts scans and returns "addr:port state" lines, sorted.
func verdicts(t testing.TB, s *Scanner, req Request) ([]string, Progress) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	prog, err := s.Scan(ctx, req, func(r Result) {
		out = append(out, fmt.Sprintf("%v %v", r.Addr, r.State))
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	sort.Strings(out)
	return out, prog
}

func (lb *lab) truth() []string {
	var out []string
	for _, h := range lb.hosts {
		for _, p := range lb.ports {
			ap := netip.AddrPortFrom(h, p)
			st := StateClosed
			if lb.open[ap] {
				st = StateOpen
			}
			out = append(out, fmt.Sprintf("%v %v", ap, st))
		}
	}
	sort.Strings(out)
	return out
}

func diff(got, want []string) string {
	var d []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			d = append(d, "+"+g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			d = append(d, "-"+w)
		}
	}
	return fmt.Sprint(d)
}
