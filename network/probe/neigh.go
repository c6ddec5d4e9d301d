package probe

import (
	"context"
	"iter"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// The kernel resolves every on-link destination of a connect or datagram by ARP and keeps a
// neighbour entry for it: an unanswered one for mcast_solicit × retrans_time (3 s by
// default), a resolved one for its reachable time (15–45 s). Entries in those states cannot
// be evicted, and the table is machine-wide (every namespace, every process) and bounded by
// net.ipv4.neigh.default.gc_thresh3 (1,024 by default). Past it the kernel drops packets to
// new addresses ("neighbor table overflow") and live hosts look silent. So jobs admit new
// on-link addresses only while the table has room, measured from the kernel where it can
// be (see ADR 0011), and at OnLinkRate a second elsewhere.

// tableSample is one reading of the IPv4 neighbour table.
type tableSample struct {
	// limit is gc_thresh3: entries the table may hold, for the whole machine.
	limit int
	// entries is how many it holds now, in every namespace.
	entries int
	// visible and pinned are this namespace's entries, and those of them that cannot be
	// evicted (resolving, reachable, being re-probed, or permanent).
	visible, pinned int
}

// headroom is how many new entries may be created now. Entries of other namespaces are
// invisible here and counted as pinned; an eighth of the table is left to everything else.
func (s tableSample) headroom() int {
	others := max(s.entries-s.visible, 0)
	return s.limit - s.limit/8 - others - s.pinned
}

// sampleInterval is how often a gate waiting for room reads the table again.
const sampleInterval = 50 * time.Millisecond

// starveAfter is how long a gate waits for room before it admits addresses anyway, one per
// sampleInterval: a table that other processes keep full slows a scan but never stops it.
const starveAfter = 5 * time.Second

// neighGate admits new on-link destinations within the neighbour table's room.
type neighGate struct {
	sample func() (tableSample, error) // nil where the table cannot be read
	// fallback paces admissions where sample is nil or fails.
	fallback *rate.Limiter
	// interval and starveAfter are sampleInterval and starveAfter (tests shorten them).
	interval, starveAfter time.Duration

	mu       sync.Mutex
	room     int       // admissions left before the next sample
	last     time.Time // when room was last measured
	starved  time.Time // since when the table has had no room; zero when it has
	lastSeen tableSample
}

func newNeighGate(sample func() (tableSample, error)) *neighGate {
	return &neighGate{sample: sample,
		fallback: rate.NewLimiter(rate.Limit(OnLinkRate), OnLinkRate/4),
		interval: sampleInterval, starveAfter: starveAfter}
}

// sharedGate is the process's gate: the table it guards is shared by every job.
var sharedGate = sync.OnceValue(func() *neighGate { return newNeighGate(readNeighTable()) })

// wait blocks until one new on-link destination may be used, or ctx ends.
func (g *neighGate) wait(ctx context.Context) error {
	if g.sample == nil {
		return g.fallback.Wait(ctx)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		if g.room > 0 {
			g.room--
			return nil
		}
		if d := g.interval - time.Since(g.last); d > 0 && !g.last.IsZero() {
			if !sleep(ctx, d) {
				return ctx.Err()
			}
		}
		s, err := g.sample()
		g.last = time.Now()
		if err != nil {
			// The table could be read before (readNeighTable checked) and cannot now:
			// pace as where it never can be.
			g.mu.Unlock()
			err := g.fallback.Wait(ctx)
			g.mu.Lock()
			return err
		}
		g.lastSeen = s
		g.room = s.headroom()
		switch {
		case g.room > 0:
			g.starved = time.Time{}
		case g.starved.IsZero():
			g.starved = g.last
		case g.last.Sub(g.starved) >= g.starveAfter:
			g.room = 1
		}
	}
}

// limit is the table size last read, or 0 when the table cannot be read.
func (g *neighGate) limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastSeen.limit
}

// gateOnLink yields targets, holding back each on-link address (one in link) until the
// gate admits it; the time spent waiting is added to waited.
func gateOnLink(ctx context.Context, targets iter.Seq[netip.Addr], link []netip.Prefix,
	g *neighGate, waited *atomic.Int64) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for a := range targets {
			for _, p := range link {
				if p.Contains(a) {
					start := time.Now()
					if err := g.wait(ctx); err != nil {
						return
					}
					if d := time.Since(start); d > time.Millisecond {
						waited.Add(int64(d))
					}
					break
				}
			}
			if !yield(a) {
				return
			}
		}
	}
}
