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
	// visible and pinned are this namespace's entries, and those of them the kernel's next
	// forced garbage collection cannot evict: resolving, reachable, being re-probed,
	// permanent, referenced, or stale since its previous run.
	visible, pinned int
	// addrs are the visible entries' addresses; the slice may be reused by the next reading.
	addrs []netip.Addr
}

// headroom is how many new entries may be created now. Entries of other namespaces are
// invisible here and counted as pinned; an eighth of the table is left to everything else.
func (s tableSample) headroom() int {
	others := max(s.entries-s.visible, 0)
	return s.limit - s.limit/8 - others - s.pinned
}

// sampleInterval is how often a gate waiting for room reads the table again.
const sampleInterval = 50 * time.Millisecond

// pendingTTL is how long an admitted address that never shows up in the table (its probes
// were skipped or cancelled) still counts against the room.
const pendingTTL = 10 * time.Second

// starveAfter is how long a gate waits for room before it nudges: it then admits one
// address every nudgeEvery while the table's hard limit is still nudgeMargin entries away,
// so a table that other processes keep full slows a scan but never stops it. A nudge also
// makes the kernel collect garbage (it does so only when it creates an entry), after which
// entries gone stale since its previous run count as room.
const (
	starveAfter = time.Second
	nudgeEvery  = time.Second
	nudgeMargin = 8
)

// neighGate admits new on-link destinations within the neighbour table's room.
type neighGate struct {
	sample func() (tableSample, error) // nil where the table cannot be read
	// fallback paces admissions where sample is nil or fails.
	fallback *rate.Limiter
	// interval, starveAfter and nudgeEvery are the constants (tests shorten them).
	interval, starveAfter, nudgeEvery time.Duration

	mu   sync.Mutex
	room int // admissions left before the next sample
	// pending are admitted addresses not yet seen in the table: a job's first probe of an
	// address may wait behind a thousand others, so a reading between admission and probe
	// would not count the entry the probe is about to create.
	pending  map[netip.Addr]time.Time
	last     time.Time // when room was last measured
	starved  time.Time // since when the table has had no room; zero when it has
	nudged   time.Time // the last admission without room
	lastSeen tableSample
}

func newNeighGate(sample func() (tableSample, error)) *neighGate {
	return &neighGate{sample: sample,
		fallback: rate.NewLimiter(rate.Limit(OnLinkRate), OnLinkRate/4),
		interval: sampleInterval, starveAfter: starveAfter, nudgeEvery: nudgeEvery,
		pending: map[netip.Addr]time.Time{}}
}

// sharedGate is the process's gate: the table it guards is shared by every job.
var sharedGate = sync.OnceValue(func() *neighGate { return newNeighGate(readNeighTable()) })

// wait blocks until the on-link destination a may be used, or ctx ends.
func (g *neighGate) wait(ctx context.Context, a netip.Addr) error {
	if g.sample == nil {
		return g.fallback.Wait(ctx)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		if g.room > 0 {
			g.room--
			g.pending[a] = time.Now()
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
		for _, x := range s.addrs {
			delete(g.pending, x)
		}
		for x, at := range g.pending {
			if g.last.Sub(at) > pendingTTL {
				delete(g.pending, x)
			}
		}
		g.lastSeen = s
		g.lastSeen.addrs = nil
		g.room = s.headroom() - len(g.pending)
		switch {
		case g.room > 0:
			g.starved = time.Time{}
		case g.starved.IsZero():
			g.starved = g.last
		case g.last.Sub(g.starved) >= g.starveAfter && g.last.Sub(g.nudged) >= g.nudgeEvery &&
			s.entries+len(g.pending)+nudgeMargin < s.limit:
			g.room, g.nudged = 1, g.last
		}
	}
}

// NeighTableLimit is the kernel's neighbour table limit (gc_thresh3) as last read by a job,
// or 0 when it has not been or cannot be read.
func NeighTableLimit() int { return sharedGate().limit() }

// tryAdmit admits a if the room last measured allows, without waiting or reading the table.
func (g *neighGate) tryAdmit(a netip.Addr) bool {
	if g.sample == nil {
		return g.fallback.Allow()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.room <= 0 {
		return false
	}
	g.room--
	g.pending[a] = time.Now()
	return true
}

// limit is the table size last read, or 0 when the table cannot be read.
func (g *neighGate) limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastSeen.limit
}

// gateOnLink yields targets, holding back each on-link IPv4 address until the
// gate admits it; the time spent waiting is added to waited. Before it waits it yields the
// invalid address, which tells the job to probe the addresses it holds now: a chunk that
// sat on admitted addresses while waiting for more would keep the entries it was admitted
// for from being used, and its probes would all start at once when room appears.
func gateOnLink(ctx context.Context, targets iter.Seq[netip.Addr], link []netip.Prefix,
	g *neighGate, waited *atomic.Int64) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for a := range targets {
			if onLink(a, link) && !g.tryAdmit(a) {
				// Only a measured table needs the flush; a paced one admits steadily.
				if g.sample != nil && !yield(netip.Addr{}) {
					return
				}
				start := time.Now()
				if err := g.wait(ctx, a); err != nil {
					return
				}
				waited.Add(int64(time.Since(start)))
			}
			if !yield(a) {
				return
			}
		}
	}
}

// onLink reports whether a is an IPv4 address in one of link: the gate reads the ARP table,
// and IPv6 neighbours live in another.
func onLink(a netip.Addr, link []netip.Prefix) bool {
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	for _, p := range link {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
