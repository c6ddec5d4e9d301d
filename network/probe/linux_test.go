//go:build linux

package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRealEMFILE runs itself in a child process (RLIMIT_NOFILE is process-wide, so lowering
// it in the test process would break other tests), where the descriptor limit is lowered to
// the descriptors already open: every probe hits a real EMFILE. Once the job has seen
// back-pressure the limit is raised again, and every verdict must still match the truth.
func TestRealEMFILE(t *testing.T) {
	if os.Getenv("TENA_PROBE_EMFILE_CHILD") == "1" {
		emfileChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealEMFILE$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "TENA_PROBE_EMFILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "EMFILE-CHILD-OK") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child: %s", grepLine(string(out), "EMFILE-CHILD-OK"))
}

func grepLine(s, sub string) string {
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func emfileChild(t *testing.T) {
	// Listeners that are never accepted from: the kernel completes handshakes into the
	// backlog, so the lab itself needs no descriptors while the limit is low.
	var hosts []netip.Addr
	truth := map[netip.AddrPort]bool{}
	ports := freePorts(t, 6)
	a := netip.MustParseAddr("127.211.8.0")
	for i := range 6 {
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
	s := newScanner(t, Config{MaxConcurrency: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// The limit is the lowest free descriptor number: every new descriptor fails at once,
	// whatever gaps the descriptor table has.
	free, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(free)
	low := unix.Rlimit{Cur: uint64(free), Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	j, err := s.Start(ctx, Request{Targets: slices.Values(hosts), Ports: ports,
		Timing: Timing{BackPressurePause: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	// Wait, bounded, until back-pressure was seen, then give the descriptors back.
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
		if r.State != want {
			wrong = append(wrong, fmt.Sprintf("%v %v (%v)", r.Addr, r.State, r.Err))
		}
	}
	if err := j.Err(); err != nil {
		t.Fatal(err)
	}
	p := j.Progress()
	if len(wrong) > 0 || n != 36 || p.BackPressure == 0 {
		t.Fatalf("wrong verdicts %v, %d results, progress %+v", wrong, n, p)
	}
	fmt.Printf("EMFILE-CHILD-OK back-pressure pauses=%d results=%d\n", p.BackPressure, n)
}

// TestFilteredByFullBacklog makes a real filtered port on loopback: a listener with backlog
// 0 whose queue is full drops further SYNs, so the connect times out.
func TestFilteredByFullBacklog(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ip := [4]byte{127, 211, 9, 1}
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
	// Fill the accept queue; the dials that do not fit time out, which is fine.
	for range 3 {
		c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
		if err == nil {
			defer c.Close()
		}
	}
	s := newScanner(t, Config{MaxConcurrency: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []Result
	prog, err := s.Scan(ctx, Request{Targets: slices.Values([]netip.Addr{ap.Addr()}),
		Ports:  []uint16{ap.Port()},
		Timing: Timing{Initial: 200 * time.Millisecond, Retries: 1}},
		func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].State != StateFiltered || got[0].Attempts != 2 ||
		prog.Retries != 1 {
		t.Fatalf("results %+v progress %+v: want one filtered after a retry", got, prog)
	}
}
