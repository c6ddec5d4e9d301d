package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/scanner"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/sqlite"
)

// keepPreviousVersions is how many released versions below the newest stay schedulable.
const keepPreviousVersions = 2

// profileLimits are the execution profiles' time limits (ARCHITECTURE §6).
var profileLimits = map[string]time.Duration{"baseline_fast": 30 * time.Second,
	"baseline_full": 5 * time.Minute, "deep_scan": 20 * time.Minute}

// checkEngine holds the compiled catalog. It is loaded from the embedded fixtures with the
// states control.db records applied, and replaced whole when a state changes, so runs read
// an immutable catalog.
type checkEngine struct {
	// load compiles the fixtures; nil means scanner.LoadEmbedded (tests swap the files).
	load func() (*scanner.Catalog, error)
	mu   sync.Mutex // serialises loads and state changes
	cat  atomic.Pointer[scanner.Catalog]
	runs sync.Map // tenant id → *sync.Mutex: one check run per tenant at a time
}

// catalog returns the compiled catalog, loading it on first use.
func (a *Appliance) catalog(ctx context.Context) (*scanner.Catalog, error) {
	if c := a.checks.cat.Load(); c != nil {
		return c, nil
	}
	a.checks.mu.Lock()
	defer a.checks.mu.Unlock()
	if c := a.checks.cat.Load(); c != nil {
		return c, nil
	}
	return a.reloadCatalog(ctx)
}

// reloadCatalog compiles the embedded catalog and applies control.db's states. Callers hold
// checks.mu. Bad module files are logged and left out; the rest load.
func (a *Appliance) reloadCatalog(ctx context.Context) (*scanner.Catalog, error) {
	c, err := a.loadFixtures()
	if c == nil {
		return nil, fmt.Errorf("module catalog: %w", err)
	}
	if err != nil {
		a.log.Warn("module catalog: some modules did not load", "error", err.Error())
	}
	return c, a.publishCatalog(ctx, c)
}

// publishCatalog applies control.db's states to a freshly compiled catalog, not yet seen by
// any run, and makes it the one runs use. Callers hold checks.mu.
func (a *Appliance) publishCatalog(ctx context.Context, c *scanner.Catalog) error {
	db, err := a.store.ModuleVersions(ctx, store.ModuleFilter{})
	if err != nil {
		return err
	}
	for _, v := range db {
		if m := c.Module(v.Slug, v.Version); m != nil && m.Checksum == v.Checksum {
			m.State = scanner.State(v.State)
			m.Sunset, _ = time.Parse(time.DateOnly, v.Sunset)
		}
	}
	a.checks.cat.Store(c)
	return nil
}

func (a *Appliance) loadFixtures() (*scanner.Catalog, error) {
	if a.checks.load != nil {
		return a.checks.load()
	}
	return scanner.LoadEmbedded()
}

// SeedReport says what seeding the catalog did.
type SeedReport struct {
	Created, Updated, Unchanged int
	Errors                      []string
}

// SeedModules upserts every module version of the embedded catalog into control.db by slug
// and version. Seeding twice changes nothing; a released version whose file changed is
// refused (a fix is a new version), as is a new version below the newest one known. One bad
// module never stops the others.
func (a *Appliance) SeedModules(ctx context.Context) (SeedReport, error) {
	var rep SeedReport
	c, err := a.loadFixtures()
	if c == nil {
		return rep, fmt.Errorf("module catalog: %w", err)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, strings.Split(err.Error(), "\n")...)
	}
	db, err := a.store.ModuleVersions(ctx, store.ModuleFilter{})
	if err != nil {
		return rep, err
	}
	known := map[string][]string{}
	have := map[string]bool{}
	for _, v := range db {
		known[v.Slug] = append(known[v.Slug], v.Version)
		have[v.Slug+"@"+v.Version] = true
	}
	for _, m := range c.Modules {
		if !have[m.Ref()] {
			if err := scanner.CheckNewVersion(m.Slug, m.Version, known[m.Slug]); err != nil {
				rep.Errors = append(rep.Errors, m.Path+": "+err.Error())
				continue
			}
		}
		outcome, err := a.store.UpsertModuleVersion(ctx, moduleRow(m))
		if err != nil {
			rep.Errors = append(rep.Errors, m.Path+": "+err.Error())
			continue
		}
		switch outcome {
		case "created":
			rep.Created++
		case "updated":
			rep.Updated++
		default:
			rep.Unchanged++
		}
	}
	// The catalog compiled for seeding is the one runs use: start-up compiles it once.
	a.checks.mu.Lock()
	defer a.checks.mu.Unlock()
	return rep, a.publishCatalog(ctx, c)
}

