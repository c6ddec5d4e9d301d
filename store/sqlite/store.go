package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/ncruces/go-sqlite3"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// Options configures a Store.
type Options struct {
	// Dir is the data dir; control.db and tenants/ live in it.
	Dir string
	// KEK wraps tenant data keys.
	KEK *keys.KEK
	// ControlKey is the control database's data key (from the keyring).
	ControlKey keys.Key
	// MaxOpenTenants bounds the tenant databases kept open while idle (default 64).
	MaxOpenTenants int
	// TenantCacheKiB is each tenant connection's page cache (default 16 MiB, on demand).
	TenantCacheKiB int
	Logger         *slog.Logger
}

// ResultsDropper removes a tenant's values from the results store during deletion.
type ResultsDropper interface {
	DropTenant(ctx context.Context, tenantID string) error
}

// Store is the SQLite backend: the control database, the tenant registry with its key
// versions, and the pool of tenant databases.
type Store struct {
	opt     Options
	control *DB
	pool    *pool
	log     *slog.Logger
	results ResultsDropper

	mu      sync.Mutex // guards deks
	deks    map[string]tenantKeys
	lifeMus sync.Mutex // serialises create and delete, which touch files as well as rows
	rot     rotation   // key rotation: per-tenant gates, DEK cache generation (rotate.go)
}

type tenantKeys struct {
	current  int
	versions map[int]keys.Key
}

var _ store.Tenants = (*Store)(nil)

// ControlFile and TenantsDir name the store's files inside the data dir.
const (
	ControlFile = "control.db"
	TenantsDir  = "tenants"
)

// Open opens the control database and prepares the tenant pool. Call Recover after attaching
// the results store, before serving.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.MaxOpenTenants <= 0 {
		opt.MaxOpenTenants = 64
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(opt.Dir, TenantsDir), 0o700); err != nil {
		return nil, fmt.Errorf("create tenants dir: %w", err)
	}
	control, err := OpenDB(ctx, filepath.Join(opt.Dir, ControlFile),
		keys.Derive(opt.ControlKey, "control-db-xts", XTSKeySize),
		DBOptions{Schema: "control", CacheKiB: 16 << 10, SecureDelete: true})
	if err != nil {
		return nil, err
	}
	return &Store{
		opt: opt, control: control, pool: newPool(opt.MaxOpenTenants), log: opt.Logger,
		deks: map[string]tenantKeys{},
	}, nil
}

// AttachResults lets deletion and recovery remove a tenant's results too.
func (s *Store) AttachResults(r ResultsDropper) { s.results = r }

// Close closes every tenant database, then the control database.
func (s *Store) Close() error {
	s.pool.closeAll()
	return s.control.Close()
}

// Ping checks the control database.
func (s *Store) Ping(ctx context.Context) error { return s.control.Ping(ctx) }

// OpenTenantDBs is the number of tenant databases open now (a metric).
func (s *Store) OpenTenantDBs() int { return s.pool.open() }

func (s *Store) tenantPath(id string) string {
	return filepath.Join(s.opt.Dir, TenantsDir, id+".db")
}

func keyLabel(tenantID string, version int) string {
	return fmt.Sprintf("tenant/%s/v%d", tenantID, version)
}

const tenantCols = "id, slug, name, status, key_version, require_mfa, created_at, updated_at"

func scanTenant(row interface{ Scan(...any) error }) (store.Tenant, error) {
	var t store.Tenant
	var created, updated string
	err := row.Scan(&t.ID, &t.Slug, &t.Name, &t.Status, &t.KeyVersion, &t.RequireMFA,
		&created, &updated)
	t.CreatedAt, t.UpdatedAt = parseTime(created), parseTime(updated)
	return t, err
}

