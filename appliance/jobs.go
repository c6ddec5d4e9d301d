package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/sqlite"
)

// Timings of the job runner: how often schedules are checked, how often a running job's
// progress is written and announced, and how long watchers wait before re-reading a job
// that changed without telling (a job finished by another runner, or a lost signal).
const (
	scheduleTick  = 20 * time.Second
	progressEvery = 500 * time.Millisecond
	watchPoll     = 2 * time.Second
	stopWait      = 10 * time.Second
)

// Causes of a running job's cancellation.
var (
	errJobCancelled = errors.New("cancelled by request")
	errJobShutdown  = errors.New("the appliance is shutting down")
)

// jobRunner works off the tenants' scan queues: at most limit jobs at once, taking turns
// between tenants that have waiting jobs (round robin), so that one tenant's long queue
// cannot starve another's. The queue itself lives in each tenant's database; the runner
// keeps only which tenants have waiting jobs, the running jobs' cancel functions, the
// ad-hoc SNMP communities of the jobs this process accepted, and the watchers to wake.
type jobRunner struct {
	a     *Appliance
	limit int
	now   func() time.Time
	// run executes one scan; tests replace it.
	run func(ctx context.Context, tenantID string, req web.ScanRequest,
		progress func(web.ScanProgress)) (web.ScanReport, error)

	mu       sync.Mutex
	started  bool
	cancel   context.CancelFunc
	stopped  chan struct{} // closed when the runner stops; watchers end with it
	pending  []string      // tenant ids with waiting jobs, in turn order
	running  map[string]*activeJob
	secrets  map[string][]string // job id → SNMP communities, never stored
	watchers map[string]map[chan struct{}]struct{}
	wake     chan struct{}
	wg       sync.WaitGroup
}

type activeJob struct {
	tenantID string
	cancel   context.CancelCauseFunc
	done     chan struct{}
}

func newJobRunner(a *Appliance) *jobRunner {
	return &jobRunner{a: a, limit: max(a.cfg.ScanWorkers, 1), now: time.Now, run: a.Scan,
		running: map[string]*activeJob{}, secrets: map[string][]string{},
		watchers: map[string]map[chan struct{}]struct{}{}, wake: make(chan struct{}, 1)}
}

// StartJobs recovers the scan jobs a crash interrupted, then runs queued jobs and fires
// schedules until ctx ends or the returned stop function is called. Stop cancels running
// jobs and puts them back in the queue (a clean stop is not an interruption).
func (a *Appliance) StartJobs(ctx context.Context) (stop func()) {
	r := a.jobs
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return func() {}
	}
	r.started = true
	parent := ctx
	// The runner's own context outlives parent's cancellation just long enough for stop to
	// tell running jobs why they end (a shutdown, which re-queues them).
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	r.cancel = cancel
	r.stopped = make(chan struct{})
	r.mu.Unlock()
	r.recover(ctx)
	r.wg.Add(1)
	go r.loop(ctx)
	var once sync.Once
	stopFn := func() { once.Do(r.stop) }
	go func() {
		select {
		case <-parent.Done():
			stopFn()
		case <-ctx.Done():
		}
	}()
	return stopFn
}

func (r *jobRunner) stop() {
	r.mu.Lock()
	for _, j := range r.running {
		j.cancel(errJobShutdown)
	}
	cancel := r.cancel
	r.mu.Unlock()
	cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopWait):
		// A job still running is marked running in its database; the next start
		// recovers it as interrupted, so nothing is lost.
		r.a.log.Warn("scan jobs did not stop in time")
	}
	r.mu.Lock()
	r.started = false
	close(r.stopped)
	r.mu.Unlock()
}

// stopping returns a channel closed when the running runner stops, or nil (never ready)
// when no runner runs in this process.
func (r *jobRunner) stopping() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil
	}
	return r.stopped
}

