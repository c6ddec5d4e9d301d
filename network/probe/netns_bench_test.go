//go:build linux

package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tenantra/tenantra/fixtures"
	"github.com/tenantra/tenantra/network/targets"
)

// The realistic LAN of issue 4: two network namespaces, created and removed by the
// benchmark, joined by a veth pair on 198.18.0.0/20 (RFC 2544; it exists only inside them).
// The scanner side holds 198.18.15.254; the LAN side owns every 32nd address (128 of 4,096,
// ~3%), which answer ARP, refuse closed ports and DROP lanFiltered with iptables; every
// other address is silent, as unused addresses on a real LAN are.

const (
	lanNet     = "198.18.0.0/20"
	lanScanner = "198.18.15.254/20"
	lanStride  = 32 // one owned address in lanStride
	// lanChildEnv marks the re-executed test binary that scans inside the scanner namespace.
	lanChildEnv = "TENA_PROBE_NETNS_CHILD"
	// lanResultTag prefixes the child's one-line JSON result on stdout.
	lanResultTag = "NETNS-RESULT "
)

// lanFiltered are the ports DROPped on the LAN side: a firewalled Windows host's.
var lanFiltered = []uint16{445, 3389}

// lanOpen says which ports host i of the LAN listens on; some hosts listen on none and
// are proved alive by refusals alone.
func lanOpen(i int) []uint16 {
	var ps []uint16
	for _, c := range []struct {
		port    uint16
		mod, is int
	}{{22, 2, 0}, {80, 3, 0}, {443, 4, 0}, {8080, 5, 0}, {3306, 7, 0}, {5432, 11, 0},
		{21, 13, 0}, {139, 6, 1}, {25, 9, 2}} {
		if i%c.mod == c.is {
			ps = append(ps, c.port)
		}
	}
	return ps
}

// lanChildResult is what the scanning child reports.
type lanChildResult struct {
	Open         []string      `json:"open"`
	Alive        int           `json:"alive"`
	PingAttempts uint64        `json:"ping_attempts"`
	PortProbes   uint64        `json:"port_probes"`
	Retries      uint64        `json:"retries"`
	BackPressure uint64        `json:"back_pressure"`
	Discover     time.Duration `json:"discover"`
	All          time.Duration `json:"all"`
}

// BenchmarkLANNetns scans the realistic LAN with the top-100 ports by this package
// (unprivileged TCP ping, then ports, in a child process started with `ip netns exec`) and
// by `nmap -sT -n -T4 --top-ports 100` (as root, so nmap finds hosts by ARP), and reports
// wall time and open-port recall for both. It needs root, ip(8), iptables and nmap, and
// skips without them. The namespaces are removed in b.Cleanup, also on failure.
func BenchmarkLANNetns(b *testing.B) {
	if os.Getenv(lanChildEnv) == "1" {
		lanChild(b)
		return
	}
	nmap := lookNmap(b)
	if os.Geteuid() != 0 {
		b.Skip("the LAN benchmark creates network namespaces and needs root")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s unavailable, skipping the LAN benchmark: %v", tool, err)
		}
	}
	scanNS, want := setupLAN(b)

	ctx := context.Background()
	args := []string{"ip", "netns", "exec", scanNS, nmap, "-sT", "-n", "-T4",
		"--top-ports", "100", "-oX", "-", lanNet}
	var pWall, nWall time.Duration
	pRecall, nRecall := 1.0, 1.0
	var pExtra, nExtra int
	for b.Loop() {
		pr, wall, err := runLANChild(ctx, scanNS)
		if err != nil {
			b.Fatalf("probe child: %v", err)
		}
		open := map[netip.AddrPort]bool{}
		var highest netip.Addr // of the open ports found: shows where discovery stopped
		for _, s := range pr.Open {
			ap := netip.MustParseAddrPort(s)
			open[ap] = true
			if !highest.IsValid() || highest.Less(ap.Addr()) {
				highest = ap.Addr()
			}
		}
		nr, err := runNmap(ctx, args)
		if err != nil {
			b.Fatalf("nmap: %v", err)
		}
		r, extra := recall(open, want)
		pRecall, pExtra = min(pRecall, r), pExtra+extra
		r, extra = recall(nr.open, want)
		nRecall, nExtra = min(nRecall, r), nExtra+extra
		pWall, nWall = pWall+pr.All, nWall+nr.wall
		b.Logf("probe (in %s): %d alive, %d ping attempts in %v, %d port probes, "+
			"%d retries, %d back-pressure pauses, %d open (highest address %v), scan %v "+
			"(child process %v)", scanNS, pr.Alive, pr.PingAttempts,
			pr.Discover.Round(time.Millisecond), pr.PortProbes, pr.Retries,
			pr.BackPressure, len(open), highest, pr.All.Round(time.Millisecond),
			wall.Round(time.Millisecond))
		b.Logf("nmap: %d up, %d open in %v; %s", nr.up, len(nr.open),
			nr.wall.Round(time.Millisecond), nr.stats)
	}
	n := float64(b.N)
	b.ReportMetric(pWall.Seconds()/n, "probe-s")
	b.ReportMetric(nWall.Seconds()/n, "nmap-s")
	b.ReportMetric(nWall.Seconds()/pWall.Seconds(), "speedup-x")
	b.ReportMetric(100*pRecall, "probe-recall-%")
	b.ReportMetric(100*nRecall, "nmap-recall-%")
	b.ReportMetric(float64(pExtra), "probe-extra-open")
	b.ReportMetric(float64(nExtra), "nmap-extra-open")
}

