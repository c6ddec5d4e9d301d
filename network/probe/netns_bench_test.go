//go:build linux

package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/fixtures"
	"github.com/tenantra/tenantra/network/lab/netnslan"
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
	Hosts        []string      `json:"hosts"`
	Alive        int           `json:"alive"`
	PingAttempts uint64        `json:"ping_attempts"`
	PortProbes   uint64        `json:"port_probes"`
	PortInitial  time.Duration `json:"port_initial"`
	PeakRSS      uint64        `json:"peak_rss"` // bytes, VmHWM at the end of the scan
	Retries      uint64        `json:"retries"`
	BackPressure uint64        `json:"back_pressure"`
	Discover     time.Duration `json:"discover"`
	All          time.Duration `json:"all"`
}

// lanARPRateEnv sets the privileged child's ARP rate (Auto.ARPRate), to measure how fast
// an ARP sweep may go: go test -bench LANNetns with TENA_BENCH_ARP_RATE=20000, say.
const lanARPRateEnv = "TENA_BENCH_ARP_RATE"

// lanSpec is the LAN's subnet and the scanner's address in it.
type lanSpec struct {
	net, scanner string
	stride       int // one owned address in stride; 0 means lanStride
}

// lanSeedEnv=0 makes the children port-scan with the default initial timeout instead of
// one seeded from discovery's RTTs (PortTiming), to measure what the seeding buys.
const lanSeedEnv = "TENA_BENCH_SEED_TIMING"

// lanSide is one scanner's totals over the benchmark's iterations.
type lanSide struct {
	wall, discover   time.Duration
	recall, hostRecl float64
	extra            int
}

func (s *lanSide) add(open map[netip.AddrPort]bool, hosts []netip.Addr,
	want map[netip.AddrPort]bool, wantHosts map[netip.Addr]bool, wall,
	discover time.Duration) {
	r, extra := recall(open, want)
	s.recall, s.extra = min(s.recall, r), s.extra+extra
	hit := 0
	for _, h := range hosts {
		if wantHosts[h] {
			hit++
		} else {
			s.extra++ // a host that is not there counts as a false positive too
		}
	}
	s.hostRecl = min(s.hostRecl, float64(hit)/float64(len(wantHosts)))
	s.wall, s.discover = s.wall+wall, s.discover+discover
}

