package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// Fault points of a tenant key rotation, in the order they are reached (see keys.Faultpoint).
// What recovery does after a crash at each is in RotateTenantKey's comment.
const (
	StepTenantPending     = "tenant-pending"      // new version recorded as pending
	StepTenantDrained     = "tenant-drained"      // users drained, pooled handle closed
	StepTenantCopyPartial = "tenant-copy-partial" // first page of <id>.db.rotating written
	StepTenantCopied      = "tenant-copied"       // <id>.db.rotating complete and fsynced
	StepTenantOldClosed   = "tenant-old-closed"   // old file checkpointed, -wal/-shm removed
	StepTenantRenamed     = "tenant-renamed"      // .rotating renamed over <id>.db
	StepTenantCommitted   = "tenant-committed"    // registry points at the new version
)

// TenantSteps lists the tenant rotation's fault points in order.
var TenantSteps = []string{StepTenantPending, StepTenantDrained, StepTenantCopyPartial,
	StepTenantCopied, StepTenantOldClosed, StepTenantRenamed, StepTenantCommitted}

// rotatingSuffix names the copy a rotation writes beside a tenant's database.
const rotatingSuffix = ".rotating"

// drainTimeout bounds how long a rotation waits for a tenant's users to release it.
const drainTimeout = time.Minute

// errCrashed ends a rotation at a simulated fault point in unit tests, skipping every cleanup
// as a real crash would.
var errCrashed = errors.New("simulated crash at a fault point")

// faultFunc is called at every step; returning true simulates a crash there.
type faultFunc func(step string) bool

func killAt(step string) bool {
	keys.Faultpoint(step)
	return false
}

// rotation is the Store's rotation state: one gate per tenant that a rotation closes to keep
// TenantDB callers out while it swaps the file, and a generation of the DEK cache, bumped by
// every forget, so that a read of the registry that raced a rotation is not cached. The zero
// value is ready to use.
type rotation struct {
	mu     sync.Mutex
	gates  map[string]*gate
	keyGen atomic.Uint64
}

type gate struct {
	users  int
	closed bool
	// changed is closed when users or closed change; made only when someone waits, so the
	// common path (no rotation) allocates no channel.
	changed chan struct{}
}

func (g *gate) wait() <-chan struct{} {
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

func (g *gate) signal() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

func (r *rotation) get(id string) *gate {
	if r.gates == nil {
		r.gates = map[string]*gate{}
	}
	g := r.gates[id]
	if g == nil {
		g = &gate{}
		r.gates[id] = g
	}
	return g
}

func (r *rotation) dropIdle(id string, g *gate) {
	if g.users == 0 && !g.closed && r.gates[id] == g {
		delete(r.gates, id)
	}
}

// enter admits a user of the tenant's database, waiting while a rotation holds the gate.
func (r *rotation) enter(ctx context.Context, id string) (func(), error) {
	r.mu.Lock()
	for {
		g := r.get(id)
		if !g.closed {
			g.users++
			r.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { r.leave(id, g) }) }, nil
		}
		ch := g.wait()
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the key rotation of tenant %s: %w", id, ctx.Err())
		}
		r.mu.Lock()
	}
}

func (r *rotation) leave(id string, g *gate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.users--
	if g.users == 0 {
		g.signal()
		r.dropIdle(id, g)
	}
}

// shut closes the tenant's gate and waits until its last user has left; new users wait. The
// returned function opens the gate again.
func (r *rotation) shut(ctx context.Context, id string) (func(), error) {
	r.mu.Lock()
	g := r.get(id)
	if g.closed {
		r.mu.Unlock()
		return nil, store.Errorf(store.ErrConflict,
			"a key rotation of tenant %s is already running", id)
	}
	g.closed = true
	open := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		g.closed = false
		g.signal()
		r.dropIdle(id, g)
	}
	for g.users > 0 {
		ch := g.wait()
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			open()
			return nil, store.Errorf(store.ErrConflict, "tenant %s stayed in use for %s, so "+
				"its key was not rotated; retry when it is less busy", id, drainTimeout)
		}
		r.mu.Lock()
	}
	r.mu.Unlock()
	return open, nil
}

