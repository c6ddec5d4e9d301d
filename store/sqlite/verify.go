package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// Verify checks that rows, keys and files agree: every tenant is in a final state, has its
// current key and a database that opens with it and names it as owner; no key row and no file
// belongs to no tenant. It returns nil or one error listing every problem found.
func (s *Store) Verify(ctx context.Context) error {
	var problems []string
	rows, err := s.control.reader.QueryContext(ctx, "SELECT id, slug, status FROM tenants")
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	type row struct{ id, slug, status string }
	var tenants []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.slug, &r.status); err != nil {
			rows.Close()
			return fmt.Errorf("verify: %w", err)
		}
		tenants = append(tenants, r)
	}
	rows.Close()
	known := map[string]bool{}
	for _, t := range tenants {
		known[t.id] = true
		if t.status != "active" && t.status != "suspended" {
			problems = append(problems, fmt.Sprintf("tenant %s is stuck in %s", t.slug, t.status))
			continue
		}
		tdb, release, err := s.TenantDB(ctx, t.id)
		if err != nil {
			problems = append(problems, fmt.Sprintf("tenant %s does not open: %v", t.slug, err))
			continue
		}
		if _, err := tdb.CountAssets(ctx); err != nil {
			problems = append(problems, fmt.Sprintf("tenant %s cannot be read: %v", t.slug, err))
		}
		release()
	}
	var orphanKeys int
	if err := s.control.reader.QueryRowContext(ctx, "SELECT count(*) FROM tenant_keys WHERE "+
		"tenant_id NOT IN (SELECT id FROM tenants)").Scan(&orphanKeys); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if orphanKeys > 0 {
		problems = append(problems, fmt.Sprintf("%d key rows belong to no tenant", orphanKeys))
	}
	entries, err := os.ReadDir(filepath.Join(s.opt.Dir, TenantsDir))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for _, e := range entries {
		id, _, _ := strings.Cut(e.Name(), ".db")
		if uuid.Validate(id) == nil && !known[id] {
			problems = append(problems, "file "+e.Name()+" belongs to no tenant")
		}
	}
	if len(problems) > 0 {
		return errors.New("verify: " + strings.Join(problems, "; "))
	}
	return nil
}

// KeyRows returns the number of key rows and of live (not destroyed) keys of a tenant id.
func (s *Store) KeyRows(ctx context.Context, tenantID string) (rows, live int, err error) {
	err = s.control.reader.QueryRowContext(ctx, "SELECT count(*), count(wrapped) FROM "+
		"tenant_keys WHERE tenant_id = ?", tenantID).Scan(&rows, &live)
	return rows, live, err
}