// setupLAN creates the two namespaces, the veth pair, the LAN side's addresses, listeners
// and firewall rules, and returns the scanner namespace's name and the open ports.
func setupLAN(b *testing.B) (scanNS string, want map[netip.AddrPort]bool) {
	b.Helper()
	id := strconv.Itoa(os.Getpid())
	scanNS, lanNS := "tena-scan-"+id, "tena-lan-"+id
	vScan, vLAN := "tvs"+id, "tvl"+id // interface names: at most 15 bytes
	ip := func(stdin string, args ...string) {
		b.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	b.Cleanup(func() {
		// Deleting a namespace removes its end of the veth pair, and with it the other.
		for _, ns := range []string{scanNS, lanNS} {
			_ = exec.Command("ip", "netns", "delete", ns).Run()
		}
	})
	ip("", "ip", "netns", "add", scanNS)
	ip("", "ip", "netns", "add", lanNS)
	ip("", "ip", "link", "add", vScan, "netns", scanNS, "type", "veth", "peer", "name", vLAN,
		"netns", lanNS)
	var batch strings.Builder
	fmt.Fprintf(&batch, "addr add %s dev %s\nlink set %s up\nlink set lo up\n", lanScanner,
		vScan, vScan)
	ip(batch.String(), "ip", "-n", scanNS, "-batch", "-")

	base := netip.MustParsePrefix(lanNet).Addr().As4()
	want = map[netip.AddrPort]bool{}
	var listen []netip.AddrPort
	batch.Reset()
	for i := range 4096 / lanStride {
		off := i*lanStride + 1
		a := netip.AddrFrom4([4]byte{base[0], base[1], base[2] + byte(off>>8), byte(off)})
		fmt.Fprintf(&batch, "addr add %v/20 dev %s\n", a, vLAN)
		for _, p := range lanOpen(i) {
			ap := netip.AddrPortFrom(a, p)
			listen = append(listen, ap)
			want[ap] = true
		}
	}
	fmt.Fprintf(&batch, "link set %s up\nlink set lo up\n", vLAN)
	ip(batch.String(), "ip", "-n", lanNS, "-batch", "-")
	var dports []string
	for _, p := range lanFiltered {
		dports = append(dports, strconv.Itoa(int(p)))
	}
	ip("", "ip", "netns", "exec", lanNS, "iptables", "-w", "-A", "INPUT", "-p", "tcp",
		"-m", "multiport", "--dports", strings.Join(dports, ","), "-j", "DROP")
	if err := listenInNetns(b, "/run/netns/"+lanNS, listen); err != nil {
		b.Fatal(err)
	}
	b.Logf("LAN: %d owned addresses of 4096, %d open ports, %v DROPped", 4096/lanStride,
		len(want), lanFiltered)
	return scanNS, want
}

// listenInNetns opens listeners inside the namespace at nsPath from a goroutine locked to a
// thread that has joined it; the thread is never unlocked, so it exits with the goroutine
// and no other goroutine ever runs in that namespace. A socket stays in the namespace it
// was created in, so the accept loops can run anywhere. Accepted connections are closed.
func listenInNetns(b *testing.B, nsPath string, aps []netip.AddrPort) error {
	b.Helper()
	type result struct {
		ls  []net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, on purpose
		var res result
		defer func() { ch <- res }()
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			res.err = fmt.Errorf("open %s: %w", nsPath, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			res.err = fmt.Errorf("setns %s: %w", nsPath, err)
			return
		}
		for _, ap := range aps {
			l, err := net.Listen("tcp", ap.String())
			if err != nil {
				res.err = fmt.Errorf("listen %v in %s: %w", ap, nsPath, err)
				return
			}
			res.ls = append(res.ls, l)
		}
	}()
	res := <-ch
	for _, l := range res.ls {
		b.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return res.err
}

// runLANChild re-executes the test binary inside the scanner namespace to scan the LAN.
func runLANChild(ctx context.Context, scanNS string) (lanChildResult, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, scanBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", scanNS, os.Args[0],
		"-test.run=^$", "-test.bench=^BenchmarkLANNetns$", "-test.benchtime=1x",
		"-test.count=1")
	cmd.Env = append(os.Environ(), lanChildEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var res lanChildResult
	if err != nil {
		return res, wall, fmt.Errorf("%w (ctx %v)\n%s", err, ctx.Err(), out.String())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), lanResultTag); ok {
			err := json.Unmarshal([]byte(line), &res)
			return res, wall, err
		}
	}
	return res, wall, fmt.Errorf("no result line from the child:\n%s", out.String())
}

// lanChild is the scanning part, run inside the scanner namespace: the two probe stages of
// appliance.Scan over the LAN, printed as one JSON line.
func lanChild(b *testing.B) {
	ports, err := fixtures.Ports("top100")
	if err != nil {
		b.Fatal(err)
	}
	set, err := targets.Parse(context.Background(), lanNet, targets.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		pr, err := scanLikeAppliance(context.Background(), Config{}, set, ports)
		if err != nil {
			b.Fatal(err)
		}
		res := lanChildResult{Alive: pr.alive,
			PingAttempts: pr.pingProbes, PortProbes: pr.portProbes, Retries: pr.retries,
			BackPressure: pr.backPressure, Discover: pr.discover, All: pr.all}
		for ap := range pr.open {
			res.Open = append(res.Open, ap.String())
		}
		line, err := json.Marshal(res)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("%s%s\n", lanResultTag, line)
	}
}