// TenantRotation reports one finished tenant key rotation.
type TenantRotation struct {
	TenantID string        `json:"tenant_id"`
	Slug     string        `json:"tenant"`
	From     int           `json:"from_version"`
	To       int           `json:"to_version"`
	Took     time.Duration `json:"took_ns"`
}

// keyForgetter is the part of the results store that caches tenant keys.
type keyForgetter interface{ Forget(tenantID string) }

func (s *Store) forgetEverywhere(id string) {
	s.forgetKeys(id)
	if f, ok := s.results.(keyForgetter); ok {
		f.Forget(id)
	}
}

// RotateTenantKey gives a tenant a new DEK version and re-encrypts its database under it
// while the appliance keeps running; the tenant's users wait (TenantDB blocks) only while the
// file is copied and swapped. Older versions stay live, because results sealed under them
// must stay readable until a re-seal pass has rewritten them.
//
// Each step is durable before the next starts, and Recover resolves a crash at any of them
// (the step names are the fault points):
//
//	tenant-pending       the new version is committed in state pending; the file is
//	                     untouched → recovery finds the file opens with the old key and
//	                     deletes the pending version
//	tenant-drained       users drained, the pooled handle checkpointed and closed → same
//	tenant-copy-partial  part of <id>.db.rotating written → recovery removes it, rolls back
//	tenant-copied        <id>.db.rotating complete and fsynced → same
//	tenant-old-closed    the old file checkpointed through a last handle, which is closed,
//	                     and its -wal/-shm removed → same (the old file is whole)
//	tenant-renamed       <id>.db.rotating renamed over <id>.db, directory fsynced →
//	                     recovery finds the file opens with the new key and commits it
//	tenant-committed     tenants.key_version is the new version, which is active →
//	                     nothing to do
//
// Creating and deleting tenants wait while a rotation runs.
func (s *Store) RotateTenantKey(ctx context.Context, ref string) (TenantRotation, error) {
	return s.rotateTenantKey(ctx, ref, killAt)
}

func (s *Store) rotateTenantKey(ctx context.Context, ref string, fault faultFunc) (
	res TenantRotation, err error) {
	start := time.Now()
	s.lifeMus.Lock()
	defer s.lifeMus.Unlock()
	t, err := s.GetTenant(ctx, ref)
	if err != nil {
		return res, err
	}
	res = TenantRotation{TenantID: t.ID, Slug: t.Slug, From: t.KeyVersion}
	if err := s.resolvePending(ctx, t.ID); err != nil { // left by an earlier failure
		return res, err
	}
	s.forgetKeys(t.ID)
	current, versions, err := s.TenantKeys(ctx, t.ID)
	if err != nil {
		return res, err
	}
	res.From = current
	dek, err := keys.NewKey()
	if err != nil {
		return res, err
	}
	err = s.control.WithTx(ctx, func(ctx context.Context) error {
		if err := s.control.w(ctx).QueryRowContext(ctx, "SELECT coalesce(max(version), 0) "+
			"+ 1 FROM tenant_keys WHERE tenant_id = ?", t.ID).Scan(&res.To); err != nil {
			return err
		}
		wrapped, err := s.opt.KEK.Wrap(dek, keyLabel(t.ID, res.To))
		if err != nil {
			return err
		}
		_, err = s.control.w(ctx).ExecContext(ctx, "INSERT INTO tenant_keys (tenant_id, "+
			"version, wrapped, created_at, state) VALUES (?, ?, ?, ?, 'pending')", t.ID, res.To,
			wrapped, now())
		return err
	})
	if err != nil {
		return res, fmt.Errorf("rotate the key of tenant %q: record the new version: %w",
			t.Slug, err)
	}
	if fault(StepTenantPending) {
		return res, errCrashed
	}

	dctx, cancel := context.WithTimeout(ctx, drainTimeout)
	open, err := s.rot.shut(dctx, t.ID)
	cancel()
	if err != nil {
		return res, errors.Join(err, s.resolvePending(context.WithoutCancel(ctx), t.ID))
	}
	defer func() {
		if errors.Is(err, errCrashed) {
			return
		}
		if err != nil {
			// Whatever step failed, the file decides: finish or roll back now, as recovery
			// would after a crash.
			if rerr := s.resolvePending(context.WithoutCancel(ctx), t.ID); rerr != nil {
				err = fmt.Errorf("%w; then %w; restart tenantra to let recovery finish it",
					err, rerr)
			}
		}
		s.forgetEverywhere(t.ID)
		open()
	}()
	s.pool.remove(t.ID) // idle now, so closed (and checkpointed) before this returns
	if fault(StepTenantDrained) {
		return res, errCrashed
	}
	if err := s.reencrypt(ctx, t.ID, versions[current], dek, fault); err != nil {
		return res, fmt.Errorf("rotate the key of tenant %q: %w", t.Slug, err)
	}
	if err := s.commitRotation(context.WithoutCancel(ctx), t.ID, res.To); err != nil {
		return res, fmt.Errorf("rotate the key of tenant %q: switch the registry: %w",
			t.Slug, err)
	}
	if fault(StepTenantCommitted) {
		return res, errCrashed
	}
	res.Took = time.Since(start)
	return res, nil
}