// CreateTenant registers a tenant, gives it a fresh wrapped DEK and creates its encrypted
// database. The row is committed in state "creating" before any file exists and flipped to
// "active" only after the database is complete, so recovery can tell a finished tenant from a
// half-made one and remove the latter with its key.
func (s *Store) CreateTenant(ctx context.Context, slug, name string) (store.Tenant, error) {
	if err := store.ValidateSlug(slug); err != nil {
		return store.Tenant{}, err
	}
	if err := store.ValidateTenantName(name); err != nil {
		return store.Tenant{}, err
	}
	s.lifeMus.Lock()
	defer s.lifeMus.Unlock()

	id, err := uuid.NewV7()
	if err != nil {
		return store.Tenant{}, fmt.Errorf("new tenant id: %w", err)
	}
	dek, err := keys.NewKey()
	if err != nil {
		return store.Tenant{}, err
	}
	wrapped, err := s.opt.KEK.Wrap(dek, keyLabel(id.String(), 1))
	if err != nil {
		return store.Tenant{}, err
	}
	ts := now()
	err = s.control.WithTx(ctx, func(ctx context.Context) error {
		_, err := s.control.w(ctx).ExecContext(ctx, `INSERT INTO tenants
			(id, slug, name, status, key_version, created_at, updated_at)
			VALUES (?, ?, ?, 'creating', 1, ?, ?)`, id.String(), slug, name, ts, ts)
		if errors.Is(err, sqlite3.CONSTRAINT_UNIQUE) {
			return store.Errorf(store.ErrConflict,
				"tenant slug %q is already taken; choose another", slug)
		}
		if err != nil {
			return err
		}
		_, err = s.control.w(ctx).ExecContext(ctx, `INSERT INTO tenant_keys
			(tenant_id, version, wrapped, created_at) VALUES (?, 1, ?, ?)`,
			id.String(), wrapped, ts)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Tenant{}, err
		}
		return store.Tenant{}, fmt.Errorf("create tenant %q: %w", slug, err)
	}
	t := store.Tenant{ID: id.String(), Slug: slug, Name: name, Status: store.TenantActive,
		KeyVersion: 1, CreatedAt: parseTime(ts), UpdatedAt: parseTime(ts)}
	if err := s.createTenantDB(ctx, t.ID, dek); err != nil {
		s.rollbackCreate(t.ID)
		return store.Tenant{}, fmt.Errorf("create tenant %q: %w", slug, err)
	}
	if _, err := s.control.w(ctx).ExecContext(ctx,
		"UPDATE tenants SET status = 'active' WHERE id = ?", t.ID); err != nil {
		s.rollbackCreate(t.ID)
		return store.Tenant{}, fmt.Errorf("create tenant %q: %w", slug, err)
	}
	return t, nil
}

func (s *Store) createTenantDB(ctx context.Context, id string, dek keys.Key) error {
	db, err := s.openTenantFile(ctx, id, dek)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx,
		"INSERT INTO tenant_meta (key, value) VALUES ('tenant_id', ?)", id)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return keys.SyncDir(filepath.Join(s.opt.Dir, TenantsDir))
}

func (s *Store) openTenantFile(ctx context.Context, id string, dek keys.Key) (*DB, error) {
	return OpenDB(ctx, s.tenantPath(id), keys.Derive(dek, "tenant-db-xts", XTSKeySize),
		DBOptions{Schema: "tenant", CacheKiB: s.opt.TenantCacheKiB})
}

// rollbackCreate removes what a failed create left; if this fails too, Recover finishes it.
func (s *Store) rollbackCreate(id string) {
	ctx := context.Background()
	_ = s.removeTenantFiles(id) // what stays behind, Recover removes
	if _, err := s.control.writer.ExecContext(ctx, "DELETE FROM tenants WHERE id = ?",
		id); err != nil {
		s.log.Warn("roll back tenant create; recovery will finish it", "tenant_id", id,
			"error", err)
	}
}