func moduleRow(m *scanner.Module) store.ModuleVersion {
	v := store.ModuleVersion{Slug: m.Slug, Kind: string(m.Kind), Name: m.Name,
		Category: m.Category, Version: m.Version, Checksum: m.Checksum, State: string(m.State),
		Profile: m.Profile, Platforms: m.Platforms, RequiresAdmin: m.RequiresAdmin,
		ParamsSchema: string(m.Parameters), Changelog: m.Changelog, Source: m.Source,
		Frameworks: []string{}}
	if !m.Sunset.IsZero() {
		v.Sunset = m.Sunset.Format(time.DateOnly)
	}
	if m.Check != nil {
		v.Severity = string(m.Check.Severity)
		for fw := range m.Check.Mappings {
			v.Frameworks = append(v.Frameworks, fw)
		}
		sort.Strings(v.Frameworks)
	}
	if v.ParamsSchema == "" {
		v.ParamsSchema = "{}"
	}
	return v
}

// CheckModules compares the database catalog with the embedded fixtures, count and
// checksums, without changing either.
func (a *Appliance) CheckModules(ctx context.Context) (web.CatalogDrift, error) {
	d := web.CatalogDrift{Missing: []string{}, Extra: []string{}, Changed: []string{},
		Invalid: []string{}}
	c, err := a.loadFixtures()
	if c == nil {
		return d, fmt.Errorf("module catalog: %w", err)
	}
	if err != nil {
		d.Invalid = append(d.Invalid, strings.Split(err.Error(), "\n")...)
	}
	db, err := a.store.ModuleVersions(ctx, store.ModuleFilter{})
	if err != nil {
		return d, err
	}
	sums := map[string]string{}
	for _, v := range db {
		sums[v.Slug+"@"+v.Version] = v.Checksum
	}
	d.Fixtures, d.Database = len(c.Modules), len(db)
	seen := map[string]bool{}
	for _, m := range c.Modules {
		seen[m.Ref()] = true
		sum, ok := sums[m.Ref()]
		switch {
		case !ok:
			d.Missing = append(d.Missing, m.Ref())
		case sum != m.Checksum:
			d.Changed = append(d.Changed, m.Ref())
		}
	}
	for ref := range sums {
		if !seen[ref] {
			d.Extra = append(d.Extra, ref)
		}
	}
	sort.Strings(d.Extra)
	return d, nil
}

// ListModules lists catalog versions, newest version first within a slug.
func (a *Appliance) ListModules(ctx context.Context, f store.ModuleFilter, p store.Page) (
	[]web.ModuleBody, int, error) {
	// An admin command on a data dir that never served seeds the catalog first (serve seeds
	// at start-up; API callers never write through a read).
	if authz.FromContext(ctx).Local {
		if all, err := a.store.ModuleVersions(ctx, store.ModuleFilter{}); err == nil &&
			len(all) == 0 {
			if _, err := a.SeedModules(ctx); err != nil {
				return nil, 0, err
			}
		}
	}
	vs, err := a.store.ModuleVersions(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if vs[i].Slug != vs[j].Slug {
			return vs[i].Slug < vs[j].Slug
		}
		return scanner.CompareSemver(vs[i].Version, vs[j].Version) > 0
	})
	total := len(vs)
	from := min((max(p.Page, 1)-1)*p.Size, total)
	to := total
	if p.Size > 0 {
		to = min(from+p.Size, total)
	}
	out := make([]web.ModuleBody, 0, to-from)
	for _, v := range vs[from:to] {
		out = append(out, moduleBody(v))
	}
	return out, total, nil
}