func tenantXTS(dek keys.Key) keys.Key { return keys.Derive(dek, "tenant-db-xts", XTSKeySize) }

// keyedURI is the URI of an encrypted database file with its key; mode is rw, rwc or ro.
func keyedURI(path string, key keys.Key, mode string) string {
	return strings.Replace(fileURI(path, false), "mode=rwc", "mode="+mode, 1) +
		"&hexkey=" + hex.EncodeToString(key)
}

// reencrypt copies the tenant's database into <id>.db.rotating under the new key with
// SQLite's online backup, makes the copy durable and checks it, checkpoints and closes the
// old file, removes its -wal and -shm, and renames the copy over it.
func (s *Store) reencrypt(ctx context.Context, id string, oldDEK, newDEK keys.Key,
	fault faultFunc) error {
	path := s.tenantPath(id)
	tmp := path + rotatingSuffix
	if err := removeWithSidecars(tmp); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(tmp), err)
	}
	f.Close()
	src, err := sqlite3.OpenFlags(keyedURI(path, tenantXTS(oldDEK), "rw"),
		sqlite3.OPEN_READWRITE|sqlite3.OPEN_URI)
	if err != nil {
		return fmt.Errorf("open the database under its old key: %w", err)
	}
	defer func() { _ = src.Close() }() // a no-op once closed below
	if err := src.BusyTimeout(10 * time.Second); err != nil {
		return err
	}
	if err := copyDB(ctx, src, keyedURI(tmp, tenantXTS(newDEK), "rwc"), fault); err != nil {
		return fmt.Errorf("copy under the new key: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := probe(tmp, tenantXTS(newDEK), id); err != nil {
		return fmt.Errorf("check the copy: %w", err)
	}
	if fault(StepTenantCopied) {
		return errCrashed
	}
	// Fold the WAL into the old file and close it, so that the old file alone is whole: only
	// then may its -wal go, and it must go before the rename, or SQLite would read the old
	// WAL's frames against the new file.
	if _, _, err := src.WALCheckpoint("main", sqlite3.CHECKPOINT_TRUNCATE); err != nil {
		return fmt.Errorf("checkpoint the old database: %w", err)
	}
	if err := src.Close(); err != nil {
		return fmt.Errorf("close the old database: %w", err)
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if err := os.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", filepath.Base(side), err)
		}
	}
	if fault(StepTenantOldClosed) {
		return errCrashed
	}
	if err := removeWithSidecars(tmp, "-wal", "-shm", "-journal"); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s over %s: %w", filepath.Base(tmp), filepath.Base(path),
			err)
	}
	if err := keys.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync the tenants dir: %w", err)
	}
	if fault(StepTenantRenamed) {
		return errCrashed
	}
	return nil
}

