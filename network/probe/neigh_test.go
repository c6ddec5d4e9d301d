package probe

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestTableSampleHeadroom(t *testing.T) {
	for _, c := range []struct {
		name string
		s    tableSample
		want int
	}{
		{"empty default table", tableSample{limit: 1024}, 896},
		{"own pinned entries count", tableSample{limit: 1024, entries: 300, visible: 300,
			pinned: 200}, 696},
		{"stale and failed entries are evictable", tableSample{limit: 1024, entries: 1000,
			visible: 1000, pinned: 0}, 896},
		{"other namespaces' entries count as pinned", tableSample{limit: 1024, entries: 600,
			visible: 100, pinned: 50}, 346},
		{"a full table has no room", tableSample{limit: 1024, entries: 1024, visible: 1024,
			pinned: 1024}, -128},
		{"the package's table", tableSample{limit: 16384, entries: 10, visible: 10}, 14336},
		{"a racing count is not negative room from others", tableSample{limit: 1024,
			entries: 5, visible: 9, pinned: 9}, 887},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.headroom(); got != c.want {
				t.Errorf("headroom() = %d, want %d", got, c.want)
			}
		})
	}
}

// fakeTable is a neighbour table whose readings a test scripts.
type fakeTable struct {
	samples atomic.Int32
	next    func(n int) (tableSample, error) // n counts readings from 1
}

func (f *fakeTable) read() (tableSample, error) { return f.next(int(f.samples.Add(1))) }

var testAddr = netip.MustParseAddr("198.18.0.9")

func testGate(f *fakeTable) *neighGate {
	g := newNeighGate(f.read)
	g.interval, g.starveAfter, g.nudgeEvery = time.Millisecond, 20*time.Millisecond,
		time.Millisecond
	g.roomTTL = time.Hour
	return g
}

func TestNeighGateAdmitsWithinRoom(t *testing.T) {
	var admitted []netip.Addr
	for i := range 10 {
		admitted = append(admitted, netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}))
	}
	// Room for 10 (limit 16: 16 - 2 - 4 pinned), then a full table twice, then the table
	// shows the 10 admitted addresses (stale, evictable) and has room again.
	f := &fakeTable{next: func(n int) (tableSample, error) {
		switch n {
		case 1:
			return tableSample{limit: 16, entries: 4, visible: 4, pinned: 4}, nil
		case 4:
			return tableSample{limit: 16, entries: 14, visible: 14, pinned: 4,
				addrs: admitted}, nil
		default:
			return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
		}
	}}
	g := testGate(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, a := range admitted {
		if err := g.wait(ctx, a, 1); err != nil {
			t.Fatalf("admission %d: %v", i, err)
		}
	}
	if n := f.samples.Load(); n != 1 {
		t.Fatalf("10 admissions within one reading's room took %d readings", n)
	}
	if err := g.wait(ctx, testAddr, 1); err != nil {
		t.Fatal(err)
	}
	if n := f.samples.Load(); n != 4 {
		t.Errorf("the 11th admission took readings up to %d, want 4 (two full, one with room)",
			n)
	}
	if g.limit() != 16 {
		t.Errorf("limit() = %d, want 16", g.limit())
	}
}

func TestNeighGateReleasesAJobsUnseenAdmissions(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16}, nil // room for 14, and never shows what it admits
	}}
	g := testGate(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 4 {
		job := uint64(1 + i%2)
		if err := g.wait(ctx, netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), job); err != nil {
			t.Fatal(err)
		}
	}
	g.release(1)
	g.mu.Lock()
	pending := len(g.pending)
	g.mu.Unlock()
	if pending != 2 {
		t.Errorf("after job 1 ended, %d admissions pending, want job 2's 2", pending)
	}
}

func TestNeighGateRereadsAnOldReading(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) { return tableSample{limit: 16}, nil }}
	g := testGate(f)
	g.roomTTL = time.Nanosecond // every reading is too old to spend by the next waiter
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.wait(ctx, testAddr, 1); err != nil {
		t.Fatal(err)
	}
	if g.tryAdmit(netip.MustParseAddr("198.18.0.1"), 1) {
		t.Error("tryAdmit spent the room of a reading older than roomTTL")
	}
}

func TestNeighGateCancelWhileAnotherWaiterReads(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
	}}
	g := testGate(f)
	g.starveAfter = time.Hour
	g.interval = 20 * time.Millisecond
	first, stopFirst := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.wait(first, testAddr, 1) }()
	for f.samples.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second, stopSecond := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stopSecond()
	if err := g.wait(second, testAddr, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second waiter on a full table: %v, want its deadline", err)
	}
	if n := g.limit(); n != 16 {
		t.Errorf("limit() while a waiter reads = %d, want 16", n)
	}
	stopFirst()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the first waiter after cancel: %v", err)
	}
}

