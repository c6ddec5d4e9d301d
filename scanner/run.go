package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// RunOptions says which checks a run evaluates, when, and with which parameters.
type RunOptions struct {
	// Now is the run's time, bound to CEL's `now`; the same facts and Now give the same
	// result byte for byte. Zero means time.Now().
	Now time.Time
	// Enabled maps check slugs to versions ("" = the newest released version); nil runs the
	// newest released version of every check in the catalog. An enabled version must be
	// schedulable (released, or deprecated before its sunset).
	Enabled map[string]string
	// Params holds each check's parameters by slug, validated against its schema; missing
	// parameters take the schema's defaults.
	Params map[string]json.RawMessage
	// EvalTimeout is the time budget of one CEL evaluation (default 50 ms).
	EvalTimeout time.Duration
	// Workers evaluates subjects in parallel (default GOMAXPROCS).
	Workers int
}

// DefaultEvalTimeout is RunOptions.EvalTimeout when unset.
const DefaultEvalTimeout = 50 * time.Millisecond

// maxErrorsPerCheck bounds the subjects listed per erroring check; CheckTally.Errors counts
// them all.
const maxErrorsPerCheck = 20

// Result is the output envelope of a run (ARCHITECTURE §6), plus the tallies Score needs to
// rescore it later (for example when waivers change) without evaluating again.
type Result struct {
	Now        time.Time    `json:"now"`
	Summary    Summary      `json:"summary"`
	Findings   []Finding    `json:"findings"`
	Benchmarks []Benchmark  `json:"benchmarks"`
	Artifacts  []Artifact   `json:"artifacts"`
	Errors     []CheckError `json:"errors"`
	// Checks tallies each check that ran, sorted by slug.
	Checks []CheckTally `json:"checks"`
	// Assets tallies the evaluations of each asset's subjects, sorted by asset id.
	Assets []AssetTally `json:"assets"`
}

// Summary counts applicable evaluations and gives the tenant's weighted score (ADR 0009);
// Score is nil when no evaluation carried weight.
type Summary struct {
	Passed int      `json:"passed"`
	Failed int      `json:"failed"`
	Waived int      `json:"waived"`
	Score  *float64 `json:"score"`
}

