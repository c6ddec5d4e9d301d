//go:build linux

package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The epoll engine's tests use 127.211.20.0–127.211.29.255. A silent host is simulated by
// redirecting its connects (through the engine's test hook) to a listener whose accept
// queue is full, which drops SYNs as a firewall would.

// epollScanner returns a Scanner that runs TCP jobs on the epoll engine, or fails.
func epollScanner(t testing.TB, cfg Config) (*Scanner, *epollEngine) {
	t.Helper()
	s := newScanner(t, cfg)
	e, ok := s.engine.(*epollEngine)
	if !ok {
		t.Fatalf("no epoll engine on Linux (engine %T; is %s=dialer set?)", s.engine,
			engineEnv)
	}
	return s, e
}

// blackhole returns a loopback address whose listener's accept queue is full: SYNs to it
// are dropped, so connects time out.
func blackhole(t testing.TB) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ip := [4]byte{127, 211, 29, 1}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ip}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(sa.(*unix.SockaddrInet4).Port))
	for range 3 { // fill the queue; the dials that do not fit time out, which is fine
		c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return ap
}

// openFDs counts this process's descriptors, leaving out the labs' listeners and the
// connections they accepted and hold (bound to 127.211.x.x): probe sockets connect from
// 127.0.0.1.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err == unix.EBADF {
			continue // closed since the listing: the lab closes accepted sockets as it goes
		}
		if in4, ok := sa.(*unix.SockaddrInet4); ok && in4.Addr[0] == 127 &&
			in4.Addr[1] == 211 {
			continue
		}
		n++
	}
	return n
}

// checkReleased fails unless every global slot was given back and no descriptor is left
// open beyond fds, the count before s was made: sockets and epoll descriptors alike.
func checkReleased(t *testing.T, s *Scanner, fds int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.slots) != 0 || openFDs(t) > fds {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots still held, %d descriptors open (%d before)", len(s.slots),
				openFDs(t), fds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEpollMatchesTruthAndDialer scans one lab with the engine at several concurrencies
// (one loop and several) and with the Dialer path: every verdict must match the truth, and
// the counters must agree.
func TestEpollMatchesTruthAndDialer(t *testing.T) {
	lb := newLab(t, "127.211.20.0", 40, 10, func(i, j int) bool { return (i*7+j)%5 == 0 })
	want := lb.truth()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"epoll-1", Config{MaxConcurrency: 1}},
		{"epoll-16", Config{MaxConcurrency: 16}},
		{"epoll-1024", Config{MaxConcurrency: 1024}},
		{"dialer-64", Config{MaxConcurrency: 64, dialerOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds := openFDs(t)
			s := newScanner(t, tc.cfg)
			if (s.engine == nil) != tc.cfg.dialerOnly {
				t.Fatalf("engine %v with dialerOnly %v", s.engine, tc.cfg.dialerOnly)
			}
			got, prog := verdicts(t, s, lb.request())
			if !slices.Equal(got, want) {
				t.Fatalf("verdicts differ from the truth: %s", diff(got, want))
			}
			if prog.Done != 400 || prog.Attempts != 400 || prog.Open != uint64(len(lb.open)) ||
				prog.Closed != 400-uint64(len(lb.open)) || prog.Errors != 0 {
				t.Fatalf("progress %+v", prog)
			}
			checkReleased(t, s, fds)
		})
	}
}

// errnoHook fails the first n connects of every address with errno, as socket(2) would.
type errnoHook struct {
	mu    sync.Mutex
	fails map[netip.AddrPort]int
	n     int
	errno syscall.Errno
}

func (h *errnoHook) hook(ap netip.AddrPort) (netip.AddrPort, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fails[ap] < h.n {
		h.fails[ap]++
		return ap, os.NewSyscallError("socket", h.errno)
	}
	return ap, nil
}

