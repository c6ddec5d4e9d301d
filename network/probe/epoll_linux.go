//go:build linux

package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
)

// The epoll connect engine runs a TCP job the way nmap -sT does: a few loops, each driving
// hundreds of non-blocking connects through one epoll set, instead of a goroutine, a
// netpoll registration and a timer per probe as net.Dialer needs. On loopback nearly every
// connect is decided by the time connect(2) returns (the SYN, and the RST or SYN-ACK, are
// processed inside it), which a second connect(2) reports; a refused socket is connected
// again for the next probe, so a closed port costs two connect calls and nothing else.
// Only a pending handshake is registered with epoll.
//
// It keeps the Dialer path's semantics: the same states, Attempts, retries with the job's
// adaptive timeout, global and per-job rate limits (a token before every attempt, retries
// and back-pressure retries included), the global concurrency slots (held only while a
// socket is open), back-pressure pauses (EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL) that are
// never a verdict, and cancellation that drops undecided probes.

// maxWait bounds one epoll_wait. Cancellation and new targets wake the loop through its
// eventfd, and every deadline is in the heap, so this is only a safety net.
const maxWait = time.Second

// starvedWait is the epoll_wait bound while a probe waits for a global slot that another
// job holds.
const starvedWait = 2 * time.Millisecond

// loopMin is the least job concurrency per loop: a job smaller than this runs one loop.
const loopMin = 128

// takeBatch is how many tasks a loop takes from the shared feeder at once.
const takeBatch = 64

// idleMax bounds the refused sockets a loop keeps for reuse, per address family.
const idleMax = 8

// launchBatch bounds the attempts one loop iteration starts. On loopback most are decided
// at once and free their state again, so without a bound one iteration would start the
// whole job before handing over a verdict or looking at a deadline; host discovery, which
// skips the ports of hosts that answered, would skip nothing.
const launchBatch = 256

// epollEngine runs a Scanner's TCP jobs. Each job makes its own epoll descriptors and
// closes them when it ends: a job started while descriptors are exhausted then runs on the
// Dialer path, which reports the back-pressure, instead of failing.
type epollEngine struct {
	// loops is the most loops one job runs: GOMAXPROCS when the Scanner was made, within
	// the most that the default concurrency fills.
	loops int
	// hook, set by tests only, sees every connect before it happens: it may redirect it
	// to another address or fail it with an errno, as socket(2) would.
	hook func(netip.AddrPort) (netip.AddrPort, error)
}

// newConnectEngine makes the engine.
func newConnectEngine() connectEngine {
	return &epollEngine{loops: max(1, min(runtime.GOMAXPROCS(0), maxConcurrency/loopMin))}
}

// start runs the job r on its own loops; it reports false, and runs nothing, when not even
// one epoll descriptor can be made.
func (e *epollEngine) start(ctx context.Context, r *run, workers int) bool {
	var fds [][2]int // epoll descriptor and eventfd per loop
	for range min(e.loops, max(1, workers/loopMin)) {
		ep, wfd, err := newPollFDs()
		if err != nil {
			break // fewer loops; none at all sends the job to the Dialer path
		}
		fds = append(fds, [2]int{ep, wfd})
	}
	if len(fds) == 0 {
		return false
	}
	chunks := make(chan []netip.Addr, 1)
	quit := make(chan struct{}) // the loops are done: the generator must not block
	f := &feeder{in: chunks, ports: r.req.Ports}
	var wg sync.WaitGroup
	loops := make([]*connLoop, len(fds))
	for i, p := range fds {
		// Split the job's concurrency over the loops.
		size := workers / len(fds)
		if i < workers%len(fds) {
			size++
		}
		l := newConnLoop(ctx, e, r, f, p[0], p[1], size)
		loops[i] = l
		wg.Go(func() {
			stop := context.AfterFunc(ctx, l.wake)
			l.run()
			stop()
			l.closeFDs()
		})
	}
	wakeAll := func() {
		for _, l := range loops {
			l.wake()
		}
	}
	go func() {
		defer close(chunks)
		hosts := make([]netip.Addr, 0, chunk)
		for a := range r.req.Targets {
			// The invalid address asks for the hosts held so far to be probed now (see
			// gateOnLink).
			if a.IsValid() {
				hosts = append(hosts, a.Unmap())
			}
			if len(hosts) == 0 || a.IsValid() && len(hosts) < chunk {
				continue
			}
			select {
			case chunks <- hosts:
				wakeAll()
			case <-quit:
				return
			}
			hosts = make([]netip.Addr, 0, chunk)
		}
		if len(hosts) > 0 {
			select {
			case chunks <- hosts:
				wakeAll()
			case <-quit:
			}
		}
	}()
	go func() {
		wg.Wait()
		close(quit)
		r.job.err = ctx.Err()
		close(r.job.results)
		close(r.job.done)
	}()
	return true
}

