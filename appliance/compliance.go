package appliance

import (
	"context"
	"errors"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/report"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/scanner"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/sqlite"
)

// compliance is a tenant's newest run scored with today's waivers; res is nil before the
// first run.
type compliance struct {
	tenant store.Tenant
	cat    *scanner.Catalog
	res    *scanner.Result
	scores scanner.Scores
}

func (a *Appliance) compliance(ctx context.Context, tenantRef string) (compliance, error) {
	var c compliance
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return c, err
	}
	c.tenant = t
	if c.cat, err = a.catalog(ctx); err != nil {
		return c, err
	}
	if c.res, err = a.latestRun(ctx, t.ID); err != nil || c.res == nil {
		return c, err
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return c, err
	}
	defer release()
	c.scores, err = a.scores(ctx, c.cat, c.res, tdb)
	return c, err
}

// ComplianceSummary is the tenant's score and each framework's, from the newest check run.
func (a *Appliance) ComplianceSummary(ctx context.Context, tenantRef string) (
	web.ComplianceSummary, error) {
	c, err := a.compliance(ctx, tenantRef)
	if err != nil {
		return web.ComplianceSummary{}, err
	}
	out := web.ComplianceSummary{Frameworks: []web.FrameworkSummary{}}
	if c.res == nil {
		for _, fw := range c.cat.Frameworks {
			out.Frameworks = append(out.Frameworks, web.FrameworkSummary{ID: fw.ID,
				Name: fw.Name, NotApplicable: len(fw.Controls)})
		}
		return out, nil
	}
	at := c.res.Now
	out.Score, out.LastRun = c.scores.Tenant.Score, &at
	for _, fw := range c.scores.Frameworks {
		out.Frameworks = append(out.Frameworks, frameworkSummary(fw))
	}
	return out, nil
}

func frameworkSummary(fw scanner.FrameworkScore) web.FrameworkSummary {
	return web.FrameworkSummary{ID: fw.Framework, Name: fw.Name, Score: fw.Score,
		Passed: fw.ControlsPassed, Failed: fw.ControlsFailed,
		NotApplicable: len(fw.Controls) - fw.ControlsPassed - fw.ControlsFailed}
}

// ComplianceFramework is one framework control by control, with the failing assets and the
// checks behind each failure.
func (a *Appliance) ComplianceFramework(ctx context.Context, tenantRef, framework string) (
	web.ComplianceFramework, error) {
	c, err := a.compliance(ctx, tenantRef)
	if err != nil {
		return web.ComplianceFramework{}, err
	}
	fw := c.cat.Framework(framework)
	if fw == nil {
		var ids []string
		for _, f := range c.cat.Frameworks {
			ids = append(ids, f.ID)
		}
		return web.ComplianceFramework{}, store.Errorf(store.ErrNotFound, "framework %q is "+
			"unknown; use one of %v", store.Truncate(framework, 40), ids)
	}
	out := web.ComplianceFramework{Framework: web.FrameworkSummary{ID: fw.ID, Name: fw.Name,
		NotApplicable: len(fw.Controls)}, Controls: []web.ControlBody{}}
	controls := controlViews(c, fw.ID)
	for _, ctl := range fw.Controls {
		v := controls[ctl.ID]
		v.ID, v.Title = ctl.ID, ctl.Title
		if v.Status == "" {
			v.Status = scanner.StatusNotApplicable
		}
		if v.FailingAssets == nil {
			v.FailingAssets = []web.AssetRef{}
		}
		if v.Checks == nil {
			v.Checks = []string{}
		}
		out.Controls = append(out.Controls, v)
	}
	for _, s := range c.scores.Frameworks {
		if s.Framework == fw.ID {
			out.Framework = frameworkSummary(s)
		}
	}
	return out, nil
}

