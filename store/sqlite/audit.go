package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantra/tenantra/store"
)

// auditLog is one audit hash chain: the audit_log table of the control database (platform
// chain) or of a tenant database (that tenant's chain).
type auditLog struct {
	db *DB
	// tenant is set for a tenant chain; its events may only name that tenant.
	tenant *store.Tenant
}

var _ store.AuditLog = (*auditLog)(nil)

// PlatformAudit returns the platform audit chain in the control database. Append joins a
// transaction of the control database carried in ctx.
func (s *Store) PlatformAudit() store.AuditLog { return &auditLog{db: s.control} }

// Audit returns the tenant's audit chain in its own database, valid until the handle is
// released. Append joins a transaction of this tenant's WithTx carried in ctx. An event
// whose Tenant is empty is recorded with the tenant's slug; one naming another tenant is
// refused.
func (t *TenantDB) Audit() store.AuditLog { return &auditLog{db: t.db, tenant: &t.Tenant} }

// auditTSLayout stores times with a fixed number of fraction digits, so that comparing the
// text (the ts index, Since and Until) is comparing the times; RFC3339Nano trims zeros and
// would sort "…:05.5Z" before "…:05Z".
const auditTSLayout = "2006-01-02T15:04:05.000000000Z07:00"

const auditCols = "seq, ts, actor, actor_ip, tenant, action, target, outcome, diff, " +
	"trace_id, prev_hash, hash"

// Append links e to the last entry and inserts it. Reading the last entry and inserting run
// in one write transaction on the database's single writer connection, so concurrent appends
// are serialised and none can link to the same predecessor.
func (l *auditLog) Append(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	if l.tenant != nil {
		switch e.Tenant {
		case "":
			e.Tenant = l.tenant.Slug
		case l.tenant.Slug, l.tenant.ID:
		default:
			return store.AuditEvent{}, store.Errorf(store.ErrInvalid, "audit event of tenant "+
				"%q cannot go into the chain of tenant %q", store.Truncate(e.Tenant, 60),
				l.tenant.Slug)
		}
	}
	var out store.AuditEvent
	err := l.db.WithTx(ctx, func(ctx context.Context) error {
		var seq int64
		var prev []byte
		err := l.db.w(ctx).QueryRowContext(ctx,
			"SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read audit chain head: %w", err)
		}
		if out, err = store.ChainAuditEvent(e, seq, prev); err != nil {
			return err
		}
		var diff any // NULL, not '', when there is no diff
		if len(out.Diff) > 0 {
			diff = string(out.Diff)
		}
		_, err = l.db.w(ctx).ExecContext(ctx, "INSERT INTO audit_log ("+auditCols+
			") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", out.Seq,
			out.TS.Format(auditTSLayout), out.Actor, out.ActorIP, out.Tenant, out.Action,
			out.Target, out.Outcome, diff, out.TraceID, out.PrevHash, out.Hash)
		if err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.AuditEvent{}, err
	}
	return out, nil
}

// List returns one page of matching events, newest first, and how many match in all.
func (l *auditLog) List(ctx context.Context, f store.AuditFilter,
	p store.Page) ([]store.AuditEvent, int, error) {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.Size < 1 {
		p.Size = store.DefaultPageSize
	}
	p.Size = min(p.Size, store.MaxPageSize)
	where, args, err := auditWhere(f)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := l.db.r(ctx).QueryRowContext(ctx, "SELECT count(*) FROM audit_log"+where,
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count audit events: %w", err)
	}
	rows, err := l.db.r(ctx).QueryContext(ctx, "SELECT "+auditCols+" FROM audit_log"+where+
		" ORDER BY seq DESC LIMIT ? OFFSET ?", append(args, p.Size, p.Offset())...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	out := []store.AuditEvent{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list audit events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	return out, total, nil
}

func auditWhere(f store.AuditFilter) (string, []any, error) {
	var conds []string
	var args []any
	if f.Actor != "" {
		conds, args = append(conds, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		conds, args = append(conds, "action = ?"), append(args, f.Action)
	}
	for _, b := range []struct {
		t    time.Time
		cond string
	}{{f.Since, "ts >= ?"}, {f.Until, "ts < ?"}} {
		if b.t.IsZero() {
			continue
		}
		if y := b.t.UTC().Year(); y < 0 || y > 9999 {
			return "", nil, store.Errorf(store.ErrInvalid, "audit filter year %d is out of "+
				"range", y)
		}
		conds, args = append(conds, b.cond), append(args, b.t.UTC().Format(auditTSLayout))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return "", nil, store.Errorf(store.ErrInvalid, "audit filter: until is before since")
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// Scan streams the chain in seq order. A single query reads one snapshot of the WAL, so
// appends during the scan are not seen half-way.
func (l *auditLog) Scan(ctx context.Context, fn func(store.AuditEvent) error) error {
	rows, err := l.db.r(ctx).QueryContext(ctx, "SELECT "+auditCols+
		" FROM audit_log ORDER BY seq")
	if err != nil {
		return fmt.Errorf("scan audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("scan audit log: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan audit log: %w", err)
	}
	return nil
}

// Verify checks the whole chain from its first entry.
func (l *auditLog) Verify(ctx context.Context) error { return store.VerifyAuditLog(ctx, l) }

func scanAudit(row interface{ Scan(...any) error }) (store.AuditEvent, error) {
	var e store.AuditEvent
	var ts string
	var diff sql.NullString
	if err := row.Scan(&e.Seq, &ts, &e.Actor, &e.ActorIP, &e.Tenant, &e.Action, &e.Target,
		&e.Outcome, &diff, &e.TraceID, &e.PrevHash, &e.Hash); err != nil {
		return store.AuditEvent{}, err
	}
	// A time that does not parse is left zero rather than failing the read: verification
	// then reports the entry as altered, which is what it is.
	e.TS = parseTime(ts).UTC()
	if diff.Valid {
		e.Diff = []byte(diff.String)
	}
	return e, nil
}