func (s *Store) removeTenantFiles(id string) error {
	base := s.tenantPath(id)
	var errs []error
	for _, suffix := range []string{"-wal", "-shm", "-journal", ""} {
		if err := os.Remove(base + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, keys.SyncDir(filepath.Dir(base)))
	return errors.Join(errs...)
}

// GetTenant finds a visible (active or suspended) tenant by slug or id.
func (s *Store) GetTenant(ctx context.Context, ref string) (store.Tenant, error) {
	t, err := scanTenant(s.control.r(ctx).QueryRowContext(ctx, "SELECT "+tenantCols+
		" FROM tenants WHERE (slug = ? OR id = ?) AND status IN ('active', 'suspended')",
		ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Tenant{}, store.Errorf(store.ErrNotFound, "tenant %q does not exist",
			store.Truncate(ref, 60))
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("get tenant: %w", err)
	}
	return t, nil
}

// ListTenants returns one page of visible tenants ordered by slug, and their total count.
func (s *Store) ListTenants(ctx context.Context, p store.Page) ([]store.Tenant, int, error) {
	return s.listTenants(ctx, "", nil, p)
}

// ListTenantsIn lists, a page at a time, the visible tenants among ids.
func (s *Store) ListTenantsIn(ctx context.Context, ids []string, p store.Page) ([]store.Tenant,
	int, error) {
	if len(ids) == 0 {
		return []store.Tenant{}, 0, nil
	}
	args := make([]any, 0, len(ids))
	for _, id := range ids {
		args = append(args, id)
	}
	return s.listTenants(ctx, " AND id IN (?"+strings.Repeat(", ?", len(ids)-1)+")", args, p)
}

// listTenants pages through visible tenants matching an extra condition.
func (s *Store) listTenants(ctx context.Context, cond string, args []any, p store.Page) (
	[]store.Tenant, int, error) {
	where := " FROM tenants WHERE status IN ('active', 'suspended')" + cond
	var total int
	if err := s.control.r(ctx).QueryRowContext(ctx, "SELECT count(*)"+where,
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count tenants: %w", err)
	}
	rows, err := s.control.r(ctx).QueryContext(ctx, "SELECT "+tenantCols+where+
		" ORDER BY slug LIMIT ? OFFSET ?", append(args, p.Size, p.Offset())...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	out := []store.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}

// UpdateTenant renames, suspends or resumes a tenant.
func (s *Store) UpdateTenant(ctx context.Context, ref string,
	u store.TenantUpdate) (store.Tenant, error) {
	if u.Name != nil {
		if err := store.ValidateTenantName(*u.Name); err != nil {
			return store.Tenant{}, err
		}
	}
	if u.Status != nil && *u.Status != store.TenantActive && *u.Status != store.TenantSuspended {
		return store.Tenant{}, store.Errorf(store.ErrInvalid, "status must be %q or %q",
			store.TenantActive, store.TenantSuspended)
	}
	var out store.Tenant
	err := s.control.WithTx(ctx, func(ctx context.Context) error {
		t, err := s.GetTenant(ctx, ref)
		if err != nil {
			return err
		}
		if u.Name != nil {
			t.Name = *u.Name
		}
		if u.Status != nil {
			t.Status = *u.Status
		}
		if u.RequireMFA != nil {
			t.RequireMFA = *u.RequireMFA
		}
		ts := now()
		if _, err := s.control.w(ctx).ExecContext(ctx, "UPDATE tenants SET name = ?, "+
			"status = ?, require_mfa = ?, updated_at = ? WHERE id = ?", t.Name, t.Status,
			t.RequireMFA, ts, t.ID); err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
		t.UpdatedAt = parseTime(ts)
		out = t
		return nil
	})
	return out, err
}

// DeleteTenant crypto-shreds a tenant: its DEK versions are destroyed and the row marked
// "deleting" in one transaction, and only then are its database files and results removed and
// the row dropped. After the first step nothing of the tenant can be decrypted again; if the
// process dies later, Recover finishes the removal.
func (s *Store) DeleteTenant(ctx context.Context, ref string) error {
	s.lifeMus.Lock()
	defer s.lifeMus.Unlock()
	var id string
	err := s.control.WithTx(ctx, func(ctx context.Context) error {
		t, err := s.GetTenant(ctx, ref)
		if err != nil {
			return err
		}
		id = t.ID
		if _, err := s.control.w(ctx).ExecContext(ctx, "UPDATE tenant_keys SET wrapped = NULL,"+
			" destroyed_at = ? WHERE tenant_id = ?", now(), id); err != nil {
			return err
		}
		_, err = s.control.w(ctx).ExecContext(ctx,
			"UPDATE tenants SET status = 'deleting', updated_at = ? WHERE id = ?", now(), id)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return fmt.Errorf("delete tenant %q: %w", ref, err)
	}
	s.forgetKeys(id)
	// Old pages of control.db may still hold the wrapped key until the WAL is folded back.
	_, _ = s.control.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return s.finishDelete(ctx, id)
}

func (s *Store) finishDelete(ctx context.Context, id string) error {
	s.pool.remove(id)
	if err := s.removeTenantFiles(id); err != nil {
		return fmt.Errorf("delete tenant files: %w", err)
	}
	if s.results != nil {
		if err := s.results.DropTenant(ctx, id); err != nil {
			return fmt.Errorf("delete tenant results: %w", err)
		}
	}
	if _, err := s.control.writer.ExecContext(ctx, "DELETE FROM tenants WHERE id = ?",
		id); err != nil {
		return fmt.Errorf("delete tenant row: %w", err)
	}
	return nil
}

// Recover finishes or rolls back lifecycle steps that a crash interrupted: tenants still
// "creating" are removed with their keys and files, tenants "deleting" are finished, and files
// or key rows that belong to no tenant are removed. It runs under the data dir lock, before
// anything else uses the store.
func (s *Store) Recover(ctx context.Context) error {
	s.lifeMus.Lock()
	defer s.lifeMus.Unlock()
	rows, err := s.control.writer.QueryContext(ctx,
		"SELECT id, status FROM tenants WHERE status IN ('creating', 'deleting')")
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	type pending struct{ id, status string }
	var todo []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.status); err != nil {
			rows.Close()
			return fmt.Errorf("recover: %w", err)
		}
		todo = append(todo, p)
	}
	rows.Close()
	for _, p := range todo {
		s.log.Info("recovering interrupted tenant "+strings.TrimSuffix(p.status, "ing")+"e",
			"tenant_id", p.id)
		if p.status == string(store.TenantCreating) {
			if _, err := s.control.writer.ExecContext(ctx, "UPDATE tenant_keys SET wrapped = "+
				"NULL, destroyed_at = ? WHERE tenant_id = ?", now(), p.id); err != nil {
				return fmt.Errorf("recover: %w", err)
			}
		}
		if err := s.finishDelete(ctx, p.id); err != nil {
			return fmt.Errorf("recover tenant %s: %w", p.id, err)
		}
	}
	if _, err := s.control.writer.ExecContext(ctx,
		"DELETE FROM tenant_keys WHERE tenant_id NOT IN (SELECT id FROM tenants)"); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if err := s.recoverRotations(ctx); err != nil {
		return err
	}
	return s.removeOrphanFiles(ctx)
}

func (s *Store) removeOrphanFiles(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(s.opt.Dir, TenantsDir))
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	known := map[string]bool{}
	rows, err := s.control.writer.QueryContext(ctx, "SELECT id FROM tenants")
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		known[id] = true
	}
	rows.Close()
	for _, e := range entries {
		id, _, _ := strings.Cut(e.Name(), ".db")
		if e.IsDir() || known[id] || uuid.Validate(id) != nil {
			continue // not ours to remove
		}
		s.log.Info("removing orphan tenant file", "file", e.Name())
		if err := os.Remove(filepath.Join(s.opt.Dir, TenantsDir, e.Name())); err != nil &&
			!errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("recover: %w", err)
		}
	}
	return nil
}