// Finding is one failed evaluation: a check that applied to a subject and did not pass.
type Finding struct {
	// ID is stable across runs and versions: a hash of the check slug and the subject key.
	ID       string   `json:"id"`
	Check    string   `json:"check"`
	Version  string   `json:"version"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Subject  Subject  `json:"subject"`
	// Key identifies the subject: the asset id, "<asset>/policy/<id>", "ad:<domain>/user/<sam>" …
	Key string `json:"key"`
	// Resource names the subject for people: the asset's name or address, the user's
	// sAMAccountName, the domain, "policy <id>", the admin or interface name.
	Resource    string              `json:"resource"`
	AssetID     string              `json:"asset_id,omitempty"`
	Evidence    string              `json:"evidence"`
	Remediation string              `json:"remediation"`
	Mappings    map[string][]string `json:"mappings"`
	Waived      bool                `json:"waived,omitempty"`
}

// Benchmark is a framework control's status in a run: pass, fail or not_applicable.
type Benchmark struct {
	Framework string `json:"framework"`
	Control   string `json:"control"`
	Status    string `json:"status"`
}

// Artifact is a file a run produced (none yet for checks; collectors add them).
type Artifact struct {
	Type   string `json:"type"`
	SHA256 string `json:"sha256"`
	Name   string `json:"name,omitempty"`
}

// CheckError is a check that could not be evaluated, for one subject or at all (Key "").
type CheckError struct {
	Check   string `json:"check"`
	Version string `json:"version,omitempty"`
	Key     string `json:"key,omitempty"`
	Error   string `json:"error"`
}

// CheckTally counts one check's evaluations in a run.
type CheckTally struct {
	Check         string              `json:"check"`
	Version       string              `json:"version"`
	Severity      Severity            `json:"severity"`
	Subject       Subject             `json:"subject"`
	Mappings      map[string][]string `json:"mappings"`
	Passed        int                 `json:"passed"`
	Failed        int                 `json:"failed"`
	NotApplicable int                 `json:"not_applicable"`
	Errors        int                 `json:"errors"`
}

// AssetTally counts the applicable evaluations of one asset's subjects (the asset itself and
// its firewall policies, admins and interfaces) with their severity weights.
type AssetTally struct {
	AssetID          string  `json:"asset_id"`
	Name             string  `json:"name"`
	Passed           int     `json:"passed"`
	Failed           int     `json:"failed"`
	PassedWeight     float64 `json:"passed_weight"`
	ApplicableWeight float64 `json:"applicable_weight"`
}

// errEvalBudget is the cause of an evaluation interrupted by its time budget.
var errEvalBudget = errors.New("evaluation exceeded its time budget")

// Run evaluates the enabled checks over every subject of their kind in facts. A check that
// cannot run (unknown version, bad parameters) or errors on a subject (cost or time budget,
// runtime error) is recorded in Result.Errors and the others go on; Run fails only when ctx
// ends.
func (c *Catalog) Run(ctx context.Context, facts Facts, opts RunOptions) (*Result, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Now = opts.Now.UTC()
	if opts.EvalTimeout <= 0 {
		opts.EvalTimeout = DefaultEvalTimeout
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	res := &Result{Now: opts.Now, Findings: []Finding{}, Artifacts: []Artifact{},
		Errors: []CheckError{}}
	checks := c.selectChecks(opts, res)
	bySubject := map[Subject][]*runCheck{}
	for _, rc := range checks {
		bySubject[rc.m.Check.Subject] = append(bySubject[rc.m.Check.Subject], rc)
	}
	subs := buildSubjects(facts, bySubject)
	fv := c.parser.envs.values
	now := types.Timestamp{Time: opts.Now}

	outs := make([]subjectOut, len(subs))
	tallies := make([][]CheckTally, opts.Workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		tallies[w] = make([]CheckTally, len(checks))
		wg.Add(1)
		go func(tally []CheckTally) {
			defer wg.Done()
			wd := newWatchdog(ctx, opts.EvalTimeout)
			defer wd.close()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(subs) {
					return
				}
				outs[i] = evalSubject(wd, &subs[i], bySubject[subs[i].kind], fv, now, tally)
				for _, b := range subs[i].vars {
					b.value.release()
				}
			}
		}(tallies[w])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run checks: %w", err)
	}
	c.assemble(res, checks, subs, outs, tallies)
	return res, nil
}

// runCheck is a check selected for a run with its parameters.
type runCheck struct {
	idx        int
	m          *Module
	params     ref.Val
	paramsSize []int32
}

// selectChecks resolves RunOptions.Enabled and Params, recording checks that cannot run.
func (c *Catalog) selectChecks(opts RunOptions, res *Result) []*runCheck {
	enabled := opts.Enabled
	if enabled == nil {
		enabled = map[string]string{}
		for _, m := range c.Modules {
			if m.Kind == KindCheck {
				enabled[m.Slug] = ""
			}
		}
	}
	slugs := make([]string, 0, len(enabled))
	for s := range enabled {
		slugs = append(slugs, s)
	}
	sort.Strings(slugs)
	fv := c.parser.envs.values
	var out []*runCheck
	for _, slug := range slugs {
		version := enabled[slug]
		m, err := c.resolve(slug, version, opts.Now)
		if err != nil {
			res.Errors = append(res.Errors, CheckError{Check: slug, Version: version,
				Error: err.Error()})
			continue
		}
		p, err := paramsValue(m, opts.Params[slug])
		if err != nil {
			res.Errors = append(res.Errors, CheckError{Check: slug, Version: m.Version,
				Error: err.Error()})
			continue
		}
		pv, size := fv.params(p)
		out = append(out, &runCheck{idx: len(out), m: m, params: pv, paramsSize: size})
	}
	return out
}

// resolve finds the version of a check a run uses.
func (c *Catalog) resolve(slug, version string, now time.Time) (*Module, error) {
	vs := c.Versions(slug)
	if len(vs) == 0 {
		return nil, fmt.Errorf("check %s is not in the catalog", slug)
	}
	if vs[0].Kind != KindCheck {
		return nil, fmt.Errorf("module %s is a %s, not a check", slug, vs[0].Kind)
	}
	states := make([]VersionState, len(vs))
	for i, m := range vs {
		states[i] = VersionState{Version: m.Version, State: m.State, Sunset: m.Sunset}
	}
	sched := Schedulable(states, len(vs), now)
	if version == "" {
		if len(sched) == 0 {
			return nil, fmt.Errorf("check %s has no released version", slug)
		}
		return c.Module(slug, sched[0]), nil
	}
	if m := c.Module(slug, version); m == nil {
		return nil, fmt.Errorf("check %s has no version %s", slug, version)
	}
	if !contains(sched, version) {
		return nil, fmt.Errorf("check %s@%s is not schedulable (only released versions, and "+
			"deprecated ones before their sunset, run)", slug, version)
	}
	return c.Module(slug, version), nil
}

// subject is one thing checks evaluate, with its CEL variables.
type subject struct {
	kind     Subject
	key      string
	resource string
	assetID  string
	asset    *Asset // the asset the subject belongs to, for tallies; nil for AD subjects
	vars     []subjectBinding
}

type subjectBinding struct {
	name  string
	value *factSrc
}

// factSrc is one Go fact value (an asset, a policy, the directory …) that subjects bind. It
// is converted to CEL once, by the first worker that needs it (an asset is bound by its own
// subject and by those of its firewall policies, admins and interfaces), and the converted
// tree is dropped when the last of those subjects is done so that a run does not hold the
// values of every asset at once.
type factSrc struct {
	src   any
	once  sync.Once
	val   ref.Val
	sizes []int32
	refs  atomic.Int32
}

func newFactSrc(v any) *factSrc { return &factSrc{src: v} }

// bind counts one more subject using the value.
func (f *factSrc) bind() *factSrc { f.refs.Add(1); return f }

func (f *factSrc) get(fv *factValues) (ref.Val, []int32) {
	f.once.Do(func() { f.val, f.sizes = fv.value(f.src) })
	return f.val, f.sizes
}

// release marks one subject using the value done.
func (f *factSrc) release() {
	if f.refs.Add(-1) == 0 {
		f.val, f.sizes = nil, nil
	}
}

// subjectOut is what evaluating one subject produced.
type subjectOut struct {
	findings []Finding
	errs     []CheckError
	passed   int
	failed   int
	passedW  float64
	applW    float64
}

// assetKey identifies an asset: its id, else its name, else its first address.
func assetKey(a *Asset) string {
	switch {
	case a.ID != "":
		return a.ID
	case a.Name != "":
		return "name:" + a.Name
	case len(a.Addresses) > 0:
		return "addr:" + a.Addresses[0]
	}
	return "asset:?"
}

func assetResource(a *Asset) string {
	switch {
	case a.Name != "":
		return a.Name
	case len(a.Addresses) > 0:
		return a.Addresses[0]
	}
	return a.ID
}

// buildSubjects lists the subjects of the kinds some check evaluates, sorted by kind and key
// so that the input's order never changes the result.
func buildSubjects(facts Facts, by map[Subject][]*runCheck) []subject {
	var subs []subject
	assets := make([]*Asset, len(facts.Assets))
	for i := range facts.Assets {
		assets[i] = &facts.Assets[i]
	}
	sortByKey(assets, assetKey)
	for _, a := range assets {
		key := assetKey(a)
		av := newFactSrc(a)
		if len(by[SubjectAsset]) > 0 {
			subs = append(subs, subject{kind: SubjectAsset, key: key, resource: assetResource(a),
				assetID: a.ID, asset: a, vars: []subjectBinding{{"asset", av.bind()}}})
		}
		fw := a.Firewall
		if fw == nil {
			continue
		}
		if len(by[SubjectFWPolicy]) > 0 {
			ps := ptrs(fw.Policies)
			sortByKey(ps, func(p *FWPolicy) string { return fmt.Sprintf("%012d", p.ID) })
			for _, p := range ps {
				subs = append(subs, subject{kind: SubjectFWPolicy,
					key:      key + "/policy/" + strconv.Itoa(p.ID),
					resource: "policy " + strconv.Itoa(p.ID), assetID: a.ID, asset: a,
					vars: []subjectBinding{{"policy", newFactSrc(p).bind()},
						{"asset", av.bind()}}})
			}
		}
		if len(by[SubjectFWAdmin]) > 0 {
			as := ptrs(fw.Admins)
			sortByKey(as, func(p *FWAdmin) string { return p.Name })
			for _, p := range as {
				subs = append(subs, subject{kind: SubjectFWAdmin, key: key + "/admin/" + p.Name,
					resource: p.Name, assetID: a.ID, asset: a,
					vars: []subjectBinding{{"admin", newFactSrc(p).bind()},
						{"asset", av.bind()}}})
			}
		}
		if len(by[SubjectFWInterface]) > 0 {
			is := ptrs(fw.Interfaces)
			sortByKey(is, func(p *FWInterface) string { return p.Name })
			for _, p := range is {
				subs = append(subs, subject{kind: SubjectFWInterface, key: key + "/iface/" + p.Name,
					resource: p.Name, assetID: a.ID, asset: a,
					vars: []subjectBinding{{"iface", newFactSrc(p).bind()},
						{"asset", av.bind()}}})
			}
		}
	}
	if d := facts.Directory; d != nil {
		dkey := "ad:" + d.Domain
		dv := newFactSrc(d)
		if len(by[SubjectADDomain]) > 0 {
			subs = append(subs, subject{kind: SubjectADDomain, key: dkey, resource: d.Domain,
				vars: []subjectBinding{{"domain", dv.bind()}}})
		}
		if len(by[SubjectADUser]) > 0 {
			us := ptrs(d.Users)
			sortByKey(us, func(u *ADUser) string { return u.SAMAccountName })
			for _, u := range us {
				subs = append(subs, subject{kind: SubjectADUser,
					key: dkey + "/user/" + u.SAMAccountName, resource: u.SAMAccountName,
					vars: []subjectBinding{{"user", newFactSrc(u).bind()},
						{"domain", dv.bind()}}})
			}
		}
	}
	return subs
}

func ptrs[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// sortByKey sorts by key, breaking ties between distinct values with the same key by their
// JSON, so that shuffled input sorts the same way.
func sortByKey[T any](s []*T, key func(*T) string) {
	keys := make(map[*T]string, len(s))
	for _, x := range s {
		keys[x] = key(x)
	}
	sort.SliceStable(s, func(i, j int) bool {
		ki, kj := keys[s[i]], keys[s[j]]
		if ki != kj {
			return ki < kj
		}
		bi, _ := json.Marshal(s[i])
		bj, _ := json.Marshal(s[j])
		return bytes.Compare(bi, bj) < 0
	})
}

// outcome of one check on one subject.
type outcome int

const (
	outNotApplicable outcome = iota
	outPassed
	outFailed
	outError
)

// evalSubject runs every check of the subject's kind on it.
func evalSubject(wd *watchdog, s *subject, checks []*runCheck, fv *factValues,
	now ref.Val, tally []CheckTally) subjectOut {
	var out subjectOut
	act := &activation{}
	for _, b := range s.vars {
		v, size := b.value.get(fv)
		act.setSized(b.name, v, size)
	}
	act.set("now", now)
	for _, rc := range checks {
		act.setSized("params", rc.params, rc.paramsSize)
		res, evidence, err := evalCheck(wd, rc.m, act, true)
		t := &tally[rc.idx]
		switch res {
		case outNotApplicable:
			t.NotApplicable++
			continue
		case outError:
			t.Errors++
			out.errs = append(out.errs, CheckError{Check: rc.m.Slug, Version: rc.m.Version,
				Key: s.key, Error: err.Error()})
			continue
		}
		w := rc.m.Check.Severity.Weight()
		out.applW += w
		if res == outPassed {
			t.Passed++
			out.passed++
			out.passedW += w
			continue
		}
		t.Failed++
		out.failed++
		if err != nil { // the finding stands; its evidence could not be computed
			out.errs = append(out.errs, CheckError{Check: rc.m.Slug, Version: rc.m.Version,
				Key: s.key, Error: err.Error()})
		}
		ch := rc.m.Check
		out.findings = append(out.findings, Finding{
			ID: findingID(rc.m.Slug, s.key), Check: rc.m.Slug, Version: rc.m.Version,
			Severity: ch.Severity, Title: ch.Title, Subject: s.kind, Key: s.key,
			Resource: s.resource, AssetID: s.assetID, Evidence: evidence,
			Remediation: ch.Remediation, Mappings: ch.Mappings,
		})
	}
	return out
}

// evalCheck evaluates one check on bound variables. With withEvidence, a failure also
// evaluates the evidence expression; an evidence error comes back with outFailed.
func evalCheck(wd *watchdog, m *Module, act *activation, withEvidence bool) (outcome, string,
	error) {
	p := m.prog
	if p.appliesTo != nil {
		ok, err := evalBool(wd, p.appliesTo, act)
		if err != nil {
			return outError, "", fmt.Errorf("applies_to: %w", err)
		}
		if !ok {
			return outNotApplicable, "", nil
		}
	}
	ok, err := evalBool(wd, p.pass, act)
	if err != nil {
		return outError, "", fmt.Errorf("pass: %w", err)
	}
	if ok {
		return outPassed, "", nil
	}
	if !withEvidence || p.evidence == nil {
		return outFailed, "", nil
	}
	v, err := evalVal(wd, p.evidence, act)
	if err != nil {
		return outFailed, "", fmt.Errorf("evidence: %w", err)
	}
	s, _ := v.(types.String)
	return outFailed, string(s), nil
}

func evalBool(wd *watchdog, prg *compiledExpr, act *activation) (bool, error) {
	v, err := evalVal(wd, prg, act)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("result is %s, not bool", v.Type())
	}
	return bool(b), nil
}

func evalVal(wd *watchdog, e *compiledExpr, act *activation) (ref.Val, error) {
	var v ref.Val
	var err error
	prg, bound, fast := e.program(act.maxSize(e.refs))
	if e.interruptible && !(fast && bound <= wd.quickCost) {
		ctx := wd.begin()
		v, _, err = prg.ContextEval(ctx, act)
		wd.end()
	} else {
		v, _, err = prg.Eval(act)
	}
	if err != nil {
		if errors.Is(err, errEvalBudget) {
			return nil, fmt.Errorf("%w (%v)", errEvalBudget, wd.budget)
		}
		return nil, err
	}
	return v, nil
}

// findingID is the stable id of a check's finding on a subject.
func findingID(slug, key string) string {
	h := sha256.Sum256([]byte(slug + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// assemble merges the per-subject outputs in subject order and fills the envelope.
func (c *Catalog) assemble(res *Result, checks []*runCheck, subs []subject, outs []subjectOut,
	tallies [][]CheckTally) {
	for _, rc := range checks {
		t := CheckTally{Check: rc.m.Slug, Version: rc.m.Version, Severity: rc.m.Check.Severity,
			Subject: rc.m.Check.Subject, Mappings: rc.m.Check.Mappings}
		for _, w := range tallies {
			x := w[rc.idx]
			t.Passed += x.Passed
			t.Failed += x.Failed
			t.NotApplicable += x.NotApplicable
			t.Errors += x.Errors
		}
		res.Checks = append(res.Checks, t)
	}
	res.Findings = sortedFindings(res.Checks, outs)
	listed := map[string]int{}
	assets := map[string]*AssetTally{}
	for i := range outs {
		o := &outs[i]
		for _, e := range o.errs {
			if listed[e.Check] < maxErrorsPerCheck {
				res.Errors = append(res.Errors, e)
			}
			listed[e.Check]++
		}
		res.Summary.Passed += o.passed
		res.Summary.Failed += o.failed
		if a := subs[i].asset; a != nil && o.applW+float64(o.passed+o.failed) > 0 {
			key := assetKey(a)
			t := assets[key]
			if t == nil {
				t = &AssetTally{AssetID: a.ID, Name: assetResource(a)}
				if t.AssetID == "" {
					t.AssetID = key
				}
				assets[key] = t
			}
			t.Passed += o.passed
			t.Failed += o.failed
			t.PassedWeight += o.passedW
			t.ApplicableWeight += o.applW
		}
	}
	for _, t := range assets {
		res.Assets = append(res.Assets, *t)
	}
	sort.Slice(res.Assets, func(i, j int) bool {
		return res.Assets[i].AssetID < res.Assets[j].AssetID
	})
	sort.SliceStable(res.Errors, func(i, j int) bool {
		a, b := &res.Errors[i], &res.Errors[j]
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		return a.Key < b.Key
	})
	sc := Score(res, c.Frameworks, nil)
	res.Summary.Score = sc.Tenant.Score
	res.Benchmarks = []Benchmark{}
	for _, f := range sc.Frameworks {
		for _, ctl := range f.Controls {
			if ctl.Status == StatusNotApplicable {
				continue
			}
			res.Benchmarks = append(res.Benchmarks, Benchmark{Framework: f.Framework,
				Control: ctl.Control, Status: ctl.Status})
		}
	}
	if res.Checks == nil {
		res.Checks = []CheckTally{}
	}
	if res.Assets == nil {
		res.Assets = []AssetTally{}
	}
}

// sortedFindings merges the subjects' findings in (check, key) order, as a stable sort of
// them in subject order would. checks is in slug order, so each check's findings are
// placed in their own range, in subject order, and each range is then sorted by key (it
// usually already is): a run has about a hundred thousand findings, and sorting them whole
// moved large structs around for several percent of a run.
func sortedFindings(checks []CheckTally, outs []subjectOut) []Finding {
	count := make(map[string]int, len(checks))
	n := 0
	for i := range outs {
		for j := range outs[i].findings {
			count[outs[i].findings[j].Check]++
			n++
		}
	}
	next := make(map[string]int, len(count))
	type span struct{ from, to int }
	var spans []span
	at := 0
	for _, t := range checks {
		if c := count[t.Check]; c > 0 {
			next[t.Check] = at
			spans = append(spans, span{at, at + c})
			at += c
			delete(count, t.Check)
		}
	}
	if len(count) > 0 { // a finding of a check not in checks: cannot happen; sort it all
		var all []Finding
		for i := range outs {
			all = append(all, outs[i].findings...)
		}
		sort.SliceStable(all, func(i, j int) bool {
			a, b := &all[i], &all[j]
			return a.Check < b.Check || a.Check == b.Check && a.Key < b.Key
		})
		return all
	}
	out := make([]Finding, n)
	for i := range outs {
		for j := range outs[i].findings {
			f := &outs[i].findings[j]
			out[next[f.Check]] = *f
			next[f.Check]++
		}
	}
	for _, sp := range spans {
		r := out[sp.from:sp.to]
		less := func(i, j int) bool { return r[i].Key < r[j].Key }
		if !sort.SliceIsSorted(r, less) {
			sort.SliceStable(r, less)
		}
	}
	return out
}

// watchdog enforces the time budget of one worker's evaluations: a ticker cancels the
// worker's context when the current evaluation has run longer than the budget. One
// long-lived context per worker avoids a timer per evaluation (millions per run).
type watchdog struct {
	parent context.Context
	budget time.Duration
	// quickCost is the largest worst-case cost (compiledExpr) evaluated without a context:
	// at costPerUnitBound per unit it takes less than half the budget.
	quickCost uint64
	mu        sync.Mutex
	ctx       context.Context
	cancel    context.CancelCauseFunc
	started   time.Time
	busy      bool
	stop      chan struct{}
	done      chan struct{}
}

// costPerUnitBound bounds the time of one CEL cost unit in these checks (a field read, a
// comparison, ten characters of a string scan, a call of version_lt, os_eol or
// cidr_contains); they take tens to hundreds of nanoseconds.
const costPerUnitBound = time.Microsecond

func newWatchdog(parent context.Context, budget time.Duration) *watchdog {
	w := &watchdog{parent: parent, budget: budget, stop: make(chan struct{}),
		done: make(chan struct{}), quickCost: uint64(budget / 2 / costPerUnitBound)}
	w.ctx, w.cancel = context.WithCancelCause(parent)
	tick := budget / 5
	if tick < time.Millisecond {
		tick = time.Millisecond
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.mu.Lock()
				if w.busy && time.Since(w.started) > w.budget {
					w.cancel(errEvalBudget)
				}
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// begin marks an evaluation's start and returns the context it runs under.
func (w *watchdog) begin() context.Context {
	w.mu.Lock()
	if w.ctx.Err() != nil && w.parent.Err() == nil { // the last evaluation was interrupted
		w.cancel(nil)
		w.ctx, w.cancel = context.WithCancelCause(w.parent)
	}
	w.started, w.busy = time.Now(), true
	ctx := w.ctx
	w.mu.Unlock()
	return ctx
}

func (w *watchdog) end() {
	w.mu.Lock()
	w.busy = false
	w.mu.Unlock()
}

func (w *watchdog) close() {
	close(w.stop)
	<-w.done
	w.cancel(nil)
}