// eachTenant calls fn for every active tenant with its database.
func (r *jobRunner) eachTenant(ctx context.Context, fn func(t store.Tenant,
	tdb *sqlite.TenantDB) error) {
	for page := 1; ; page++ {
		ts, total, err := r.a.store.ListTenants(ctx, store.Page{Page: page, Size: 100})
		if err != nil {
			r.a.log.Warn("scan jobs: list tenants", "error", err)
			return
		}
		for _, t := range ts {
			if err := r.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
				return fn(t, tdb)
			}); err != nil && ctx.Err() == nil {
				r.a.log.Warn("scan jobs", "tenant_id", t.ID, "error", err)
			}
		}
		if page*100 >= total || len(ts) == 0 {
			return
		}
	}
}

func (r *jobRunner) withTenant(ctx context.Context, tenantID string,
	fn func(*sqlite.TenantDB) error) error {
	tdb, release, err := r.a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return err
	}
	defer release()
	return fn(tdb)
}

// recover turns jobs left running by a crash into interrupted ones (or failed ones, after a
// second interruption) and notes which tenants have waiting jobs.
func (r *jobRunner) recover(ctx context.Context) {
	r.eachTenant(ctx, func(t store.Tenant, tdb *sqlite.TenantDB) error {
		rq, failed, err := tdb.RecoverScanJobs(ctx, r.now())
		if err != nil {
			return err
		}
		if rq+failed > 0 {
			r.a.log.Warn("scan jobs interrupted by a crash", "tenant_id", t.ID,
				"requeued", rq, "failed", failed)
		}
		n, err := tdb.CountWaitingScanJobs(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			r.addPending(t.ID)
		}
		return nil
	})
}

func (r *jobRunner) addPending(tenantID string) {
	r.mu.Lock()
	if !slices.Contains(r.pending, tenantID) {
		r.pending = append(r.pending, tenantID)
	}
	r.mu.Unlock()
	r.poke()
}

func (r *jobRunner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *jobRunner) loop(ctx context.Context) {
	defer r.wg.Done()
	tick := time.NewTicker(scheduleTick)
	defer tick.Stop()
	for {
		r.dispatch(ctx)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
			r.fireSchedules(ctx, r.now())
		}
	}
}

// dispatch starts waiting jobs while there is room, one per tenant in turn.
func (r *jobRunner) dispatch(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.running) < r.limit && len(r.pending) > 0 && ctx.Err() == nil {
		tid := r.pending[0]
		r.pending = r.pending[1:]
		var j store.ScanJob
		var ok bool
		err := r.withTenant(ctx, tid, func(tdb *sqlite.TenantDB) error {
			var err error
			j, ok, err = tdb.ClaimScanJob(ctx, r.now())
			return err
		})
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				r.a.log.Warn("scan jobs: claim", "tenant_id", tid, "error", err)
			}
			continue // the tenant drops out of the turn until it queues again
		}
		r.pending = append(r.pending, tid) // it may have more; its next turn tells
		jctx, cancel := context.WithCancelCause(ctx)
		aj := &activeJob{tenantID: tid, cancel: cancel, done: make(chan struct{})}
		r.running[j.ID] = aj
		r.wg.Add(1)
		go r.execute(jctx, j, aj)
	}
}