// controlViews joins a framework's control statuses with the findings that fail them.
func controlViews(c compliance, framework string) map[string]web.ControlBody {
	out := map[string]web.ControlBody{}
	if c.res == nil {
		return out
	}
	for _, s := range c.scores.Frameworks {
		if s.Framework != framework {
			continue
		}
		for _, ctl := range s.Controls {
			out[ctl.Control] = web.ControlBody{Status: ctl.Status,
				FailingAssets: []web.AssetRef{}, Checks: []string{}}
		}
	}
	waived := map[string]bool{}
	for _, w := range c.scores.Waived {
		waived[w.ID] = true
	}
	names := map[string]string{}
	for _, t := range c.res.Assets {
		names[t.AssetID] = t.Name
	}
	for _, ct := range c.res.Checks {
		for _, id := range ct.Mappings[framework] {
			if v, ok := out[id]; ok && !slices.Contains(v.Checks, ct.Check) {
				v.Checks = append(v.Checks, ct.Check)
				out[id] = v
			}
		}
	}
	for _, f := range c.res.Findings {
		if waived[f.ID] {
			continue
		}
		for _, id := range f.Mappings[framework] {
			v := out[id]
			ref := web.AssetRef{ID: f.AssetID, Name: names[f.AssetID]}
			if ref.Name == "" {
				ref.Name = f.Resource
			}
			if !slices.Contains(v.FailingAssets, ref) {
				v.FailingAssets = append(v.FailingAssets, ref)
			}
			out[id] = v
		}
	}
	for id, v := range out {
		sort.Strings(v.Checks)
		sort.Slice(v.FailingAssets, func(i, j int) bool {
			return v.FailingAssets[i].Name < v.FailingAssets[j].Name
		})
		out[id] = v
	}
	return out
}

// ComplianceTrend lists the daily scores of the last days, oldest first.
func (a *Appliance) ComplianceTrend(ctx context.Context, tenantRef string, days int) (
	[]store.ComplianceSnapshot, error) {
	return inTenant(ctx, a, tenantRef, func(_ store.Tenant, tdb *sqlite.TenantDB) (
		[]store.ComplianceSnapshot, error) {
		since := a.now().UTC().AddDate(0, 0, -days+1).Format(time.DateOnly)
		out, err := tdb.Snapshots(ctx, since)
		if out == nil {
			out = []store.ComplianceSnapshot{}
		}
		return out, err
	})
}

