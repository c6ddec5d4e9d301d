package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/store"
)

// AssetsByIdentifier returns the assets holding an identifier, each with all of its
// identifiers. For host names, short names match too ("srv1" finds "srv1.corp.example").
func (t *TenantDB) AssetsByIdentifier(ctx context.Context, kind, value string) (
	[]store.IdentifiedAsset, error) {
	q := "SELECT DISTINCT asset_id FROM asset_identifiers WHERE kind = ? AND value = ?"
	args := []any{kind, value}
	if kind == "hostname" {
		q = "SELECT DISTINCT asset_id FROM asset_identifiers WHERE kind = ? AND " +
			"(value = ? OR short = ?)"
		args = append(args, shortLabel(value))
	}
	rows, err := t.db.r(ctx).QueryContext(ctx, q+" ORDER BY asset_id LIMIT 100", args...)
	if err != nil {
		return nil, fmt.Errorf("find assets: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]store.IdentifiedAsset, 0, len(ids))
	for _, id := range ids {
		ia := store.IdentifiedAsset{AssetID: id}
		rows, err := t.db.r(ctx).QueryContext(ctx, "SELECT kind, value, last_seen FROM "+
			"asset_identifiers WHERE asset_id = ?", id)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var ai store.AssetIdentifier
			var seen string
			if err := rows.Scan(&ai.Kind, &ai.Value, &seen); err != nil {
				rows.Close()
				return nil, err
			}
			ai.LastSeen = parseTime(seen)
			ia.Identifiers = append(ia.Identifiers, ai)
		}
		rows.Close()
		out = append(out, ia)
	}
	return out, nil
}

func shortLabel(h string) string {
	s, _, _ := strings.Cut(h, ".")
	return s
}

// RecordObservation stores a reconciled observation in one transaction: it creates the
// asset or updates it, folds merged assets into it, refreshes identifiers and services, and
// logs the decision. It returns the asset's id and whether it was created.
func (t *TenantDB) RecordObservation(ctx context.Context, rec store.ObservationRecord) (
	string, bool, error) {
	at := rec.At
	if at.IsZero() {
		at = time.Now()
	}
	ts := fmtTime(at)
	id, created := rec.Target, rec.Target == ""
	err := t.db.WithTx(ctx, func(ctx context.Context) error {
		w := t.db.w(ctx)
		if created {
			id = uuid.NewString()
			if _, err := w.ExecContext(ctx, `INSERT INTO assets (id, first_seen, last_seen)
				VALUES (?, ?, ?)`, id, ts, ts); err != nil {
				return err
			}
		}
		for _, other := range rec.Merge {
			if err := mergeAsset(ctx, w, id, other, ts); err != nil {
				return fmt.Errorf("merge asset %s: %w", other, err)
			}
		}
		f := rec.Facts
		if _, err := w.ExecContext(ctx, `UPDATE assets SET
			name = CASE WHEN ? != '' THEN ? ELSE name END,
			address = CASE WHEN ? != '' THEN ? ELSE address END,
			mac = CASE WHEN ? != '' THEN ? ELSE mac END,
			vendor = CASE WHEN ? != '' THEN ? ELSE vendor END,
			os = CASE WHEN ? != '' THEN ? ELSE os END,
			type = CASE WHEN ? != '' THEN ? ELSE type END,
			model = CASE WHEN ? != '' THEN ? ELSE model END,
			firmware = CASE WHEN ? != '' THEN ? ELSE firmware END,
			serial = CASE WHEN ? != '' THEN ? ELSE serial END,
			last_seen = max(last_seen, ?) WHERE id = ?`,
			f.Name, f.Name, f.Address, f.Address, f.MAC, f.MAC, f.Vendor, f.Vendor, f.OS, f.OS,
			f.Type, f.Type, f.Model, f.Model, f.Firmware, f.Firmware, f.Serial, f.Serial, ts,
			id); err != nil {
			return err
		}
		for _, ai := range rec.Identifiers {
			if _, err := w.ExecContext(ctx, `INSERT INTO asset_identifiers (kind, value,
				asset_id, short, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (kind, value, asset_id) DO UPDATE SET
				last_seen = max(last_seen, excluded.last_seen)`, ai.Kind, ai.Value, id,
				hostShort(ai), ts, ts); err != nil {
				return err
			}
		}
		for _, sv := range rec.Services {
			if _, err := w.ExecContext(ctx, `INSERT INTO asset_services (asset_id, port,
				protocol, service, product, version, first_seen, last_seen)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset_id, port, protocol) DO
				UPDATE SET service = excluded.service, product = excluded.product,
				version = excluded.version, last_seen = excluded.last_seen`, id, sv.Port,
				sv.Protocol, sv.Service, sv.Product, sv.Version, ts, ts); err != nil {
				return fmt.Errorf("service %d/%s: %w", sv.Port, sv.Protocol, err)
			}
		}
		_, err := w.ExecContext(ctx, `INSERT INTO asset_merges (ts, asset_id, merged_from,
			source, confidence, reason) VALUES (?, ?, ?, ?, ?, ?)`, ts, id,
			strings.Join(rec.Merge, ","), rec.Source, rec.Confidence, rec.Reason)
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("record observation: %w", err)
	}
	return id, created, nil
}

func hostShort(ai store.AssetIdentifier) string {
	if ai.Kind == "hostname" {
		return shortLabel(ai.Value)
	}
	return ""
}

// mergeAsset folds asset from into into: identifiers and services move, the earliest
// first_seen wins, and from is deleted.
func mergeAsset(ctx context.Context, w execer, into, from, ts string) error {
	stmts := []string{
		`INSERT INTO asset_identifiers (kind, value, asset_id, short, first_seen, last_seen)
		 SELECT kind, value, ?, short, first_seen, last_seen FROM asset_identifiers
		 WHERE asset_id = ? ON CONFLICT (kind, value, asset_id) DO UPDATE SET
		 first_seen = min(first_seen, excluded.first_seen),
		 last_seen = max(last_seen, excluded.last_seen)`,
		`INSERT INTO asset_services (asset_id, port, protocol, service, product, version,
		 first_seen, last_seen) SELECT ?, port, protocol, service, product, version,
		 first_seen, last_seen FROM asset_services WHERE asset_id = ?
		 ON CONFLICT (asset_id, port, protocol) DO NOTHING`,
	}
	for _, q := range stmts {
		if _, err := w.ExecContext(ctx, q, into, from); err != nil {
			return err
		}
	}
	// Facts the kept asset lacks come from the merged one.
	set := "first_seen = min(assets.first_seen, f.first_seen)"
	for _, col := range []string{"name", "address", "mac", "vendor", "os", "type", "model",
		"firmware", "serial"} {
		set += fmt.Sprintf(", %[1]s = CASE WHEN assets.%[1]s = '' THEN f.%[1]s "+
			"ELSE assets.%[1]s END", col)
	}
	if _, err := w.ExecContext(ctx, "UPDATE assets SET "+set+" FROM (SELECT * FROM assets "+
		"WHERE id = ?) AS f WHERE assets.id = ?", from, into); err != nil {
		return err
	}
	_, err := w.ExecContext(ctx, "DELETE FROM assets WHERE id = ?", from)
	return err
}

// AssetServices lists the services of an asset by port.
func (t *TenantDB) AssetServices(ctx context.Context, assetID string) ([]store.Service,
	error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT port, protocol, service, product,
		version FROM asset_services WHERE asset_id = ? ORDER BY protocol, port`, assetID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Service{}
	for rows.Next() {
		var s store.Service
		if err := rows.Scan(&s.Port, &s.Protocol, &s.Service, &s.Product,
			&s.Version); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// EachService calls fn for every service of every asset, ordered by asset and port.
func (t *TenantDB) EachService(ctx context.Context, fn func(assetID string,
	s store.Service) error) error {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT asset_id, port, protocol, service,
		product, version FROM asset_services ORDER BY asset_id, protocol, port`)
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var s store.Service
		if err := rows.Scan(&id, &s.Port, &s.Protocol, &s.Service, &s.Product,
			&s.Version); err != nil {
			return err
		}
		if err := fn(id, s); err != nil {
			return err
		}
	}
	return rows.Err()
}