// feeder hands a job's tasks to its loops: chunk by chunk as the generator yields them,
// port-major within a chunk, as the Dialer path's generate does.
type feeder struct {
	mu     sync.Mutex
	in     <-chan []netip.Addr
	ports  []uint16
	q      [][]netip.Addr // chunks received, oldest first
	pi, hi int            // next port and host index in q[0]
	closed bool           // in is closed and drained
}

// take appends up to n tasks to dst without waiting for the generator.
func (f *feeder) take(dst []task, n int) []task {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n > 0 {
		if len(f.q) == 0 && !f.recv() {
			break
		}
		c := f.q[0]
		dst = append(dst, task{c[f.hi], f.ports[f.pi]})
		n--
		if f.hi++; f.hi == len(c) {
			f.hi = 0
			if f.pi++; f.pi == len(f.ports) {
				f.pi = 0
				f.q[0] = nil
				f.q = f.q[1:]
			}
		}
	}
	return dst
}

// recv moves a chunk from the generator into q if one is ready; f.mu must be held.
func (f *feeder) recv() bool {
	if f.closed {
		return false
	}
	select {
	case c, ok := <-f.in:
		if !ok {
			f.closed = true
			return false
		}
		f.q = append(f.q, c)
		return true
	default:
		return false
	}
}

// exhausted reports whether every task has been taken.
func (f *feeder) exhausted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed && len(f.q) == 0
}

// wait blocks until tasks are available, the generator is done, or ctx ends.
func (f *feeder) wait(ctx context.Context) {
	f.mu.Lock()
	if len(f.q) > 0 || f.closed {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	select {
	case c, ok := <-f.in:
		f.mu.Lock()
		if ok {
			f.q = append(f.q, c)
		} else {
			f.closed = true
		}
		f.mu.Unlock()
	case <-ctx.Done():
	}
}

// Probe states within a loop.
const (
	psFree    uint8 = iota
	psReady         // waiting for rate tokens or a slot, in ready or held
	psFlight        // a socket is connecting
	psPausing       // back-pressure pause, in the heap until wake
)

// pstate is one task being decided: across its attempts, retries and pauses.
type pstate struct {
	t             task
	fd            int
	gen           uint32 // bumped per socket, so a stale event cannot match a new socket
	state         uint8
	reserved      bool // holds the rate tokens for its next attempt
	attempts      int
	timeout       time.Duration
	pause, paused time.Duration
	start         time.Time // of the current attempt's connect
	wake          time.Time // deadline in flight, end of the pause when pausing
	hidx          int       // heap position, -1 when not in the heap
}

// connLoop drives up to len(ps) probes of one job through one epoll descriptor.
type connLoop struct {
	ctx  context.Context
	e    *epollEngine
	r    *run
	feed *feeder
	epfd int

	wfd     int // eventfd that wakes epoll_wait (see wake)
	wmu     sync.Mutex
	wclosed bool

	ps    []pstate
	free  []int // free pstate indices
	ready []int // pstates due for an attempt (retries, ends of pauses), FIFO
	heap  []int // pstates in flight or pausing, by wake
	pend  []task
	pendI int

	// held is the pstate whose attempt waits for its rate tokens (until heldUntil) or
	// for a global slot (heldUntil zero); -1 when none. While it waits nothing else
	// starts, so at most one attempt holds tokens it has not used.
	held      int
	heldUntil time.Time
	res       [2]*rate.Reservation
	spare     int // global slots this loop holds without a socket (see release)
	inflight  int

	events []unix.EpollEvent
	out    []Result
	sa4    unix.SockaddrInet4
	sa6    unix.SockaddrInet6
	// idle holds sockets whose connect was refused, by family (0 IPv4, 1 IPv6), for
	// reuse (see keep); lastSA and lastFam are the last dial's address and family.
	idle    [2][]int
	lastSA  unix.Sockaddr
	lastFam int
}

// newPollFDs makes an epoll descriptor and an eventfd registered in it, which wakes the
// loop when its job is cancelled or new targets arrive.
func newPollFDs() (ep, wfd int, err error) {
	if ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return -1, -1, err
	}
	if wfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		_ = unix.Close(ep)
		return -1, -1, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeIndex}
	if err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		_ = unix.Close(wfd)
		_ = unix.Close(ep)
		return -1, -1, err
	}
	return ep, wfd, nil
}

