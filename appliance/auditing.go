package appliance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantra/tenantra/appliance/audit"
	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// audit appends an event by the caller in ctx to the tenant's chain, or to the platform chain
// when tenantID is empty. A failure to audit is logged as an error; it does not undo the
// action, which has already happened.
func (a *Appliance) audit(ctx context.Context, tenantID, action, target, outcome string,
	diff any) {
	a.auditAs(ctx, authz.FromContext(ctx).Name(), tenantID, action, target, outcome, diff)
}

func (a *Appliance) auditAs(ctx context.Context, actor, tenantID, action, target,
	outcome string, diff any) {
	e := store.AuditEvent{TS: a.now(), Actor: actor, ActorIP: web.ClientIP(ctx),
		Action: action, Target: target, Outcome: outcome, TraceID: web.TraceID(ctx)}
	if diff != nil {
		e.Diff = audit.RedactDiff(diff)
	}
	var err error
	if tenantID == "" {
		_, err = a.store.PlatformAudit().Append(ctx, e)
	} else {
		err = a.withTenantDB(ctx, tenantID, func(l store.AuditLog) error {
			_, err := l.Append(ctx, e)
			return err
		})
	}
	if err != nil {
		a.log.ErrorContext(ctx, "audit append failed", "action", action, "error", err)
	}
}

func (a *Appliance) withTenantDB(ctx context.Context, tenantID string,
	fn func(store.AuditLog) error) error {
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return err
	}
	defer release()
	return fn(tdb.Audit())
}

func (a *Appliance) now() time.Time {
	if a.id != nil {
		return a.id.now()
	}
	return time.Now()
}

// AuditDenied records a refused request.
func (a *Appliance) AuditDenied(ctx context.Context, tenantID, action, target, reason string) {
	a.audit(ctx, tenantID, action, target, "denied", map[string]string{"reason": reason})
}

// ListAudit lists a chain's entries, newest first.
func (a *Appliance) ListAudit(ctx context.Context, tenantID string, f store.AuditFilter,
	p store.Page) ([]store.AuditEvent, int, error) {
	if tenantID == "" {
		return a.store.PlatformAudit().List(ctx, f, p)
	}
	var items []store.AuditEvent
	var total int
	err := a.withTenantDB(ctx, tenantID, func(l store.AuditLog) error {
		var err error
		items, total, err = l.List(ctx, f, p)
		return err
	})
	return items, total, err
}

// VerifyAudit checks the platform chain and every tenant's chain, or only the named
// tenant's. The error names the chain and its first bad entry.
func (a *Appliance) VerifyAudit(ctx context.Context, tenant string) (checked int, err error) {
	verify := func(name string, l store.AuditLog) error {
		checked++
		if err := l.Verify(ctx); err != nil {
			var ce *store.ChainError
			if errors.As(err, &ce) {
				return fmt.Errorf("audit chain of %s: %w", name, err)
			}
			return fmt.Errorf("audit chain of %s could not be read: %w", name, err)
		}
		return nil
	}
	if tenant != "" {
		t, err := a.store.GetTenant(ctx, tenant)
		if err != nil {
			return 0, err
		}
		return checked, a.withTenantDB(ctx, t.ID, func(l store.AuditLog) error {
			return verify("tenant "+t.Slug, l)
		})
	}
	if err := verify("the platform", a.store.PlatformAudit()); err != nil {
		return checked, err
	}
	for page := 1; ; page++ {
		ts, total, err := a.store.ListTenants(ctx, store.Page{Page: page,
			Size: store.MaxPageSize})
		if err != nil {
			return checked, err
		}
		for _, t := range ts {
			if err := a.withTenantDB(ctx, t.ID, func(l store.AuditLog) error {
				return verify("tenant "+t.Slug, l)
			}); err != nil {
				return checked, err
			}
		}
		if len(ts) == 0 || page*store.MaxPageSize >= total {
			return checked, nil
		}
	}
}
