//go:build linux

package probe

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantra/tenantra/fixtures"
	netlab "github.com/tenantra/tenantra/network/lab"
	"github.com/tenantra/tenantra/network/targets"
)

// The side-by-side benchmarks of issue 4 compare this package with Debian's nmap on the
// same targets and ports in one run. They scan only loopback (127.90.0.0/20 here) or
// 198.18.0.0/15 inside network namespaces they create themselves (netns_bench_test.go), and
// run nmap with -n so that it resolves nothing. Without nmap they skip.

// openLabNet is the open lab's target range: loopback, so every address answers and a port
// without a listener refuses at once.
const openLabNet = "127.90.0.0/20"

// openLabBase is where the lab's hosts start, inside openLabNet.
var openLabBase = netip.MustParseAddr("127.90.8.1")

// scanBudget bounds each side of one comparison; a scanner that needs longer fails the
// benchmark rather than holding the machine.
const scanBudget = 3 * time.Minute

// lookNmap returns nmap's path, or skips the benchmark with a message.
func lookNmap(b *testing.B) string {
	b.Helper()
	bin, err := exec.LookPath("nmap")
	if err != nil {
		b.Skipf("nmap unavailable, skipping the side-by-side benchmark (install it with "+
			"apt-get install --no-install-recommends nmap): %v", err)
	}
	return bin
}

// nmapRun is the part of nmap's XML output (-oX) the benchmarks read.
type nmapRun struct {
	Hosts []struct {
		Status struct {
			State string `xml:"state,attr"`
		} `xml:"status"`
		Addrs []struct {
			Addr string `xml:"addr,attr"`
			Type string `xml:"addrtype,attr"`
		} `xml:"address"`
		Ports []struct {
			Proto string `xml:"protocol,attr"`
			ID    uint16 `xml:"portid,attr"`
			State struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
		} `xml:"ports>port"`
	} `xml:"host"`
}

// nmapResult is what one nmap run found and cost.
type nmapResult struct {
	open  map[netip.AddrPort]bool
	up    int           // hosts nmap reported up
	wall  time.Duration // from start to exit
	cpu   time.Duration // nmap's user+system time
	stats string        // nmap's own summary line, for the log
}

// runNmap runs nmap with args (which must select XML on stdout, -oX -) within budget.
func runNmap(ctx context.Context, args []string) (nmapResult, error) {
	ctx, cancel := context.WithTimeout(ctx, scanBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := nmapResult{open: map[netip.AddrPort]bool{}, wall: time.Since(start)}
	if cmd.ProcessState != nil {
		res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w (ctx %v)\n%s", strings.Join(args, " "), err,
			ctx.Err(), stderr.String())
	}
	var run nmapRun
	if err := xml.Unmarshal(stdout.Bytes(), &run); err != nil {
		return res, fmt.Errorf("parse nmap XML: %w", err)
	}
	for _, h := range run.Hosts {
		if h.Status.State == "up" {
			res.up++
		}
		var addr netip.Addr
		for _, a := range h.Addrs {
			if a.Type == "ipv4" {
				addr, _ = netip.ParseAddr(a.Addr)
			}
		}
		for _, p := range h.Ports {
			if p.Proto == "tcp" && p.State.State == "open" && addr.IsValid() {
				res.open[netip.AddrPortFrom(addr, p.ID)] = true
			}
		}
	}
	res.stats = grepLine(stdout.String(), "<finished")
	return res, nil
}

// recall returns the share of want found in got, and how many of got are not in want.
func recall(got, want map[netip.AddrPort]bool) (float64, int) {
	hit, extra := 0, 0
	for ap := range got {
		if want[ap] {
			hit++
		} else {
			extra++
		}
	}
	if len(want) == 0 {
		return 1, extra
	}
	return float64(hit) / float64(len(want)), extra
}

