//go:build linux

// Package netnslan owns the realistic LAN of issue 4's benchmarks: two network namespaces,
// created and removed by the benchmark, joined by a veth pair on a subnet of the
// benchmarking range 198.18.0.0/15 (RFC 2544; it exists only inside them). The scanner side
// holds one address; the LAN side owns every Stride-th address, which answer ARP, listen on
// chosen ports and DROP others with iptables; every other address is silent, as unused
// addresses on a real LAN are. It needs root and ip(8).
package netnslan

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes a LAN.
type Spec struct {
	// Tag is one letter that keeps this LAN's namespaces and interfaces apart from another
	// benchmark's: namespaces tena-<tag>s-<pid> and tena-<tag>l-<pid>.
	Tag string
	// Prefix is the LAN's subnet, inside 198.18.0.0/15; Scanner is the scanner side's
	// address with its prefix length.
	Prefix, Scanner string
	// Stride puts live host i at offset i*Stride+1 of Prefix.
	Stride int
	// Open says which ports live host i listens on.
	Open func(i int) []uint16
	// Filtered are the ports the LAN side DROPs (when iptables is available).
	Filtered []uint16
	// Serve answers one accepted connection and closes it; nil closes it at once.
	Serve func(c net.Conn, port uint16)
}

// LAN is a running LAN.
type LAN struct {
	ScanNS string           // the scanner side's namespace, for `ip netns exec`
	Hosts  []netip.Addr     // the LAN side's live hosts
	Listen []netip.AddrPort // their open ports
}

// Start creates the LAN, all of it removed in tb's cleanup, also on failure.
func Start(tb testing.TB, s Spec) LAN {
	tb.Helper()
	id := strconv.Itoa(os.Getpid())
	lan := LAN{ScanNS: "tena-" + s.Tag + "s-" + id}
	lanNS := "tena-" + s.Tag + "l-" + id
	vScan, vLAN := "t"+s.Tag+"s"+id, "t"+s.Tag+"l"+id // interface names: at most 15 bytes
	tb.Cleanup(func() {
		// Deleting a namespace removes its end of the veth pair, and with it the other.
		for _, ns := range []string{lan.ScanNS, lanNS} {
			_ = exec.Command("ip", "netns", "delete", ns).Run()
		}
	})
	run(tb, "", "ip", "netns", "add", lan.ScanNS)
	run(tb, "", "ip", "netns", "add", lanNS)
	run(tb, "", "ip", "link", "add", vScan, "netns", lan.ScanNS, "type", "veth", "peer",
		"name", vLAN, "netns", lanNS)
	run(tb, fmt.Sprintf("addr add %s dev %s\nlink set %s up\nlink set lo up\n", s.Scanner,
		vScan, vScan), "ip", "-n", lan.ScanNS, "-batch", "-")

	pfx := netip.MustParsePrefix(s.Prefix)
	base := pfx.Addr().As4()
	var batch strings.Builder
	for i := range (1 << (32 - pfx.Bits())) / s.Stride {
		off := i*s.Stride + 1
		a := netip.AddrFrom4([4]byte{base[0], base[1], base[2] + byte(off>>8), byte(off)})
		fmt.Fprintf(&batch, "addr add %v/%d dev %s\n", a, pfx.Bits(), vLAN)
		lan.Hosts = append(lan.Hosts, a)
		for _, p := range s.Open(i) {
			lan.Listen = append(lan.Listen, netip.AddrPortFrom(a, p))
		}
	}
	fmt.Fprintf(&batch, "link set %s up\nlink set lo up\n", vLAN)
	run(tb, batch.String(), "ip", "-n", lanNS, "-batch", "-")
	if len(s.Filtered) > 0 {
		if _, err := exec.LookPath("iptables"); err == nil {
			var ports []string
			for _, p := range s.Filtered {
				ports = append(ports, strconv.Itoa(int(p)))
			}
			run(tb, "", "ip", "netns", "exec", lanNS, "iptables", "-w", "-A", "INPUT", "-p",
				"tcp", "-m", "multiport", "--dports", strings.Join(ports, ","), "-j", "DROP")
		} else {
			tb.Logf("iptables unavailable, so no port is DROPped: %v", err)
		}
	}
	if err := listen(tb, "/run/netns/"+lanNS, lan.Listen, s.Serve); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("LAN %s: %d live hosts (every %dth address), %d open ports, %v DROPped",
		s.Prefix, len(lan.Hosts), s.Stride, len(lan.Listen), s.Filtered)
	return lan
}

// run runs a command (ip, iptables) with a bound on its time, failing tb.
func run(tb testing.TB, stdin string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// listen opens listeners inside the namespace at nsPath from a goroutine locked to a thread
// that has joined it; the thread is never unlocked, so it exits with the goroutine and no
// other goroutine ever runs in that namespace. A socket stays in the namespace it was
// created in, so the accept loops run anywhere. They stop when tb's cleanup closes the
// listeners.
func listen(tb testing.TB, nsPath string, aps []netip.AddrPort,
	serve func(net.Conn, uint16)) error {
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
		defer func() { _ = unix.Close(fd) }()
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
	var wg sync.WaitGroup
	tb.Cleanup(wg.Wait) // runs after the closes below (cleanups run last-in, first-out)
	for i, l := range res.ls {
		port := aps[i].Port()
		tb.Cleanup(func() { _ = l.Close() })
		wg.Go(func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				if serve == nil {
					_ = c.Close()
					continue
				}
				go serve(c, port)
			}
		})
	}
	return res.err
}