// ComplianceReport renders the tenant's compliance as CSV (one row per control) or as a
// branded PDF with scores, per-framework tables, the trend and open findings.
func (a *Appliance) ComplianceReport(ctx context.Context, tenantRef, format string,
	w io.Writer) error {
	if format != "csv" && format != "pdf" {
		return store.Errorf(store.ErrInvalid, "report format %q is unknown; use csv or pdf",
			store.Truncate(format, 20))
	}
	c, err := a.compliance(ctx, tenantRef)
	if err != nil {
		return err
	}
	d := report.Data{TenantName: c.tenant.Name, TenantSlug: c.tenant.Slug,
		GeneratedAt: a.now().UTC().Truncate(time.Second)}
	if c.res != nil {
		d.Score = deref(c.scores.Tenant.Score)
	}
	for _, fw := range c.cat.Frameworks {
		summary := web.FrameworkSummary{ID: fw.ID, Name: fw.Name,
			NotApplicable: len(fw.Controls)}
		for _, s := range c.scores.Frameworks {
			if s.Framework == fw.ID {
				summary = frameworkSummary(s)
			}
		}
		rf := report.Framework{ID: fw.ID, Name: fw.Name, Score: deref(summary.Score),
			Passed: summary.Passed, Failed: summary.Failed,
			NotApplicable: summary.NotApplicable}
		views := controlViews(c, fw.ID)
		for _, ctl := range fw.Controls {
			v := views[ctl.ID]
			status := v.Status
			if status == "" {
				status = scanner.StatusNotApplicable
			}
			rc := report.Control{ID: ctl.ID, Title: ctl.Title, Status: status,
				Checks: v.Checks}
			for _, as := range v.FailingAssets {
				rc.FailingAssets = append(rc.FailingAssets, as.Name)
			}
			rf.Controls = append(rf.Controls, rc)
		}
		d.Frameworks = append(d.Frameworks, rf)
	}
	trend, err := a.ComplianceTrend(ctx, c.tenant.ID, 90)
	if err != nil {
		return err
	}
	for _, s := range trend {
		if s.Framework == "" {
			continue
		}
		day, _ := time.Parse(time.DateOnly, s.Day)
		d.Trend = append(d.Trend, report.TrendPoint{Date: day, Framework: s.Framework,
			Score: s.Score})
	}
	if format == "pdf" {
		fs, _, err := a.ListFindings(ctx, c.tenant.ID, store.FindingFilter{},
			store.Page{Page: 1, Size: 1000})
		if err != nil {
			return err
		}
		for _, f := range fs {
			if f.Status == store.FindingResolved {
				continue
			}
			rf := report.Finding{ID: f.ID, Check: f.Check, Severity: f.Severity,
				Title: f.Title, Resource: f.Resource, Status: f.Status, FirstSeen: f.FirstSeen,
				LastSeen: f.LastSeen}
			if f.Waiver != nil && f.Status == store.FindingWaived {
				rf.Waiver = f.Waiver.Reason + " (" + f.Waiver.Approver + ", until " +
					f.Waiver.Expires.Format(time.DateOnly) + ")"
			}
			d.Findings = append(d.Findings, rf)
		}
	}
	a.audit(ctx, c.tenant.ID, "report.compliance", format, "success", nil)
	if format == "csv" {
		return report.WriteCSV(w, d)
	}
	return report.WritePDF(w, d)
}

// Overview lists the tenants the caller may see with their asset count, score, open
// critical findings and last scan (the MSP overview).
func (a *Appliance) Overview(ctx context.Context) ([]web.OverviewItem, error) {
	// ListTenants already narrows the list to the caller's memberships.
	ts, _, err := a.ListTenants(ctx, store.Page{Page: 1, Size: 100000})
	if err != nil {
		return nil, err
	}
	p := authz.FromContext(ctx)
	out := []web.OverviewItem{}
	for _, t := range ts {
		if t.RequireMFA && p != nil && !p.Local && p.TokenID == "" && !p.MFA {
			continue // the tenant asks for a second factor this session lacks (guard.go)
		}
		it := web.OverviewItem{Tenant: web.AssetRefTenant{ID: t.ID, Slug: t.Slug,
			Name: t.Name}}
		if t.Status == store.TenantActive {
			if err := a.overviewNumbers(ctx, t, &it); err != nil {
				return nil, err
			}
		}
		out = append(out, it)
	}
	return out, nil
}

func (a *Appliance) overviewNumbers(ctx context.Context, t store.Tenant,
	it *web.OverviewItem) error {
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return err
	}
	defer release()
	if _, it.Assets, err = tdb.ListAssets(ctx, store.AssetQuery{},
		store.Page{Page: 1, Size: 1}); err != nil {
		return err
	}
	if _, it.CriticalFindings, err = tdb.Findings(ctx, store.FindingFilter{
		Severity: "critical", Status: store.FindingOpen, Now: a.now()},
		store.Page{Page: 1, Size: 1}); err != nil {
		return err
	}
	jobs, _, err := tdb.ListScanJobs(ctx, store.Page{Page: 1, Size: 1})
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		at := jobs[0].Created
		it.LastScan = &at
	}
	snaps, err := tdb.Snapshots(ctx, a.now().UTC().AddDate(0, 0, -30).Format(time.DateOnly))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, s := range snaps {
		if s.Framework == "" {
			score := s.Score
			it.Score = &score
		}
	}
	return nil
}
