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

func testGate(f *fakeTable) *neighGate {
	g := newNeighGate(f.read)
	g.interval, g.starveAfter = time.Millisecond, 20*time.Millisecond
	return g
}

func TestNeighGateAdmitsWithinRoom(t *testing.T) {
	// Room for 10 (limit 16: 16 - 2 - 4 pinned), then a full table, then room again.
	f := &fakeTable{next: func(n int) (tableSample, error) {
		switch n {
		case 1, 4:
			return tableSample{limit: 16, entries: 4, visible: 4, pinned: 4}, nil
		default:
			return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
		}
	}}
	g := testGate(f)
	ctx := context.Background()
	for i := range 10 {
		if err := g.wait(ctx); err != nil {
			t.Fatalf("admission %d: %v", i, err)
		}
	}
	if n := f.samples.Load(); n != 1 {
		t.Fatalf("10 admissions within one reading's room took %d readings", n)
	}
	if err := g.wait(ctx); err != nil {
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

func TestNeighGateStarvedTableStillAdmits(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 16, visible: 0}, nil // others fill it
	}}
	g := testGate(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := g.wait(ctx); err != nil {
			t.Fatalf("admission %d of a table others keep full: %v", i, err)
		}
	}
	if n := f.samples.Load(); n < 4 {
		t.Errorf("admitted after %d readings; a full table must be read again first", n)
	}
}

func TestNeighGateFallsBackWhenUnreadable(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{}, errors.New("netlink: permission denied")
	}}
	g := testGate(f)
	g.fallback = rate.NewLimiter(rate.Inf, 1)
	for range 3 {
		if err := g.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	unreadable := newNeighGate(nil)
	unreadable.fallback = rate.NewLimiter(rate.Inf, 1)
	if err := unreadable.wait(context.Background()); err != nil {
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
	if err := g.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on a full table after cancel = %v, want context.Canceled", err)
	}
}

func TestGateOnLinkGatesOnlyOnLinkAddresses(t *testing.T) {
	f := &fakeTable{next: func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 0}, nil // room for 14 per reading
	}}
	g := testGate(f)
	link := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/20")}
	in := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.18.0.1"),
		netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.18.15.1")}
	for range 13 { // 2 + 13×2 = 28 on-link admissions: two readings' room
		in = append(in, netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("10.0.0.1"))
	}
	var waited atomic.Int64
	got := slices.Collect(gateOnLink(context.Background(), slices.Values(in), link, g,
		&waited))
	if !slices.Equal(got, in) {
		t.Fatalf("gateOnLink changed the targets: %v", got)
	}
	if n := f.samples.Load(); n != 2 {
		t.Errorf("28 on-link addresses took %d readings of room 14, want 2", n)
	}
	g.room = 0
	f.next = func(int) (tableSample, error) {
		return tableSample{limit: 16, entries: 16, visible: 16, pinned: 16}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var yielded []netip.Addr
	for a := range gateOnLink(ctx, slices.Values(in), link, g, &waited) {
		yielded = append(yielded, a)
		cancel() // the next on-link address waits on a full table and gives up
	}
	if len(yielded) != 1 || yielded[0] != in[0] {
		t.Errorf("after cancel gateOnLink yielded %v, want only %v", yielded, in[0])
	}
}