// BenchmarkLANNetns scans the realistic LAN with the top-100 ports four ways in each
// iteration: by this package with Auto (an ARP sweep, as with CAP_NET_RAW); by this package
// with unprivileged TCP ping (TCPPing, admitted by the neighbour table's room) twice, under
// the kernel's default neighbour table limits ("tcp") and under those the .deb installs
// ("tcp-deb", packaging/deb/60-tenantra.conf), each in a child process started with
// `ip netns exec`; and by `nmap -sT -n -T4 --top-ports 100` (as root, so nmap finds hosts by
// ARP). It reports wall time, speed-up over nmap, and open-port and host recall for each.
// It needs root, ip(8), iptables and nmap, and skips without them. The namespaces are
// removed and the limits restored in b.Cleanup, also on failure.
func BenchmarkLANNetns(b *testing.B) {
	if mode := os.Getenv(lanChildEnv); mode != "" {
		lanChild(b, mode)
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
	scanNS, want, wantHosts := setupLAN(b, lanSpec{net: lanNet, scanner: lanScanner})

	ctx := context.Background()
	args := []string{"ip", "netns", "exec", scanNS, nmap, "-sT", "-n", "-T4",
		"--top-ports", "100", "-oX", "-", lanNet}
	stock, pkg := neighLimits(b)
	priv, unpriv, deb, nm := lanSide{recall: 1, hostRecl: 1}, lanSide{recall: 1, hostRecl: 1},
		lanSide{recall: 1, hostRecl: 1}, lanSide{recall: 1, hostRecl: 1}
	for b.Loop() {
		for _, side := range []struct {
			name, mode string
			limits     map[string]string
			s          *lanSide
		}{{"auto", "auto", stock, &priv}, {"tcp", "tcp", stock, &unpriv},
			{"tcp-deb", "tcp", pkg, &deb}} {
			setNeighLimits(b, side.limits)
			pr, wall, err := runLANChild(ctx, scanNS, side.mode)
			if err != nil {
				b.Fatalf("probe child (%s): %v", side.name, err)
			}
			open := map[netip.AddrPort]bool{}
			for _, s := range pr.Open {
				open[netip.MustParseAddrPort(s)] = true
			}
			var hosts []netip.Addr
			for _, h := range pr.Hosts {
				hosts = append(hosts, netip.MustParseAddr(h))
			}
			side.s.add(open, hosts, want, wantHosts, pr.All, pr.Discover)
			b.Logf("probe %s: %d alive, %d discovery attempts in %v, %d port probes, "+
				"initial timeout %v, %d retries, %d back-pressure pauses, %d open, scan %v "+
				"(child process %v)",
				side.name, pr.Alive, pr.PingAttempts, pr.Discover.Round(time.Millisecond),
				pr.PortProbes, pr.PortInitial, pr.Retries, pr.BackPressure, len(open),
				pr.All.Round(time.Millisecond), wall.Round(time.Millisecond))
		}
		setNeighLimits(b, stock) // nmap finds hosts by ARP, and its connects need the table
		nr, err := runNmap(ctx, args)
		if err != nil {
			b.Fatalf("nmap: %v", err)
		}
		// nmap's discovery alone (ARP as root), to compare the sweeps themselves.
		ns, err := runNmap(ctx, []string{"ip", "netns", "exec", scanNS, nmap, "-sn", "-n",
			"-T4", "-oX", "-", lanNet})
		if err != nil {
			b.Fatalf("nmap -sn: %v", err)
		}
		nm.discover += ns.wall
		b.Logf("nmap -sn: %d up in %v", ns.up, ns.wall.Round(time.Millisecond))
		// nmap's hosts are only counted (nr.up), so add, which would score an empty host
		// list as 0% host recall, must not decide the host recall.
		hostRecl := nm.hostRecl
		nm.add(nr.open, nil, want, wantHosts, nr.wall, 0)
		nm.hostRecl = min(hostRecl, 1, float64(nr.up)/float64(len(wantHosts)))
		b.Logf("nmap: %d up, %d open in %v; %s", nr.up, len(nr.open),
			nr.wall.Round(time.Millisecond), nr.stats)
	}
	n := float64(b.N)
	b.ReportMetric(priv.wall.Seconds()/n, "arp-s")
	b.ReportMetric(priv.discover.Seconds()/n, "arp-discover-s")
	b.ReportMetric(unpriv.wall.Seconds()/n, "tcp-s")
	b.ReportMetric(unpriv.discover.Seconds()/n, "tcp-discover-s")
	b.ReportMetric(deb.wall.Seconds()/n, "tcp-deb-s")
	b.ReportMetric(deb.discover.Seconds()/n, "tcp-deb-discover-s")
	b.ReportMetric(nm.wall.Seconds()/n, "nmap-s")
	b.ReportMetric(nm.discover.Seconds()/n, "nmap-sn-s")
	b.ReportMetric(nm.wall.Seconds()/priv.wall.Seconds(), "arp-speedup-x")
	b.ReportMetric(nm.wall.Seconds()/unpriv.wall.Seconds(), "tcp-speedup-x")
	b.ReportMetric(nm.wall.Seconds()/deb.wall.Seconds(), "tcp-deb-speedup-x")
	b.ReportMetric(100*priv.recall, "arp-recall-%")
	b.ReportMetric(100*unpriv.recall, "tcp-recall-%")
	b.ReportMetric(100*deb.recall, "tcp-deb-recall-%")
	b.ReportMetric(100*nm.recall, "nmap-recall-%")
	b.ReportMetric(100*priv.hostRecl, "arp-host-recall-%")
	b.ReportMetric(100*unpriv.hostRecl, "tcp-host-recall-%")
	b.ReportMetric(100*deb.hostRecl, "tcp-deb-host-recall-%")
	b.ReportMetric(100*nm.hostRecl, "nmap-host-recall-%")
	b.ReportMetric(float64(priv.extra), "arp-false-positives")
	b.ReportMetric(float64(unpriv.extra), "tcp-false-positives")
	b.ReportMetric(float64(deb.extra), "tcp-deb-false-positives")
	b.ReportMetric(float64(nm.extra), "nmap-extra-open")
}

// neighSysctl is where the kernel's IPv4 neighbour table limits live (first namespace only).
const neighSysctl = "/proc/sys/net/ipv4/neigh/default/"

// neighLimits returns the kernel's default neighbour table limits and those the .deb
// installs, and restores the limits found now when the benchmark ends.
func neighLimits(b *testing.B) (stock, pkg map[string]string) {
	b.Helper()
	stock = map[string]string{"gc_thresh2": "512", "gc_thresh3": "1024"}
	before := map[string]string{}
	for k := range stock {
		v, err := os.ReadFile(neighSysctl + k)
		if err != nil {
			b.Fatalf("read %s: %v", k, err)
		}
		before[k] = strings.TrimSpace(string(v))
	}
	b.Cleanup(func() { setNeighLimits(b, before) })
	conf, err := os.ReadFile("../../packaging/deb/60-tenantra.conf")
	if err != nil {
		b.Fatal(err)
	}
	pkg = map[string]string{}
	for line := range strings.Lines(string(conf)) {
		key, val, ok := strings.Cut(line, "=")
		name, isNeigh := strings.CutPrefix(strings.TrimSpace(key),
			"net.ipv4.neigh.default.")
		if ok && isNeigh && !strings.HasPrefix(line, "#") {
			pkg[name] = strings.TrimSpace(val)
		}
	}
	if pkg["gc_thresh3"] == "" {
		b.Fatal("packaging/deb/60-tenantra.conf sets no gc_thresh3")
	}
	return stock, pkg
}

// setNeighLimits writes the neighbour table limits (names under neighSysctl).
func setNeighLimits(b *testing.B, limits map[string]string) {
	b.Helper()
	for k, v := range limits {
		if err := os.WriteFile(neighSysctl+k, []byte(v), 0o644); err != nil {
			b.Fatalf("set %s=%s: %v", k, v, err)
		}
	}
}

// setupLAN creates the LAN (network/lab/netnslan) and returns the scanner namespace's
// name, the open ports and the live hosts (the LAN's addresses and the scanner's own, which
// TCP ping and ARP both report).
func setupLAN(b *testing.B, lan lanSpec) (scanNS string, want map[netip.AddrPort]bool,
	hosts map[netip.Addr]bool) {
	b.Helper()
	stride := lan.stride
	if stride == 0 {
		stride = lanStride
	}
	l := netnslan.Start(b, netnslan.Spec{Tag: "p", Prefix: lan.net, Scanner: lan.scanner,
		Stride: stride, Open: lanOpen, Filtered: lanFiltered})
	want = map[netip.AddrPort]bool{}
	for _, ap := range l.Listen {
		want[ap] = true
	}
	hosts = map[netip.Addr]bool{netip.MustParsePrefix(lan.scanner).Addr(): true}
	for _, h := range l.Hosts {
		hosts[h] = true
	}
	return l.ScanNS, want, hosts
}

// runLANChild re-executes the test binary inside the scanner namespace to scan the LAN.
func runLANChild(ctx context.Context, scanNS, mode string, env ...string) (lanChildResult,
	time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, scanBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", scanNS, os.Args[0],
		"-test.run=^$", "-test.bench=^BenchmarkLANNetns$", "-test.benchtime=1x",
		"-test.count=1")

	cmd.Env = append(append(os.Environ(), lanChildEnv+"="+mode), env...)
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
// appliance.Scan over the LAN, with Auto's discovery (mode "auto") or TCPPing's ("tcp"),
// printed as one JSON line.
func lanChild(b *testing.B, mode string) {
	ports, err := fixtures.Ports("top100")
	if err != nil {
		b.Fatal(err)
	}
	cidr := lanNet
	if v := os.Getenv(lanNetEnv); v != "" {
		cidr = v
	}
	set, err := targets.Parse(context.Background(), cidr, targets.Options{Force: true})
	if err != nil {
		b.Fatal(err)
	}
	var disc func(*Scanner) Discoverer
	if mode == "auto" {
		if !HaveRaw() {
			b.Fatal("the privileged child has no raw sockets")
		}
		rate := 0
		if v := os.Getenv(lanARPRateEnv); v != "" {
			if rate, err = strconv.Atoi(v); err != nil {
				b.Fatalf("%s: %v", lanARPRateEnv, err)
			}
		}
		disc = func(s *Scanner) Discoverer { return Auto{Scanner: s, ARPRate: rate} }
	}
	for b.Loop() {
		var hosts []string
		seed := os.Getenv(lanSeedEnv) != "0"
		pr, err := scanLikeAppliance(context.Background(), Config{}, set, ports,
			func(s *Scanner) Discoverer {
				var d Discoverer = TCPPing{Scanner: s}
				if disc != nil {
					d = disc(s)
				}
				return recordHosts{d, &hosts}
			}, seed)
		if err != nil {
			b.Fatal(err)
		}
		res := lanChildResult{Alive: pr.alive, Hosts: hosts, PeakRSS: peakRSS(),
			PingAttempts: pr.pingProbes, PortProbes: pr.portProbes, Retries: pr.retries,
			PortInitial:  pr.portInitial,
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

// recordHosts is a Discoverer that notes the addresses of the hosts another one finds.
type recordHosts struct {
	d     Discoverer
	hosts *[]string
}

func (r recordHosts) Discover(ctx context.Context, req Request, alive func(Host)) (Progress,
	error) {
	return r.d.Discover(ctx, req, func(h Host) {
		*r.hosts = append(*r.hosts, h.Addr.String())
		alive(h)
	})
}

// lanStrideEnv makes every n-th address of BenchmarkRSS16Netns's LAN live instead of every
// 128th: TENA_BENCH_LAN_STRIDE=32 gives 2,048 live hosts, more than a default neighbour
// table holds, to see the port stage wait for room instead of losing ports.
const lanStrideEnv = "TENA_BENCH_LAN_STRIDE"

// lanNetEnv gives the scanning child another subnet than lanNet (BenchmarkRSS16Netns).
const lanNetEnv = "TENA_BENCH_LAN_NET"

// peakRSS returns this process's peak resident set (VmHWM), or 0 where it cannot be read.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"),
				10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// rssLimit is the target for a /16 × top-100 scan.
const rssLimit = 256 << 20

// BenchmarkRSS16Netns measures the memory of a /16 × top-100 scan at the probe layer:
// a LAN of 65,536 addresses (198.18.0.0/16 inside namespaces it creates; every 128th
// address, 512 hosts, alive with the LAN benchmark's listeners and firewall), swept by
// Auto's ARP sweep, then the top-100 ports of every live host (51,300 connects), in a
// child process whose peak RSS (VmHWM) it reports against the 256 MiB target. It needs
// root and ip(8) and iptables, and skips without them.
func BenchmarkRSS16Netns(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the /16 benchmark creates network namespaces and needs root")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s unavailable, skipping the /16 benchmark: %v", tool, err)
		}
	}
	// 512 live hosts: a port stage over more on-link hosts than the kernel's neighbour
	// table holds (gc_thresh3, 1,024 by default) waits for their entries to expire, which
	// is not what this benchmark measures (see docs/PERFORMANCE.md §6; lanStrideEnv).
	lan := lanSpec{net: "198.18.0.0/16", scanner: "198.18.255.254/16", stride: 128}
	if v := os.Getenv(lanStrideEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			b.Fatalf("%s=%q: want a stride of at least 2", lanStrideEnv, v)
		}
		lan.stride = n
	}
	scanNS, want, wantHosts := setupLAN(b, lan)
	var rss uint64
	var wall time.Duration
	for b.Loop() {
		pr, w, err := runLANChild(context.Background(), scanNS, "auto", lanNetEnv+"="+lan.net)
		if err != nil {
			b.Fatal(err)
		}
		open := map[netip.AddrPort]bool{}
		for _, s := range pr.Open {
			open[netip.MustParseAddrPort(s)] = true
		}
		r, extra := recall(open, want)
		if r < 1 || extra > 0 || pr.Alive != len(wantHosts) {
			b.Errorf("recall %.3f, %d extra open ports, %d of %d hosts", r, extra, pr.Alive,
				len(wantHosts))
		}
		rss, wall = max(rss, pr.PeakRSS), wall+w
		b.Logf("/16: %d alive, discovery %v (%d attempts), %d port probes, scan %v, "+
			"peak RSS %.1f MiB", pr.Alive, pr.Discover.Round(time.Millisecond),
			pr.PingAttempts, pr.PortProbes, pr.All.Round(time.Millisecond),
			float64(pr.PeakRSS)/(1<<20))
	}
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(wall.Seconds()/float64(b.N), "child-s")
	if rss > rssLimit {
		b.Errorf("peak RSS %.1f MiB over the %d MiB target", float64(rss)/(1<<20),
			rssLimit>>20)
	}
}
