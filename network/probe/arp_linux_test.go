//go:build linux

package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/network/targets"
)

// The privileged discovery test builds its own two network namespaces joined by a veth
// pair, on 198.19.20.0/24 (inside RFC 2544's 198.18.0.0/15, which exists only inside them),
// with a routed subnet 198.19.30.0/29 behind the LAN side, and runs Auto in a child process
// (the test binary under `ip netns exec`) in the scanner namespace:
//
//	scanner ns: 198.19.20.254/24, route 198.19.30.0/29 via 198.19.20.1
//	LAN ns:     198.19.20.1, .7, .64, .200 on the veth (on-link hosts, found by ARP)
//	            198.19.30.1, .2, .3 on lo (off-link; .3 drops echo requests, so only a TCP
//	            ping, answered by a refusal, finds it); .0 and .4–.7 are silent

const (
	autoChildEnv   = "TENA_PROBE_AUTO_CHILD"   // the child's mode: auto, none, ping
	autoTargetsEnv = "TENA_PROBE_AUTO_TARGETS" // the child's targets
	autoResultTag  = "AUTO-RESULT "
)

// autoHost is one host as the child reports it.
type autoHost struct {
	Addr   string `json:"addr"`
	Method string `json:"method"`
	MAC    string `json:"mac,omitempty"`
}

// nsCmd runs a command (ip, iptables, sysctl) with a bound on its time, failing tb.
func nsCmd(tb testing.TB, stdin string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// requireNetns skips tb unless this process is root with ip(8). The skip stands even under
// TENA_REQUIRE_PEERS=1: CI runners are often not root, and a namespace is not a peer one
// can install.
func requireNetns(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("creating network namespaces needs root; skipping (also under " +
			"TENA_REQUIRE_PEERS=1)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skipf("ip(8) unavailable, skipping the network namespace test: %v", err)
	}
}

func TestAutoNetns(t *testing.T) {
	if mode := os.Getenv(autoChildEnv); mode != "" {
		autoChild(t, mode)
		return
	}
	requireNetns(t)
	_, errIPT := exec.LookPath("iptables")
	id := strconv.Itoa(os.Getpid())
	scanNS, lanNS := "tena-ats-"+id, "tena-atl-"+id
	vScan, vLAN := "tas"+id, "tal"+id
	t.Cleanup(func() {
		for _, ns := range []string{scanNS, lanNS} {
			_ = exec.Command("ip", "netns", "delete", ns).Run()
		}
	})
	nsCmd(t, "", "ip", "netns", "add", scanNS)
	nsCmd(t, "", "ip", "netns", "add", lanNS)
	nsCmd(t, "", "ip", "link", "add", vScan, "netns", scanNS, "type", "veth", "peer", "name",
		vLAN, "netns", lanNS)
	nsCmd(t, fmt.Sprintf("addr add 198.19.20.254/24 dev %s\nlink set %s up\nlink set lo up\n"+
		"route add 198.19.30.0/29 via 198.19.20.1\n", vScan, vScan),
		"ip", "-n", scanNS, "-batch", "-")
	onLink := []string{"198.19.20.1", "198.19.20.7", "198.19.20.64", "198.19.20.200"}
	var b strings.Builder
	for _, a := range onLink {
		fmt.Fprintf(&b, "addr add %s/24 dev %s\n", a, vLAN)
	}
	for _, a := range []string{"198.19.30.1", "198.19.30.2", "198.19.30.3"} {
		fmt.Fprintf(&b, "addr add %s/32 dev lo\n", a)
	}
	fmt.Fprintf(&b, "link set %s up\nlink set lo up\n", vLAN)
	nsCmd(t, b.String(), "ip", "-n", lanNS, "-batch", "-")
	lanIf, err := exec.Command("ip", "-n", lanNS, "-j", "link", "show", vLAN).Output()
	if err != nil {
		t.Fatal(err)
	}
	var li []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(lanIf, &li); err != nil || len(li) != 1 {
		t.Fatalf("LAN veth's MAC: %v %s", err, lanIf)
	}
	lanMAC := li[0].Address

	want := map[string]string{"198.19.20.254": "local", "198.19.30.1": "icmp-echo",
		"198.19.30.2": "icmp-echo", "198.19.30.3": "tcp-ping"}
	for _, a := range onLink {
		want[a] = "arp"
	}
	if errIPT == nil {
		nsCmd(t, "", "ip", "netns", "exec", lanNS, "iptables", "-w", "-A", "INPUT", "-d",
			"198.19.30.3", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP")
	} else {
		t.Logf("iptables unavailable, 198.19.30.3 answers echo too: %v", errIPT)
		want["198.19.30.3"] = "icmp-echo"
	}
	// The ping-socket mode runs as root, whose group must be in the range: the sysctl is
	// per namespace, so this changes nothing outside the test.
	nsCmd(t, "", "ip", "netns", "exec", scanNS, "sysctl", "-q", "-w",
		"net.ipv4.ping_group_range=0 0")

	const tgts = "198.19.20.0/24,198.19.30.0/29"
	for _, tc := range []struct {
		mode string
		want func(addr, method string) string // the method expected, "" for none
	}{
		{"auto", func(a, m string) string { return m }},
		// Without raw sockets Auto is TCPPing, which finds every host, its own address
		// included, by refusals.
		{"none", func(a, m string) string { return "tcp-ping" }},
		// A ping socket: echo for the routed hosts, TCP ping on-link.
		{"ping", func(a, m string) string {
			if m == "arp" || m == "tcp-ping" {
				return "tcp-ping"
			}
			return m
		}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			hosts, out := runAutoChild(t, scanNS, tc.mode, tgts)
			got := map[string]string{}
			for _, h := range hosts {
				if _, dup := got[h.Addr]; dup {
					t.Errorf("%s reported twice", h.Addr)
				}
				got[h.Addr] = h.Method
				if h.Method == "arp" && h.MAC != lanMAC {
					t.Errorf("%s: MAC %q, want the LAN veth's %q", h.Addr, h.MAC, lanMAC)
				}
			}
			exp := map[string]string{}
			for a, m := range want {
				exp[a] = tc.want(a, m)
			}
			for a, m := range exp {
				if got[a] != m {
					t.Errorf("%s: found by %q, want %q", a, got[a], m)
				}
			}
			for a, m := range got {
				if _, ok := exp[a]; !ok {
					t.Errorf("%s reported alive (%s) but is silent", a, m)
				}
			}
			if t.Failed() {
				t.Logf("child output:\n%s", out)
			} else {
				t.Logf("%s: %s", tc.mode, grepLine(out, "AUTO-STATS"))
			}
		})
	}
}

// runAutoChild runs Auto in the scanner namespace and returns the hosts it found.
func runAutoChild(t *testing.T, ns, mode, tgts string) ([]autoHost, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestAutoNetns$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), autoChildEnv+"="+mode, autoTargetsEnv+"="+tgts)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), autoResultTag); ok {
			var hs []autoHost
			if err := json.Unmarshal([]byte(line), &hs); err != nil {
				t.Fatal(err)
			}
			return hs, out.String()
		}
	}
	t.Fatalf("no result from the child:\n%s", out.String())
	return nil, ""
}

