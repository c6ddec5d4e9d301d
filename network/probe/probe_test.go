package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func newScanner(t testing.TB, cfg Config) *Scanner {
	t.Helper()
	s, err := NewScanner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConnectScanLoopback(t *testing.T) {
	lb := newLab(t, "127.211.0.0", 12, 8, func(i, j int) bool { return (i+j)%3 == 0 })
	s := newScanner(t, Config{MaxConcurrency: 64})
	want := lb.truth()
	got, prog := verdicts(t, s, lb.request())
	if !slices.Equal(got, want) {
		t.Fatalf("verdicts differ from ground truth: %s", diff(got, want))
	}
	if prog.Done != 96 || prog.Planned != 96 || prog.Open != uint64(len(lb.open)) ||
		prog.Closed != 96-uint64(len(lb.open)) {
		t.Fatalf("progress %+v", prog)
	}
	// A second scan gives the same verdicts: results are deterministic.
	again, _ := verdicts(t, s, lb.request())
	if !slices.Equal(again, got) {
		t.Fatalf("second scan differs: %s", diff(again, got))
	}
	// How far the timeout adapted depends on this host's load, so it is not asserted here;
	// TestRTTEstimator checks the arithmetic.
}

// flakyDialer fails the first n dials of every address with errno, then dials for real.
type flakyDialer struct {
	mu    sync.Mutex
	fails map[string]int
	n     int
	errno syscall.Errno
	next  net.Dialer
}

func (d *flakyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn,
	error) {
	d.mu.Lock()
	k := d.fails[addr]
	if k < d.n {
		d.fails[addr] = k + 1
		d.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: os.NewSyscallError("socket", d.errno)}
	}
	d.mu.Unlock()
	return d.next.DialContext(ctx, network, addr)
}

func TestBackPressureIsRetriedNotClosed(t *testing.T) {
	lb := newLab(t, "127.211.1.0", 4, 4, func(i, j int) bool { return i == j })
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE,
		syscall.EADDRNOTAVAIL, syscall.ENOBUFS} {
		t.Run(errno.Error(), func(t *testing.T) {
			d := &flakyDialer{fails: map[string]int{}, n: 3, errno: errno}
			s := newScanner(t, Config{MaxConcurrency: 8, Dialer: d})
			req := lb.request()
			req.Timing.BackPressurePause = time.Millisecond
			got, prog := verdicts(t, s, req)
			if want := lb.truth(); !slices.Equal(got, want) {
				t.Fatalf("verdicts differ: %s", diff(got, want))
			}
			if prog.BackPressure != 3*16 || prog.Attempts != 16 || prog.Retries != 0 {
				t.Fatalf("progress %+v: want 48 pauses, 16 attempts, no retries", prog)
			}
		})
	}
}

