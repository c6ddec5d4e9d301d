package probe

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// gcThresh3 is the kernel's neighbour table limit as its sysctl says, or 0 where the sysctl
// cannot be read (it exists only in the first network namespace).
func gcThresh3(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(neighSysctl + "gc_thresh3")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("gc_thresh3: %v", err)
	}
	return n
}

func TestReadNeighTable(t *testing.T) {
	read := readNeighTable()
	if read == nil {
		t.Fatal("route netlink cannot read the neighbour table")
	}
	s, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if want := gcThresh3(t); s.limit <= 0 || (want > 0 && s.limit != want) {
		t.Errorf("limit %d, want gc_thresh3 %d", s.limit, want)
	}
	if s.entries < 0 || s.visible < s.pinned || s.pinned < 0 {
		t.Errorf("inconsistent reading %+v", s)
	}
}

// TestNeighTableInNamespace reads the table from a namespace of its own, where the
// gc_thresh sysctls do not exist, and sees the entries that datagrams to silent on-link
// addresses create as pinned.
func TestNeighTableInNamespace(t *testing.T) {
	requireNetns(t)
	id := strconv.Itoa(os.Getpid())
	ns := "tena-neigh-" + id
	t.Cleanup(func() { _ = runIP("netns", "delete", ns) })
	nsCmd(t, "", "ip", "netns", "add", ns)
	nsCmd(t, "link add tnv0 type veth peer name tnv1\naddr add 198.18.200.1/24 dev tnv0\n"+
		"link set tnv0 up\nlink set tnv1 up\n", "ip", "-n", ns, "-batch", "-")
	limit := gcThresh3(t)

	type result struct {
		before, after tableSample
		err           error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var r result
		defer func() { ch <- r }()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.err = err
			return
		}
		defer unix.Close(fd)
		if r.err = unix.Setns(fd, unix.CLONE_NEWNET); r.err != nil {
			return
		}
		if _, r.err = os.Stat(neighSysctl + "gc_thresh3"); r.err == nil {
			r.err = fmt.Errorf("%s exists in a new namespace", neighSysctl)
			return
		}
		read := readNeighTable()
		if read == nil {
			r.err = fmt.Errorf("no neighbour table reader in a new namespace")
			return
		}
		if r.before, r.err = read(); r.err != nil {
			return
		}
		c, err := net.ListenUDP("udp4", nil)
		if err != nil {
			r.err = err
			return
		}
		defer c.Close()
		for i := range 10 {
			dst := &net.UDPAddr{IP: net.IPv4(198, 18, 200, byte(10+i)), Port: 9}
			if _, r.err = c.WriteToUDP([]byte("x"), dst); r.err != nil {
				return
			}
		}
		r.after, r.err = read()
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.after.limit <= 0 || (limit > 0 && r.after.limit != limit) {
		t.Errorf("limit in the namespace %d, want gc_thresh3 %d", r.after.limit, limit)
	}
	if r.after.visible < r.before.visible+10 || r.after.pinned < r.before.pinned+10 {
		t.Errorf("10 resolving addresses: before %+v, after %+v; want 10 more visible "+
			"and pinned", r.before, r.after)
	}
}

func runIP(args ...string) error {
	return exec.Command("ip", args...).Run()
}

// nlMsg builds one netlink message of type typ around body.
func nlMsg(typ uint16, body []byte) []byte {
	n := unix.NLMSG_HDRLEN + len(body)
	b := make([]byte, rtaAlign(n))
	binary.NativeEndian.PutUint32(b, uint32(n))
	binary.NativeEndian.PutUint16(b[4:], typ)
	copy(b[unix.NLMSG_HDRLEN:], body)
	return b
}

