// Package sqlite owns the appliance's embedded storage: the control database and one database
// per tenant, each an SQLite file encrypted page by page with AES-256-XTS (ncruces/go-sqlite3
// and our xtsvfs), their forward-only migrations, the bounded pool of open tenant databases,
// and the tenant lifecycle that keeps rows, keys and files in step across crashes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/sqlite/xtsvfs"
)

//go:embed migrations
var migrationFS embed.FS

// XTSKeySize is the key size that selects AES-256-XTS (two AES-256 keys).
const XTSKeySize = 64

// DBOptions tunes one database.
type DBOptions struct {
	// CacheKiB is SQLite's page cache per connection in KiB (allocated on demand).
	CacheKiB int
	// Readers is the size of the read pool; the writer is always a single connection.
	Readers int
	// Schema names the migration set: "control" or "tenant".
	Schema string
	// SecureDelete overwrites deleted content, so destroyed keys leave no trace in free pages.
	SecureDelete bool
	// Plain opens without encryption; only benchmarks use it, to measure the XTS overhead.
	Plain bool
}

// DB is one SQLite database with a single writer connection and a pool of readers, which is
// how SQLite serialises writes anyway; carrying the writer's transaction in the context lets
// nested calls join it (WithTx).
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
}

// OpenDB opens (creating if needed) the encrypted database at path with a 64-byte key and
// applies pending migrations. A key that does not decrypt the file gives store.ErrWrongKey.
func OpenDB(ctx context.Context, path string, key keys.Key, opt DBOptions) (*DB, error) {
	if !opt.Plain && len(key) != XTSKeySize {
		return nil, store.Errorf(store.ErrInvalid, "database key must be %d bytes", XTSKeySize)
	}
	if opt.CacheKiB == 0 {
		// Enough for a 100k-asset tenant (28 MB) to stay cached: with XTS every page read
		// from the file is decrypted, so with 16 MiB lookups took 1.3–1.5× the CPU of plain;
		// with the file in cache, 1.0–1.1× (docs/PERFORMANCE.md). SQLite allocates the cache
		// on demand, so small tenants pay only for what they use.
		opt.CacheKiB = 32 << 10
	}
	if opt.Readers == 0 {
		opt.Readers = max(2, runtime.GOMAXPROCS(0))
	}
	hexKey := hex.EncodeToString(key)
	initConn := func(c *sqlite3.Conn) error {
		var pragmas []string
		if !opt.Plain {
			pragmas = append(pragmas, "PRAGMA hexkey='"+hexKey+"'")
		}
		pragmas = append(pragmas,
			"PRAGMA busy_timeout=10000",
			"PRAGMA foreign_keys=ON",
			"PRAGMA temp_store=MEMORY",
			"PRAGMA synchronous=NORMAL",
			"PRAGMA cache_size=-"+strconv.Itoa(opt.CacheKiB),
			// Checkpoint every 4,000 pages (16 MiB of WAL) instead of SQLite's 1,000: a page
			// written by several transactions is copied back once, and through XTS each copy
			// is a decrypting read of the WAL plus an encrypting write. It cut the CPU of an
			// XTS bulk insert by 20–25%, and is small enough that closing an evicted tenant
			// (which checkpoints) stays under 0.1 s. The page size stays at 4096: larger
			// pages sped up bulk inserts but made single-row commits 2× dearer under XTS.
			"PRAGMA wal_autocheckpoint=4000",
			// After a checkpoint that a long reader had held back, shrink the WAL to 32 MiB.
			"PRAGMA journal_size_limit=33554432",
		)
		if opt.SecureDelete {
			pragmas = append(pragmas, "PRAGMA secure_delete=ON")
		}
		for _, p := range pragmas {
			if err := c.Exec(p); err != nil {
				return err
			}
		}
		return nil
	}
	// SQLite would create the file with the umask's permissions; the data is the tenant's.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	dsn := fileURI(path, opt.Plain)
	db := &DB{path: path}
	var err error
	if db.writer, err = driver.Open(dsn+"&_txlock=immediate", initConn); err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxIdleTime(0)
	// The first statement reads the header: a wrong key shows up here as "not a database".
	if _, err := db.writer.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		db.writer.Close()
		return nil, classifyOpenError(path, err)
	}
	if db.reader, err = driver.Open(dsn+"&_txlock=deferred", initConn); err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	db.reader.SetMaxOpenConns(opt.Readers)
	db.reader.SetMaxIdleConns(opt.Readers)
	if err := db.migrate(ctx, opt.Schema); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func fileURI(path string, plain bool) string {
	p := filepath.ToSlash(path)
	if filepath.VolumeName(path) != "" { // C:/x → /C:/x, as SQLite's URI syntax wants
		p = "/" + p
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: p}
	if plain {
		return u.String() + "?mode=rwc"
	}
	// Every opener of an encrypted file builds its URI here, so the VFS is registered here.
	xtsvfs.Register()
	return u.String() + "?vfs=" + xtsvfs.Name + "&mode=rwc"
}

