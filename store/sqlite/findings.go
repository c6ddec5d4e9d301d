package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantra/tenantra/store"
)

// TenantModules lists the tenant's module switches.
func (t *TenantDB) TenantModules(ctx context.Context) ([]store.TenantModule, error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT slug, enabled, params, version,
		updated FROM tenant_modules ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("tenant modules: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.TenantModule
	for rows.Next() {
		var m store.TenantModule
		var enabled int
		var updated string
		if err := rows.Scan(&m.Slug, &enabled, &m.Params, &m.Version, &updated); err != nil {
			return nil, err
		}
		m.Enabled, m.Updated = enabled != 0, parseTime(updated)
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetTenantModules records switches and parameters in one transaction.
func (t *TenantDB) SetTenantModules(ctx context.Context, ms []store.TenantModule) error {
	return t.db.WithTx(ctx, func(ctx context.Context) error {
		for _, m := range ms {
			params := m.Params
			if params == "" {
				params = "{}"
			}
			if _, err := t.db.w(ctx).ExecContext(ctx, `INSERT INTO tenant_modules (slug,
				enabled, params, version, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT (slug)
				DO UPDATE SET enabled = excluded.enabled, params = excluded.params,
				version = excluded.version, updated = excluded.updated`, m.Slug,
				boolInt(m.Enabled), params, m.Version, now()); err != nil {
				return fmt.Errorf("set module %s: %w", m.Slug, err)
			}
		}
		return nil
	})
}

// RecordRun stores a run and its findings: each finding is opened (or reopened, or kept open
// with a new last_seen), and open findings of the checks that ran but did not fail again are
// resolved.
func (t *TenantDB) RecordRun(ctx context.Context, run store.ModuleRun, findings []store.Finding,
	ranChecks []string) error {
	at := fmtTime(run.Finished)
	checks, _ := json.Marshal(nonNil(ranChecks))
	return t.db.WithTx(ctx, func(ctx context.Context) error {
		w := t.db.w(ctx)
		if _, err := w.ExecContext(ctx, `INSERT INTO module_runs (id, started, finished,
			trigger, summary, errors) VALUES (?, ?, ?, ?, ?, ?)`, run.ID, fmtTime(run.Started),
			at, run.Trigger, orJSON(run.Summary, "{}"), orJSON(run.Errors, "[]")); err != nil {
			return fmt.Errorf("record run: %w", err)
		}
		for _, f := range findings {
			mappings, _ := json.Marshal(f.Mappings)
			if _, err := w.ExecContext(ctx, `INSERT INTO findings (id, check_slug, version,
				severity, title, resource, asset_id, evidence, remediation, mappings, status,
				first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)
				ON CONFLICT (id) DO UPDATE SET version = excluded.version,
				severity = excluded.severity, title = excluded.title,
				resource = excluded.resource, asset_id = excluded.asset_id,
				evidence = excluded.evidence, remediation = excluded.remediation,
				mappings = excluded.mappings, status = 'open', resolved = '',
				last_seen = excluded.last_seen`, f.ID, f.Check, f.Version, f.Severity, f.Title,
				f.Resource, f.AssetID, f.Evidence, f.Remediation, string(mappings), at,
				at); err != nil {
				return fmt.Errorf("record finding %s: %w", f.Check, err)
			}
		}
		_, err := w.ExecContext(ctx, `UPDATE findings SET status = 'resolved', resolved = ?
			WHERE status = 'open' AND last_seen < ? AND check_slug IN
			(SELECT value FROM json_each(?))`, at, at, string(checks))
		return err
	})
}

func orJSON(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

const findingCols = `f.id, f.check_slug, f.version, f.severity, f.title, f.resource, f.asset_id,
	f.evidence, f.remediation, f.mappings, f.status, f.first_seen, f.last_seen, f.resolved,
	coalesce(w.reason, ''), coalesce(w.approver, ''), coalesce(w.expires, ''),
	coalesce(w.created, '')`

func scanFinding(row interface{ Scan(...any) error }, now time.Time) (store.Finding, error) {
	var f store.Finding
	var mappings, first, last, resolved string
	var w store.Waiver
	var expires, created string
	if err := row.Scan(&f.ID, &f.Check, &f.Version, &f.Severity, &f.Title, &f.Resource,
		&f.AssetID, &f.Evidence, &f.Remediation, &mappings, &f.Status, &first, &last,
		&resolved, &w.Reason, &w.Approver, &expires, &created); err != nil {
		return f, err
	}
	_ = json.Unmarshal([]byte(mappings), &f.Mappings)
	f.FirstSeen, f.LastSeen, f.Resolved = parseTime(first), parseTime(last), parseTime(resolved)
	if w.Reason != "" {
		w.FindingID, w.Expires, w.Created = f.ID, parseTime(expires), parseTime(created)
		f.Waiver = &w
		if f.Status == store.FindingOpen && w.Expires.After(now) {
			f.Status = store.FindingWaived
		}
	}
	return f, nil
}

// severityRank orders findings most severe first.
const severityRank = `CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1
	WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END`

// Findings lists findings matching the filter, most severe and newest first, one page.
func (t *TenantDB) Findings(ctx context.Context, f store.FindingFilter, p store.Page) (
	[]store.Finding, int, error) {
	nowTS := fmtTime(f.Now)
	where := " WHERE 1 = 1"
	var args []any
	add := func(cond string, vs ...any) {
		where += " AND " + cond
		args = append(args, vs...)
	}
	if f.Severity != "" {
		add("f.severity = ?", f.Severity)
	}
	if f.Check != "" {
		add("f.check_slug = ?", f.Check)
	}
	if f.AssetID != "" {
		add("f.asset_id = ?", f.AssetID)
	}
	switch f.Status {
	case store.FindingWaived:
		add("f.status = 'open' AND w.expires > ?", nowTS)
	case store.FindingOpen:
		add("f.status = 'open' AND (w.expires IS NULL OR w.expires <= ?)", nowTS)
	case store.FindingResolved:
		add("f.status = 'resolved'")
	case "":
	default:
		return nil, 0, store.Errorf(store.ErrInvalid, "status %q is not one of open, waived, "+
			"resolved", store.Truncate(f.Status, 40))
	}
	if f.Q != "" {
		like := "%" + strings.ToLower(f.Q) + "%"
		add("(lower(f.title) LIKE ? OR lower(f.resource) LIKE ? OR lower(f.check_slug) "+
			"LIKE ? OR lower(f.evidence) LIKE ?)", like, like, like, like)
	}
	from := " FROM findings f LEFT JOIN waivers w ON w.finding_id = f.id"
	var total int
	if err := t.db.r(ctx).QueryRowContext(ctx, "SELECT count(*)"+from+where,
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count findings: %w", err)
	}
	q := "SELECT " + findingCols + from + where + " ORDER BY f.status = 'resolved', " +
		severityRank + ", f.last_seen DESC, f.id"
	if p.Size > 0 {
		q += fmt.Sprintf(" LIMIT %d OFFSET %d", p.Size, (max(p.Page, 1)-1)*p.Size)
	}
	rows, err := t.db.r(ctx).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list findings: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.Finding
	for rows.Next() {
		fd, err := scanFinding(rows, f.Now)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, fd)
	}
	return out, total, rows.Err()
}

// Finding returns one finding with its waiver.
func (t *TenantDB) Finding(ctx context.Context, id string, at time.Time) (store.Finding,
	error) {
	f, err := scanFinding(t.db.r(ctx).QueryRowContext(ctx, "SELECT "+findingCols+
		" FROM findings f LEFT JOIN waivers w ON w.finding_id = f.id WHERE f.id = ?", id), at)
	if errors.Is(err, sql.ErrNoRows) {
		return f, store.Errorf(store.ErrNotFound, "finding %q does not exist",
			store.Truncate(id, 80))
	}
	return f, err
}

// SetWaiver records (or replaces) the waiver of a finding.
func (t *TenantDB) SetWaiver(ctx context.Context, w store.Waiver) error {
	_, err := t.db.w(ctx).ExecContext(ctx, `INSERT INTO waivers (finding_id, reason, approver,
		expires, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (finding_id) DO UPDATE SET
		reason = excluded.reason, approver = excluded.approver, expires = excluded.expires,
		created = excluded.created`, w.FindingID, w.Reason, w.Approver, fmtTime(w.Expires),
		fmtTime(w.Created))
	if err != nil {
		return fmt.Errorf("set waiver: %w", err)
	}
	return nil
}

// Waivers returns every waiver whose expiry is after at.
func (t *TenantDB) Waivers(ctx context.Context, at time.Time) ([]store.Waiver, error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT finding_id, reason, approver, expires,
		created FROM waivers WHERE expires > ? ORDER BY finding_id`, fmtTime(at))
	if err != nil {
		return nil, fmt.Errorf("waivers: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.Waiver
	for rows.Next() {
		var w store.Waiver
		var expires, created string
		if err := rows.Scan(&w.FindingID, &w.Reason, &w.Approver, &expires,
			&created); err != nil {
			return nil, err
		}
		w.Expires, w.Created = parseTime(expires), parseTime(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

// PutSnapshots records the day's scores, replacing earlier ones of the same day.
func (t *TenantDB) PutSnapshots(ctx context.Context, snaps []store.ComplianceSnapshot) error {
	return t.db.WithTx(ctx, func(ctx context.Context) error {
		for _, s := range snaps {
			if _, err := t.db.w(ctx).ExecContext(ctx, `INSERT INTO compliance_snapshots (day,
				framework, score, passed, failed, na) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (day, framework) DO UPDATE SET score = excluded.score,
				passed = excluded.passed, failed = excluded.failed, na = excluded.na`, s.Day,
				s.Framework, s.Score, s.Passed, s.Failed, s.NA); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		}
		return nil
	})
}

// Snapshots lists the daily scores from the day since (YYYY-MM-DD) on, oldest first.
func (t *TenantDB) Snapshots(ctx context.Context, since string) ([]store.ComplianceSnapshot,
	error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT day, framework, score, passed, failed,
		na FROM compliance_snapshots WHERE day >= ? ORDER BY day, framework`, since)
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.ComplianceSnapshot
	for rows.Next() {
		var s store.ComplianceSnapshot
		if err := rows.Scan(&s.Day, &s.Framework, &s.Score, &s.Passed, &s.Failed,
			&s.NA); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// LastRun returns the newest run, or ErrNotFound before the first.
func (t *TenantDB) LastRun(ctx context.Context) (store.ModuleRun, error) {
	var r store.ModuleRun
	var started, finished string
	err := t.db.r(ctx).QueryRowContext(ctx, `SELECT id, started, finished, trigger, summary,
		errors FROM module_runs ORDER BY started DESC LIMIT 1`).Scan(&r.ID, &started,
		&finished, &r.Trigger, &r.Summary, &r.Errors)
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.Errorf(store.ErrNotFound, "no check run yet")
	}
	r.Started, r.Finished = parseTime(started), parseTime(finished)
	return r, err
}