// TenantKeys returns a tenant's current key version and every key version not destroyed,
// unwrapped. Results sealing uses them.
func (s *Store) TenantKeys(ctx context.Context, tenantID string) (int, map[int]keys.Key,
	error) {
	s.mu.Lock()
	tk, ok := s.deks[tenantID]
	s.mu.Unlock()
	if ok {
		return tk.current, tk.versions, nil
	}
	gen := s.rot.keyGen.Load() // a rotation that commits meanwhile must not be cached over
	var current int
	err := s.control.r(ctx).QueryRowContext(ctx, "SELECT key_version FROM tenants WHERE id = ?"+
		" AND status IN ('active', 'suspended')", tenantID).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, store.Errorf(store.ErrNotFound, "tenant %s has no keys", tenantID)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read tenant keys: %w", err)
	}
	rows, err := s.control.r(ctx).QueryContext(ctx, "SELECT version, wrapped FROM tenant_keys"+
		" WHERE tenant_id = ? AND wrapped IS NOT NULL AND state <> 'pending'", tenantID)
	if err != nil {
		return 0, nil, fmt.Errorf("read tenant keys: %w", err)
	}
	defer rows.Close()
	tk = tenantKeys{current: current, versions: map[int]keys.Key{}}
	for rows.Next() {
		var v int
		var w []byte
		if err := rows.Scan(&v, &w); err != nil {
			return 0, nil, fmt.Errorf("read tenant keys: %w", err)
		}
		k, err := s.opt.KEK.Unwrap(w, keyLabel(tenantID, v))
		if err != nil {
			return 0, nil, err
		}
		tk.versions[v] = k
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	if _, ok := tk.versions[current]; !ok {
		return 0, nil, store.Errorf(store.ErrWrongKey, "tenant %s has no current key", tenantID)
	}
	s.mu.Lock()
	if s.rot.keyGen.Load() == gen {
		s.deks[tenantID] = tk
	}
	s.mu.Unlock()
	return tk.current, tk.versions, nil
}

func (s *Store) forgetKeys(id string) {
	s.mu.Lock()
	delete(s.deks, id)
	s.rot.keyGen.Add(1)
	s.mu.Unlock()
}

// TenantDB opens (or reuses from the pool) a tenant's database. Call release when done; the
// handle must not be used after that.
func (s *Store) TenantDB(ctx context.Context, ref string) (*TenantDB, func(), error) {
	t, err := s.GetTenant(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	leave, err := s.rot.enter(ctx, t.ID) // waits while a key rotation swaps the file
	if err != nil {
		return nil, nil, err
	}
	db, release, err := s.pool.acquire(ctx, t.ID, func(ctx context.Context) (*DB, error) {
		current, versions, err := s.TenantKeys(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		db, err := s.openTenantFile(ctx, t.ID, versions[current])
		if err != nil {
			return nil, fmt.Errorf("open tenant %q: %w", t.Slug, err)
		}
		var owner string
		if err := db.r(ctx).QueryRowContext(ctx, "SELECT value FROM tenant_meta WHERE key = "+
			"'tenant_id'").Scan(&owner); err != nil || owner != t.ID {
			_ = db.Close()
			return nil, store.Errorf(store.ErrCorrupt,
				"database file of tenant %q belongs to another tenant", t.Slug)
		}
		return db, nil
	})
	if err != nil {
		leave()
		return nil, nil, err
	}
	return &TenantDB{Tenant: t, db: db}, func() { release(); leave() }, nil
}