func moduleBody(v store.ModuleVersion) web.ModuleBody {
	return web.ModuleBody{Slug: v.Slug, Version: v.Version, Kind: v.Kind, Name: v.Name,
		Category: v.Category, State: v.State, Sunset: v.Sunset, Profile: v.Profile,
		Platforms: v.Platforms, RequiresAdmin: v.RequiresAdmin, Severity: v.Severity,
		Frameworks: v.Frameworks, Checksum: v.Checksum, Changelog: v.Changelog,
		Updated: v.Updated, Parameters: json.RawMessage(v.ParamsSchema)}
}

// SetModuleState moves a catalog version to a new state (platform admins), audited.
// Deprecation needs a sunset date.
func (a *Appliance) SetModuleState(ctx context.Context, slug, version string,
	req web.ModuleStateRequest) (web.ModuleBody, error) {
	a.checks.mu.Lock()
	defer a.checks.mu.Unlock()
	v, err := a.store.ModuleVersion(ctx, slug, version)
	if err != nil {
		return web.ModuleBody{}, err
	}
	if err := scanner.CheckTransition(scanner.State(v.State),
		scanner.State(req.State)); err != nil {
		return web.ModuleBody{}, store.Errorf(store.ErrInvalid, "%s", err.Error())
	}
	sunset := ""
	switch {
	case req.State == string(scanner.StateDeprecated):
		d, err := time.Parse(time.DateOnly, req.Sunset)
		if err != nil {
			return web.ModuleBody{}, store.Errorf(store.ErrInvalid, "deprecating %s@%s "+
				"needs a sunset date as YYYY-MM-DD, after which it stops running", slug,
				version)
		}
		sunset = d.Format(time.DateOnly)
	case req.Sunset != "":
		return web.ModuleBody{}, store.Errorf(store.ErrInvalid, "a sunset date only goes "+
			"with the state deprecated")
	}
	if err := a.store.SetModuleState(ctx, slug, version, req.State, sunset); err != nil {
		return web.ModuleBody{}, err
	}
	a.audit(ctx, "", "module.state", slug+"@"+version, "success", map[string]any{
		"from": v.State, "to": req.State, "sunset": sunset})
	if _, err := a.reloadCatalog(ctx); err != nil {
		return web.ModuleBody{}, err
	}
	v, err = a.store.ModuleVersion(ctx, slug, version)
	if err != nil {
		return web.ModuleBody{}, err
	}
	return moduleBody(v), nil
}

// TenantModules lists every check and collector with the tenant's switch: modules are on
// unless the tenant switched them off.
func (a *Appliance) TenantModules(ctx context.Context, tenantRef string) (
	[]web.TenantModule, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return nil, err
	}
	c, err := a.catalog(ctx)
	if err != nil {
		return nil, err
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	defer release()
	set, err := tdb.TenantModules(ctx)
	if err != nil {
		return nil, err
	}
	byslug := map[string]store.TenantModule{}
	for _, m := range set {
		byslug[m.Slug] = m
	}
	var out []web.TenantModule
	seen := map[string]bool{}
	for _, m := range c.Modules {
		if seen[m.Slug] {
			continue
		}
		seen[m.Slug] = true
		tm := web.TenantModule{Slug: m.Slug, Enabled: true,
			Schedulable: schedulableVersions(c, m.Slug, a.now())}
		if s, ok := byslug[m.Slug]; ok {
			tm.Enabled, tm.Version = s.Enabled, s.Version
			if s.Params != "" && s.Params != "{}" {
				tm.Params = json.RawMessage(s.Params)
			}
		}
		out = append(out, tm)
	}
	return out, nil
}