func classifyOpenError(path string, err error) error {
	if xtsvfs.IsForeignWAL(err) {
		return fmt.Errorf("open %s: %w", filepath.Base(path), xtsvfs.ErrForeignWAL)
	}
	if errors.Is(err, sqlite3.NOTADB) {
		return store.Errorf(store.ErrWrongKey,
			"%s cannot be decrypted with the key given (wrong key, or the "+
				"file is not a Tenantra database)", filepath.Base(path))
	}
	if errors.Is(err, sqlite3.CANTOPEN) || errors.Is(err, sqlite3.PERM) ||
		errors.Is(err, sqlite3.READONLY) {
		return fmt.Errorf("open %s: %w; check that the data dir exists and is writable by "+
			"this user", path, err)
	}
	return fmt.Errorf("open %s: %w", filepath.Base(path), err)
}

// Path is the database's file name.
func (db *DB) Path() string { return db.path }

// Close checkpoints the WAL into the main file and closes every connection.
func (db *DB) Close() error {
	var errs []error
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		// TRUNCATE leaves no WAL behind, so a closed database is one file.
		_, _ = db.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		errs = append(errs, db.writer.Close())
	}
	return errors.Join(errs...)
}

type txKey struct{ db *DB }

// WithTx runs fn in a write transaction carried in the context. A call nested inside another
// WithTx on the same database joins the outer transaction, which commits or rolls back once.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{db}).(*sql.Tx); ok {
		return fn(ctx)
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(context.WithValue(ctx, txKey{db}, tx)); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, q string) (*sql.Stmt, error)
}

// w returns the transaction in ctx, or the writer.
func (db *DB) w(ctx context.Context) execer {
	if tx, ok := ctx.Value(txKey{db}).(*sql.Tx); ok {
		return tx
	}
	return db.writer
}

// r returns the transaction in ctx (so a transaction reads its own writes), or the readers.
func (db *DB) r(ctx context.Context) execer {
	if tx, ok := ctx.Value(txKey{db}).(*sql.Tx); ok {
		return tx
	}
	return db.reader
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	return db.reader.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n)
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(schema string) ([]migration, error) {
	dir := "migrations/" + schema
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations %q: %w", schema, err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %s/%s is misnamed", dir, e.Name())
		}
		body, err := migrationFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies, in order and each in its own transaction, the embedded migrations the
// database has not recorded yet. Migrations only go forward: a database from a newer binary
// is refused rather than misread.
func (db *DB) migrate(ctx context.Context, schema string) error {
	ms, err := loadMigrations(schema)
	if err != nil {
		return err
	}
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return classifyOpenError(db.path, err)
	}
	var current int
	if err := db.writer.QueryRowContext(ctx,
		"SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("%s has schema version %d but this tenantra knows only up to %d; "+
			"run a newer tenantra", filepath.Base(db.path), current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if _, err := db.w(ctx).ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := db.w(ctx).ExecContext(ctx,
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, now())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s/%s: %w", schema, m.name, err)
		}
	}
	return nil
}

// timeFormat is how times are stored: UTC with a fixed nine-digit fraction, so that text
// comparison in SQL orders them correctly (RFC3339Nano trims zeros, and "…05Z" would sort
// after "…05.5Z").
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func now() string { return time.Now().UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
