package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/store"
)

// Seed outcomes of UpsertModuleVersion.
const (
	SeedCreated   = "created"
	SeedUpdated   = "updated"
	SeedUnchanged = "unchanged"
)

const moduleVersionCols = `m.id, m.slug, m.kind, m.name, m.category, v.version, v.checksum,
	v.state, v.sunset, v.profile, v.platforms, v.requires_admin, v.params_schema, v.changelog,
	v.severity, v.frameworks, v.source, v.created, v.updated`

func scanModuleVersion(row interface{ Scan(...any) error }) (store.ModuleVersion, error) {
	var m store.ModuleVersion
	var platforms, frameworks, created, updated string
	var admin int
	if err := row.Scan(&m.ModuleID, &m.Slug, &m.Kind, &m.Name, &m.Category, &m.Version,
		&m.Checksum, &m.State, &m.Sunset, &m.Profile, &platforms, &admin, &m.ParamsSchema,
		&m.Changelog, &m.Severity, &frameworks, &m.Source, &created, &updated); err != nil {
		return m, err
	}
	m.RequiresAdmin = admin != 0
	if json.Unmarshal([]byte(platforms), &m.Platforms) != nil ||
		json.Unmarshal([]byte(frameworks), &m.Frameworks) != nil {
		return m, store.Errorf(store.ErrCorrupt, "module %s@%s has unreadable lists", m.Slug,
			m.Version)
	}
	m.Created, m.Updated = parseTime(created), parseTime(updated)
	return m, nil
}

// UpsertModuleVersion seeds one module version (by slug and version). A version whose
// checksum matches is left alone, state included, so that state changes made through the
// API survive restarts; a changed draft or qa version is updated; a changed released,
// deprecated or retired version is refused with ErrConflict, because released versions are
// immutable. It reports SeedCreated, SeedUpdated or SeedUnchanged.
func (s *Store) UpsertModuleVersion(ctx context.Context, m store.ModuleVersion) (string,
	error) {
	platforms, _ := json.Marshal(nonNil(m.Platforms))
	frameworks, _ := json.Marshal(nonNil(m.Frameworks))
	outcome := SeedUnchanged
	err := s.control.WithTx(ctx, func(ctx context.Context) error {
		w := s.control.w(ctx)
		var id string
		err := w.QueryRowContext(ctx, `SELECT id FROM modules WHERE slug = ?`, m.Slug).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id = uuid.NewString()
			_, err = w.ExecContext(ctx, `INSERT INTO modules (id, slug, kind, name, category,
				created) VALUES (?, ?, ?, ?, ?, ?)`, id, m.Slug, m.Kind, m.Name, m.Category, now())
		}
		if err != nil {
			return err
		}
		var checksum, state string
		err = w.QueryRowContext(ctx, `SELECT checksum, state FROM module_versions
			WHERE module_id = ? AND version = ?`, id, m.Version).Scan(&checksum, &state)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			outcome = SeedCreated
			ts := now()
			_, err = w.ExecContext(ctx, `INSERT INTO module_versions (module_id, version,
				checksum, state, sunset, profile, platforms, requires_admin, params_schema,
				changelog, severity, frameworks, source, created, updated)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, m.Version, m.Checksum,
				m.State, m.Sunset, m.Profile, string(platforms), boolInt(m.RequiresAdmin),
				m.ParamsSchema, m.Changelog, m.Severity, string(frameworks), m.Source, ts, ts)
		case err != nil:
		case checksum == m.Checksum:
			return nil
		case state == "released" || state == "deprecated" || state == "retired":
			return store.Errorf(store.ErrConflict, "module %s@%s is %s and immutable, but "+
				"its file changed (checksum %.12s…, catalog has %.12s…); publish the fix as "+
				"a new version", m.Slug, m.Version, state, m.Checksum, checksum)
		default:
			outcome = SeedUpdated
			_, err = w.ExecContext(ctx, `UPDATE module_versions SET checksum = ?, state = ?,
				sunset = ?, profile = ?, platforms = ?, requires_admin = ?, params_schema = ?,
				changelog = ?, severity = ?, frameworks = ?, source = ?, updated = ?
				WHERE module_id = ? AND version = ?`, m.Checksum, m.State, m.Sunset, m.Profile,
				string(platforms), boolInt(m.RequiresAdmin), m.ParamsSchema, m.Changelog,
				m.Severity, string(frameworks), m.Source, now(), id, m.Version)
		}
		if err != nil {
			return err
		}
		_, err = w.ExecContext(ctx, `UPDATE modules SET kind = ?, name = ?, category = ?
			WHERE id = ?`, m.Kind, m.Name, m.Category, id)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", err
		}
		return "", fmt.Errorf("seed module %s@%s: %w", m.Slug, m.Version, err)
	}
	return outcome, nil
}

// ModuleVersions lists catalog versions matching the filter, by slug then version text
// (callers order versions by semver).
func (s *Store) ModuleVersions(ctx context.Context, f store.ModuleFilter) (
	[]store.ModuleVersion, error) {
	q := `SELECT ` + moduleVersionCols + ` FROM module_versions v
		JOIN modules m ON m.id = v.module_id WHERE 1 = 1`
	var args []any
	add := func(cond string, v any) {
		q += " AND " + cond
		args = append(args, v)
	}
	if f.Kind != "" {
		add("m.kind = ?", f.Kind)
	}
	if f.Category != "" {
		add("m.category = ?", f.Category)
	}
	if f.State != "" {
		add("v.state = ?", f.State)
	}
	if f.Framework != "" {
		add("EXISTS (SELECT 1 FROM json_each(v.frameworks) WHERE value = ?)", f.Framework)
	}
	if f.Q != "" {
		like := "%" + strings.ToLower(f.Q) + "%"
		q += " AND (lower(m.slug) LIKE ? OR lower(m.name) LIKE ?)"
		args = append(args, like, like)
	}
	rows, err := s.control.r(ctx).QueryContext(ctx, q+" ORDER BY m.slug, v.version", args...)
	if err != nil {
		return nil, fmt.Errorf("list modules: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.ModuleVersion
	for rows.Next() {
		m, err := scanModuleVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ModuleVersion returns one version of a module.
func (s *Store) ModuleVersion(ctx context.Context, slug, version string) (store.ModuleVersion,
	error) {
	m, err := scanModuleVersion(s.control.r(ctx).QueryRowContext(ctx, `SELECT `+
		moduleVersionCols+` FROM module_versions v JOIN modules m ON m.id = v.module_id
		WHERE m.slug = ? AND v.version = ?`, slug, version))
	if errors.Is(err, sql.ErrNoRows) {
		return m, store.Errorf(store.ErrNotFound, "module %s@%s is not in the catalog; "+
			"`tenantra modules list` shows what is", store.Truncate(slug, 80),
			store.Truncate(version, 40))
	}
	return m, err
}

// SetModuleState records a version's new state (the caller checks that the transition is
// allowed) and its sunset date.
func (s *Store) SetModuleState(ctx context.Context, slug, version, state, sunset string) error {
	res, err := s.control.w(ctx).ExecContext(ctx, `UPDATE module_versions SET state = ?,
		sunset = ?, updated = ? WHERE version = ? AND module_id =
		(SELECT id FROM modules WHERE slug = ?)`, state, sunset, now(), version, slug)
	if err != nil {
		return fmt.Errorf("set module state: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "module %s@%s is not in the catalog",
			store.Truncate(slug, 80), store.Truncate(version, 40))
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