// nlAttr builds one route attribute.
func nlAttr(typ uint16, v []byte) []byte {
	n := unix.SizeofRtAttr + len(v)
	b := make([]byte, rtaAlign(n))
	binary.NativeEndian.PutUint16(b, uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[unix.SizeofRtAttr:], v)
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// neighTableDump is a dump answer as the kernel sends it: the arp_cache table with its
// limit and entry count, a per-device message without them, five neighbours and the end of
// the dump. Of the neighbours, the resolving one, the one stale for 3 s and the referenced
// one are held; the one stale for 6 s and the failed one are evictable.
func neighTableDump() []byte {
	table := append(make([]byte, ndtmsgLen), nlAttr(ndtaName, []byte("arp_cache\x00"))...)
	table = append(table, nlAttr(ndtaThresh3, u32(1024))...)
	cfg := append(append(u32(0), u32(37)...), u32(5000)...)
	table = append(table, nlAttr(ndtaConfig, cfg)...)
	dev := append(make([]byte, ndtmsgLen), nlAttr(ndtaName, []byte("arp_cache\x00"))...)
	neigh := func(state uint16, updatedTicks, refs uint32) []byte {
		b := make([]byte, unix.SizeofNdMsg)
		binary.NativeEndian.PutUint16(b[8:], state)
		b = append(b, nlAttr(unix.NDA_DST, []byte{198, 18, 0, 1})...)
		ci := append(append(append(u32(0), u32(0)...), u32(updatedTicks)...), u32(refs)...)
		return append(b, nlAttr(unix.NDA_CACHEINFO, ci)...)
	}
	var b []byte
	b = append(b, nlMsg(unix.RTM_NEWNEIGHTBL, table)...)
	b = append(b, nlMsg(unix.RTM_NEWNEIGHTBL, dev)...)
	for _, n := range [][]byte{
		neigh(unix.NUD_INCOMPLETE, 600, 0), // held: resolving
		neigh(unix.NUD_STALE, 600, 0),      // evictable: unchanged for 6 s
		neigh(unix.NUD_STALE, 300, 0),      // held: changed 3 s ago
		neigh(unix.NUD_STALE, 900, 1),      // held: referenced
		neigh(unix.NUD_FAILED, 100, 0),     // evictable: failed
	} {
		b = append(b, nlMsg(unix.RTM_NEWNEIGH, n)...)
	}
	return append(b, nlMsg(unix.NLMSG_DONE, u32(0))...)
}

// parseSample reads a dump answer (both kinds of message in one, for tests) into a sample.
func parseSample(b []byte) (tableSample, bool, error) {
	var s tableSample
	done, err := parseDump(b, s.add)
	return s, done, err
}

func TestParseNeighDump(t *testing.T) {
	s, done, err := parseSample(neighTableDump())
	if err != nil || !done {
		t.Fatalf("parse: done %v, err %v", done, err)
	}
	a := netip.MustParseAddr("198.18.0.1")
	if s.limit != 1024 || s.entries != 37 ||
		s.visible != 5 || s.pinned != 3 || !slices.Equal(s.addrs, []netip.Addr{a, a, a, a, a}) {
		t.Errorf("sample %+v, want limit 1024, 37 entries, 5 visible (%v), "+
			"3 held", s, a)
	}
	errMsg := nlMsg(unix.NLMSG_ERROR, u32(^uint32(unix.EPERM)+1))
	if _, err := parseDump(errMsg, func(uint16, []byte) error { return nil }); err != unix.EPERM {
		t.Errorf("error message: %v, want EPERM", err)
	}
	for _, bad := range [][]byte{
		{0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // longer than the datagram
		nlMsg(unix.RTM_NEWNEIGHTBL, []byte{0, 0}),              // short ndtmsg
		nlMsg(unix.RTM_NEWNEIGHTBL, append(make([]byte, ndtmsgLen), 0x40, 0, 1, 0)),
	} {
		if _, _, err := parseSample(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}

func FuzzNeighDump(f *testing.F) {
	f.Add(neighTableDump())
	f.Add(nlMsg(unix.NLMSG_ERROR, u32(^uint32(unix.EPERM)+1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _, err := parseSample(b)
		if err == nil && (s.visible < s.pinned || s.visible < 0) {
			t.Errorf("inconsistent sample %+v", s)
		}
	})
}
