package probe

import (
	"context"
	"errors"
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
	// visible and pinned are this namespace's entries, and those of them the kernel's forced
	// garbage collection cannot evict: resolving, reachable, being re-probed, permanent,
	// referenced, or changed in the last 5 s.
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

// roomTTL is how long a reading's room may be spent: after an idle spell the table may
// hold entries that no reading has seen.
const roomTTL = time.Second

// starveAfter is how long a gate waits for room before it nudges: it then admits one
// address every nudgeEvery while the table's hard limit is still nudgeMargin entries away,
// so a table that other processes keep nearly full slows a scan without stopping it, and a
// table full to its hard limit waits until entries expire.
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
	// interval, roomTTL, starveAfter and nudgeEvery are the constants (tests shorten them).
	interval, roomTTL, starveAfter, nudgeEvery time.Duration
	// turn is held by the one waiter reading the table, so that waiting never holds mu and
	// a cancelled job stops waiting at once.
	turn chan struct{}

	mu   sync.Mutex
	room int // admissions left before the next reading
	// pending are admitted addresses not yet seen in the table, with the job that admitted
	// them: a job's first probe of an address may wait behind thousands of others, so a
	// reading between admission and probe would miss the entry the probe will create. They
	// count against the room until a reading shows them or their job ends.
	pending  map[netip.Addr]uint64
	last     time.Time // when the table was last read
	starved  time.Time // since when the table has had no room; zero when it has
	nudged   time.Time // the last admission without room
	lastSeen tableSample
}

func newNeighGate(sample func() (tableSample, error)) *neighGate {
	return &neighGate{sample: sample,
		fallback: rate.NewLimiter(rate.Limit(OnLinkRate), OnLinkRate/4),
		interval: sampleInterval, roomTTL: roomTTL, starveAfter: starveAfter,
		nudgeEvery: nudgeEvery, turn: make(chan struct{}, 1),
		pending: map[netip.Addr]uint64{}}
}

// sharedGate is the process's gate: the table it guards is shared by every job.
var sharedGate = sync.OnceValue(func() *neighGate { return newNeighGate(readNeighTable()) })

// jobIDs number the jobs whose admissions a gate tracks.
var jobIDs atomic.Uint64

// errUnreadable says the table could be read when the gate was made and cannot now.
var errUnreadable = errors.New("neighbour table unreadable")

// wait blocks until the on-link destination a may be used by job, or ctx ends.
func (g *neighGate) wait(ctx context.Context, a netip.Addr, job uint64) error {
	if g.sample == nil {
		return g.fallback.Wait(ctx)
	}
	for {
		if g.tryAdmit(a, job) {
			return nil
		}
		select {
		case g.turn <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := g.read(ctx)
		admitted := err == nil && g.admit(a, job, 0) // the reader spends its own reading
		<-g.turn
		switch {
		case admitted:
			return nil
		case errors.Is(err, errUnreadable):
			return g.fallback.Wait(ctx) // pace as where the table never can be read
		case err != nil:
			return err
		}
	}
}

// read reads the table, at most once per interval, unless another waiter just did; the
// caller holds g.turn.
func (g *neighGate) read(ctx context.Context) error {
	g.mu.Lock()
	fresh := g.room > 0 && time.Since(g.last) <= g.roomTTL
	wait := g.interval - time.Since(g.last)
	g.mu.Unlock()
	if fresh {
		return nil
	}
	if wait > 0 && !sleep(ctx, wait) {
		return ctx.Err()
	}
	s, err := g.sample()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last = time.Now()
	if err != nil {
		return errUnreadable
	}
	for _, x := range s.addrs {
		delete(g.pending, x)
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
	return nil
}

// release forgets the admissions of job that no reading has shown: its probes are over.
func (g *neighGate) release(job uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for a, j := range g.pending {
		if j == job {
			delete(g.pending, a)
		}
	}
}

// NeighTableLimit is the kernel's neighbour table limit (gc_thresh3) as last read by a job,
// or 0 when it has not been or cannot be read.
func NeighTableLimit() int { return sharedGate().limit() }

// tryAdmit admits a for job if a recent reading left room, without waiting or reading.
func (g *neighGate) tryAdmit(a netip.Addr, job uint64) bool {
	if g.sample == nil {
		return g.fallback.Allow()
	}
	return g.admit(a, job, g.roomTTL)
}

// admit takes one unit of the room for a and job, if there is room and the reading is no
// older than ttl (0: any age).
func (g *neighGate) admit(a netip.Addr, job uint64, ttl time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.room <= 0 || ttl > 0 && time.Since(g.last) > ttl {
		return false
	}
	g.room--
	g.pending[a] = job
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
	g *neighGate, job uint64, waited *atomic.Int64) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for a := range targets {
			if onLink(a, link) && !g.tryAdmit(a, job) {
				// Only a measured table needs the flush; a paced one admits steadily.
				if g.sample != nil && !yield(netip.Addr{}) {
					return
				}
				start := time.Now()
				if err := g.wait(ctx, a, job); err != nil {
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
	return a.Is4() && inAny(a, link)
}

// inAny reports whether a is in one of ps.
func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