func TestNeighGateCountsAdmittedAddressesUntilSeen(t *testing.T) {
	a, b, c := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"),
		netip.MustParseAddr("198.18.0.3")
	// Room for 3 at the first reading (8 - 1 reserved - 4 pinned). At the second the table
	// shows a's entry (counted there, pinned) but not yet b's or c's, whose probes have not
	// gone out: they still count, leaving room for 3 - 2 = 1.
	f := &fakeTable{next: func(n int) (tableSample, error) {
		if n == 1 {
			return tableSample{limit: 8, entries: 4, visible: 4, pinned: 4}, nil // room 3
		}
		return tableSample{limit: 8, entries: 5, visible: 5, pinned: 4,
			addrs: []netip.Addr{a}}, nil // headroom 3, minus b and c pending: room 1
	}}
	g := testGate(f)
	ctx := context.Background()
	for _, x := range []netip.Addr{a, b, c, testAddr} {
		if err := g.wait(ctx, x, 1); err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	room, pending := g.room, len(g.pending)
	_, hasA := g.pending[a]
	g.mu.Unlock()
	if room != 0 || pending != 3 || hasA {
		t.Errorf("after 4 admissions: room %d, %d pending (a pending: %v); want 0, 3 (b, c "+
			"and the fourth), a seen", room, pending, hasA)
	}
}

func TestNeighGateNudgesATableOthersKeepFull(t *testing.T) {
	// Others hold 112 of 128: no polite room (16 are left to everything else), but 16 below
	// the hard limit, so the gate nudges, one address at a time, while 8 stay free.
	others := 112
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 128, entries: others}, nil
	}}
	g := testGate(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := g.wait(ctx, netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), 1); err != nil {
			t.Fatalf("admission %d of a table others keep full: %v", i, err)
		}
	}
	if n := f.samples.Load(); n < 4 {
		t.Errorf("admitted after %d readings; a full table must be read again first", n)
	}
	// 112 + 3 pending + 8 = 123 < 128: five more nudges, then none until entries go.
	for i := range 5 {
		if err := g.wait(ctx, netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}), 1); err != nil {
			t.Fatalf("nudge %d: %v", i, err)
		}
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := g.wait(short, testAddr, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a nudge to within 8 entries of the hard limit: %v, want to wait", err)
	}
}

func TestNeighGateFallsBackWhenUnreadable(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{}, errors.New("netlink: permission denied")
	}}
	g := testGate(f)
	g.fallback = rate.NewLimiter(rate.Inf, 1)
	for range 3 {
		if err := g.wait(context.Background(), testAddr, 1); err != nil {
			t.Fatal(err)
		}
	}
	unreadable := newNeighGate(nil)
	unreadable.fallback = rate.NewLimiter(rate.Inf, 1)
	if err := unreadable.wait(context.Background(), testAddr, 1); err != nil {
		t.Fatal(err)
	}
	if unreadable.limit() != 0 {
		t.Errorf("limit() of an unreadable table = %d, want 0", unreadable.limit())
	}
}

func TestNeighGateHonoursCancel(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
	}}
	g := testGate(f)
	g.starveAfter = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.samples.Load() < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := g.wait(ctx, testAddr, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on a full table after cancel = %v, want context.Canceled", err)
	}
}

func TestGateOnLinkGatesOnlyOnLinkAddresses(t *testing.T) {
	link := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/20")}
	in := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.18.0.1"),
		netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.18.15.1")}
	var seen []netip.Addr // what the table shows: every on-link address, as probed
	for i := range 26 {   // 2 + 26 = 28 on-link admissions: two readings' room
		a := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
		in = append(in, a, netip.MustParseAddr("10.0.0.1"))
		seen = append(seen, a)
	}
	seen = append(seen, in[1], in[3])
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16, addrs: seen}, nil // room for 14 per reading
	}}
	g := testGate(f)
	var waited atomic.Int64
	var got []netip.Addr
	flushes := 0
	for a := range gateOnLink(context.Background(), slices.Values(in), link, g, 1, &waited) {
		if !a.IsValid() {
			flushes++
			continue
		}
		got = append(got, a)
	}
	if !slices.Equal(got, in) {
		t.Fatalf("gateOnLink changed the targets: %v", got)
	}
	if n := f.samples.Load(); n != 2 || flushes != 2 {
		t.Errorf("28 on-link addresses took %d readings of room 14 and asked for %d "+
			"flushes before waiting, want 2 and 2", n, flushes)
	}
	g.room = 0
	f.next = func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var yielded []netip.Addr
	for a := range gateOnLink(ctx, slices.Values(in), link, g, 1, &waited) {
		yielded = append(yielded, a)
		cancel() // the next on-link address waits on a full table and gives up
	}
	if !slices.Equal(yielded, []netip.Addr{in[0], {}}) {
		t.Errorf("after cancel gateOnLink yielded %v, want %v and a flush", yielded, in[0])
	}
}

func TestGateOnLinkPacedAndIPv6(t *testing.T) {
	link := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/20"),
		netip.MustParsePrefix("2001:db8::/64")}
	in := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")}
	// Where the table cannot be read, addresses are paced and never flushed early.
	paced := newNeighGate(nil)
	paced.fallback = rate.NewLimiter(10000, 1) // every address after the first waits
	var waited atomic.Int64
	got := slices.Collect(gateOnLink(context.Background(), slices.Values(in), link, paced, 1,
		&waited))
	if !slices.Equal(got, in) {
		t.Errorf("paced gate yielded %v, want %v", got, in)
	}
	// IPv6 neighbours are not in the ARP table: a full one does not hold them.
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
	}}
	full := testGate(f)
	v6 := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")}
	got = slices.Collect(gateOnLink(context.Background(), slices.Values(v6), link, full, 1,
		&waited))
	if !slices.Equal(got, v6) || f.samples.Load() != 0 {
		t.Errorf("IPv6 on-link targets: yielded %v after %d readings, want %v and none",
			got, f.samples.Load(), v6)
	}
}
