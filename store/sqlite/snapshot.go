package sqlite

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ncruces/go-sqlite3"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// SnapshotFile is one database copied by Snapshot.
type SnapshotFile struct {
	// Name is the file's path relative to the data dir, with forward slashes.
	Name string
	// Path is where the copy is.
	Path string
}

// Snapshot copies control.db and the database of every active or suspended tenant into dir,
// each as of one moment (SQLite's online backup holds a read transaction for the copy, so
// writers go on and the copy has every committed transaction up to its start and nothing
// half). The copies stay encrypted under the same keys. Tenant creation and deletion wait
// until it is done, so the set of tenant files matches the copied control database.
func (s *Store) Snapshot(ctx context.Context, dir string) ([]SnapshotFile, error) {
	s.lifeMus.Lock()
	defer s.lifeMus.Unlock()
	if err := os.MkdirAll(filepath.Join(dir, TenantsDir), 0o700); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	out := []SnapshotFile{{Name: ControlFile, Path: filepath.Join(dir, ControlFile)}}
	if err := backupDB(ctx, s.control, out[0].Path,
		keys.Derive(s.opt.ControlKey, "control-db-xts", XTSKeySize)); err != nil {
		return nil, fmt.Errorf("snapshot control.db: %w", err)
	}
	for page := 1; ; page++ {
		ts, total, err := s.ListTenants(ctx, store.Page{Page: page, Size: store.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			f, err := s.snapshotTenant(ctx, t, dir)
			if err != nil {
				return nil, fmt.Errorf("snapshot tenant %s: %w", t.Slug, err)
			}
			out = append(out, f)
		}
		if len(ts) == 0 || page*store.MaxPageSize >= total {
			return out, nil
		}
	}
}

func (s *Store) snapshotTenant(ctx context.Context, t store.Tenant, dir string) (SnapshotFile,
	error) {
	tdb, release, err := s.TenantDB(ctx, t.ID)
	if err != nil {
		return SnapshotFile{}, err
	}
	defer release()
	current, versions, err := s.TenantKeys(ctx, t.ID)
	if err != nil {
		return SnapshotFile{}, err
	}
	name := TenantsDir + "/" + t.ID + ".db"
	f := SnapshotFile{Name: name, Path: filepath.Join(dir, filepath.FromSlash(name))}
	return f, backupDB(ctx, tdb.db, f.Path,
		keys.Derive(versions[current], "tenant-db-xts", XTSKeySize))
}

// backupDB copies db into a new file at path, encrypted with the same XTS key.
func backupDB(ctx context.Context, db *DB, path string, key keys.Key) error {
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
		return err
	} else if err := f.Close(); err != nil {
		return err
	}
	conn, err := db.reader.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	dst := fileURI(path, false) + "&hexkey=" + hex.EncodeToString(key)
	return conn.Raw(func(dc any) error {
		raw, ok := dc.(interface{ Raw() *sqlite3.Conn })
		if !ok {
			return fmt.Errorf("driver connection %T has no raw handle", dc)
		}
		return raw.Raw().Backup("main", dst)
	})
}
