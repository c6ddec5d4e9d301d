//go:build linux

package appliance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/lab/netnslan"
)

// The whole-appliance half of issue 4's memory target ("peak RSS of a /16 × top-100 scan
// ≤ 256 MiB"): network/probe's BenchmarkRSS16Netns measures the probe stages alone; this one
// measures appliance.Scan end to end, from discovery to the checks, with the tenant database
// and the fact store it writes. The LAN is two network namespaces this benchmark creates and
// removes, joined by a veth pair on 198.18.0.0/16 (RFC 2544; it exists only inside them).

const (
	s16Net     = "198.18.0.0/16"
	s16Scanner = "198.18.255.254/16"
	// s16Stride puts one live host in every 128 addresses (512): with more on-link hosts
	// than the kernel's neighbour table holds (gc_thresh3, 1,024) the port stage waits for
	// entries to expire, which is not what this measures (PERFORMANCE.md §6).
	s16Stride = 128
	// s16ChildEnv marks the re-executed test binary that runs the scan in the scanner
	// namespace.
	s16ChildEnv = "TENA_APPLIANCE_SCAN16_CHILD"
	// s16ResultTag prefixes the child's one-line JSON result on stdout.
	s16ResultTag = "SCAN16-RESULT "
	// s16Budget bounds one child: discovery of a /16 alone takes ~14 s at the ARP rate.
	s16Budget = 10 * time.Minute
	// s16ProfileEnv names a file for the child's memory profile (-test.memprofile), to see
	// where a stage's memory goes: go tool pprof -sample_index=alloc_space appliance.test f.
	s16ProfileEnv = "TENA_BENCH_SCAN16_MEMPROFILE"
	// s16RSSLimit is the target.
	s16RSSLimit = 256 << 20
)

// s16Filtered are the ports DROPped on the LAN side (a firewalled Windows host's), so the
// port stage meets timeouts and retries as on a real LAN.
var s16Filtered = []uint16{445, 3389}

