package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/tenantra/tenantra/store"
)

// credColumns lists the vault's columns; secret holds only sealed bytes.
//
//nolint:gosec // column names, not a secret
const credColumns = `id, name, kind, metadata, secret, created, updated, created_by,
	updated_by`

func scanCredential(row interface{ Scan(...any) error }) (store.Credential, error) {
	var c store.Credential
	var meta, created, updated string
	if err := row.Scan(&c.ID, &c.Name, &c.Kind, &meta, &c.Sealed, &created, &updated,
		&c.CreatedBy, &c.UpdatedBy); err != nil {
		return c, err
	}
	c.Metadata = map[string]string{}
	if err := json.Unmarshal([]byte(meta), &c.Metadata); err != nil {
		return c, store.Errorf(store.ErrCorrupt, "credential %q has unreadable metadata",
			c.Name)
	}
	c.HasSecret = len(c.Sealed) > 0
	c.Created, c.Updated = parseTime(created), parseTime(updated)
	return c, nil
}

// CreateCredential stores a vault entry. The caller chooses the id (the sealed secret is
// bound to it) and seals the secret; a name in use gives ErrConflict.
func (t *TenantDB) CreateCredential(ctx context.Context, c store.Credential) (
	store.Credential, error) {
	if c.ID == "" || c.Name == "" || c.Kind == "" || len(c.Sealed) == 0 {
		return c, store.Errorf(store.ErrInvalid,
			"a credential needs an id, a name, a kind and a sealed secret")
	}
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	meta, err := json.Marshal(c.Metadata)
	if err != nil {
		return c, fmt.Errorf("credential metadata: %w", err)
	}
	if c.Created.IsZero() {
		c.Created = time.Now().UTC()
	}
	if c.Updated.IsZero() {
		c.Updated = c.Created
	}
	_, err = t.db.w(ctx).ExecContext(ctx, "INSERT INTO credentials ("+credColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", c.ID, c.Name, c.Kind, string(meta), c.Sealed,
		fmtTime(c.Created), fmtTime(c.Updated), c.CreatedBy, c.UpdatedBy)
	if errors.Is(err, sqlite3.CONSTRAINT_UNIQUE) || errors.Is(err,
		sqlite3.CONSTRAINT_PRIMARYKEY) {
		return c, store.Errorf(store.ErrConflict, "a credential named %q exists already",
			store.Truncate(c.Name, 60))
	}
	if err != nil {
		return c, fmt.Errorf("create credential: %w", err)
	}
	return t.Credential(ctx, c.ID)
}

// Credential returns one vault entry by id or name, sealed secret included.
func (t *TenantDB) Credential(ctx context.Context, ref string) (store.Credential, error) {
	c, err := scanCredential(t.db.r(ctx).QueryRowContext(ctx, "SELECT "+credColumns+
		" FROM credentials WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1", ref, ref,
		ref))
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.Errorf(store.ErrNotFound, "credential %q does not exist",
			store.Truncate(ref, 60))
	}
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		return c, fmt.Errorf("get credential: %w", err)
	}
	return c, err
}

// ListCredentials returns every vault entry in name order, sealed secrets included.
func (t *TenantDB) ListCredentials(ctx context.Context) ([]store.Credential, error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, "SELECT "+credColumns+
		" FROM credentials ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	defer rows.Close()
	out := []store.Credential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteCredential removes a vault entry by id or name.
func (t *TenantDB) DeleteCredential(ctx context.Context, ref string) (store.Credential,
	error) {
	var c store.Credential
	err := t.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = t.Credential(ctx, ref); err != nil {
			return err
		}
		_, err = t.db.w(ctx).ExecContext(ctx, "DELETE FROM credentials WHERE id = ?", c.ID)
		return err
	})
	if err != nil {
		return c, err
	}
	return c, nil
}