// autoChild is the scanning side: Auto over the targets, with the capabilities of mode.
func autoChild(t *testing.T, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	set, err := targets.Parse(ctx, os.Getenv(autoTargetsEnv), targets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	caps := DetectCapabilities()
	switch mode {
	case "none":
		caps = Capabilities{}
	case "ping":
		if !caps.PingSocket {
			t.Fatal("ping sockets did not open despite net.ipv4.ping_group_range")
		}
		caps = Capabilities{PingSocket: true}
	}
	s, err := NewScanner(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []autoHost
	start := time.Now()
	p, err := Auto{Scanner: s, Caps: &caps}.Discover(ctx, Request{Targets: set.All(),
		Total: set.Len()}, func(h Host) {
		ah := autoHost{Addr: h.Addr.String(), Method: h.Method}
		if h.MAC != nil {
			ah.MAC = h.MAC.String()
		}
		hosts = append(hosts, ah)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(hosts, func(x, y autoHost) int { return strings.Compare(x.Addr, y.Addr) })
	line, err := json.Marshal(hosts)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("AUTO-STATS %d targets in %v, %d attempts, %d retries\n", set.Len(),
		time.Since(start).Round(time.Millisecond), p.Attempts, p.Retries)
	fmt.Printf("%s%s\n", autoResultTag, line)
}
