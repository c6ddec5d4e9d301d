package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeNet answers a sweep's packets as a network would: each live address replies after
// rtt, except that the first drop requests to it are lost.
type fakeNet struct {
	mu      sync.Mutex
	live    map[netip.Addr]bool
	drop    map[netip.Addr]int
	sendErr func(netip.Addr, int) error // per address and attempt, nil for none
	sends   map[netip.Addr]int
	rtt     time.Duration
	replies chan sweepReply
}

func newFakeNet(live []netip.Addr, rtt time.Duration) *fakeNet {
	f := &fakeNet{live: map[netip.Addr]bool{}, drop: map[netip.Addr]int{},
		sends: map[netip.Addr]int{}, rtt: rtt, replies: make(chan sweepReply, 1024)}
	for _, a := range live {
		f.live[a] = true
	}
	return f
}

func (f *fakeNet) send(a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.sends[a]
	if f.sendErr != nil {
		if err := f.sendErr(a, n); err != nil {
			f.sends[a] = n + 1
			return err
		}
	}
	f.sends[a] = n + 1
	if !f.live[a] {
		return nil
	}
	if f.drop[a] > 0 {
		f.drop[a]--
		return nil
	}
	time.AfterFunc(f.rtt, func() {
		f.replies <- sweepReply{addr: a, mac: net.HardwareAddr{2, 0, 0, 0, 0, 1},
			at: time.Now()}
	})
	return nil
}

// addrs returns n addresses from first.
func addrs(first string, n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for a := netip.MustParseAddr(first); len(out) < n; a = a.Next() {
		out = append(out, a)
	}
	return out
}

// feed returns a closed channel holding as.
func feed(as []netip.Addr) chan netip.Addr {
	in := make(chan netip.Addr, len(as))
	for _, a := range as {
		in <- a
	}
	close(in)
	return in
}