func TestBackPressureLimitIsErrorNotClosed(t *testing.T) {
	d := &flakyDialer{fails: map[string]int{}, n: 1 << 30, errno: syscall.EMFILE}
	s := newScanner(t, Config{MaxConcurrency: 2, Dialer: d})
	req := Request{Targets: slices.Values([]netip.Addr{netip.MustParseAddr("127.211.2.1")}),
		Ports: []uint16{1, 2},
		Timing: Timing{BackPressurePause: time.Millisecond,
			BackPressureLimit: 20 * time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []Result
	if _, err := s.Scan(ctx, req, func(r Result) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.State != StateError || !errors.Is(r.Err, syscall.EMFILE) {
			t.Fatalf("%v: state %v err %v, want error wrapping EMFILE", r.Addr, r.State, r.Err)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d results", len(got))
	}
}

// stallDialer never connects to the addresses in silent, as a host that drops SYNs does:
// it waits for the context to end, or with fast set reports the timeout at once, so tests
// need not wait out real timeouts (and cannot flake on them).
type stallDialer struct {
	silent map[netip.Addr]bool
	fast   bool
	next   net.Dialer
}

func (d *stallDialer) DialContext(ctx context.Context, network, addr string) (net.Conn,
	error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil && d.silent[ap.Addr()] {
		if d.fast {
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
		}
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	return d.next.DialContext(ctx, network, addr)
}

func TestDiscoverTCPPing(t *testing.T) {
	var targets []netip.Addr
	silent := map[netip.Addr]bool{}
	a := netip.MustParseAddr("127.211.3.0")
	for i := range 20 {
		a = a.Next()
		targets = append(targets, a)
		if i%4 == 0 {
			silent[a] = true
		}
	}
	s := newScanner(t, Config{MaxConcurrency: 16,
		Dialer: &stallDialer{silent: silent, fast: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var alive []netip.Addr
	prog, err := TCPPing{Scanner: s}.Discover(ctx, Request{Targets: slices.Values(targets),
		Total: 20, Timing: Timing{Initial: 5 * time.Second, Min: 5 * time.Second}},
		func(h Host) {
			if h.Method != "tcp-ping" || h.State != StateClosed {
				t.Errorf("host %+v: loopback refuses, want closed evidence", h)
			}
			alive = append(alive, h.Addr)
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(alive, netip.Addr.Compare)
	var want []netip.Addr
	for _, a := range targets {
		if !silent[a] {
			want = append(want, a)
		}
	}
	if !slices.Equal(alive, want) {
		t.Fatalf("alive %v, want %v", alive, want)
	}
	// Ports of a host that already answered are skipped when the feeder has not queued
	// them yet; how many depends on scheduling, but every planned probe is accounted for.
	if prog.Done+prog.Skipped != prog.Planned || prog.Closed < 15 {
		t.Errorf("progress %+v: done+skipped != planned, or fewer than 15 answers", prog)
	}
	if prog.Filtered != 5*5 {
		t.Errorf("filtered %d, want 25 (every port of each silent host)", prog.Filtered)
	}
}

func TestCancelStopsTheJob(t *testing.T) {
	silent := map[netip.Addr]bool{}
	var targets []netip.Addr
	a := netip.MustParseAddr("127.211.4.0")
	for range 200 {
		a = a.Next()
		targets = append(targets, a)
		silent[a] = true
	}
	s := newScanner(t, Config{MaxConcurrency: 8, Dialer: &stallDialer{silent: silent}})
	ctx, cancel := context.WithCancel(context.Background())
	j, err := s.Start(ctx, Request{Targets: slices.Values(targets), Ports: []uint16{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-j.Results():
			if !ok {
				if !errors.Is(j.Err(), context.Canceled) {
					t.Fatalf("Err = %v", j.Err())
				}
				return
			}
		case <-deadline:
			t.Fatal("results not closed 20s after cancel")
		}
	}
}

func TestStartRejects(t *testing.T) {
	s := newScanner(t, Config{MaxConcurrency: 1})
	one := slices.Values([]netip.Addr{netip.MustParseAddr("127.211.5.1")})
	for _, req := range []Request{{}, {Targets: one}, {Targets: one, Ports: []uint16{0}},
		{Targets: one, Ports: []uint16{1}, Rate: -1}} {
		if _, err := s.Start(context.Background(), req); err == nil {
			t.Errorf("%+v accepted", req)
		}
	}
	if _, err := NewScanner(Config{MaxConcurrency: -1}); err == nil {
		t.Error("negative concurrency accepted")
	}
}

func TestDefaultConcurrency(t *testing.T) {
	n := DefaultConcurrency()
	if n < 16 || n > maxConcurrency {
		t.Fatalf("DefaultConcurrency = %d", n)
	}
	if lim, ok := descriptorLimit(); ok && uint64(n) >= lim {
		t.Fatalf("concurrency %d not below the descriptor limit %d", n, lim)
	}
}

func TestRTTEstimator(t *testing.T) {
	e := newRTTEstimator(Timing{}.withDefaults())
	if e.timeout() != time.Second {
		t.Fatalf("initial timeout %v", e.timeout())
	}
	for range 20 {
		e.observe(50 * time.Millisecond)
	}
	if got := e.timeout(); got != 400*time.Millisecond {
		t.Fatalf("timeout after steady 50ms = %v, want 8×50ms", got)
	}
	for range 20 {
		e.observe(2 * time.Second)
	}
	if got := e.timeout(); got != 3*time.Second {
		t.Fatalf("timeout %v, want the 3s ceiling", got)
	}
}

func TestParsePorts(t *testing.T) {
	good := map[string][]uint16{
		"22":                {22},
		"22,80,8000-8003":   {22, 80, 8000, 8001, 8002, 8003},
		"443 80,443 22-22 ": {443, 80, 22},
		"65534-65535":       {65534, 65535},
	}
	for spec, want := range good {
		got, err := ParsePorts(spec)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", spec, got, err, want)
		}
	}
	all, err := ParsePorts("1-65535")
	if err != nil || len(all) != 65535 {
		t.Fatalf("1-65535: %d %v", len(all), err)
	}
	bad := map[string]string{
		"": "empty", "0": "item 1", "65536": "1-65535", "80,x": `item 2 "x"`,
		"100-1": "reversed", "-5": "item 1", "5-": "item 1", "1-2-3": "item 1",
		"+80": "item 1", "٣": "item 1", "99999999999999999999": "item 1", "22,,": "",
	}
	for spec, msg := range bad {
		_, err := ParsePorts(spec)
		if spec == "22,," {
			if err != nil {
				t.Errorf("%q: trailing commas are harmless: %v", spec, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), msg) ||
			!strings.Contains(err.Error(), "accepted") {
			t.Errorf("%q: error %v, want it to mention %q and the accepted forms", spec, err,
				msg)
		}
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"22,80,8000-8100", "1-65535", "0", "100-1", "a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ports, err := ParsePorts(spec)
		if err != nil {
			return
		}
		seen := map[uint16]bool{}
		for _, p := range ports {
			if p == 0 || seen[p] {
				t.Fatalf("port %d zero or repeated in %v", p, ports)
			}
			seen[p] = true
		}
	})
}

func TestIPv6Loopback(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer l.Close()
	open := uint16(l.Addr().(*net.TCPAddr).Port)
	closedPort := freePorts(t, 1)[0]
	s := newScanner(t, Config{MaxConcurrency: 4})
	req := Request{Targets: slices.Values([]netip.Addr{netip.IPv6Loopback()}),
		Ports: []uint16{open, closedPort}}
	got, _ := verdicts(t, s, req)
	want := []string{
		netip.AddrPortFrom(netip.IPv6Loopback(), open).String() + " open",
		netip.AddrPortFrom(netip.IPv6Loopback(), closedPort).String() + " closed",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestRateLimitedJobCancels checks that a job waiting on its rate limiter, not on the
// network, still ends promptly when cancelled and reports what it decided before that.
func TestRateLimitedJobCancels(t *testing.T) {
	var targets []netip.Addr
	a := netip.MustParseAddr("127.211.11.0")
	for range 50 {
		a = a.Next()
		targets = append(targets, a)
	}
	s := newScanner(t, Config{MaxConcurrency: 8})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := s.Start(ctx, Request{Targets: slices.Values(targets), Ports: []uint16{1},
		Rate: 1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, ok := <-j.Results() // the burst token lets exactly one probe through at once
	if !ok || first.State != StateClosed {
		t.Fatalf("first result %+v", first)
	}
	cancel()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-j.Results():
			if ok {
				continue
			}
			if !errors.Is(j.Err(), context.Canceled) || j.Progress().Done >= 50 {
				t.Fatalf("err %v progress %+v", j.Err(), j.Progress())
			}
			return
		case <-deadline:
			t.Fatal("rate-limited job did not end 20s after cancel")
		}
	}
}
