// Package probe owns port probing and unprivileged host discovery: TCP connect probes and
// UDP protocol probes run by a bounded worker pool under a global and a per-job rate limit,
// with per-probe timeouts that adapt to the measured round-trip time, retries, and
// back-pressure handling, streaming one Result per probed port. On Linux, TCP connect jobs
// run instead on an epoll engine (epoll_linux.go): a few loops each driving hundreds of
// non-blocking connects, as nmap does, at a third to a half of the CPU per probe of a
// goroutine and net.Dialer each; the verdicts and limits are the same.
//
// Verdicts. TCP: a completed handshake is open, a refusal (RST) is closed, silence until the
// timeout (after retries) is filtered, and an ICMP host/network unreachable is unreachable.
// UDP: a reply is open, an ICMP port unreachable (ECONNREFUSED on a connected socket) is
// closed, and silence is open|filtered, because UDP services ignore requests they dislike.
//
// Back-pressure. Running out of descriptors (EMFILE, ENFILE), buffers (ENOBUFS) or ephemeral
// ports (EADDRNOTAVAIL) says nothing about the target: such a probe is paused and retried and
// never recorded as closed; if the condition outlasts Timing.BackPressureLimit the probe is
// reported as StateError. The Scanner sizes its concurrency from the descriptor limit so
// that this stays the exception.
//
// Host discovery. TCPPing implements Discoverer without privileges, connecting to a few
// common ports (a refusal proves a host as well as an accept). ICMP echo and ARP sweeps,
// which need CAP_NET_RAW, are meant to be further Discoverer implementations.
//
// Ports. ParsePorts reads lists and ranges ("22,80,8000-8100"); named profiles ("top100",
// "top1000", "udp") come from fixtures.Ports.
//
// A Scanner is shared by every job of the process: its slots and global rate limit bound the
// whole appliance, while each Request carries its own rate and concurrency.
package probe

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Proto is a transport protocol.
type Proto uint8

// Transport protocols.
const (
	TCP Proto = iota
	UDP
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	if p == UDP {
		return "udp"
	}
	return "tcp"
}

// State is the verdict for one port.
type State uint8

// Port states.
const (
	// StateError means no verdict: back-pressure outlasted its limit, or an unexpected error.
	StateError State = iota
	StateOpen
	StateClosed
	StateFiltered
	// StateOpenFiltered is UDP silence: open with a service that ignored us, or filtered.
	StateOpenFiltered
	// StateUnreachable means an ICMP host or network unreachable: the host is not there.
	StateUnreachable
)