// wakeIndex marks the eventfd's epoll events; pstate indices are never negative.
const wakeIndex = -1

// wake interrupts the loop's epoll_wait. It is safe from any goroutine, also after the
// loop ended (it then does nothing: the descriptor number may belong to another file).
func (l *connLoop) wake() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.wclosed {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(l.wfd, one[:]) // EAGAIN: the counter is already set, which suffices
}

// closeFDs closes the loop's epoll descriptor and eventfd once it has ended.
func (l *connLoop) closeFDs() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.wclosed = true
	_ = unix.Close(l.wfd) // nothing to do about a failed close here
	_ = unix.Close(l.epfd)
}

func newConnLoop(ctx context.Context, e *epollEngine, r *run, f *feeder, epfd, wfd,
	size int) *connLoop {
	l := &connLoop{ctx: ctx, e: e, r: r, feed: f, epfd: epfd, wfd: wfd, held: -1,
		ps: make([]pstate, size), free: make([]int, size),
		events: make([]unix.EpollEvent, min(size, 256))}
	for i := range l.ps {
		l.ps[i].hidx = -1
		l.ps[i].fd = -1
		l.free[i] = size - 1 - i
	}
	return l
}

// run decides the loop's share of the job; it returns when the feeder is exhausted and
// every probe decided, or when ctx ends.
func (l *connLoop) run() {
	defer l.cleanup()
	for l.ctx.Err() == nil {
		now := time.Now()
		l.expire(now)
		starved, more := l.launch()
		if !l.flush() {
			return
		}
		if !more {
			l.releaseSpare() // about to wait: other jobs may use them meanwhile
		}
		idle := l.inflight == 0 && len(l.heap) == 0 && len(l.ready) == 0 && l.held < 0
		if idle && l.pendI == len(l.pend) {
			if l.feed.exhausted() {
				return
			}
			if len(l.free) > 0 {
				l.feed.wait(l.ctx)
				continue
			}
		}
		if starved && l.inflight == 0 {
			// Other jobs hold every slot and none of ours will free one: wait for theirs.
			select {
			case l.r.s.slots <- struct{}{}:
				l.spare++
			case <-l.ctx.Done():
			}
			continue
		}
		wait := maxWait
		switch {
		case more:
			wait = 0 // collect what has answered, then go on launching
		case starved:
			wait = starvedWait
		}
		if len(l.heap) > 0 {
			wait = min(wait, l.ps[l.heap[0]].wake.Sub(now))
		}
		if l.held >= 0 && !l.heldUntil.IsZero() {
			wait = min(wait, l.heldUntil.Sub(now))
		}
		ms := 0
		if wait > 0 {
			ms = int((wait + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.EpollWait(l.epfd, l.events, ms)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.fail(fmt.Errorf("epoll_wait: %w", err))
			return
		}
		if n > 0 {
			l.complete(l.events[:n], time.Now())
		}
	}
}

// fail reports every probe of this loop still undecided as StateError: epoll itself broke,
// which says nothing about the targets.
func (l *connLoop) fail(err error) {
	for i := range l.ps {
		p := &l.ps[i]
		if p.state != psFree {
			l.result(i, StateError, 0, err)
		}
	}
	for l.pendI < len(l.pend) {
		t := l.pend[l.pendI]
		l.pendI++
		res := Result{Addr: netip.AddrPortFrom(t.addr, t.port), Proto: TCP,
			State: StateError, Err: err}
		l.r.job.count(res)
		l.out = append(l.out, res)
	}
	l.flush()
}

// cleanup closes the sockets still open and gives back slots and unused rate tokens.
func (l *connLoop) cleanup() {
	for i := range l.ps {
		if p := &l.ps[i]; p.fd >= 0 {
			_ = unix.Close(p.fd) // nothing to do about a failed close of a probe socket
			p.fd = -1
			<-l.r.s.slots
		}
	}
	for _, fds := range l.idle {
		for _, fd := range fds {
			_ = unix.Close(fd) // nothing to do about a failed close of a probe socket
		}
	}
	l.releaseSpare()
	if l.held >= 0 && l.ps[l.held].reserved {
		l.cancelReservation()
	}
}

func (l *connLoop) cancelReservation() {
	for k, r := range l.res {
		if r != nil {
			r.Cancel()
			l.res[k] = nil
		}
	}
}

// expire settles the probes whose deadline passed and ends the pauses that are over.
func (l *connLoop) expire(now time.Time) {
	for len(l.heap) > 0 {
		i := l.heap[0]
		p := &l.ps[i]
		if p.wake.After(now) {
			return
		}
		l.hremove(i)
		if p.state == psPausing {
			p.state = psReady
			l.ready = append(l.ready, i)
			continue
		}
		l.closeSocket(p, false)
		l.release()
		l.settle(i, outcome{class: errTimeout}, now)
	}
}

// launch starts attempts while there are tasks, free pstates, rate tokens and slots, at
// most launchBatch of them. It reports whether it stopped for want of a global slot, and
// whether it stopped at launchBatch with more to start.
func (l *connLoop) launch() (starved, more bool) {
	for range launchBatch {
		var i int
		switch {
		case l.held >= 0:
			if !l.heldUntil.IsZero() && time.Now().Before(l.heldUntil) {
				return false, false
			}
			i = l.held
		case len(l.ready) > 0:
			i = l.ready[0]
			l.ready = l.ready[1:]
		case len(l.free) > 0:
			var ok bool
			if i, ok = l.newTask(); !ok {
				return false, false
			}
		default:
			return false, false
		}
		p := &l.ps[i]
		if !p.reserved {
			d := l.reserve()
			p.reserved = true
			if d > 0 {
				l.held, l.heldUntil = i, time.Now().Add(d)
				return false, false
			}
		}
		if !l.acquire() {
			l.held, l.heldUntil = i, time.Time{}
			return true, false
		}
		l.held = -1
		p.reserved = false
		l.res = [2]*rate.Reservation{}
		l.connect(i)
	}
	return false, true
}

// newTask takes the next task that host discovery has not made moot into a free pstate.
func (l *connLoop) newTask() (int, bool) {
	for {
		if l.pendI == len(l.pend) {
			l.pend, l.pendI = l.feed.take(l.pend[:0], takeBatch), 0
			if len(l.pend) == 0 {
				return 0, false
			}
		}
		t := l.pend[l.pendI]
		l.pendI++
		if l.r.req.skip != nil && l.r.req.skip(t.addr) {
			l.r.job.c.skipped.Add(1)
			continue
		}
		i := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		l.ps[i] = pstate{t: t, fd: -1, hidx: -1, gen: l.ps[i].gen, state: psReady,
			timeout: l.r.job.rtt.timeout(), pause: l.r.tm.BackPressurePause}
		return i, true
	}
}

// reserve takes the global and the job's rate token for one attempt and returns how long
// the attempt must wait for them.
func (l *connLoop) reserve() time.Duration {
	var d time.Duration
	now := time.Now()
	for k, lim := range []*rate.Limiter{l.r.s.global, l.r.limiter} {
		if lim != nil {
			l.res[k] = lim.ReserveN(now, 1)
			d = max(d, l.res[k].DelayFrom(now))
		}
	}
	return d
}

// release gives back a global slot. It is kept as spare, and used by the next attempt
// this iteration, so that a loop deciding a connect and starting the next does not pass
// the slot through the shared channel each time; spare slots go back before the loop
// waits (releaseSpare).
func (l *connLoop) release() { l.spare++ }

func (l *connLoop) releaseSpare() {
	for ; l.spare > 0; l.spare-- {
		<-l.r.s.slots
	}
}

// acquire takes a global concurrency slot without waiting.
func (l *connLoop) acquire() bool {
	if l.spare > 0 {
		l.spare--
		return true
	}
	select {
	case l.r.s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// connect makes one attempt of pstate i. Loopback often decides it within connect(2).
func (l *connLoop) connect(i int) {
	p := &l.ps[i]
	ap := netip.AddrPortFrom(p.t.addr, p.t.port)
	p.attempts++ // undone by settle if it turns out to be back-pressure
	l.r.job.c.attempts.Add(1)
	p.start = time.Now()
	fd, err := l.dial(ap)
	if fd < 0 {
		// No socket: nothing reached the network (EMFILE and friends are back-pressure).
		l.release()
		l.settle(i, outcome{class: classifyErrno(err), err: err}, p.start)
		return
	}
	p.fd = fd
	p.gen++
	errno := errnoOf(err)
	if errno == unix.EINPROGRESS || errno == unix.EINTR {
		// On loopback the kernel has processed the SYN and its answer by the time
		// connect(2) returns, but reports EINPROGRESS all the same (the answer waited in
		// the socket's backlog until connect released the socket). A second connect to
		// the same address reports the outcome if there is one (0 once connected, the
		// refusal, which also leaves the socket unconnected and reusable) and EALREADY
		// while the handshake is pending: it saves the epoll registration and wake-up
		// for nearly every port there, and costs one cheap syscall elsewhere.
		errno = errnoOf(unix.Connect(fd, l.lastSA))
		if errno == unix.EISCONN {
			errno = 0
		}
	}
	switch errno {
	case 0:
		l.decided(i, true, 0, "", time.Now())
		return
	case unix.EALREADY:
	case unix.ECONNREFUSED:
		l.keep(p, l.lastFam)
		l.decided(i, false, errno, "connect", time.Now())
		return
	default:
		l.decided(i, false, errno, "connect", time.Now())
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLET, Fd: int32(i),
		Pad: int32(p.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		// ENOMEM or ENOSPC (max_user_watches): our resources, not the target's.
		l.closeSocket(p, false)
		l.release()
		l.settle(i, outcome{class: errBackPressure, err: os.NewSyscallError("epoll_ctl", err)},
			time.Now())
		return
	}
	p.state = psFlight
	p.wake = p.start.Add(p.timeout)
	l.inflight++
	l.hpush(i)
}

// dial takes an idle socket or opens a non-blocking one and connects it. fd is -1, with
// socket(2)'s error, when no socket opened; otherwise err is connect(2)'s: nil for an
// immediate connection, EINPROGRESS, or the refusal or other error that ended it at once.
// The address and family index (0 IPv4, 1 IPv6) are left in lastSA and lastFam.
func (l *connLoop) dial(ap netip.AddrPort) (int, error) {
	if l.e.hook != nil {
		to, err := l.e.hook(ap)
		if err != nil {
			return -1, err
		}
		ap = to
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if a := ap.Addr(); a.Is4() {
		l.sa4.Addr, l.sa4.Port = a.As4(), int(ap.Port())
		sa = &l.sa4
	} else {
		family = unix.AF_INET6
		l.sa6.Addr, l.sa6.Port, l.sa6.ZoneId = a.As16(), int(ap.Port()), 0
		if z := a.Zone(); z != "" {
			id, err := zoneIndex(z)
			if err != nil {
				return -1, err
			}
			l.sa6.ZoneId = id
		}
		sa = &l.sa6
	}
	fam := 0
	if family == unix.AF_INET6 {
		fam = 1
	}
	var fd int
	if k := len(l.idle[fam]); k > 0 {
		fd = l.idle[fam][k-1]
		l.idle[fam] = l.idle[fam][:k-1]
	} else {
		var err error
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, os.NewSyscallError("socket", err)
		}
	}
	l.lastSA, l.lastFam = sa, fam
	return fd, unix.Connect(fd, sa)
}

// keep puts the socket of p, whose connect was just refused, into the idle cache: the
// refusal left it unconnected, and Linux lets an unconnected TCP socket connect again, so
// the next probe of the same family skips socket(2) and close(2).
func (l *connLoop) keep(p *pstate, fam int) {
	if len(l.idle[fam]) >= idleMax {
		return
	}
	l.idle[fam] = append(l.idle[fam], p.fd)
	p.fd = -1
}

// errnoOf returns err's errno: 0 for nil, EINVAL for an error that carries none.
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	errno := unix.EINVAL
	errors.As(err, &errno)
	return errno
}

// zoneIndex resolves an IPv6 zone, an interface name or number, to its index.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil //nolint:gosec // interface indices are small
}

// complete handles the epoll events of connecting sockets.
func (l *connLoop) complete(events []unix.EpollEvent, now time.Time) {
	for _, ev := range events {
		if ev.Fd == wakeIndex {
			var buf [8]byte
			_, _ = unix.Read(l.wfd, buf[:]) // reset the counter; EAGAIN if already reset
			continue
		}
		i := int(ev.Fd)
		p := &l.ps[i]
		if p.state != psFlight || p.gen != uint32(ev.Pad) {
			continue // a socket already settled, whose event was still queued
		}
		l.hremove(i)
		soerr, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			errno := unix.EINVAL
			errors.As(err, &errno)
			l.decided(i, false, errno, "getsockopt", now)
		case soerr == 0, unix.Errno(soerr) == unix.ECONNRESET:
			// A reset after the handshake (ECONNRESET, not the ECONNREFUSED of a
			// refused SYN) comes from a service that accepted and closed: open.
			l.decided(i, true, 0, "", now)
		default:
			l.decided(i, false, unix.Errno(soerr), "connect", now)
		}
	}
}

// decided closes the socket of pstate i after its attempt ended with a connection (open)
// or with errno from op, gives its slot back and settles it.
func (l *connLoop) decided(i int, open bool, errno unix.Errno, op string, now time.Time) {
	p := &l.ps[i]
	l.closeSocket(p, open)
	l.release()
	rtt := now.Sub(p.start)
	switch {
	case open:
		l.settle(i, outcome{open: true, rtt: rtt}, now)
		return
	case errno == unix.ECONNREFUSED:
		// The common case by far, decided without building an error no Result carries.
		l.settle(i, outcome{class: errRefused, rtt: rtt}, now)
		return
	}
	err := os.NewSyscallError(op, errno)
	c := classifyErrno(err)
	if c == errOther && errno.Timeout() {
		c = errTimeout // ETIMEDOUT: the kernel gave up on the SYN before we did
	}
	l.settle(i, outcome{class: c, rtt: rtt, err: err}, now)
}

// closeSocket closes p's socket; an open connection is closed with RST (SO_LINGER 0), so
// that no TIME_WAIT holds its ephemeral port for a minute: a /16 with many open ports would
// exhaust them.
func (l *connLoop) closeSocket(p *pstate, open bool) {
	if p.fd < 0 {
		return
	}
	if p.state == psFlight {
		l.inflight--
	}
	if open {
		_ = unix.SetsockoptLinger(p.fd, unix.SOL_SOCKET, unix.SO_LINGER,
			&unix.Linger{Onoff: 1, Linger: 0})
	}
	_ = unix.Close(p.fd) // nothing to do about a failed close of a probe socket
	p.fd = -1
	p.state = psReady
}

// settle applies one attempt's outcome to pstate i as run.probe does: a verdict, a retry
// (which takes new rate tokens) or a back-pressure pause. A timed-out attempt's slot has
// already been given back.
func (l *connLoop) settle(i int, o outcome, now time.Time) {
	p := &l.ps[i]
	tm := &l.r.tm
	switch {
	case o.open:
		l.r.job.rtt.observe(o.rtt)
		l.result(i, StateOpen, o.rtt, nil)
	case o.class == errRefused:
		l.r.job.rtt.observe(o.rtt)
		l.result(i, StateClosed, o.rtt, nil)
	case o.class == errUnreachable:
		l.result(i, StateUnreachable, 0, o.err)
	case o.class == errBackPressure:
		// Not an attempt at the target: undo the count, pause, go again.
		p.attempts--
		l.r.job.c.attempts.Add(^uint64(0))
		l.r.job.c.backPressure.Add(1)
		if p.paused >= tm.BackPressureLimit {
			l.result(i, StateError, 0, fmt.Errorf("local resources exhausted for %s: %w",
				tm.BackPressureLimit, o.err))
			return
		}
		p.state = psPausing
		p.wake = now.Add(p.pause)
		p.paused += p.pause
		p.pause = min(2*p.pause, time.Second)
		l.hpush(i)
	case o.class == errTimeout:
		if p.attempts > tm.Retries {
			l.result(i, StateFiltered, 0, nil)
			return
		}
		l.r.job.c.retries.Add(1)
		// As on the Dialer path, a retry waits at least the initial timeout.
		p.timeout = min(max(2*p.timeout, tm.Initial), tm.Max)
		p.state = psReady
		l.ready = append(l.ready, i)
	default:
		l.result(i, StateError, 0, o.err)
	}
}

// result records the verdict of pstate i and frees it; flush sends it.
func (l *connLoop) result(i int, st State, rtt time.Duration, err error) {
	p := &l.ps[i]
	res := Result{Addr: netip.AddrPortFrom(p.t.addr, p.t.port), Proto: TCP, State: st,
		RTT: rtt, Attempts: p.attempts, Err: err}
	l.r.job.count(res)
	l.out = append(l.out, res)
	if p.hidx >= 0 {
		l.hremove(i)
	}
	p.state = psFree
	l.free = append(l.free, i)
}

// flush sends the verdicts gathered so far; false means ctx ended first.
func (l *connLoop) flush() bool {
	for k, res := range l.out {
		select {
		case l.r.job.results <- res:
		case <-l.ctx.Done():
			l.out = l.out[:0]
			return false
		}
		l.out[k] = Result{}
	}
	l.out = l.out[:0]
	return true
}

// The heap orders the pstates in flight or pausing by wake; hidx makes removal O(log n).

func (l *connLoop) hless(a, b int) bool {
	return l.ps[l.heap[a]].wake.Before(l.ps[l.heap[b]].wake)
}

func (l *connLoop) hswap(a, b int) {
	l.heap[a], l.heap[b] = l.heap[b], l.heap[a]
	l.ps[l.heap[a]].hidx = a
	l.ps[l.heap[b]].hidx = b
}

func (l *connLoop) hpush(i int) {
	l.ps[i].hidx = len(l.heap)
	l.heap = append(l.heap, i)
	l.hup(len(l.heap) - 1)
}

func (l *connLoop) hremove(i int) {
	k := l.ps[i].hidx
	last := len(l.heap) - 1
	if k != last {
		l.hswap(k, last)
	}
	l.heap = l.heap[:last]
	l.ps[i].hidx = -1
	if k != last {
		l.hdown(k)
		l.hup(k)
	}
}

func (l *connLoop) hup(k int) {
	for k > 0 {
		parent := (k - 1) / 2
		if !l.hless(k, parent) {
			return
		}
		l.hswap(k, parent)
		k = parent
	}
}

func (l *connLoop) hdown(k int) {
	n := len(l.heap)
	for {
		c := 2*k + 1
		if c >= n {
			return
		}
		if c+1 < n && l.hless(c+1, c) {
			c++
		}
		if !l.hless(c, k) {
			return
		}
		l.hswap(k, c)
		k = c
	}
}
