package appliance

import (
	"context"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/sqlite"
)

// inTenant runs fn with a tenant (by slug or id) and its database, released afterwards.
func inTenant[T any](ctx context.Context, a *Appliance, ref string,
	fn func(store.Tenant, *sqlite.TenantDB) (T, error)) (T, error) {
	var zero T
	t, err := a.store.GetTenant(ctx, ref)
	if err != nil {
		return zero, err
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return zero, err
	}
	defer release()
	return fn(t, tdb)
}