// SetTenantModules switches modules for a tenant and stores their parameters, validated
// against each module's newest schema; the whole request is refused on any error.
func (a *Appliance) SetTenantModules(ctx context.Context, tenantRef string,
	req web.TenantModulesRequest) ([]web.TenantModule, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return nil, err
	}
	c, err := a.catalog(ctx)
	if err != nil {
		return nil, err
	}
	if len(req.Items) == 0 {
		return nil, store.Errorf(store.ErrInvalid, "items is empty: name the modules to "+
			"switch, e.g. {\"items\": [{\"slug\": \"telnet-exposed\", \"enabled\": false}]}")
	}
	rows := make([]store.TenantModule, 0, len(req.Items))
	for _, it := range req.Items {
		vs := c.Versions(it.Slug)
		if len(vs) == 0 {
			return nil, store.Errorf(store.ErrInvalid, "module %q is not in the catalog; "+
				"GET /v1/modules lists the modules", store.Truncate(it.Slug, 80))
		}
		target := vs[len(vs)-1]
		if it.Version != "" {
			ok := slices.Contains(schedulableVersions(c, it.Slug, a.now()), it.Version)
			if !ok {
				return nil, store.Errorf(store.ErrInvalid, "%s@%s is not schedulable; pin "+
					"one of %v or leave version empty for the newest", it.Slug,
					store.Truncate(it.Version, 40), schedulableVersions(c, it.Slug, a.now()))
			}
			target = c.Module(it.Slug, it.Version)
		}
		params := "{}"
		if len(it.Params) > 0 && string(it.Params) != "null" {
			if _, err := scanner.ValidateParams(target, it.Params); err != nil {
				return nil, store.Errorf(store.ErrInvalid, "%s", err.Error())
			}
			params = string(it.Params)
		}
		rows = append(rows, store.TenantModule{Slug: it.Slug, Enabled: it.Enabled,
			Params: params, Version: it.Version})
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	err = tdb.SetTenantModules(ctx, rows)
	release()
	if err != nil {
		return nil, err
	}
	a.audit(ctx, t.ID, "tenant.modules", t.Slug, "success", map[string]any{"items": req.Items})
	return a.TenantModules(ctx, t.ID)
}

// runKeyLatest holds the newest run's result envelope in the results store, so that
// compliance can be rescored (waivers change) without evaluating again.
const runKeyLatest = "runs/latest"