// execute runs one claimed job and records how it ended.
func (r *jobRunner) execute(ctx context.Context, j store.ScanJob, aj *activeJob) {
	defer r.wg.Done()
	defer close(aj.done)
	r.notify(j.ID)
	var req web.ScanRequest
	if err := json.Unmarshal(j.Request, &req); err != nil {
		r.finish(ctx, aj.tenantID, j.ID, store.JobFailed, nil, "unreadable request: "+
			errorText(err))
		return
	}
	r.mu.Lock()
	req.SNMPCommunities = r.secrets[j.ID]
	r.mu.Unlock()
	// The partial summary: the pipeline reports the port stage's total as live hosts ×
	// ports, so the number of live hosts is known once discovery is over.
	ports, _ := scanPorts(req.Ports)
	partial := web.ScanReport{Started: r.now().UTC()}
	var last time.Time
	var lastStage string
	progress := func(p web.ScanProgress) {
		stageChanged := p.Stage != lastStage
		if !stageChanged && time.Since(last) < progressEvery {
			return
		}
		last, lastStage = time.Now(), p.Stage
		var summary []byte
		if stageChanged {
			if p.Stage == "ports" && len(ports) > 0 {
				partial.Hosts = p.Total / len(ports)
			}
			summary, _ = json.Marshal(partial)
		}
		err := r.withTenant(ctx, aj.tenantID, func(tdb *sqlite.TenantDB) error {
			return tdb.UpdateScanProgress(ctx, j.ID, p.Stage, p.Done, p.Total, summary)
		})
		if err != nil && ctx.Err() == nil {
			r.a.log.Warn("scan job progress", "job_id", j.ID, "error", err)
		}
		r.notify(j.ID)
	}
	rep, err := r.run(ctx, aj.tenantID, req, progress)
	summary, _ := json.Marshal(rep)
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errJobShutdown):
		// Back into the queue, with what it found so far; the next start runs it again.
		r.finish(ctx, aj.tenantID, j.ID, store.JobQueued, summary, "")
	case errors.Is(cause, errJobCancelled):
		r.finish(ctx, aj.tenantID, j.ID, store.JobCancelled, summary, "")
	case err != nil:
		r.finish(ctx, aj.tenantID, j.ID, store.JobFailed, summary, errorText(err))
	default:
		r.finish(ctx, aj.tenantID, j.ID, store.JobSucceeded, summary, "")
	}
}

func (r *jobRunner) finish(ctx context.Context, tenantID, id string, state store.JobState,
	summary []byte, errText string) {
	ctx = context.WithoutCancel(ctx)
	err := r.withTenant(ctx, tenantID, func(tdb *sqlite.TenantDB) error {
		_, err := tdb.FinishScanJob(ctx, id, state, summary, errText, r.now())
		return err
	})
	if err != nil {
		r.a.log.Error("scan job: record its end", "job_id", id, "state", state, "error", err)
	}
	r.mu.Lock()
	delete(r.running, id)
	if state.Final() {
		delete(r.secrets, id)
	}
	r.mu.Unlock()
	r.notify(id)
	r.poke()
}

// notify wakes the watchers of a job; a watcher that is busy keeps its pending signal.
func (r *jobRunner) notify(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.watchers[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *jobRunner) subscribe(id string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	if r.watchers[id] == nil {
		r.watchers[id] = map[chan struct{}]struct{}{}
	}
	r.watchers[id][ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.watchers[id], ch)
		if len(r.watchers[id]) == 0 {
			delete(r.watchers, id)
		}
		r.mu.Unlock()
	}
}

// fireSchedules queues a job for every schedule whose next time (after it last fired, or
// after it was made) has come. A schedule missed while the appliance was down fires once.
func (r *jobRunner) fireSchedules(ctx context.Context, now time.Time) {
	r.eachTenant(ctx, func(t store.Tenant, tdb *sqlite.TenantDB) error {
		if t.Status == store.TenantSuspended {
			return nil
		}
		scheds, err := tdb.ScanSchedules(ctx)
		if err != nil {
			return err
		}
		for _, s := range scheds {
			sched, err := cron.ParseStandard(s.Cron)
			if err != nil {
				continue // validated on create; a bad row must not stop the others
			}
			from := s.LastFired
			if from.IsZero() {
				from = s.Created
			}
			if sched.Next(from).After(now) {
				continue
			}
			if _, err := tdb.FireScanSchedule(ctx, s, now); err != nil {
				if !errors.Is(err, store.ErrConflict) {
					return err
				}
				continue
			}
			r.addPending(t.ID)
		}
		return nil
	})
}