func TestSweep(t *testing.T) {
	errNoBufs := noBufs(t)
	targets := addrs("198.18.0.1", 200)
	live := []netip.Addr{targets[0], targets[7], targets[63], targets[199]}
	for _, tc := range []struct {
		name     string
		drop     int // requests lost per live host before one gets through
		retries  int
		sendErr  func(netip.Addr, int) error
		wantLive []netip.Addr
		minSent  uint64
		wantErrs uint64
	}{
		{name: "every host answers the first request", retries: 1, wantLive: live,
			minSent: 200 + 196},
		{name: "a lost request is retried", drop: 1, retries: 1, wantLive: live,
			minSent: 200 + 200},
		{name: "out of retries", drop: 2, retries: 1, wantLive: nil, minSent: 400},
		{name: "no retries", drop: 0, retries: -1, wantLive: live, minSent: 200},
		{name: "back-pressure pauses, loses nothing", retries: 1, wantLive: live,
			minSent: 200 + 196, sendErr: func(_ netip.Addr, n int) error {
				if n == 0 {
					return errNoBufs
				}
				return nil
			}},
		{name: "an unsendable address is dead", retries: 1, wantErrs: 1,
			wantLive: live[1:], minSent: 199 + 196,
			sendErr: func(a netip.Addr, _ int) error {
				if a == live[0] {
					return errors.New("sendto: network is unreachable")
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNet(live, time.Millisecond)
			f.sendErr = tc.sendErr
			for _, a := range live {
				f.drop[a] = tc.drop
			}
			var got, dead []netip.Addr
			s := &sweep{rate: 20000, method: "arp", send: f.send, replies: f.replies,
				tm: Timing{Initial: 50 * time.Millisecond, Min: 20 * time.Millisecond,
					Max: 200 * time.Millisecond, Retries: tc.retries,
					BackPressurePause: time.Millisecond}.withDefaults(),
				alive: func(h Host) {
					if h.Method != "arp" || h.MAC == nil || h.RTT <= 0 {
						t.Errorf("host %+v", h)
					}
					got = append(got, h.Addr)
				},
				dead: func(a netip.Addr) { dead = append(dead, a) }}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st := s.run(ctx, feed(targets))
			if ctx.Err() != nil {
				t.Fatal("sweep did not end")
			}
			slices.SortFunc(got, netip.Addr.Compare)
			if !slices.Equal(got, tc.wantLive) {
				t.Errorf("alive %v, want %v", got, tc.wantLive)
			}
			if len(got)+len(dead) != len(targets) {
				t.Errorf("%d alive + %d dead, want %d decided", len(got), len(dead),
					len(targets))
			}
			if st.sent < tc.minSent || st.errs != tc.wantErrs {
				t.Errorf("stats %+v, want at least %d sent and %d errors", st, tc.minSent,
					tc.wantErrs)
			}
		})
	}
}

// TestSweepRate checks the pacing: 300 packets at 3,000 a second take about 0.1 s (the
// burst is 10 ms worth), never much less.
func TestSweepRate(t *testing.T) {
	f := newFakeNet(nil, time.Millisecond)
	s := &sweep{rate: 3000, method: "arp", send: f.send, replies: f.replies,
		tm:    Timing{Min: 5 * time.Millisecond, Initial: 5 * time.Millisecond}.withDefaults(),
		alive: func(Host) {}, dead: func(netip.Addr) {}}
	s.tm.Retries = 0
	start := time.Now()
	st := s.run(context.Background(), feed(addrs("10.0.0.1", 300)))
	if el := time.Since(start); el < 85*time.Millisecond || st.sent != 300 {
		t.Errorf("%d sent in %v, want 300 in ≥ 0.09 s", st.sent, el)
	}
}

// TestSweepCancel checks that a cancelled sweep returns, with targets still pending.
func TestSweepCancel(t *testing.T) {
	f := newFakeNet(nil, time.Millisecond)
	s := &sweep{rate: 10, method: "arp", send: f.send, replies: f.replies,
		tm: Timing{}.withDefaults(), alive: func(Host) {}, dead: func(netip.Addr) {}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { s.run(ctx, feed(addrs("10.0.0.1", 1000))); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sweep ignored cancellation")
	}
}

func TestLinksAndRoute(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	up := net.FlagUp | net.FlagBroadcast
	pfx := netip.MustParsePrefix
	ifs := []iface{
		{index: 1, name: "lo", flags: net.FlagUp | net.FlagLoopback,
			addrs: []netip.Prefix{pfx("127.0.0.1/8"), pfx("::1/128")}},
		{index: 2, name: "eth0", flags: up, mac: mac,
			addrs: []netip.Prefix{pfx("192.168.1.10/24"), pfx("fe80::1/64"),
				pfx("10.0.0.5/8")}},
		{index: 3, name: "eth1", flags: up, mac: mac,
			addrs: []netip.Prefix{pfx("10.20.0.1/16"), pfx("172.16.0.1/32")}},
		{index: 4, name: "down0", flags: net.FlagBroadcast, mac: mac,
			addrs: []netip.Prefix{pfx("192.168.2.1/24")}},
		{index: 5, name: "tun0", flags: net.FlagUp | net.FlagPointToPoint,
			addrs: []netip.Prefix{pfx("10.8.0.2/24")}},
		{index: 6, name: "wg0", flags: up, mac: nil, // no Ethernet address: no ARP
			addrs: []netip.Prefix{pfx("10.9.0.2/24")}},
	}
	ls := links(ifs)
	var got []string
	for _, l := range ls {
		got = append(got, l.ifName+" "+l.prefix.String()+" "+l.src.String())
	}
	want := []string{"eth0 192.168.1.0/24 192.168.1.10", "eth0 10.0.0.0/8 10.0.0.5",
		"eth1 10.20.0.0/16 10.20.0.1"}
	if !slices.Equal(got, want) {
		t.Fatalf("links %q, want %q", got, want)
	}
	for _, tc := range []struct {
		addr string
		want string // interface and prefix, or "" for off-link
	}{
		{"192.168.1.77", "eth0 192.168.1.0/24"},
		{"10.1.2.3", "eth0 10.0.0.0/8"},
		{"10.20.9.9", "eth1 10.20.0.0/16"}, // the most specific prefix wins
		{"10.8.0.9", "eth0 10.0.0.0/8"},    // tun0 has no ARP; 10/8 still holds it
		{"192.168.2.5", ""},                // interface down
		{"172.16.0.9", ""},                 // a /32 has no neighbours
		{"8.8.8.8", ""},
		{"127.0.0.2", ""},
		{"fe80::2", ""},
		{"::ffff:192.168.1.77", ""}, // route takes unmapped addresses; Auto unmaps
	} {
		i := route(ls, netip.MustParseAddr(tc.addr))
		got := ""
		if i >= 0 {
			got = ls[i].ifName + " " + ls[i].prefix.String()
		}
		if got != tc.want {
			t.Errorf("route(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	local := localAddrs(ifs)
	for a, want := range map[string]bool{"127.0.0.1": true, "192.168.1.10": true,
		"10.20.0.1": true, "192.168.2.1": false, "192.168.1.11": false, "::1": true} {
		if _, ok := local[netip.MustParseAddr(a)]; ok != want {
			t.Errorf("local %s = %v, want %v", a, ok, want)
		}
	}
}

// TestAutoWithoutRaw checks the unprivileged path: with no raw or ping sockets Auto is
// TCPPing, and finds the same loopback hosts.
func TestAutoWithoutRaw(t *testing.T) {
	s, err := NewScanner(Config{MaxConcurrency: 64})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.94.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	targets := addrs("127.94.0.1", 8)
	req := Request{Targets: slices.Values(targets), Ports: []uint16{port}}
	var got []Host
	_, err = Auto{Scanner: s, Caps: &Capabilities{}}.Discover(context.Background(), req,
		func(h Host) { got = append(got, h) })
	if err != nil {
		t.Fatal(err)
	}
	// Every loopback address refuses or accepts: all 8 are alive, by TCP ping.
	if len(got) != len(targets) {
		t.Fatalf("%d hosts, want %d: %+v", len(got), len(targets), got)
	}
	for _, h := range got {
		if h.Method != "tcp-ping" {
			t.Errorf("%v found by %q, want tcp-ping", h.Addr, h.Method)
		}
	}
}

// TestAutoICMPLoopback runs Auto with raw ICMP on loopback addresses, which are off-link
// (loopback has no ARP) and answer echo: all must be found by echo, with this machine's own
// 127.0.0.1 reported as local.
func TestAutoICMPLoopback(t *testing.T) {
	caps := DetectCapabilities()
	if !caps.RawICMP && !caps.PingSocket {
		t.Skip("no raw ICMP or ping socket: skipping")
	}
	s, err := NewScanner(Config{MaxConcurrency: 64})
	if err != nil {
		t.Fatal(err)
	}
	targets := append(addrs("127.95.0.1", 64), netip.MustParseAddr("127.0.0.1"))
	var got []Host
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Auto{Scanner: s, Caps: &caps}.Discover(ctx, Request{
		Targets: slices.Values(targets), Total: uint64(len(targets))},
		func(h Host) { got = append(got, h) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(targets) {
		t.Fatalf("%d hosts, want %d: %+v", len(got), len(targets), got)
	}
	for _, h := range got {
		want := "icmp-echo"
		if h.Addr == netip.MustParseAddr("127.0.0.1") {
			want = "local"
		}
		if h.Method != want {
			t.Errorf("%v found by %q, want %q", h.Addr, h.Method, want)
		}
	}
	if p.Attempts < 64 || p.Planned != uint64(len(targets)) {
		t.Errorf("progress %+v", p)
	}
}

// noBufs returns ENOBUFS as this platform spells it (WSAENOBUFS is 10055 on Windows).
func noBufs(t *testing.T) error {
	for _, err := range []error{syscall.ENOBUFS, syscall.Errno(10055)} {
		if classifyErrno(err) == errBackPressure {
			return err
		}
	}
	t.Fatal("no errno classifies as back-pressure")
	return nil
}
