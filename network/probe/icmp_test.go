package probe

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestMarshalEcho(t *testing.T) {
	e := echoID{id: 0xbeef, checkID: true, nonce: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}
	target := netip.MustParseAddr("198.18.1.2")
	b := marshalEcho(make([]byte, echoLen), e, 7, target)
	if len(b) != echoLen || b[0] != icmpEchoRequest || b[1] != 0 {
		t.Fatalf("header % x", b[:8])
	}
	if icmpChecksum(b) != 0 {
		t.Errorf("checksum of the request does not verify: % x", b)
	}
	if id, seq := binary.BigEndian.Uint16(b[4:6]), binary.BigEndian.Uint16(b[6:8]); id != 0xbeef ||
		seq != 7 {
		t.Errorf("id %#x seq %d", id, seq)
	}
}

// echoReplyOf turns a request into the reply a host would send.
func echoReplyOf(req []byte) []byte {
	r := slices.Clone(req)
	r[0] = icmpEchoReply
	r[2], r[3] = 0, 0
	binary.BigEndian.PutUint16(r[2:4], icmpChecksum(r))
	return r
}

func TestParseEchoReply(t *testing.T) {
	e := echoID{id: 0x1234, checkID: true, nonce: [8]byte{9, 8, 7, 6, 5, 4, 3, 2}}
	target := netip.MustParseAddr("10.1.2.3")
	good := echoReplyOf(marshalEcho(make([]byte, echoLen), e, 1, target))
	mut := func(f func(b []byte)) []byte { b := slices.Clone(good); f(b); return b }
	udp := e
	udp.checkID = false
	for _, tc := range []struct {
		name string
		b    []byte
		from netip.Addr
		e    echoID
		want bool
	}{
		{"reply from the target", good, target, e, true},
		{"longer reply (padding kept)", append(slices.Clone(good), 0, 0, 0), target, e, true},
		{"our own request (raw sockets see it)", marshalEcho(make([]byte, echoLen), e, 1,
			target), target, e, false},
		{"reply from another host", good, netip.MustParseAddr("10.1.2.4"), e, false},
		{"another sweep's identifier", mut(func(b []byte) { b[4] ^= 1 }), target, e, false},
		{"identifier ignored on a ping socket", mut(func(b []byte) { b[4] ^= 1 }), target,
			udp, true},
		{"another sweep's nonce", mut(func(b []byte) { b[23] ^= 1 }), target, e, false},
		{"someone else's ping", mut(func(b []byte) { b[8] = 'x' }), target, e, false},
		{"payload names another target", mut(func(b []byte) { b[15]++ }), target, e, false},
		{"non-zero code", mut(func(b []byte) { b[1] = 1 }), target, e, false},
		{"destination unreachable", mut(func(b []byte) { b[0] = 3 }), target, e, false},
		{"truncated", good[:echoLen-1], target, e, false},
		{"empty", nil, target, e, false},
		{"IPv6 sender", good, netip.MustParseAddr("::1"), e, false},
		{"invalid sender", good, netip.Addr{}, e, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseEchoReply(tc.b, tc.from, tc.e); got != tc.want {
				t.Errorf("parseEchoReply = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzParseEchoReply feeds arbitrary ICMP messages: nothing may panic, and an accepted one
// must be an echo reply carrying the sweep's nonce and its sender's own address.
func FuzzParseEchoReply(f *testing.F) {
	e := echoID{id: 0x4242, checkID: true, nonce: [8]byte{'n', 'o', 'n', 'c', 'e', '!', 0, 1}}
	target := netip.MustParseAddr("127.0.0.1")
	good := echoReplyOf(marshalEcho(make([]byte, echoLen), e, 3, target))
	f.Add(good, []byte{127, 0, 0, 1})
	f.Add(good[:10], []byte{127, 0, 0, 1})
	f.Add([]byte{3, 1, 0, 0, 0, 0, 0, 0}, []byte{10, 0, 0, 1})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, b, from []byte) {
		a, _ := netip.AddrFromSlice(from)
		if !parseEchoReply(b, a, e) {
			return
		}
		if b[0] != icmpEchoReply || [8]byte(b[16:24]) != e.nonce ||
			[4]byte(b[12:16]) != a.As4() {
			t.Fatalf("accepted %x from %v", b, a)
		}
	})
}

// TestICMPEchoLoopback sweeps loopback addresses, which the kernel answers, with a raw
// socket when this process has one and an unprivileged ping socket otherwise; it skips when
// neither opens (no CAP_NET_RAW and net.ipv4.ping_group_range excluding our groups).
func TestICMPEchoLoopback(t *testing.T) {
	caps := DetectCapabilities()
	if !caps.RawICMP && !caps.PingSocket {
		t.Skip("no raw ICMP socket (needs CAP_NET_RAW) and no ping socket " +
			"(net.ipv4.ping_group_range): skipping the loopback echo test")
	}
	for _, raw := range []bool{true, false} {
		if raw && !caps.RawICMP || !raw && !caps.PingSocket {
			continue
		}
		t.Run(map[bool]string{true: "raw", false: "ping-socket"}[raw], func(t *testing.T) {
			conn, err := openICMP(raw)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			want := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
			for a := netip.MustParseAddr("127.93.0.1"); len(want) < 33; a = a.Next() {
				want = append(want, a)
			}
			in := make(chan netip.Addr, len(want))
			for _, a := range want {
				in <- a
			}
			close(in)
			var got []netip.Addr
			var dead []netip.Addr
			s := &sweep{rate: 1000, tm: Timing{}.withDefaults(), method: "icmp-echo",
				send: conn.send, replies: conn.out,
				alive: func(h Host) { got = append(got, h.Addr) },
				dead:  func(a netip.Addr) { dead = append(dead, a) }}
			st := s.run(ctx, in)
			slices.SortFunc(got, netip.Addr.Compare)
			if !slices.Equal(got, want) || len(dead) > 0 {
				t.Fatalf("alive %v, dead %v; want all of %v (stats %+v)", got, dead, want, st)
			}
			t.Logf("%d loopback addresses answered echo; %+v", len(got), st)
		})
	}
}