// SubmitScan validates a scan request and queues it as a job of the tenant. SNMP
// communities stay in this process's memory, never in the database.
func (a *Appliance) SubmitScan(ctx context.Context, tenantRef string, req web.ScanRequest) (
	store.ScanJob, error) {
	t, err := a.scanTenant(ctx, tenantRef, true)
	if err != nil {
		return store.ScanJob{}, err
	}
	if err := validateScan(req); err != nil {
		return store.ScanJob{}, err
	}
	// Sources and vault names are checked now, so a typo is an answer, not a failed job.
	srcs, err := a.scanSources(ctx, t.ID, req.Sources)
	if err != nil {
		return store.ScanJob{}, err
	}
	for _, s := range srcs {
		s.close()
	}
	if _, err := a.vaultSNMP(ctx, t.ID, req.Credentials); err != nil {
		return store.ScanJob{}, err
	}
	secrets := req.SNMPCommunities
	req.SNMPCommunities = nil
	body, _ := json.Marshal(req)
	var j store.ScanJob
	err = a.jobs.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		j, err = tdb.CreateScanJob(ctx, store.ScanJob{Request: body,
			RequestedBy: authz.FromContext(ctx).Name()})
		return err
	})
	if err != nil {
		return j, err
	}
	if len(secrets) > 0 {
		a.jobs.mu.Lock()
		a.jobs.secrets[j.ID] = secrets
		a.jobs.mu.Unlock()
	}
	a.audit(ctx, t.ID, "scan.submit", j.ID, "success", map[string]any{
		"targets": strings.Join(req.Targets, ","), "ports": req.Ports,
		"sources": strings.Join(req.Sources, ",")})
	a.jobs.addPending(t.ID)
	return j, nil
}

func validateScan(req web.ScanRequest) error {
	if len(req.Targets) == 0 && len(req.Sources) == 0 {
		return store.Errorf(store.ErrInvalid, "targets are required: CIDRs, ranges "+
			"(10.0.0.5-20) or host names; or name sources such as ldap:corp")
	}
	if req.Rate < 0 {
		return store.Errorf(store.ErrInvalid, "rate must be 0 or more")
	}
	_, err := scanPorts(req.Ports)
	return err
}

// scanTenant resolves a tenant; with active set, a suspended tenant is a conflict.
func (a *Appliance) scanTenant(ctx context.Context, ref string, active bool) (store.Tenant,
	error) {
	t, err := a.store.GetTenant(ctx, ref)
	if err != nil {
		return t, err
	}
	if active && t.Status == store.TenantSuspended {
		return t, store.Errorf(store.ErrConflict, "tenant %s is suspended; resume it "+
			"before scanning", t.Slug)
	}
	return t, nil
}

// ListScans returns a page of the tenant's scan jobs, newest first.
func (a *Appliance) ListScans(ctx context.Context, tenantRef string, p store.Page) (
	[]store.ScanJob, int, error) {
	t, err := a.scanTenant(ctx, tenantRef, false)
	if err != nil {
		return nil, 0, err
	}
	var items []store.ScanJob
	var total int
	err = a.jobs.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		items, total, err = tdb.ListScanJobs(ctx, p)
		return err
	})
	return items, total, err
}

// GetScan returns one scan job of the tenant.
func (a *Appliance) GetScan(ctx context.Context, tenantRef, id string) (store.ScanJob,
	error) {
	t, err := a.scanTenant(ctx, tenantRef, false)
	if err != nil {
		return store.ScanJob{}, err
	}
	var j store.ScanJob
	err = a.jobs.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		j, err = tdb.ScanJob(ctx, id)
		return err
	})
	return j, err
}

// CancelScan cancels a waiting job at once; a running one is cancelled through its context
// and answered once it has stopped (or after a few seconds, still running).
func (a *Appliance) CancelScan(ctx context.Context, tenantRef, id string) (store.ScanJob,
	error) {
	t, err := a.scanTenant(ctx, tenantRef, false)
	if err != nil {
		return store.ScanJob{}, err
	}
	r := a.jobs
	var j store.ScanJob
	err = r.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		j, err = tdb.CancelScanJob(ctx, id, r.now())
		return err
	})
	if err != nil {
		return j, err
	}
	a.audit(ctx, t.ID, "scan.cancel", id, "success", nil)
	if j.State != store.JobRunning {
		r.mu.Lock()
		delete(r.secrets, id)
		r.mu.Unlock()
		r.notify(id)
		return j, nil
	}
	r.mu.Lock()
	aj := r.running[id]
	r.mu.Unlock()
	if aj == nil {
		// Running in the database but not here: a job a crash left behind, which no runner
		// owns; it ends now.
		err = r.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
			j, err = tdb.FinishScanJob(ctx, id, store.JobCancelled, nil, "", r.now())
			return err
		})
		r.notify(id)
		return j, err
	}
	aj.cancel(errJobCancelled)
	select {
	case <-aj.done:
	case <-time.After(stopWait):
	case <-ctx.Done():
	}
	return a.GetScan(ctx, t.ID, id)
}

