package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tenantra/tenantra/store"
)

// TenantDB is an open handle on one tenant's database, valid until released.
type TenantDB struct {
	Tenant store.Tenant
	db     *DB
}

// WithTx runs fn in one write transaction of the tenant's database.
func (t *TenantDB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return t.db.WithTx(ctx, fn)
}

// UpsertAssets writes assets in one transaction with one prepared statement, which is what
// makes bulk inventory updates fast on an encrypted file.
func (t *TenantDB) UpsertAssets(ctx context.Context, assets []store.Asset) error {
	return t.db.WithTx(ctx, func(ctx context.Context) error {
		stmt, err := t.db.w(ctx).PrepareContext(ctx, `INSERT INTO assets
			(id, name, address, mac, vendor, os, first_seen, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address,
			  mac = excluded.mac, vendor = excluded.vendor, os = excluded.os,
			  last_seen = excluded.last_seen`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, a := range assets {
			if a.ID == "" {
				return store.Errorf(store.ErrInvalid, "asset without id")
			}
			if _, err := stmt.ExecContext(ctx, a.ID, a.Name, a.Address, a.MAC, a.Vendor, a.OS,
				fmtTime(a.FirstSeen), fmtTime(a.LastSeen)); err != nil {
				return fmt.Errorf("upsert asset %s: %w", a.ID, err)
			}
		}
		return nil
	})
}

// Asset returns one asset by id.
func (t *TenantDB) Asset(ctx context.Context, id string) (store.Asset, error) {
	var a store.Asset
	var first, last string
	err := t.db.r(ctx).QueryRowContext(ctx, `SELECT id, name, address, mac, vendor, os,
		type, model, firmware, serial, first_seen, last_seen FROM assets WHERE id = ?`,
		id).Scan(&a.ID, &a.Name, &a.Address, &a.MAC, &a.Vendor, &a.OS, &a.Type, &a.Model,
		&a.Firmware, &a.Serial, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Asset{}, store.Errorf(store.ErrNotFound, "asset %q does not exist", id)
	}
	if err != nil {
		return store.Asset{}, fmt.Errorf("get asset: %w", err)
	}
	a.FirstSeen, a.LastSeen = parseTime(first), parseTime(last)
	return a, nil
}

// CountAssets returns the number of assets.
func (t *TenantDB) CountAssets(ctx context.Context) (int, error) {
	var n int
	err := t.db.r(ctx).QueryRowContext(ctx, "SELECT count(*) FROM assets").Scan(&n)
	return n, err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(timeFormat)
}

// EachAsset calls fn for every asset in id order, from one consistent read.
func (t *TenantDB) EachAsset(ctx context.Context, fn func(store.Asset) error) error {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT id, name, address, mac, vendor, os,
		type, model, firmware, serial, first_seen, last_seen FROM assets ORDER BY id`)
	if err != nil {
		return fmt.Errorf("list assets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a store.Asset
		var first, last string
		if err := rows.Scan(&a.ID, &a.Name, &a.Address, &a.MAC, &a.Vendor, &a.OS, &a.Type,
			&a.Model, &a.Firmware, &a.Serial, &first, &last); err != nil {
			return err
		}
		a.FirstSeen, a.LastSeen = parseTime(first), parseTime(last)
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}
