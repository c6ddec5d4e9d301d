package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Route netlink attributes of a neighbour table (linux/neighbour.h); x/sys/unix has no
// names for them, and no Go netlink library reads neighbour tables (ADR 0011).
const (
	ndtaName    = 1 // NDTA_NAME: "arp_cache"
	ndtaThresh3 = 4 // NDTA_THRESH3: u32
	ndtaConfig  = 5 // NDTA_CONFIG: struct ndt_config, ndtc_entries at offset 4
	ndtmsgLen   = 4 // struct ndtmsg
)

// pinnedStates are the neighbour states that hold a timer, and so a reference, or never
// expire: the kernel's forced garbage collection cannot evict them. It evicts the others
// (unreferenced) only when they failed or last changed more than 5 s ago.
const pinnedStates = unix.NUD_INCOMPLETE | unix.NUD_REACHABLE | unix.NUD_DELAY |
	unix.NUD_PROBE | unix.NUD_PERMANENT

// gcGrace is the 5 s, with a margin for the reading's age.
const gcGrace = 5*time.Second + 100*time.Millisecond

// readNeighTable returns a reader of the IPv4 neighbour table over route netlink, which
// needs no privileges and works in any namespace (the gc_thresh sysctls exist only in the
// first), or nil when the table cannot be read here.
func readNeighTable() func() (tableSample, error) {
	var buf []byte
	var addrs []netip.Addr // reused: the gate reads them before the next reading
	read := func() (tableSample, error) {
		if buf == nil {
			buf = make([]byte, 32<<10) // the most a netlink dump puts in one message
		}
		s := tableSample{addrs: addrs[:0]}
		err := netlinkDump(unix.RTM_GETNEIGHTBL, ndtmsgLen, buf, s.add)
		if err != nil {
			return s, fmt.Errorf("read neighbour table: %w", err)
		}
		if s.limit <= 0 {
			return s, errors.New("read neighbour table: no arp_cache limit")
		}
		err = netlinkDump(unix.RTM_GETNEIGH, unix.SizeofNdMsg, buf, s.add)
		if err != nil {
			return s, fmt.Errorf("read neighbours: %w", err)
		}
		addrs = s.addrs
		return s, nil
	}
	if _, err := read(); err != nil {
		return nil
	}
	return read
}

// add reads one message of a dump answer into s.
func (s *tableSample) add(typ uint16, body []byte) error {
	switch typ {
	case unix.RTM_NEWNEIGHTBL:
		return s.addTable(body)
	case unix.RTM_NEWNEIGH:
		s.addNeighbour(body)
	}
	return nil
}

// addTable reads one RTM_NEWNEIGHTBL message body. The kernel sends one with the table's
// limits, then one per device with only its parameters; only the first names a limit.
func (s *tableSample) addTable(data []byte) error {
	if len(data) < ndtmsgLen {
		return errors.New("short neighbour table message")
	}
	var name string
	var limit, entries int
	ok := walkAttrs(data[ndtmsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case ndtaName:
			name = string(trimNUL(v))
		case ndtaThresh3:
			if len(v) >= 4 {
				limit = int(binary.NativeEndian.Uint32(v))
			}
		case ndtaConfig:
			if len(v) >= 8 {
				entries = int(binary.NativeEndian.Uint32(v[4:]))
			}
		}
	})
	if !ok {
		return errors.New("malformed neighbour table attributes")
	}
	if name == "arp_cache" && limit > 0 {
		s.limit, s.entries = limit, entries
	}
	return nil
}

// addNeighbour counts one RTM_NEWNEIGH message body (struct ndmsg, then attributes).
func (s *tableSample) addNeighbour(data []byte) {
	if len(data) < unix.SizeofNdMsg {
		return
	}
	s.visible++
	state := binary.NativeEndian.Uint16(data[8:]) // ndm_state
	held := state&pinnedStates != 0
	walkAttrs(data[unix.SizeofNdMsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.NDA_DST:
			if a, ok := netip.AddrFromSlice(v); ok {
				s.addrs = append(s.addrs, a.Unmap())
			}
		case unix.NDA_CACHEINFO: // struct nda_cacheinfo, in clock ticks (USER_HZ, 100/s)
			if len(v) < 16 {
				return
			}
			updated := time.Duration(binary.NativeEndian.Uint32(v[8:])) * 10 * time.Millisecond
			refs := binary.NativeEndian.Uint32(v[12:]) // references beyond the table's
			failed := state&(unix.NUD_FAILED|unix.NUD_NOARP) != 0
			// The collection spares entries changed in the last 5 s (Linux 4.19 on).
			if refs > 0 || !failed && updated < gcGrace {
				held = true
			}
		}
	})
	if held {
		s.pinned++
	}
}

// walkAttrs calls fn for each route attribute in b and reports whether b was well formed.
func walkAttrs(b []byte, fn func(typ uint16, v []byte)) bool {
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofRtAttr || n > len(b) {
			return false
		}
		fn(binary.NativeEndian.Uint16(b[2:])&^unix.NLA_F_NESTED, b[unix.SizeofRtAttr:n])
		b = b[min(rtaAlign(n), len(b)):]
	}
	return len(b) == 0
}

func rtaAlign(n int) int { return (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// netlinkDump sends an AF_INET dump request of type typ, whose body is hdrLen bytes of
// zeros but the family, and calls fn with the type and body of each message of the answer.
func netlinkDump(typ uint16, hdrLen int, buf []byte, fn func(uint16, []byte) error) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC,
		unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(fd) }()
	req := make([]byte, unix.NLMSG_HDRLEN+hdrLen)
	binary.NativeEndian.PutUint32(req, uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // sequence
	req[unix.NLMSG_HDRLEN] = unix.AF_INET
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		done, err := parseDump(buf[:n], fn)
		if err != nil || done {
			return err
		}
	}
}

// parseDump walks the netlink messages in one datagram of a dump answer and reports
// whether the dump is complete.
func parseDump(b []byte, fn func(uint16, []byte) error) (bool, error) {
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return false, errors.New("malformed netlink message")
		}
		body := b[unix.NLMSG_HDRLEN:n]
		switch typ := binary.NativeEndian.Uint16(b[4:]); typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(body)); e != 0 {
					return true, unix.Errno(-e)
				}
			}
			return true, nil
		default:
			if err := fn(typ, body); err != nil {
				return false, err
			}
		}
		b = b[min((n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
	}
	return false, nil
}