func TestEpollBackPressureIsRetriedNotClosed(t *testing.T) {
	lb := newLab(t, "127.211.21.0", 4, 4, func(i, j int) bool { return i == j })
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE,
		syscall.EADDRNOTAVAIL, syscall.ENOBUFS} {
		t.Run(errno.Error(), func(t *testing.T) {
			s, e := epollScanner(t, Config{MaxConcurrency: 8})
			e.hook = (&errnoHook{fails: map[netip.AddrPort]int{}, n: 3, errno: errno}).hook
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

func TestEpollBackPressureLimitIsErrorNotClosed(t *testing.T) {
	s, e := epollScanner(t, Config{MaxConcurrency: 2})
	e.hook = (&errnoHook{fails: map[netip.AddrPort]int{}, n: 1 << 30,
		errno: syscall.EMFILE}).hook
	req := Request{Targets: slices.Values([]netip.Addr{netip.MustParseAddr("127.211.22.1")}),
		Ports: []uint16{1, 2},
		Timing: Timing{BackPressurePause: time.Millisecond,
			BackPressureLimit: 20 * time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []Result
	prog, err := s.Scan(ctx, req, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.State != StateError || !errors.Is(r.Err, syscall.EMFILE) || r.Attempts != 0 {
			t.Fatalf("%v: state %v err %v attempts %d, want an error wrapping EMFILE and "+
				"no attempt", r.Addr, r.State, r.Err, r.Attempts)
		}
	}
	if len(got) != 2 || prog.Errors != 2 || prog.BackPressure < 2*5 {
		t.Fatalf("%d results, progress %+v", len(got), prog)
	}
}

// silentHook redirects connects to the addresses in silent to a black hole.
func silentHook(silent map[netip.Addr]bool, hole netip.AddrPort) func(netip.AddrPort) (
	netip.AddrPort, error) {
	return func(ap netip.AddrPort) (netip.AddrPort, error) {
		if silent[ap.Addr()] {
			return hole, nil
		}
		return ap, nil
	}
}

// TestEpollFilteredAfterRetries: an unanswered connect is retried once with the timeout
// doubled (at least Initial), then reported filtered; answered ports are unaffected.
func TestEpollFilteredAfterRetries(t *testing.T) {
	hole := blackhole(t)
	lb := newLab(t, "127.211.23.0", 6, 3, func(i, j int) bool { return j == 0 })
	silent := map[netip.Addr]bool{lb.hosts[1]: true, lb.hosts[4]: true}
	fds := openFDs(t)
	s, e := epollScanner(t, Config{MaxConcurrency: 32})
	e.hook = silentHook(silent, hole)
	req := lb.request()
	req.Timing = Timing{Initial: 150 * time.Millisecond, Min: 100 * time.Millisecond,
		Max: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var got []Result
	prog, err := s.Scan(ctx, req, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		want, attempts := StateClosed, 1
		switch {
		case silent[r.Addr.Addr()]:
			want, attempts = StateFiltered, 2
		case lb.open[r.Addr]:
			want = StateOpen
		}
		if r.State != want || r.Attempts != attempts || (want != StateFiltered) != (r.RTT > 0) {
			t.Errorf("%v: %v after %d attempts (rtt %v), want %v after %d", r.Addr, r.State,
				r.Attempts, r.RTT, want, attempts)
		}
	}
	if len(got) != 18 || prog.Filtered != 6 || prog.Retries != 6 || prog.Attempts != 24 {
		t.Fatalf("%d results, progress %+v: want 6 filtered after 6 retries", len(got), prog)
	}
	// First attempt 100-150 ms (the timeout adapts once answers arrive), the retry at least
	// the initial 150 ms: the job cannot end sooner.
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("filtered verdicts after %v: timeouts not waited out", d)
	}
	checkReleased(t, s, fds)
}

// TestEpollDiscoverTCPPing runs host discovery on the engine: silent hosts are not
// reported, every live host is, once, and skipped probes are accounted for.
func TestEpollDiscoverTCPPing(t *testing.T) {
	hole := blackhole(t)
	var targets []netip.Addr
	silent := map[netip.Addr]bool{}
	a := netip.MustParseAddr("127.211.24.0")
	for i := range 40 {
		a = a.Next()
		targets = append(targets, a)
		if i%4 == 0 {
			silent[a] = true
		}
	}
	s, e := epollScanner(t, Config{MaxConcurrency: 16})
	e.hook = silentHook(silent, hole)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var alive []netip.Addr
	prog, err := TCPPing{Scanner: s}.Discover(ctx, Request{Targets: slices.Values(targets),
		Total: 40, Timing: Timing{Initial: 200 * time.Millisecond, Min: 200 * time.Millisecond}},
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
	if prog.Done+prog.Skipped != prog.Planned || prog.Filtered != 10*5 || prog.Closed < 30 {
		t.Fatalf("progress %+v: want done+skipped = planned, 50 filtered, ≥ 30 closed", prog)
	}
}

// TestEpollCancel cancels a job whose probes all wait on silent hosts: Results closes
// promptly, Err says so, and every socket and slot is given back.
func TestEpollCancel(t *testing.T) {
	hole := blackhole(t)
	var targets []netip.Addr
	silent := map[netip.Addr]bool{}
	a := netip.MustParseAddr("127.211.25.0")
	for range 200 {
		a = a.Next()
		targets = append(targets, a)
		silent[a] = true
	}
	fds := openFDs(t)
	s, e := epollScanner(t, Config{MaxConcurrency: 300})
	e.hook = silentHook(silent, hole)
	ctx, cancel := context.WithCancel(context.Background())
	j, err := s.Start(ctx, Request{Targets: slices.Values(targets), Ports: []uint16{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	for j.Progress().Attempts < 300 { // every loop has sockets in flight
		time.Sleep(time.Millisecond)
	}
	cancel()
	start := time.Now()
	n := 0
	for range j.Results() {
		n++
	}
	if !errors.Is(j.Err(), context.Canceled) || n != 0 {
		t.Fatalf("err %v, %d results: want cancellation and no verdict", j.Err(), n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("results closed %v after cancel", d)
	}
	checkReleased(t, s, fds)
}

// TestEpollRateLimits: the per-job rate bounds the attempts a second, and a job waiting
// for its tokens still ends at once when cancelled.
func TestEpollRateLimits(t *testing.T) {
	var targets []netip.Addr
	a := netip.MustParseAddr("127.211.26.0")
	for range 30 {
		a = a.Next()
		targets = append(targets, a)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		req  Request
	}{
		{"job", Config{MaxConcurrency: 256}, Request{Rate: 100, Burst: 1}},
		{"global", Config{MaxConcurrency: 256, Rate: 100, Burst: 1}, Request{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := epollScanner(t, tc.cfg)
			req := tc.req
			req.Targets, req.Ports = slices.Values(targets), []uint16{1}
			start := time.Now()
			got, prog := verdicts(t, s, req)
			// 30 attempts at 100/s with a burst of 1: at least 290 ms.
			if d := time.Since(start); d < 280*time.Millisecond || len(got) != 30 ||
				prog.Closed != 30 {
				t.Fatalf("%d results (%+v) in %v: rate not applied", len(got), prog, d)
			}
		})
	}
	s, _ := epollScanner(t, Config{MaxConcurrency: 8})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := s.Start(ctx, Request{Targets: slices.Values(targets), Ports: []uint16{1},
		Rate: 1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first, ok := <-j.Results(); !ok || first.State != StateClosed {
		t.Fatalf("first result %+v", first)
	}
	cancel()
	start := time.Now()
	for range j.Results() {
	}
	if !errors.Is(j.Err(), context.Canceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v", j.Err(), time.Since(start))
	}
}

// TestEpollSharedSlots runs two jobs at once on a Scanner with few slots, one of them
// holding its slots on silent hosts: both finish with the right verdicts, so a loop that
// finds every slot taken waits for them instead of failing or spinning forever.
func TestEpollSharedSlots(t *testing.T) {
	hole := blackhole(t)
	lb := newLab(t, "127.211.27.0", 20, 5, func(i, j int) bool { return i == j })
	silent := map[netip.Addr]bool{}
	var quiet []netip.Addr
	a := netip.MustParseAddr("127.211.28.0")
	for range 6 {
		a = a.Next()
		quiet = append(quiet, a)
		silent[a] = true
	}
	fds := openFDs(t)
	s, e := epollScanner(t, Config{MaxConcurrency: 4})
	e.hook = silentHook(silent, hole)
	var wg sync.WaitGroup
	var quietRes []Result
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.Scan(ctx, Request{Targets: slices.Values(quiet), Ports: []uint16{1},
			Timing: Timing{Initial: 100 * time.Millisecond, Retries: -1}},
			func(r Result) { quietRes = append(quietRes, r) })
		if err != nil {
			t.Error(err)
		}
	})
	got, _ := verdicts(t, s, lb.request())
	wg.Wait()
	if want := lb.truth(); !slices.Equal(got, want) {
		t.Fatalf("verdicts differ: %s", diff(got, want))
	}
	for _, r := range quietRes {
		if r.State != StateFiltered {
			t.Errorf("%v: %v, want filtered", r.Addr, r.State)
		}
	}
	if len(quietRes) != 6 {
		t.Fatalf("%d results for the silent hosts", len(quietRes))
	}
	checkReleased(t, s, fds)
}

// TestEpollHeap checks the deadline heap against a sorted list under random pushes and
// removals.
func TestEpollHeap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, ops int
	}{{"small", 4, 100}, {"medium", 64, 2000}, {"large", 1024, 20000}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.n)))
			l := &connLoop{ps: make([]pstate, tc.n)}
			for i := range l.ps {
				l.ps[i].hidx = -1
			}
			base := time.Now()
			for range tc.ops {
				i := rng.IntN(tc.n)
				if l.ps[i].hidx >= 0 {
					l.hremove(i)
				} else {
					l.ps[i].wake = base.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
					l.hpush(i)
				}
				for k, i := range l.heap {
					if l.ps[i].hidx != k {
						t.Fatalf("pstate %d at %d thinks it is at %d", i, k, l.ps[i].hidx)
					}
					if k > 0 && l.ps[i].wake.Before(l.ps[l.heap[(k-1)/2]].wake) {
						t.Fatalf("heap order broken at %d", k)
					}
				}
			}
			prev := time.Time{}
			for len(l.heap) > 0 {
				i := l.heap[0]
				if l.ps[i].wake.Before(prev) {
					t.Fatal("popped out of order")
				}
				prev = l.ps[i].wake
				l.hremove(i)
			}
		})
	}
}

// TestEpollRealEMFILE makes the kernel refuse the engine's sockets with a real EMFILE, in a
// child process (RLIMIT_NOFILE is process-wide): the job starts (its epoll descriptors
// made) with its targets held back, the descriptor limit is lowered to the lowest free
// descriptor number, so that no new descriptor fits, and the targets are released. Once
// the job has paused on back-pressure the limit is raised again, and every verdict must
// still match the truth.
func TestEpollRealEMFILE(t *testing.T) {
	const env = "TENA_PROBE_EPOLL_EMFILE_CHILD"
	if os.Getenv(env) == "1" {
		epollEMFILEChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEpollRealEMFILE$", "-test.count=1",
		"-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "EPOLL-EMFILE-CHILD-OK") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child: %s", grepLine(string(out), "EPOLL-EMFILE-CHILD-OK"))
}

func epollEMFILEChild(t *testing.T) {
	// Listeners that are never accepted from: the kernel completes handshakes into the
	// backlog, so the lab needs no descriptors while the limit is low.
	truth := map[netip.AddrPort]bool{}
	var hosts []netip.Addr
	ports := freePorts(t, 5)
	a := netip.MustParseAddr("127.211.22.100")
	for i := range 5 {
		a = a.Next()
		hosts = append(hosts, a)
		ap := netip.AddrPortFrom(a, ports[i])
		l, err := net.Listen("tcp", ap.String())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		truth[ap] = true
	}
	s, _ := epollScanner(t, Config{MaxConcurrency: 16})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gate := make(chan struct{})
	targets := func(yield func(netip.Addr) bool) {
		<-gate
		for _, h := range hosts {
			if !yield(h) {
				return
			}
		}
	}
	j, err := s.Start(ctx, Request{Targets: targets, Ports: ports,
		Timing: Timing{BackPressurePause: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lowest, err := unix.Dup(0) // the lowest free descriptor number
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(lowest)
	low := unix.Rlimit{Cur: uint64(lowest), Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	close(gate)
	for j.Progress().BackPressure == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	var wrong []string
	n := 0
	for r := range j.Results() {
		n++
		want := StateClosed
		if truth[r.Addr] {
			want = StateOpen
		}
		if r.State != want || r.Attempts != 1 {
			wrong = append(wrong, fmt.Sprintf("%v %v after %d (%v)", r.Addr, r.State,
				r.Attempts, r.Err))
		}
	}
	if err := j.Err(); err != nil {
		t.Fatal(err)
	}
	p := j.Progress()
	if len(wrong) > 0 || n != 25 || p.BackPressure == 0 || p.Attempts != 25 {
		t.Fatalf("wrong verdicts %v, %d results, progress %+v", wrong, n, p)
	}
	fmt.Printf("EPOLL-EMFILE-CHILD-OK back-pressure pauses=%d results=%d\n", p.BackPressure, n)
}

// TestFlushMarkersAreNotProbed feeds both job paths targets interleaved with the invalid
// address that gateOnLink yields before it waits: every real target is probed once, in
// chunks cut short at each marker, and no marker is ever probed.
func TestFlushMarkersAreNotProbed(t *testing.T) {
	lb := newLab(t, "127.211.22.0", 20, 3, func(i, j int) bool { return (i+j)%4 == 0 })
	want := lb.truth()
	for _, cfg := range []Config{{MaxConcurrency: 8}, {MaxConcurrency: 8, dialerOnly: true}} {
		req := lb.request()
		req.Targets = func(yield func(netip.Addr) bool) {
			for i, h := range lb.hosts {
				if i%3 == 0 && !yield(netip.Addr{}) {
					return
				}
				if !yield(h) {
					return
				}
			}
			yield(netip.Addr{})
		}
		got, prog := verdicts(t, newScanner(t, cfg), req)
		if !slices.Equal(got, want) {
			t.Errorf("dialer path %v: verdicts differ: %s", cfg.dialerOnly, diff(got, want))
		}
		if prog.Done != uint64(len(want)) {
			t.Errorf("dialer path %v: %d verdicts, want %d", cfg.dialerOnly, prog.Done,
				len(want))
		}
	}
}
