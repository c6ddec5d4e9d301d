package probe

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// A sweep sends one packet per address (an ARP request, an ICMP echo) at a steady rate,
// retries the unanswered ones with a timeout that adapts to the measured round-trip time,
// and ends when every address has answered or run out of attempts. Unlike connect probes it
// holds no socket or goroutine per address: one loop sends, one reader feeds it replies, so
// its rate is bounded by the network, not by descriptors or the kernel's neighbour table.

// sweepReply is one matched answer, as a sweep's reader hands it to the loop.
type sweepReply struct {
	addr netip.Addr
	mac  net.HardwareAddr // ARP only
	at   time.Time        // when the reader received it
}

// sweepStats counts what a sweep sent and decided.
type sweepStats struct {
	sent, retries, alive, dead, errs, backPressure uint64
}

// maxSweepPending bounds the addresses a sweep waits on at once; at the default rates it is
// never reached, and it keeps a sweep's memory bounded whatever the rate and timeouts.
const maxSweepPending = 1 << 16

// sweep is the configuration of one sweep.
type sweep struct {
	rate    float64 // packets a second, retries included
	tm      Timing  // with defaults applied
	method  string  // Host.Method of what it finds
	send    func(netip.Addr) error
	replies <-chan sweepReply
	alive   func(Host)       // from the loop's goroutine
	dead    func(netip.Addr) // likewise: out of attempts, or an unsendable address
	// now is time.Now, replaceable by tests.
	now func() time.Time
}

// pending is an address waiting for an answer.
type pending struct {
	sent  time.Time
	tries int
	gen   uint32 // matches the queue entry of the latest attempt
}

// due is an attempt in a timeout queue.
type due struct {
	addr netip.Addr
	at   time.Time // sent
	gen  uint32
}

// run sweeps the addresses received on targets until it is closed and every address is
// decided, or ctx ends.
func (s *sweep) run(ctx context.Context, targets <-chan netip.Addr) sweepStats {
	if s.now == nil {
		s.now = time.Now
	}
	var st sweepStats
	rtt := newRTTEstimator(s.tm)
	wait := map[netip.Addr]*pending{}
	// Attempts waiting for an answer, one FIFO per attempt number: within one, send order
	// is deadline order, and deadlines are computed from the current RTT estimate when
	// checked, so that the first requests, sent before any answer set the estimate, do not
	// wait the whole initial timeout once answers show the network is fast.
	levels := make([][]due, s.tm.Retries+1)
	var retry []netip.Addr      // addresses whose attempt timed out, to resend first
	var held []netip.Addr       // sends paused by back-pressure
	var heldUntil time.Time     // when held sends may go again
	var gen uint32              // attempt counter, to spot stale queue entries
	burst := max(1, s.rate/100) // 10 ms worth: one timer wake-up sends a small batch
	tokens, last := burst, s.now()
	in := targets
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	send := func(a netip.Addr, now time.Time) {
		p := wait[a]
		if p == nil {
			p = &pending{}
			wait[a] = p
		}
		err := s.send(a)
		switch {
		case err == nil:
		case classifyErrno(err) == errBackPressure:
			st.backPressure++
			held = append(held, a)
			heldUntil = now.Add(s.tm.BackPressurePause)
			return
		default:
			// An address the stack cannot send to (no route, say) is not an answer: the
			// caller decides what it means, as for silence.
			st.errs++
			delete(wait, a)
			st.dead++
			s.dead(a)
			return
		}
		st.sent++
		if p.tries > 0 {
			st.retries++
		}
		p.tries++
		p.sent = now
		gen++
		p.gen = gen
		k := min(p.tries-1, len(levels)-1)
		levels[k] = append(levels[k], due{addr: a, at: now, gen: gen})
	}
	answer := func(r sweepReply) {
		p := wait[r.addr]
		if p == nil {
			return // late, duplicate, or not ours
		}
		d := r.at.Sub(p.sent)
		if p.tries == 1 {
			rtt.observe(d) // Karn: an answer to a retried address has an ambiguous RTT
		}
		delete(wait, r.addr)
		st.alive++
		s.alive(Host{Addr: r.addr, Method: s.method, RTT: d, MAC: r.mac})
	}

	drain := func() {
		for {
			select {
			case r := <-s.replies:
				answer(r)
			default:
				return
			}
		}
	}
	for {
		// Replies first: after a stall (a busy CPU), answers that arrived in time must not
		// be taken for timeouts.
		drain()
		now := s.now()
		// Expire attempts whose deadline has passed.
		to := rtt.timeout()
		for k := range levels {
			q := levels[k]
			for len(q) > 0 && !q[0].at.Add(levelTimeout(to, k, s.tm.Max)).After(now) {
				e := q[0]
				q = q[1:]
				p := wait[e.addr]
				if p == nil || p.gen != e.gen {
					continue // answered, or superseded by a later attempt
				}
				if p.tries > s.tm.Retries {
					delete(wait, e.addr)
					st.dead++
					s.dead(e.addr)
					continue
				}
				retry = append(retry, e.addr)
			}
			if len(q) == 0 {
				q = nil // let the backing array go after a burst
			}
			levels[k] = q
		}

		// Spend the tokens: held sends, then retries, then new addresses.
		tokens = min(burst, tokens+now.Sub(last).Seconds()*s.rate)
		last = now
		for tokens >= 1 {
			switch {
			case len(held) > 0 && !now.Before(heldUntil):
				a := held[0]
				held = held[1:]
				send(a, now)
			case len(retry) > 0:
				a := retry[0]
				retry = retry[1:]
				if wait[a] != nil {
					send(a, now)
				}
			case in != nil && len(wait) < maxSweepPending:
				select {
				case a, ok := <-in:
					if !ok {
						in = nil
						continue
					}
					if wait[a] != nil {
						continue // a duplicate target
					}
					send(a, now)
				default:
					goto spent // nothing new yet
				}
			default:
				goto spent
			}
			tokens--
		}
	spent:
		if in == nil && len(wait) == 0 && len(held) == 0 {
			return st
		}

		// Sleep until the next thing to do: a reply, a deadline, a token for pending work.
		next := time.Hour
		for k, q := range levels {
			if len(q) > 0 {
				next = min(next, q[0].at.Add(levelTimeout(to, k, s.tm.Max)).Sub(now))
			}
		}
		if len(retry) > 0 || len(held) > 0 || (in != nil && tokens < 1) {
			need := time.Duration((1 - tokens) / s.rate * float64(time.Second))
			if len(held) > 0 {
				need = max(need, heldUntil.Sub(now))
			}
			next = min(next, need)
		}
		timer.Reset(max(next, 0))
		var newIn <-chan netip.Addr
		if in != nil && tokens >= 1 && len(wait) < maxSweepPending {
			newIn = in // only take a new address when it can be sent at once
		}
		select {
		case <-ctx.Done():
			return st
		case r := <-s.replies:
			answer(r)
		case a, ok := <-newIn:
			if !ok {
				in = nil
				break
			}
			if wait[a] == nil {
				send(a, s.now())
				tokens--
			}
		case <-timer.C:
		}
	}
}

// levelTimeout is the timeout of attempt k+1: each retry doubles it, as for connect probes.
func levelTimeout(to time.Duration, k int, ceil time.Duration) time.Duration {
	return min(to<<k, ceil)
}
