package probe

import (
	"net"
	"net/netip"
)

// ARPRate is how many ARP requests a second an ARP sweep sends by default, retries
// included (Request.Rate lowers it, Auto.ARPRate sets it). Every request is a broadcast
// that each host on the segment looks at, so the rate is the sweep's cost to the LAN:
// 10,000 a second of 60-byte frames is ~6.7 Mbit/s on the wire, under 1% of a gigabit
// port, for ~1 s per /20 (each silent address is asked twice). A switch whose broadcast
// storm control is set lower drops requests, and the sweep then misses hosts: lower the
// rate there. docs/PERFORMANCE.md §6 has the rates measured.
const ARPRate = 10000

// link is one IPv4 subnet this machine is attached to on a broadcast interface, where an
// ARP sweep can find hosts.
type link struct {
	ifIndex int
	ifName  string
	mac     net.HardwareAddr
	prefix  netip.Prefix // masked
	src     netip.Addr   // this machine's address in prefix: the requests' sender
}

// iface is what link selection needs to know of an interface, so that it can be tested
// without the machine's real interfaces.
type iface struct {
	index int
	name  string
	flags net.Flags
	mac   net.HardwareAddr
	addrs []netip.Prefix // unmasked: the address and its prefix length
}

// links returns the subnets an ARP sweep can cover: IPv4 prefixes of up, broadcast-capable
// interfaces with an Ethernet address. Loopback and point-to-point links have no ARP, and a
// /32 (or /31 without a peer) has no neighbours to find.
func links(ifs []iface) []link {
	var out []link
	for _, f := range ifs {
		if f.flags&net.FlagUp == 0 || f.flags&net.FlagLoopback != 0 ||
			f.flags&net.FlagPointToPoint != 0 || f.flags&net.FlagBroadcast == 0 ||
			len(f.mac) != 6 {
			continue
		}
		for _, p := range f.addrs {
			if !p.Addr().Is4() || p.Bits() >= 31 || p.Addr().IsLoopback() {
				continue
			}
			out = append(out, link{ifIndex: f.index, ifName: f.name, mac: f.mac,
				prefix: p.Masked(), src: p.Addr()})
		}
	}
	return out
}

// route returns the index in ls of the link whose prefix holds a, the most specific when
// prefixes overlap, or -1 when a is off-link (or not IPv4).
func route(ls []link, a netip.Addr) int {
	best := -1
	if !a.Is4() {
		return best
	}
	for i, l := range ls {
		if l.prefix.Contains(a) && (best < 0 || l.prefix.Bits() > ls[best].prefix.Bits()) {
			best = i
		}
	}
	return best
}

// localAddrs maps every address of this machine's interfaces, loopback included, to the
// interface's hardware address (nil for loopback): a sweep reports them alive without
// asking the network, which would not answer for them.
func localAddrs(ifs []iface) map[netip.Addr]net.HardwareAddr {
	out := map[netip.Addr]net.HardwareAddr{}
	for _, f := range ifs {
		if f.flags&net.FlagUp == 0 {
			continue
		}
		for _, p := range f.addrs {
			out[p.Addr().Unmap()] = f.mac
		}
	}
	return out
}

// systemIfaces reads this machine's interfaces.
func systemIfaces() ([]iface, error) {
	nifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]iface, 0, len(nifs))
	for _, n := range nifs {
		f := iface{index: n.Index, name: n.Name, flags: n.Flags, mac: n.HardwareAddr}
		addrs, err := n.Addrs()
		if err != nil {
			continue // an interface that vanished since: nothing to sweep on it
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			if ip.Is4In6() {
				ip = ip.Unmap()
			}
			f.addrs = append(f.addrs, netip.PrefixFrom(ip, ones))
		}
		out = append(out, f)
	}
	return out, nil
}