// String returns the state as nmap spells it.
func (s State) String() string {
	switch s {
	case StateError:
		return "error"
	case StateOpen:
		return "open"
	case StateClosed:
		return "closed"
	case StateFiltered:
		return "filtered"
	case StateOpenFiltered:
		return "open|filtered"
	case StateUnreachable:
		return "unreachable"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Result is the verdict for one port of one address.
type Result struct {
	Addr     netip.AddrPort
	Proto    Proto
	State    State
	RTT      time.Duration // of the answering attempt; 0 when nothing answered
	Attempts int           // attempts that reached the network (back-pressure pauses excluded)
	Service  string        // UDP: the protocol recognised in the reply ("dns", "ntp", "snmp")
	Err      error         // set for StateError
}

// Dialer opens connections. *net.Dialer satisfies it; tests inject failures through it.
// Implementations must honour ctx (its deadline is the probe timeout) and be safe for
// concurrent use.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config configures a Scanner.
type Config struct {
	// Dialer defaults to a net.Dialer.
	Dialer Dialer
	// MaxConcurrency caps probes in flight across all jobs; 0 sizes it from the descriptor
	// limit (see DefaultConcurrency).
	MaxConcurrency int
	// Rate caps probe attempts per second across all jobs; 0 means unlimited.
	Rate rate.Limit
	// Burst is the global limiter's burst; 0 means max(1, Rate/10).
	Burst int

	// dialerOnly keeps TCP probes on the Dialer path even where a connect engine exists;
	// tests and benchmarks compare the two with it.
	dialerOnly bool
}

// connectEngine runs TCP connect jobs without a goroutine per probe (epoll on Linux, see
// epoll_linux.go). start takes over the job (it closes Results and ends the job) and reports
// true, or reports false when it cannot run it, and the Dialer path runs it instead.
type connectEngine interface {
	start(ctx context.Context, r *run, workers int) bool
}

// engineEnv set to "dialer" keeps TCP probes on the Dialer path: a way back should the
// connect engine misbehave on some kernel.
const engineEnv = "TENA_PROBE_ENGINE"

// descriptorReserve is kept back from the descriptor limit for everything else the
// appliance opens: databases, the web server, SNMP and LDAP sessions, log files.
const descriptorReserve = 512

// maxConcurrency bounds the default. Connect probes are bound by the kernel's connect path
// (70% of CPU time in syscalls on loopback); measured on 2 cores, 4,096 in flight starved the
// poller enough that answered connects hit 100 ms timeouts and needed retries, while 1,024
// kept every verdict first time. Waiting on silent hosts is what concurrency buys.
const maxConcurrency = 1024

// DefaultConcurrency returns the concurrency a Scanner uses when Config.MaxConcurrency is 0:
// three quarters of the descriptors left after a reserve, within [16, 1024].
func DefaultConcurrency() int {
	lim, ok := descriptorLimit()
	if !ok || lim <= descriptorReserve+16 {
		return 16
	}
	n := (lim - descriptorReserve) * 3 / 4
	return int(min(max(n, 16), maxConcurrency))
}

// Scanner runs probe jobs. It is safe for concurrent use; create one per process.
type Scanner struct {
	dialer Dialer
	engine connectEngine // nil: TCP probes go through dialer
	slots  chan struct{} // one token per probe in flight, across jobs
	global *rate.Limiter // nil when unlimited
}

// NewScanner returns a Scanner configured by cfg.
func NewScanner(cfg Config) (*Scanner, error) {
	if cfg.MaxConcurrency < 0 || cfg.Rate < 0 || cfg.Burst < 0 {
		return nil, errors.New("probe: negative concurrency, rate or burst")
	}
	s := &Scanner{dialer: cfg.Dialer}
	if s.dialer == nil && !cfg.dialerOnly && os.Getenv(engineEnv) != "dialer" {
		s.engine = newConnectEngine()
	}
	if s.dialer == nil {
		// No keep-alive: a probe connection lives for microseconds, and enabling it costs
		// setsockopt calls on every open port.
		s.dialer = &net.Dialer{KeepAlive: -1}
	}
	n := cfg.MaxConcurrency
	if n == 0 {
		n = DefaultConcurrency()
	}
	s.slots = make(chan struct{}, n)
	s.global = newLimiter(cfg.Rate, cfg.Burst)
	return s, nil
}

// Concurrency returns the number of probes the Scanner runs at once across all jobs.
func (s *Scanner) Concurrency() int { return cap(s.slots) }

func newLimiter(r rate.Limit, burst int) *rate.Limiter {
	if r == 0 || r == rate.Inf {
		return nil
	}
	if burst == 0 {
		burst = max(1, int(r/10))
	}
	return rate.NewLimiter(r, burst)
}

// Timing tunes timeouts, retries and back-pressure; zero fields take the defaults.
type Timing struct {
	// Initial is the timeout before any probe has answered (default 1 s).
	Initial time.Duration
	// Min and Max clamp the adaptive timeout (defaults 100 ms and 3 s).
	Min, Max time.Duration
	// Multiplier: the timeout is the larger of Multiplier × smoothed RTT and smoothed RTT +
	// 4 × RTT variance, as TCP computes its retransmission timeout (default 8).
	Multiplier float64
	// Retries is the number of extra attempts for an unanswered probe (default 1; negative
	// means none). Each retry doubles the timeout, within Max.
	Retries int
	// BackPressurePause is the first pause after EMFILE and friends; it doubles up to 1 s
	// (default 10 ms).
	BackPressurePause time.Duration
	// BackPressureLimit bounds the total pause for one probe before it is reported as
	// StateError (default 30 s).
	BackPressureLimit time.Duration
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Initial, time.Second)
	def(&t.Min, 100*time.Millisecond)
	def(&t.Max, 3*time.Second)
	def(&t.BackPressurePause, 10*time.Millisecond)
	def(&t.BackPressureLimit, 30*time.Second)
	if t.Max < t.Min {
		t.Max = t.Min
	}
	if t.Multiplier <= 0 {
		t.Multiplier = 8
	}
	switch {
	case t.Retries == 0:
		t.Retries = 1
	case t.Retries < 0:
		t.Retries = 0
	}
	return t
}

// Request describes one probe job.
type Request struct {
	// Targets yields the addresses to probe (targets.Set.All fits). It is iterated once,
	// 256 addresses at a time, so a /16 is never held in memory.
	Targets iter.Seq[netip.Addr]
	// Total is the number of addresses Targets yields, for progress; 0 if unknown.
	Total uint64
	// Ports to probe on every address, in order.
	Ports []uint16
	// Proto selects TCP connect (default) or UDP probes.
	Proto Proto
	// Concurrency caps this job's probes in flight; 0 means the Scanner's concurrency.
	Concurrency int
	// Rate caps this job's attempts per second; 0 means unlimited (the global limit still
	// applies). Burst 0 means max(1, Rate/10).
	Rate  rate.Limit
	Burst int
	// Timing tunes timeouts and retries.
	Timing Timing
	// ResultBuffer is the capacity of the Results channel (default 1024).
	ResultBuffer int

	// skip, when set, drops a pending probe of an address (host discovery stops pinging a
	// host once it has answered).
	skip func(netip.Addr) bool
}

// Progress is a snapshot of a job's counters.
type Progress struct {
	Planned      uint64 // Total × len(Ports); 0 if Total is unknown
	Done         uint64 // probes with a verdict
	Open         uint64
	Closed       uint64
	Filtered     uint64 // filtered and open|filtered
	Unreachable  uint64
	Errors       uint64
	Skipped      uint64 // probes dropped by host discovery once the host answered
	Attempts     uint64 // attempts that reached the network, retries included
	Retries      uint64
	BackPressure uint64 // pauses after EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL
	Timeout      time.Duration
	// NeighWait is the time new on-link addresses waited for room in the kernel's
	// neighbour table (see neigh.go).
	NeighWait time.Duration
}

// counters are a job's live Progress.
type counters struct {
	done, open, closed, filtered, unreach, errs, skipped atomic.Uint64
	attempts, retries, backPressure                      atomic.Uint64
	neighWait                                            atomic.Int64 // nanoseconds
}

// Job is a running probe job. Its Results channel must be drained until it is closed (or
// the job's context cancelled); Err is meaningful after that.
type Job struct {
	results chan Result
	done    chan struct{}
	err     error
	planned uint64
	c       counters
	rtt     *rttEstimator
}

// Results returns the stream of verdicts, in completion order; it is closed when the job
// ends. Sort by address and port for a deterministic listing.
func (j *Job) Results() <-chan Result { return j.results }

// Err waits for the job to end and returns ctx.Err() if it was cancelled, else nil.
func (j *Job) Err() error {
	<-j.done
	return j.err
}

// Progress returns the job's counters; safe to call at any time, from any goroutine.
func (j *Job) Progress() Progress {
	return Progress{
		Planned: j.planned, Done: j.c.done.Load(), Open: j.c.open.Load(),
		Closed: j.c.closed.Load(), Filtered: j.c.filtered.Load(),
		Unreachable: j.c.unreach.Load(), Errors: j.c.errs.Load(),
		Skipped: j.c.skipped.Load(), Attempts: j.c.attempts.Load(),
		Retries: j.c.retries.Load(), BackPressure: j.c.backPressure.Load(),
		Timeout: j.rtt.timeout(), NeighWait: time.Duration(j.c.neighWait.Load()),
	}
}

// task is one port of one address.
type task struct {
	addr netip.Addr
	port uint16
}

// chunk is how many addresses are held at once. Probing port-major within a chunk spreads
// the load over hosts instead of hammering one host with all its ports at once.
const chunk = 256

// Start begins a job and returns at once. Cancelling ctx stops it: pending probes are
// dropped and Results is closed.
func (s *Scanner) Start(ctx context.Context, req Request) (*Job, error) {
	if req.Targets == nil || len(req.Ports) == 0 {
		return nil, errors.New("probe: request needs targets and ports")
	}
	for _, p := range req.Ports {
		if p == 0 {
			return nil, errors.New("probe: port 0 cannot be probed")
		}
	}
	if req.Concurrency < 0 || req.Rate < 0 || req.Burst < 0 || req.ResultBuffer < 0 {
		return nil, errors.New("probe: negative concurrency, rate, burst or buffer")
	}
	tm := req.Timing.withDefaults()
	workers := s.Concurrency()
	if req.Concurrency > 0 {
		workers = min(workers, req.Concurrency)
	}
	buf := req.ResultBuffer
	if buf == 0 {
		buf = 1024
	}
	j := &Job{
		results: make(chan Result, buf),
		done:    make(chan struct{}),
		planned: req.Total * uint64(len(req.Ports)),
		rtt:     newRTTEstimator(tm),
	}
	if link := onLinkPrefixes(); len(link) > 0 {
		g, id := sharedGate(), jobIDs.Add(1)
		req.Targets = gateOnLink(ctx, req.Targets, link, g, id, &j.c.neighWait)
		go func() {
			<-j.done
			g.release(id)
		}()
	}
	r := &run{s: s, job: j, req: req, tm: tm, limiter: newLimiter(req.Rate, req.Burst)}
	if req.Proto == TCP && s.engine != nil && s.engine.start(ctx, r, workers) {
		return j, nil
	}
	tasks := make(chan task, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				res, ok := r.probe(ctx, t)
				if !ok {
					continue // cancelled: no verdict to report
				}
				j.count(res)
				select {
				case j.results <- res:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		generate(ctx, req, tasks, &j.c.skipped)
		close(tasks)
		wg.Wait()
		j.err = ctx.Err()
		close(j.results)
		close(j.done)
	}()
	return j, nil
}

// Scan runs a job to its end, calling fn for each result from a single goroutine, and
// returns the final progress.
func (s *Scanner) Scan(ctx context.Context, req Request, fn func(Result)) (Progress, error) {
	j, err := s.Start(ctx, req)
	if err != nil {
		return Progress{}, err
	}
	for res := range j.Results() {
		fn(res)
	}
	err = j.Err()
	return j.Progress(), err
}

// generate feeds tasks chunk by chunk, port-major within a chunk.
func generate(ctx context.Context, req Request, tasks chan<- task, skipped *atomic.Uint64) {
	hosts := make([]netip.Addr, 0, chunk)
	flush := func() bool {
		for _, port := range req.Ports {
			for _, h := range hosts {
				if req.skip != nil && req.skip(h) {
					skipped.Add(1)
					continue
				}
				select {
				case tasks <- task{h, port}:
				case <-ctx.Done():
					return false
				}
			}
		}
		hosts = hosts[:0]
		return true
	}
	for a := range req.Targets {
		if !a.IsValid() { // probe the hosts held so far now (see gateOnLink)
			if !flush() {
				return
			}
			continue
		}
		hosts = append(hosts, a.Unmap())
		if len(hosts) == chunk && !flush() {
			return
		}
	}
	flush()
}

func (j *Job) count(res Result) {
	j.c.done.Add(1)
	switch res.State {
	case StateOpen:
		j.c.open.Add(1)
	case StateClosed:
		j.c.closed.Add(1)
	case StateFiltered, StateOpenFiltered:
		j.c.filtered.Add(1)
	case StateUnreachable:
		j.c.unreach.Add(1)
	default:
		j.c.errs.Add(1)
	}
}

// errClass sorts errors by what they say about the target.
type errClass uint8

const (
	errOther        errClass = iota
	errRefused               // closed port
	errBackPressure          // our resources, not the target: pause and retry
	errUnreachable           // ICMP unreachable: no host
	errTimeout               // no answer in time
)

// run is one job's execution state shared by its workers.
type run struct {
	s       *Scanner
	job     *Job
	req     Request
	tm      Timing
	limiter *rate.Limiter
}

// outcome is the result of one attempt.
type outcome struct {
	class   errClass
	open    bool
	rtt     time.Duration
	service string
	err     error
}

// probe decides one task, with retries and back-pressure pauses; ok is false when ctx was
// cancelled before a verdict.
func (r *run) probe(ctx context.Context, t task) (Result, bool) {
	res := Result{Addr: netip.AddrPortFrom(t.addr, t.port), Proto: r.req.Proto}
	pause := r.tm.BackPressurePause
	var paused time.Duration
	timeout := r.job.rtt.timeout()
	for {
		if err := r.wait(ctx); err != nil {
			return res, false
		}
		res.Attempts++
		r.job.c.attempts.Add(1)
		var o outcome
		if r.req.Proto == UDP {
			o = r.attemptUDP(ctx, res.Addr, timeout)
		} else {
			o = r.attemptTCP(ctx, res.Addr, timeout)
		}
		if ctx.Err() != nil {
			return res, false
		}
		switch {
		case o.open:
			r.job.rtt.observe(o.rtt)
			res.State, res.RTT, res.Service = StateOpen, o.rtt, o.service
			return res, true
		case o.class == errRefused:
			r.job.rtt.observe(o.rtt)
			res.State, res.RTT = StateClosed, o.rtt
			return res, true
		case o.class == errUnreachable:
			res.State, res.Err = StateUnreachable, o.err
			return res, true
		case o.class == errBackPressure:
			// Not an attempt at the target: undo the count, pause, go again.
			res.Attempts--
			r.job.c.attempts.Add(^uint64(0))
			r.job.c.backPressure.Add(1)
			if paused >= r.tm.BackPressureLimit {
				res.State = StateError
				res.Err = fmt.Errorf("local resources exhausted for %s: %w",
					r.tm.BackPressureLimit, o.err)
				return res, true
			}
			if !sleep(ctx, pause) {
				return res, false
			}
			paused += pause
			pause = min(2*pause, time.Second)
		case o.class == errTimeout:
			if res.Attempts > r.tm.Retries {
				res.State = StateFiltered
				if r.req.Proto == UDP {
					res.State = StateOpenFiltered
				}
				return res, true
			}
			r.job.c.retries.Add(1)
			// A retry waits at least the initial timeout: a timeout under a smoothed
			// RTT of microseconds is more often our own CPU starving the poller than
			// a dropped SYN, and a false "filtered" loses an open port.
			timeout = min(max(2*timeout, r.tm.Initial), r.tm.Max)
		default:
			res.State, res.Err = StateError, o.err
			return res, true
		}
	}
}

// wait takes the global and the per-job rate tokens. The concurrency slot is taken in the
// attempt itself, so it is held only while a socket is open.
func (r *run) wait(ctx context.Context) error {
	if r.s.global != nil {
		if err := r.s.global.Wait(ctx); err != nil {
			return err
		}
	}
	if r.limiter != nil {
		return r.limiter.Wait(ctx)
	}
	return nil
}

// acquire takes a global slot; release must follow.
func (r *run) acquire(ctx context.Context) bool {
	select {
	case r.s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *run) release() { <-r.s.slots }

func (r *run) attemptTCP(ctx context.Context, ap netip.AddrPort, timeout time.Duration) outcome {
	if !r.acquire(ctx) {
		return outcome{class: errOther, err: ctx.Err()}
	}
	defer r.release()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	conn, err := r.s.dialer.DialContext(actx, "tcp", ap.String())
	rtt := time.Since(start)
	if err == nil {
		// Close with RST rather than FIN: no TIME_WAIT is left holding an ephemeral port for
		// a minute, which a /16 with many open ports would otherwise exhaust.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		conn.Close()
		return outcome{open: true, rtt: rtt}
	}
	return outcome{class: classify(actx, err), rtt: rtt, err: err}
}

// classify turns a dial error into a class; a deadline of the attempt's own context is a
// timeout, whatever error value the dialer chose to report it with.
func classify(actx context.Context, err error) errClass {
	if c := classifyErrno(err); c != errOther {
		return c
	}
	var ne net.Error
	if actx.Err() != nil || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return errTimeout
	}
	// Some stacks report the refusal only in the text of the error.
	if strings.Contains(err.Error(), "connection refused") {
		return errRefused
	}
	return errOther
}

// sleep pauses for d unless ctx ends first; it reports whether the pause completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// rttEstimator keeps a job's smoothed RTT (RFC 6298) and derives the probe timeout.
type rttEstimator struct {
	mu           sync.Mutex
	tm           Timing
	srtt, rttvar time.Duration
	samples      uint64
}

func newRTTEstimator(tm Timing) *rttEstimator { return &rttEstimator{tm: tm} }

func (e *rttEstimator) observe(rtt time.Duration) {
	if rtt <= 0 {
		rtt = time.Microsecond
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.samples == 0 {
		e.srtt, e.rttvar = rtt, rtt/2
	} else {
		d := e.srtt - rtt
		if d < 0 {
			d = -d
		}
		e.rttvar = (3*e.rttvar + d) / 4
		e.srtt = (7*e.srtt + rtt) / 8
	}
	e.samples++
}

func (e *rttEstimator) timeout() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.samples == 0 {
		return min(max(e.tm.Initial, e.tm.Min), e.tm.Max)
	}
	t := max(time.Duration(e.tm.Multiplier*float64(e.srtt)), e.srtt+4*e.rttvar)
	return min(max(t, e.tm.Min), e.tm.Max)
}