// WatchScan sends the job now and whenever it changes, and closes the channel after its
// final state, when ctx ends, or when the job runner stops (so that event streams do not
// hold up a graceful shutdown).
func (a *Appliance) WatchScan(ctx context.Context, tenantRef, id string) (
	<-chan store.ScanJob, error) {
	sig, unsubscribe := a.jobs.subscribe(id)
	j, err := a.GetScan(ctx, tenantRef, id)
	if err != nil {
		unsubscribe()
		return nil, err
	}
	out := make(chan store.ScanJob)
	stopping := a.jobs.stopping()
	go func() {
		defer close(out)
		defer unsubscribe()
		poll := time.NewTicker(watchPoll)
		defer poll.Stop()
		var sent store.ScanJob
		for {
			if j.State != sent.State || j.Stage != sent.Stage || j.Done != sent.Done ||
				j.Total != sent.Total || sent.ID == "" {
				select {
				case out <- j:
					sent = j
				case <-ctx.Done():
					return
				}
			}
			if j.State.Final() {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-stopping:
				return
			case <-sig:
			case <-poll.C:
			}
			next, err := a.GetScan(ctx, tenantRef, id)
			if err != nil {
				return
			}
			j = next
		}
	}()
	return out, nil
}

// CreateScanSchedule stores a cron schedule that queues the given scan.
func (a *Appliance) CreateScanSchedule(ctx context.Context, tenantRef string,
	req web.ScanScheduleRequest) (store.ScanSchedule, error) {
	t, err := a.scanTenant(ctx, tenantRef, false)
	if err != nil {
		return store.ScanSchedule{}, err
	}
	spec := strings.TrimSpace(req.Cron)
	if _, err := cron.ParseStandard(spec); err != nil || spec == "" {
		return store.ScanSchedule{}, store.Errorf(store.ErrInvalid, "cron %q is not a "+
			"schedule: use five fields (minute hour day month weekday, UTC) such as "+
			"\"0 2 * * *\", or @hourly, @daily, @every 6h", store.Truncate(spec, 60))
	}
	scan := req.Scan()
	if err := validateScan(scan); err != nil {
		return store.ScanSchedule{}, err
	}
	body, _ := json.Marshal(scan)
	var s store.ScanSchedule
	err = a.jobs.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		s, err = tdb.CreateScanSchedule(ctx, store.ScanSchedule{Cron: spec, Request: body,
			CreatedBy: authz.FromContext(ctx).Name()})
		return err
	})
	if err != nil {
		return s, err
	}
	a.audit(ctx, t.ID, "scan.schedule.create", s.ID, "success", map[string]any{
		"cron": spec, "targets": strings.Join(scan.Targets, ",")})
	return s, nil
}

// ListScanSchedules returns the tenant's schedules.
func (a *Appliance) ListScanSchedules(ctx context.Context, tenantRef string) (
	[]store.ScanSchedule, error) {
	t, err := a.scanTenant(ctx, tenantRef, false)
	if err != nil {
		return nil, err
	}
	var out []store.ScanSchedule
	err = a.jobs.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		out, err = tdb.ScanSchedules(ctx)
		return err
	})
	return out, err
}

// DeleteScanSchedule removes a schedule; the jobs it queued stay.
func (a *Appliance) DeleteScanSchedule(ctx context.Context, tenantRef, id string) error {
	t, err := a.scanTenant(ctx, tenantRef, false)
	if err != nil {
		return err
	}
	err = a.jobs.withTenant(ctx, t.ID, func(tdb *sqlite.TenantDB) error {
		return tdb.DeleteScanSchedule(ctx, id)
	})
	if err == nil {
		a.audit(ctx, t.ID, "scan.schedule.delete", id, "success", nil)
	}
	return err
}

var _ web.ScanJobs = (*Appliance)(nil)

// errorText is a job error as stored; kept short.
func errorText(err error) string { return store.Truncate(fmt.Sprint(err), 500) }