// s16Open says which ports live host i listens on (the probe LAN benchmark's mix).
func s16Open(i int) []uint16 {
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

// s16Banners are what the LAN's listeners say first, so the fingerprint stage identifies
// services instead of only meeting closed connections. Ports without one close at once.
var s16Banners = map[uint16]string{
	21: "220 (vsFTPd 3.0.3)\r\n",
	22: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
	25: "220 mail.lan.test ESMTP Postfix (Debian/GNU)\r\n",
}

// s16HTTP is the answer of the HTTP ports (80, 8080) once a request arrives.
const s16HTTP = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n" +
	"Content-Length: 0\r\nConnection: close\r\n\r\n"

// scan16Result is what the scanning child reports.
type scan16Result struct {
	PeakRSS   uint64                   `json:"peak_rss"` // bytes, VmHWM after the scan
	HeapSys   uint64                   `json:"heap_sys"` // bytes the Go heap took from the OS
	CPU       time.Duration            `json:"cpu"`      // user + system of the child
	Wall      time.Duration            `json:"wall"`     // Scan alone
	Hosts     int                      `json:"hosts"`
	OpenPorts int                      `json:"open_ports"`
	Assets    int                      `json:"assets"`
	Findings  int                      `json:"findings"`
	Errors    int                      `json:"errors"`
	Stages    map[string]time.Duration `json:"stages"` // time from a stage's start to the next
	Order     []string                 `json:"order"`
	// StageHWM is VmHWM when each stage ended, to tell which one set the peak; Base is
	// VmHWM before Scan (appliance open, tenant created).
	StageHWM map[string]uint64 `json:"stage_hwm"`
	Base     uint64            `json:"base"`
}

// BenchmarkScan16Netns runs appliance.Scan over a /16 with the top-100 ports, in a child
// process inside the scanner namespace: ARP discovery (the child is root, so raw sockets),
// ports, UDP, fingerprints, SNMP (no communities: no agent is asked), inventory writes into
// the encrypted tenant database, fact documents in Badger, and the check run. It reports the
// child's peak RSS (VmHWM, the test binary included) against the 256 MiB target, its wall
// and CPU time, and the hosts, open ports and assets found. It needs root and ip(8), and
// skips without them, also under TENA_REQUIRE_PEERS (a benchmark, not run by make test);
// without iptables the LAN has no DROPped ports.
func BenchmarkScan16Netns(b *testing.B) {
	if os.Getenv(s16ChildEnv) != "" {
		scan16Child(b)
		return
	}
	if os.Geteuid() != 0 {
		b.Skip("the /16 appliance scan creates network namespaces and needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		b.Skipf("ip(8) unavailable, skipping the /16 appliance scan: %v", err)
	}
	lan := netnslan.Start(b, netnslan.Spec{Tag: "a", Prefix: s16Net, Scanner: s16Scanner,
		Stride: s16Stride, Open: s16Open, Filtered: s16Filtered, Serve: scan16Serve})
	scanNS, hosts, open := lan.ScanNS, len(lan.Hosts), len(lan.Listen)
	var rss uint64
	var wall, cpu, child time.Duration
	var res scan16Result
	for b.Loop() {
		r, w, err := runScan16Child(context.Background(), scanNS)
		if err != nil {
			b.Fatal(err)
		}
		res = r
		rss, wall, cpu, child = max(rss, r.PeakRSS), wall+r.Wall, cpu+r.CPU, child+w
		var stages []string
		for _, s := range r.Order {
			if _, ok := r.StageHWM[s]; !ok {
				continue // "done", the last, has no end
			}
			stages = append(stages, fmt.Sprintf("%s %v (peak %.1f MiB)", s,
				r.Stages[s].Round(time.Millisecond), float64(r.StageHWM[s])/(1<<20)))
		}
		b.Logf("/16 appliance scan: %d hosts (LAN %d + scanner), %d open ports (LAN %d), "+
			"%d assets, %d findings, %d errors; scan %v, CPU %v, peak RSS %.1f MiB, Go heap "+
			"from OS %.1f MiB; child process %v; peak before Scan %.1f MiB; stages: %s",
			r.Hosts, hosts, r.OpenPorts, open, r.Assets, r.Findings, r.Errors,
			r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond),
			float64(r.PeakRSS)/(1<<20),
			float64(r.HeapSys)/(1<<20), w.Round(time.Millisecond), float64(r.Base)/(1<<20),
			strings.Join(stages, ", "))
		if r.Hosts != hosts+1 || r.OpenPorts < open {
			b.Errorf("found %d hosts and %d open ports, the LAN has %d (+1) and %d", r.Hosts,
				r.OpenPorts, hosts, open)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(wall.Seconds()/n, "scan-s")
	b.ReportMetric(cpu.Seconds()/n, "cpu-s")
	b.ReportMetric(child.Seconds()/n, "child-s")
	b.ReportMetric(float64(res.Hosts), "hosts")
	b.ReportMetric(float64(res.OpenPorts), "open-ports")
	b.ReportMetric(float64(res.Assets), "assets")
	if rss > s16RSSLimit {
		b.Errorf("peak RSS %.1f MiB over the %d MiB target", float64(rss)/(1<<20),
			s16RSSLimit>>20)
	}
}

// scan16Serve answers one connection as the port's service would, briefly, and closes it.
func scan16Serve(c net.Conn, port uint16) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if banner, ok := s16Banners[port]; ok {
		_, _ = io.WriteString(c, banner)
		_, _ = c.Read(make([]byte, 512)) // the client's greeting, if any, then close
		return
	}
	if port == 80 || port == 8080 {
		r := bufio.NewReader(c)
		for { // the request head, up to its blank line
			l, err := r.ReadString('\n')
			if err != nil || strings.TrimSpace(l) == "" {
				break
			}
		}
		_, _ = io.WriteString(c, s16HTTP)
	}
}

// runScan16Child re-executes the test binary inside the scanner namespace to run the scan.
func runScan16Child(ctx context.Context, scanNS string) (scan16Result, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s16Budget)
	defer cancel()
	args := []string{"netns", "exec", scanNS, os.Args[0], "-test.run=^$",
		"-test.bench=^BenchmarkScan16Netns$", "-test.benchtime=1x", "-test.count=1"}
	if f := os.Getenv(s16ProfileEnv); f != "" {
		args = append(args, "-test.memprofile="+f)
	}
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = append(os.Environ(), s16ChildEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var res scan16Result
	if err != nil {
		return res, wall, fmt.Errorf("scan child: %w (ctx %v)\n%s", err, ctx.Err(),
			out.String())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), s16ResultTag); ok {
			return res, wall, json.Unmarshal([]byte(line), &res)
		}
	}
	return res, wall, fmt.Errorf("no result line from the scan child:\n%s", out.String())
}

// scan16Child is the scanning side, inside the scanner namespace: a fresh appliance and
// tenant, one Scan of the /16, and its numbers printed as one JSON line.
func scan16Child(b *testing.B) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(b, testConfig(b, b.TempDir()))
	defer func() { _ = a.Close() }()
	if _, err := a.CreateTenant(ctx, "lan16", "LAN /16"); err != nil {
		b.Fatal(err)
	}
	req := web.ScanRequest{Targets: []string{s16Net}, Ports: "top100"}
	for b.Loop() {
		res := scan16Result{Stages: map[string]time.Duration{},
			StageHWM: map[string]uint64{}, Base: vmHWM()}
		var last string
		var lastAt time.Time
		progress := func(p web.ScanProgress) {
			if p.Stage == last {
				return
			}
			now := time.Now()
			if last != "" {
				res.Stages[last] += now.Sub(lastAt)
				res.StageHWM[last] = vmHWM()
			}
			if _, seen := res.Stages[p.Stage]; !seen {
				res.Order = append(res.Order, p.Stage)
				res.Stages[p.Stage] = 0
			}
			last, lastAt = p.Stage, now
		}
		start := time.Now()
		rep, err := a.Scan(ctx, "lan16", req, progress)
		res.Wall = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		res.PeakRSS, res.CPU = vmHWM(), cpuTime()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.HeapSys = ms.HeapSys
		res.Hosts, res.OpenPorts, res.Assets = rep.Hosts, rep.OpenPorts, len(rep.Assets)
		res.Findings, res.Errors = rep.Findings, len(rep.Errors)
		for _, e := range rep.Errors {
			b.Logf("scan error: %s: %s", e.Target, e.Error)
		}
		line, err := json.Marshal(res)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("%s%s\n", s16ResultTag, line)
	}
}

// vmHWM returns this process's peak resident set (VmHWM), or 0 where it cannot be read.
func vmHWM() uint64 {
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

// cpuTime is this process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