// copyDB copies src's main database into dstURI a chunk at a time, so that a cancelled
// context stops it between chunks.
func copyDB(ctx context.Context, src *sqlite3.Conn, dstURI string, fault faultFunc) error {
	b, err := src.BackupInit("main", dstURI)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	for n, first := 1, true; ; n, first = 1024, false {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := b.Step(n)
		if err != nil {
			return err
		}
		if first && fault(StepTenantCopyPartial) {
			return errCrashed
		}
		if done {
			return b.Close()
		}
	}
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// removeWithSidecars removes path (unless only suffixes are wanted) and its SQLite sidecar
// files.
func removeWithSidecars(path string, only ...string) error {
	suffixes := []string{"", "-wal", "-shm", "-journal"}
	if len(only) > 0 {
		suffixes = only
	}
	var errs []error
	for _, sfx := range suffixes {
		if err := os.Remove(path + sfx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// probe reports whether the database file at path opens with key and names tenant id as its
// owner. It reads the file as immutable, so it never writes, creates a -wal or -shm, or
// replays a WAL: it judges the main file alone, which a rotation keeps whole at every step.
func probe(path string, key keys.Key, id string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	c, err := sqlite3.OpenFlags(keyedURI(path, key, "ro")+"&immutable=1",
		sqlite3.OPEN_READONLY|sqlite3.OPEN_URI)
	if err != nil {
		return classifyOpenError(path, err)
	}
	defer func() { _ = c.Close() }()
	st, _, err := c.Prepare("SELECT value FROM tenant_meta WHERE key = 'tenant_id'")
	if err != nil {
		return classifyOpenError(path, err)
	}
	defer func() { _ = st.Close() }()
	if !st.Step() {
		if err := st.Err(); err != nil {
			return classifyOpenError(path, err)
		}
		return store.Errorf(store.ErrCorrupt, "%s names no owner", filepath.Base(path))
	}
	if owner := st.ColumnText(0); owner != id {
		return store.Errorf(store.ErrCorrupt, "%s belongs to another tenant",
			filepath.Base(path))
	}
	return nil
}

// commitRotation points the tenant at version to and makes that version active.
func (s *Store) commitRotation(ctx context.Context, id string, to int) error {
	return s.control.WithTx(ctx, func(ctx context.Context) error {
		ts := now()
		if _, err := s.control.w(ctx).ExecContext(ctx, "UPDATE tenant_keys SET state = "+
			"'active' WHERE tenant_id = ? AND version = ?", id, to); err != nil {
			return err
		}
		_, err := s.control.w(ctx).ExecContext(ctx, "UPDATE tenants SET key_version = ?, "+
			"updated_at = ? WHERE id = ?", to, ts, id)
		return err
	})
}

// resolvePending finishes or rolls back a tenant's pending key version by what its database
// file says: it opens with the pending key (the copy was renamed into place) → commit; with
// the current key → delete the pending version. A stray .rotating copy is removed first.
func (s *Store) resolvePending(ctx context.Context, id string) error {
	var pending int
	var wrapped []byte
	err := s.control.writer.QueryRowContext(ctx, "SELECT version, wrapped FROM tenant_keys "+
		"WHERE tenant_id = ? AND state = 'pending' ORDER BY version DESC LIMIT 1", id).Scan(
		&pending, &wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pending key of tenant %s: %w", id, err)
	}
	path := s.tenantPath(id)
	if err := removeWithSidecars(path + rotatingSuffix); err != nil {
		return fmt.Errorf("remove the unfinished copy of tenant %s: %w", id, err)
	}
	var current int
	var curWrapped []byte
	if err := s.control.writer.QueryRowContext(ctx, "SELECT k.version, k.wrapped FROM "+
		"tenants t JOIN tenant_keys k ON k.tenant_id = t.id AND k.version = t.key_version "+
		"WHERE t.id = ?", id).Scan(&current, &curWrapped); err != nil {
		return fmt.Errorf("read current key of tenant %s: %w", id, err)
	}
	if wrapped != nil {
		newDEK, err := s.opt.KEK.Unwrap(wrapped, keyLabel(id, pending))
		if err != nil {
			return err
		}
		if probe(path, tenantXTS(newDEK), id) == nil {
			s.log.Info("finishing an interrupted key rotation", "tenant_id", id,
				"key_version", pending)
			if err := s.commitRotation(ctx, id, pending); err != nil {
				return fmt.Errorf("finish the key rotation of tenant %s: %w", id, err)
			}
			return nil
		}
	}
	oldDEK, err := s.opt.KEK.Unwrap(curWrapped, keyLabel(id, current))
	if err != nil {
		return err
	}
	if err := probe(path, tenantXTS(oldDEK), id); err != nil {
		return store.Errorf(store.ErrCorrupt, "tenant %s: its database opens with neither "+
			"key version %d nor the pending version %d (%v); restore it from a backup",
			id, current, pending, err)
	}
	s.log.Info("rolling back an interrupted key rotation", "tenant_id", id,
		"key_version", pending)
	if _, err := s.control.writer.ExecContext(ctx, "DELETE FROM tenant_keys WHERE "+
		"tenant_id = ? AND state = 'pending'", id); err != nil {
		return fmt.Errorf("roll back the key rotation of tenant %s: %w", id, err)
	}
	return nil
}

// recoverRotations resolves every pending key version of a visible tenant and removes copies
// that no rotation owns any more. Recover calls it under the data dir lock.
func (s *Store) recoverRotations(ctx context.Context) error {
	rows, err := s.control.writer.QueryContext(ctx, "SELECT DISTINCT k.tenant_id FROM "+
		"tenant_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.state = 'pending' AND "+
		"t.status IN ('active', 'suspended')")
	if err != nil {
		return fmt.Errorf("recover key rotations: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("recover key rotations: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if err := s.resolvePending(ctx, id); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	dir := filepath.Join(s.opt.Dir, TenantsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("recover key rotations: %w", err)
	}
	for _, e := range entries {
		if !strings.Contains(e.Name(), ".db"+rotatingSuffix) || e.IsDir() {
			continue
		}
		s.log.Info("removing an unfinished rotation copy", "file", e.Name())
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil &&
			!errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("recover key rotations: %w", err)
		}
	}
	return nil
}

// KeyVersion is one version of a tenant's key as the registry records it.
type KeyVersion struct {
	Version   int       `json:"version"`
	State     string    `json:"state"` // pending, active or retired
	Current   bool      `json:"current"`
	Live      bool      `json:"live"` // not destroyed
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// KeyVersions lists a tenant's key versions, oldest first.
func (s *Store) KeyVersions(ctx context.Context, tenantID string) ([]KeyVersion, error) {
	rows, err := s.control.reader.QueryContext(ctx, "SELECT k.version, k.state, "+
		"k.version = t.key_version, k.wrapped IS NOT NULL, k.created_at, "+
		"coalesce(k.retired_at, '') FROM tenant_keys k JOIN tenants t ON t.id = k.tenant_id "+
		"WHERE k.tenant_id = ? ORDER BY k.version", tenantID)
	if err != nil {
		return nil, fmt.Errorf("list key versions: %w", err)
	}
	defer rows.Close()
	var out []KeyVersion
	for rows.Next() {
		var v KeyVersion
		var created, retired string
		if err := rows.Scan(&v.Version, &v.State, &v.Current, &v.Live, &created,
			&retired); err != nil {
			return nil, fmt.Errorf("list key versions: %w", err)
		}
		v.CreatedAt, v.RetiredAt = parseTime(created), parseTime(retired)
		out = append(out, v)
	}
	return out, rows.Err()
}

// TenantKeyInfo is a tenant's current key for `tenantra keys status`.
type TenantKeyInfo struct {
	TenantID  string
	Slug      string
	Version   int
	CreatedAt time.Time
	// Retained counts older versions not destroyed (results may still be sealed under them).
	Retained int
}

// TenantKeyInfos lists the current key of every visible tenant, by slug.
func (s *Store) TenantKeyInfos(ctx context.Context) ([]TenantKeyInfo, error) {
	rows, err := s.control.reader.QueryContext(ctx, "SELECT t.id, t.slug, t.key_version, "+
		"k.created_at, (SELECT count(*) FROM tenant_keys o WHERE o.tenant_id = t.id AND "+
		"o.version <> t.key_version AND o.wrapped IS NOT NULL AND o.state <> 'pending') "+
		"FROM tenants t JOIN tenant_keys k ON k.tenant_id = t.id AND k.version = "+
		"t.key_version WHERE t.status IN ('active', 'suspended') ORDER BY t.slug")
	if err != nil {
		return nil, fmt.Errorf("list tenant keys: %w", err)
	}
	defer rows.Close()
	var out []TenantKeyInfo
	for rows.Next() {
		var i TenantKeyInfo
		var created string
		if err := rows.Scan(&i.TenantID, &i.Slug, &i.Version, &created,
			&i.Retained); err != nil {
			return nil, fmt.Errorf("list tenant keys: %w", err)
		}
		i.CreatedAt = parseTime(created)
		out = append(out, i)
	}
	return out, rows.Err()
}

// RetireKeyVersion marks an old, live key version retired once a re-seal pass found no
// result sealed under it. The key stays readable; DestroyKeyVersion removes it later.
func (s *Store) RetireKeyVersion(ctx context.Context, tenantID string, version int) error {
	_, err := s.control.writer.ExecContext(ctx, "UPDATE tenant_keys SET state = 'retired', "+
		"retired_at = ? WHERE tenant_id = ? AND version = ? AND state = 'active' AND "+
		"wrapped IS NOT NULL AND version <> (SELECT key_version FROM tenants WHERE id = ?)",
		now(), tenantID, version, tenantID)
	if err != nil {
		return fmt.Errorf("retire key version %d of tenant %s: %w", version, tenantID, err)
	}
	return nil
}

// DestroyKeyVersion crypto-shreds a retired key version that a later re-seal pass again
// found unused. The current and pending versions are never touched.
func (s *Store) DestroyKeyVersion(ctx context.Context, tenantID string, version int) error {
	_, err := s.control.writer.ExecContext(ctx, "UPDATE tenant_keys SET wrapped = NULL, "+
		"destroyed_at = ? WHERE tenant_id = ? AND version = ? AND state = 'retired' AND "+
		"version <> (SELECT key_version FROM tenants WHERE id = ?)", now(), tenantID,
		version, tenantID)
	if err != nil {
		return fmt.Errorf("destroy key version %d of tenant %s: %w", version, tenantID, err)
	}
	s.forgetEverywhere(tenantID)
	// Old pages of control.db may still hold the wrapped key until the WAL is folded back.
	_, _ = s.control.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return nil
}

// RecordMasterKey notes a new master key by its public id after a rotation, with the key it
// replaced (recorded as version 1 if this is the first rotation), and returns its version.
func (s *Store) RecordMasterKey(ctx context.Context, id string, created time.Time,
	previousID string, previousCreated time.Time) (int, error) {
	var v int
	err := s.control.WithTx(ctx, func(ctx context.Context) error {
		w := s.control.w(ctx)
		if _, err := w.ExecContext(ctx, "INSERT INTO master_keys (kek_id, version, "+
			"created_at) SELECT ?, 1, ? WHERE NOT EXISTS (SELECT 1 FROM master_keys)",
			previousID, fmtTime(previousCreated)); err != nil {
			return err
		}
		if err := w.QueryRowContext(ctx, "SELECT version FROM master_keys WHERE kek_id = ?",
			id).Scan(&v); err == nil {
			return nil
		}
		if err := w.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) + 1 FROM "+
			"master_keys").Scan(&v); err != nil {
			return err
		}
		_, err := w.ExecContext(ctx, "INSERT INTO master_keys (kek_id, version, created_at) "+
			"VALUES (?, ?, ?)", id, v, fmtTime(created))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record the new master key: %w", err)
	}
	return v, nil
}

// MasterKey returns the version and creation time recorded for a master key id; ok is false
// for a key never rotated in (the data dir's first).
func (s *Store) MasterKey(ctx context.Context, id string) (version int, created time.Time,
	ok bool, err error) {
	var ts string
	err = s.control.reader.QueryRowContext(ctx, "SELECT version, created_at FROM master_keys "+
		"WHERE kek_id = ?", id).Scan(&version, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("read master key record: %w", err)
	}
	return version, parseTime(ts), true, nil
}