func portList(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

// probeRun is what one scan by this package found and cost.
type probeRun struct {
	open          map[netip.AddrPort]bool
	alive         int
	portProbes    uint64        // port-stage verdicts
	portInitial   time.Duration // the port stage's initial timeout (Timing.Initial)
	pingProbes    uint64        // discovery attempts
	wrong         uint64        // port-stage verdicts neither open nor closed
	retries       uint64
	backPressure  uint64
	discover, all time.Duration // discovery alone; discovery and ports together
	cpu           time.Duration
}

// scanLikeAppliance runs the two probe stages of appliance.Scan: host discovery over the
// targets, then the ports of the live hosts; appliance.Scan uses Config{}. Discovery is
// unprivileged TCP ping unless disc builds another Discoverer. With seedTiming the port
// stage's initial timeout comes from discovery's RTTs (PortTiming).
func scanLikeAppliance(ctx context.Context, cfg Config, set *targets.Set, ports []uint16,
	disc func(*Scanner) Discoverer, seedTiming bool) (probeRun, error) {
	ctx, cancel := context.WithTimeout(ctx, scanBudget)
	defer cancel()
	res := probeRun{open: map[netip.AddrPort]bool{}}
	s, err := NewScanner(cfg)
	if err != nil {
		return res, err
	}
	start, cpu0 := time.Now(), cpuTime()
	var alive []netip.Addr
	var found []Host
	var d Discoverer = TCPPing{Scanner: s}
	if disc != nil {
		d = disc(s)
	}
	dp, err := d.Discover(ctx, Request{Targets: set.All(), Total: set.Len()},
		func(h Host) { alive, found = append(alive, h.Addr), append(found, h) })
	if err != nil {
		return res, fmt.Errorf("discovery: %w", err)
	}
	res.discover = time.Since(start)
	slices.SortFunc(alive, func(x, y netip.Addr) int { return x.Compare(y) })
	var tm Timing
	if seedTiming {
		tm = PortTiming(tm, found)
	}
	pp, err := s.Scan(ctx, Request{Targets: slices.Values(alive), Total: uint64(len(alive)),
		Ports: ports, Timing: tm}, func(r Result) {
		if r.State == StateOpen {
			res.open[r.Addr] = true
		}
	})
	if err != nil {
		return res, fmt.Errorf("port scan: %w", err)
	}
	res.all = time.Since(start)
	res.cpu = time.Duration((cpuTime() - cpu0) * float64(time.Second))
	res.alive, res.pingProbes = len(alive), dp.Attempts
	res.portProbes, res.retries = pp.Done, pp.Retries
	res.portInitial = tm.withDefaults().Initial
	res.backPressure = dp.BackPressure + pp.BackPressure
	res.wrong = pp.Done - pp.Open - pp.Closed
	return res, nil
}

// BenchmarkOpenLabVsNmap is the open lab: 127.90.0.0/20 (4,096 addresses, all
// answering, closed ports refusing at once) with network/lab's preset hosts on their
// well-known ports, scanned with the top-100 ports by this package (TCP ping, then ports,
// as appliance.Scan does) and by `nmap -sT -Pn -n -T4 --max-retries 1`. It reports probes/s,
// CPU per probe and open-port recall against the lab's truth for both (and for this
// package's Dialer path, which the epoll engine replaced on Linux, as the "dialer-"
// metrics); it fails if either scanner runs past its budget. Binding
// well-known ports on loopback needs root (or a lowered net.ipv4.ip_unprivileged_port_start);
// without it the benchmark skips.
func BenchmarkOpenLabVsNmap(b *testing.B) {
	nmap := lookNmap(b)
	ctx := context.Background()
	ports, err := fixtures.Ports("top100")
	if err != nil {
		b.Fatal(err)
	}
	spec := netlab.Default(16)
	spec.Base = openLabBase
	l, err := netlab.Start(ctx, spec)
	if errors.Is(err, syscall.EACCES) {
		b.Skipf("binding well-known ports needs root: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	want := map[netip.AddrPort]bool{}
	for _, h := range l.Truth() {
		for _, p := range h.OpenPorts {
			if slices.Contains(ports, p) {
				want[netip.AddrPortFrom(h.Addr, p)] = true
			}
		}
	}
	set, err := targets.Parse(ctx, openLabNet, targets.Options{})
	if err != nil {
		b.Fatal(err)
	}
	args := []string{nmap, "-sT", "-Pn", "-n", "-T4", "-p", portList(ports),
		"--max-retries", "1", "-oX", "-", openLabNet}
	b.Logf("targets %s (%d addresses) × %d ports; %d open ports in the truth; nmap: %s",
		openLabNet, set.Len(), len(ports), len(want), strings.Join(args[1:], " "))

	var pr probeRun
	var nr nmapResult
	var pWall, pPorts, nWall, pCPU, nCPU time.Duration
	var pProbes, nProbes, pExtra, nExtra, wrong, retries uint64
	pRecall, nRecall, dRecall := 1.0, 1.0, 1.0
	var dWall, dCPU time.Duration
	var dProbes uint64
	for b.Loop() {
		if pr, err = scanLikeAppliance(ctx, Config{}, set, ports, nil, false); err != nil {
			b.Fatalf("probe: %v", err)
		}
		// The same on the Dialer path (a goroutine and net.Dialer per probe), which the
		// epoll connect engine replaced on Linux: the before and after of one run.
		pd, err := scanLikeAppliance(ctx, Config{dialerOnly: true}, set, ports, nil, false)
		if err != nil {
			b.Fatalf("probe on the dialer path: %v", err)
		}
		r, _ := recall(pd.open, want)
		dRecall, dWall, dCPU = min(dRecall, r), dWall+pd.all, dCPU+pd.cpu
		dProbes += pd.portProbes
		b.Logf("probe (dialer path): %d port probes in %v, %d open, %d retries",
			pd.portProbes, pd.all.Round(time.Millisecond), len(pd.open), pd.retries)
		if nr, err = runNmap(ctx, args); err != nil {
			b.Fatalf("nmap: %v", err)
		}
		r, extra := recall(pr.open, want)
		pRecall, pExtra = min(pRecall, r), pExtra+uint64(extra)
		r, extra = recall(nr.open, want)
		nRecall, nExtra = min(nRecall, r), nExtra+uint64(extra)
		pWall, pPorts, pCPU = pWall+pr.all, pPorts+pr.all-pr.discover, pCPU+pr.cpu
		nWall, nCPU = nWall+nr.wall, nCPU+nr.cpu
		pProbes += pr.portProbes
		nProbes += set.Len() * uint64(len(ports))
		wrong, retries = wrong+pr.wrong, retries+pr.retries
		b.Logf("probe: %d alive of %d (%d ping attempts, %v), %d port probes in %v, "+
			"%d open, %d neither open nor closed, %d retries", pr.alive, set.Len(),
			pr.pingProbes, pr.discover.Round(time.Millisecond), pr.portProbes,
			pr.all.Round(time.Millisecond), len(pr.open), pr.wrong, pr.retries)
		b.Logf("nmap: %d up, %d open in %v; %s", nr.up, len(nr.open),
			nr.wall.Round(time.Millisecond), nr.stats)
	}
	// Probes/s counts the port probes over the whole scan, discovery included, because
	// nmap -Pn does no discovery: the comparison is what a user waits for.
	b.ReportMetric(float64(pProbes)/pWall.Seconds(), "probe-probes/s")
	b.ReportMetric(float64(pProbes)/pPorts.Seconds(), "probe-portstage-probes/s")
	b.ReportMetric(float64(dProbes)/dWall.Seconds(), "dialer-probes/s")
	b.ReportMetric(100*dRecall, "dialer-recall-%")
	b.ReportMetric(float64(dCPU.Microseconds())/float64(dProbes), "dialer-cpu-µs/probe")
	b.ReportMetric(float64(nProbes)/nWall.Seconds(), "nmap-probes/s")
	b.ReportMetric(100*pRecall, "probe-recall-%")
	b.ReportMetric(100*nRecall, "nmap-recall-%")
	b.ReportMetric(float64(pExtra), "probe-extra-open")
	b.ReportMetric(float64(nExtra), "nmap-extra-open")
	b.ReportMetric(float64(wrong), "probe-not-open-or-closed")
	b.ReportMetric(float64(retries), "probe-retries")
	b.ReportMetric(float64(pCPU.Microseconds())/float64(pProbes), "probe-cpu-µs/probe")
	b.ReportMetric(float64(nCPU.Microseconds())/float64(nProbes), "nmap-cpu-µs/probe")
}