// RunChecks evaluates the tenant's enabled checks over its inventory, records the findings
// (new ones open, fixed ones resolved), keeps the result envelope, and snapshots the day's
// scores. It runs after every discovery.
func (a *Appliance) RunChecks(ctx context.Context, tenantRef, trigger string) (
	*scanner.Result, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return nil, err
	}
	mu, _ := a.checks.runs.LoadOrStore(t.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	c, err := a.catalog(ctx)
	if err != nil {
		return nil, err
	}
	facts, err := a.tenantFacts(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	defer release()
	set, err := tdb.TenantModules(ctx)
	if err != nil {
		return nil, err
	}
	now := a.now().UTC()
	opts := scanner.RunOptions{Now: now, Enabled: map[string]string{},
		Params: map[string]json.RawMessage{}}
	off := map[string]bool{}
	pinned := map[string]string{}
	for _, m := range set {
		off[m.Slug], pinned[m.Slug] = !m.Enabled, m.Version
		if m.Params != "" && m.Params != "{}" {
			opts.Params[m.Slug] = json.RawMessage(m.Params)
		}
	}
	for _, m := range c.Modules {
		if m.Kind != scanner.KindCheck || off[m.Slug] {
			continue
		}
		if vs := schedulableVersions(c, m.Slug, now); len(vs) > 0 {
			// A pin that is no longer schedulable (retired since) falls back to the newest.
			v := pinned[m.Slug]
			if !slices.Contains(vs, v) {
				v = ""
			}
			opts.Enabled[m.Slug] = v
		}
	}
	started := time.Now().UTC()
	// The run is bounded by the longest execution profile among the enabled checks
	// (ARCHITECTURE §6): a runaway run ends instead of holding the tenant's lock.
	limit := profileLimits["baseline_fast"]
	for slug := range opts.Enabled {
		if vs := c.Versions(slug); len(vs) > 0 {
			limit = max(limit, profileLimits[vs[len(vs)-1].Profile])
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := c.Run(runCtx, facts, opts)
	if err != nil && ctx.Err() == nil && runCtx.Err() != nil {
		return nil, fmt.Errorf("check run exceeded its %s execution profile limit: %w",
			limit, err)
	}
	if err != nil {
		return nil, err
	}
	findings := make([]store.Finding, 0, len(res.Findings))
	for _, f := range res.Findings {
		findings = append(findings, store.Finding{ID: f.ID, Check: f.Check,
			Version: f.Version, Severity: string(f.Severity), Title: f.Title,
			Resource: f.Resource, AssetID: f.AssetID, Evidence: f.Evidence,
			Remediation: f.Remediation, Mappings: f.Mappings})
	}
	// Findings of the checks that ran and passed are resolved, and so are those of checks
	// switched off since: nothing keeps them open any more.
	ran := make([]string, 0, len(res.Checks))
	for _, ct := range res.Checks {
		ran = append(ran, ct.Check)
	}
	for _, m := range c.Modules {
		if _, on := opts.Enabled[m.Slug]; m.Kind == scanner.KindCheck && !on &&
			!slices.Contains(ran, m.Slug) {
			ran = append(ran, m.Slug)
		}
	}
	summary, _ := json.Marshal(res.Summary)
	errs, _ := json.Marshal(res.Errors)
	run := store.ModuleRun{ID: uuid.NewString(), Started: started, Finished: now,
		Trigger: trigger, Summary: string(summary), Errors: string(errs)}
	if err := tdb.RecordRun(ctx, run, findings, ran); err != nil {
		return nil, err
	}
	env, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if err := a.results.PutBatch(ctx, t.ID, []store.KV{{Key: runKeyLatest, Value: env},
		{Key: "runs/" + run.ID, Value: env}}); err != nil {
		return nil, err
	}
	scores, err := a.scores(ctx, c, res, tdb)
	if err != nil {
		return nil, err
	}
	day := now.Format(time.DateOnly)
	snaps := []store.ComplianceSnapshot{{Day: day, Score: deref(scores.Tenant.Score),
		Passed: scores.Tenant.Passed, Failed: scores.Tenant.Failed}}
	for _, fw := range scores.Frameworks {
		na := len(fw.Controls) - fw.ControlsPassed - fw.ControlsFailed
		snaps = append(snaps, store.ComplianceSnapshot{Day: day, Framework: fw.Framework,
			Score: deref(fw.Score), Passed: fw.ControlsPassed, Failed: fw.ControlsFailed,
			NA: na})
	}
	if err := tdb.PutSnapshots(ctx, snaps); err != nil {
		return nil, err
	}
	if len(res.Errors) > 0 {
		a.log.Warn("check run: some checks could not be evaluated", "tenant", t.ID,
			"errors", len(res.Errors))
	}
	return res, nil
}

// schedulableVersions lists the versions of a module that may run, newest first.
func schedulableVersions(c *scanner.Catalog, slug string, now time.Time) []string {
	var vs []scanner.VersionState
	for _, m := range c.Versions(slug) {
		vs = append(vs, scanner.VersionState{Version: m.Version, State: m.State,
			Sunset: m.Sunset})
	}
	return scanner.Schedulable(vs, keepPreviousVersions, now)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// scores rescores a run with the tenant's active waivers.
func (a *Appliance) scores(ctx context.Context, c *scanner.Catalog,
	res *scanner.Result, tdb interface {
		Waivers(context.Context, time.Time) ([]store.Waiver, error)
	}) (scanner.Scores, error) {
	ws, err := tdb.Waivers(ctx, a.now())
	if err != nil {
		return scanner.Scores{}, err
	}
	waivers := make([]scanner.Waiver, 0, len(ws))
	for _, w := range ws {
		waivers = append(waivers, scanner.Waiver{FindingID: w.FindingID, Expires: w.Expires,
			Reason: w.Reason})
	}
	return scanner.Score(res, c.Frameworks, waivers), nil
}

// latestRun reads the newest run's envelope; nil before the first run.
func (a *Appliance) latestRun(ctx context.Context, tenantID string) (*scanner.Result, error) {
	return storedJSON[scanner.Result](ctx, a, tenantID, runKeyLatest, "stored check run")
}

// storedJSON reads a JSON document from the results store; nil when there is none.
func storedJSON[T any](ctx context.Context, a *Appliance, tenantID, key, what string) (*T,
	error) {
	b, err := a.results.Get(ctx, tenantID, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &v, nil
}

// tenantFacts builds the fact model of a tenant from its inventory and fact documents.
func (a *Appliance) tenantFacts(ctx context.Context, tenantID string) (scanner.Facts, error) {
	facts := scanner.Facts{Assets: []scanner.Asset{}}
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return facts, err
	}
	defer release()
	// Every fact document in one pass over the results store, not one read per asset.
	kvs, err := a.results.List(ctx, tenantID, factsPrefix, 0)
	if err != nil {
		return facts, err
	}
	docs := make(map[string][]byte, len(kvs))
	for _, kv := range kvs {
		docs[strings.TrimPrefix(kv.Key, factsPrefix)] = kv.Value
	}
	for page := 1; ; page++ {
		recs, total, err := tdb.ListAssets(ctx, store.AssetQuery{},
			store.Page{Page: page, Size: 500})
		if err != nil {
			return facts, err
		}
		for _, r := range recs {
			var doc factDoc
			if b, ok := docs[r.ID]; ok {
				if err := json.Unmarshal(b, &doc); err != nil {
					return facts, fmt.Errorf("asset %s facts: %w", r.ID, err)
				}
			}
			facts.Assets = append(facts.Assets, factAsset(r, doc))
		}
		if page*500 >= total || len(recs) == 0 {
			break
		}
	}
	dir, err := a.directory(ctx, tenantID)
	if err != nil {
		return facts, err
	}
	facts.Directory = dir
	return facts, nil
}

// directoryKey holds the newest AD directory facts of a tenant.
const directoryKey = "directory/latest"

func (a *Appliance) directory(ctx context.Context, tenantID string) (*scanner.Directory,
	error) {
	return storedJSON[scanner.Directory](ctx, a, tenantID, directoryKey, "stored directory")
}

func factAsset(r store.AssetRecord, doc factDoc) scanner.Asset {
	body, _, _ := assetBody(r)
	as := scanner.Asset{ID: r.ID, Name: r.Name, Type: r.Type, Vendor: r.Vendor,
		Model: r.Model, OS: r.OS, OSVersion: doc.OSVersion, Firmware: r.Firmware,
		Serial: r.Serial, Addresses: body.Addresses, MACs: body.MACs,
		Hostnames: body.Hostnames, Sources: slices.Clone(doc.Sources),
		FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Services: []scanner.Service{},
		SNMP: doc.SNMP, AD: doc.AD, Firewall: doc.Firewall, Software: doc.Software,
		Omada: doc.Omada}
	if as.Name == "" && len(as.Addresses) > 0 {
		as.Name = as.Addresses[0]
	}
	if as.Sources == nil {
		as.Sources = []string{}
	}
	byKey := map[string]bool{}
	for _, s := range doc.Services {
		as.Services = append(as.Services, s)
		byKey[fmt.Sprintf("%s/%d", s.Protocol, s.Port)] = true
	}
	// Services recorded without a fact document (older scans) still count.
	for _, s := range r.Services {
		if !byKey[fmt.Sprintf("%s/%d", s.Protocol, s.Port)] {
			as.Services = append(as.Services, scanner.Service{Port: int(s.Port),
				Protocol: s.Protocol, Name: s.Service, Product: s.Product,
				Version: s.Version, Evidence: map[string]string{}, Hints: []string{}})
		}
	}
	return as
}

// ListFindings lists a tenant's findings.
func (a *Appliance) ListFindings(ctx context.Context, tenantRef string, f store.FindingFilter,
	p store.Page) ([]store.Finding, int, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return nil, 0, err
	}
	switch f.Severity {
	case "", "info", "low", "medium", "high", "critical":
	default:
		return nil, 0, store.Errorf(store.ErrInvalid, "severity %q is not one of info, low, "+
			"medium, high, critical", store.Truncate(f.Severity, 40))
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	f.Now = a.now()
	items, total, err := tdb.Findings(ctx, f, p)
	if items == nil {
		items = []store.Finding{}
	}
	return items, total, err
}

// GetFinding returns one finding.
func (a *Appliance) GetFinding(ctx context.Context, tenantRef, id string) (store.Finding,
	error) {
	return inTenant(ctx, a, tenantRef, func(_ store.Tenant, tdb *sqlite.TenantDB) (
		store.Finding, error) {
		return tdb.Finding(ctx, id, a.now())
	})
}

// maxWaiver bounds how long a risk may be accepted without review.
const maxWaiver = 366 * 24 * time.Hour

// WaiveFinding accepts a finding's risk until a date, with a reason; the caller is the
// approver. The waiver is audited; the finding stays listed as waived and no longer counts
// against the score.
func (a *Appliance) WaiveFinding(ctx context.Context, tenantRef, id string,
	req web.WaiverRequest) (store.Finding, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return store.Finding{}, err
	}
	now := a.now()
	reason := strings.TrimSpace(req.Reason)
	switch {
	case len(reason) < 10:
		return store.Finding{}, store.Errorf(store.ErrInvalid, "a waiver needs a reason of "+
			"at least 10 characters that an auditor can follow")
	case len(reason) > 2000:
		return store.Finding{}, store.Errorf(store.ErrInvalid, "the reason is longer than "+
			"2000 characters")
	case !req.ExpiresAt.After(now):
		return store.Finding{}, store.Errorf(store.ErrInvalid, "expires_at must be in the "+
			"future (RFC 3339, e.g. %s)", now.Add(90*24*time.Hour).UTC().Format(time.RFC3339))
	case req.ExpiresAt.Sub(now) > maxWaiver:
		return store.Finding{}, store.Errorf(store.ErrInvalid, "a waiver lasts at most a "+
			"year; review the risk again before %s", now.Add(maxWaiver).Format(time.DateOnly))
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return store.Finding{}, err
	}
	defer release()
	f, err := tdb.Finding(ctx, id, now)
	if err != nil {
		return store.Finding{}, err
	}
	if f.Status == store.FindingResolved {
		return store.Finding{}, store.Errorf(store.ErrConflict, "finding %s is resolved; "+
			"there is no risk left to accept", id)
	}
	w := store.Waiver{FindingID: f.ID, Reason: reason, Approver: authz.FromContext(ctx).Name(),
		Expires: req.ExpiresAt.UTC(), Created: now.UTC()}
	if err := tdb.SetWaiver(ctx, w); err != nil {
		return store.Finding{}, err
	}
	a.audit(ctx, t.ID, "finding.waive", f.ID, "success", map[string]any{"check": f.Check,
		"resource": f.Resource, "reason": reason, "expires_at": w.Expires})
	return tdb.Finding(ctx, id, now)
}
