package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tenantra/tenantra/store"
)

// assetColumns are the asset fields every asset query reads, in scanAsset's order.
const assetColumns = `a.id, a.name, a.address, a.mac, a.vendor, a.os, a.type, a.model,
	a.firmware, a.serial, a.first_seen, a.last_seen`

// assetOrders maps each sort to its ORDER BY terms, ascending and descending. Empty values
// go last either way; the id makes the order total, so pages never overlap.
var assetOrders = map[store.AssetSort][2]string{
	store.SortName:      textOrder("a.name"),
	store.SortVendor:    textOrder("a.vendor"),
	store.SortType:      textOrder("a.type"),
	store.SortLastSeen:  {"a.last_seen, a.id", "a.last_seen DESC, a.id DESC"},
	store.SortFirstSeen: {"a.first_seen, a.id", "a.first_seen DESC, a.id DESC"},
	// address_key (migration 0005) is NULL exactly when the address is empty.
	store.SortAddress: {"a.address_key NULLS LAST, a.id",
		"a.address_key DESC NULLS LAST, a.id DESC"},
}

func textOrder(col string) [2]string {
	return [2]string{
		fmt.Sprintf("%[1]s = '', %[1]s COLLATE NOCASE, a.id", col),
		fmt.Sprintf("%[1]s = '', %[1]s COLLATE NOCASE DESC, a.id DESC", col),
	}
}

// ListAssets returns one page of the assets matching q, in q's order, each with its
// identifiers and services, and the number of matching assets. It runs a fixed number of
// queries whatever the page size: the count, the page, and one each for the page's
// identifiers and services.
func (t *TenantDB) ListAssets(ctx context.Context, q store.AssetQuery, p store.Page) (
	[]store.AssetRecord, int, error) {
	sort := q.Sort
	if sort == "" {
		sort = store.SortName
	}
	order, ok := assetOrders[sort]
	if !ok {
		return nil, 0, store.Errorf(store.ErrInvalid, "unknown sort %q", sort)
	}
	where, args, err := t.assetFilter(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := t.db.r(ctx).QueryRowContext(ctx, "SELECT count(*) FROM assets a"+where,
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count assets: %w", err)
	}
	if total == 0 || p.Offset() >= total {
		return []store.AssetRecord{}, total, nil
	}
	by := order[0]
	if q.Desc {
		by = order[1]
	}
	rows, err := t.db.r(ctx).QueryContext(ctx, "SELECT "+assetColumns+" FROM assets a"+
		where+" ORDER BY "+by+" LIMIT ? OFFSET ?", append(args, p.Size, p.Offset())...)
	if err != nil {
		return nil, 0, fmt.Errorf("list assets: %w", err)
	}
	defer rows.Close()
	out := []store.AssetRecord{}
	for rows.Next() {
		var r store.AssetRecord
		if err := scanAsset(rows, &r.Asset); err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list assets: %w", err)
	}
	rows.Close()
	if err := t.fillAssets(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// AssetRecord returns one asset with its identifiers and services.
func (t *TenantDB) AssetRecord(ctx context.Context, id string) (store.AssetRecord, error) {
	a, err := t.Asset(ctx, id)
	if err != nil {
		return store.AssetRecord{}, err
	}
	recs := []store.AssetRecord{{Asset: a}}
	if err := t.fillAssets(ctx, recs); err != nil {
		return store.AssetRecord{}, err
	}
	return recs[0], nil
}

// AssetMerges returns the newest entries of an asset's merge log, newest first.
func (t *TenantDB) AssetMerges(ctx context.Context, id string, limit int) (
	[]store.AssetMerge, error) {
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT ts, merged_from, source, confidence,
		reason FROM asset_merges WHERE asset_id = ? ORDER BY seq DESC LIMIT ?`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("asset merge log: %w", err)
	}
	defer rows.Close()
	out := []store.AssetMerge{}
	for rows.Next() {
		var m store.AssetMerge
		var ts, from string
		if err := rows.Scan(&ts, &from, &m.Source, &m.Confidence, &m.Reason); err != nil {
			return nil, err
		}
		m.At = parseTime(ts)
		m.MergedFrom = []string{}
		if from != "" {
			m.MergedFrom = strings.Split(from, ",")
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanAsset(s scanner, a *store.Asset) error {
	var first, last string
	if err := s.Scan(&a.ID, &a.Name, &a.Address, &a.MAC, &a.Vendor, &a.OS, &a.Type, &a.Model,
		&a.Firmware, &a.Serial, &first, &last); err != nil {
		return err
	}
	a.FirstSeen, a.LastSeen = parseTime(first), parseTime(last)
	return nil
}

// assetFilter turns q's filters into a WHERE clause over assets a. Every value is bound as
// a parameter; only fixed SQL text is concatenated.
func (t *TenantDB) assetFilter(ctx context.Context, q store.AssetQuery) (string, []any,
	error) {
	var conds []string
	var args []any
	if q.Q != "" {
		// One instr over the fields joined by a unit separator, which a query cannot
		// contain (the API refuses control characters), so no match spans two fields.
		conds = append(conds, `(instr(lower(a.name || char(31) || a.address || char(31) ||
			a.vendor || char(31) || a.model || char(31) || a.os || char(31) || a.serial), ?) > 0
			OR a.id IN (SELECT asset_id FROM asset_identifiers
			WHERE kind IN ('ip', 'hostname') AND instr(lower(value), ?) > 0))`)
		s := strings.ToLower(q.Q)
		args = append(args, s, s)
	}
	if q.Type != "" {
		conds = append(conds, "a.type = ? COLLATE NOCASE")
		args = append(args, q.Type)
	}
	if q.OS != "" {
		conds = append(conds, "instr(lower(a.os), ?) > 0")
		args = append(args, strings.ToLower(q.OS))
	}
	if q.Vendor != "" {
		conds = append(conds, "instr(lower(a.vendor), ?) > 0")
		args = append(args, strings.ToLower(q.Vendor))
	}
	if q.Port != 0 {
		conds = append(conds, "a.id IN (SELECT asset_id FROM asset_services WHERE port = ?)")
		args = append(args, int(q.Port))
	}
	if q.Subnet.IsValid() {
		c, a, err := t.subnetFilter(ctx, q.Subnet)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// subnetFilter keeps assets with an address inside prefix. IPv4 prefixes are ranges over
// the numeric ip4 column and address_key (migration 0005), served by their indexes. IPv6
// addresses are few on the networks Tenantra scans, and SQLite has no 128-bit integers, so
// for IPv6 prefixes the IPv6 addresses are read and matched here.
func (t *TenantDB) subnetFilter(ctx context.Context, prefix netip.Prefix) (string, []any,
	error) {
	prefix = prefix.Masked()
	if prefix.Addr().Is4() {
		lo := ip4Number(prefix.Addr())
		hi := lo | (1<<(32-prefix.Bits()) - 1)
		return `a.id IN (SELECT asset_id FROM asset_identifiers WHERE ip4 BETWEEN ? AND ?
			UNION ALL SELECT id FROM assets WHERE address_key BETWEEN ? AND ?)`,
			[]any{lo, hi, fmt.Sprintf("4%010d", lo), fmt.Sprintf("4%010d", hi)}, nil
	}
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT asset_id, value FROM asset_identifiers
		WHERE kind = 'ip' AND instr(value, ':') > 0
		UNION SELECT id, address FROM assets WHERE instr(address, ':') > 0`)
	if err != nil {
		return "", nil, fmt.Errorf("subnet filter: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id, value string
		if err := rows.Scan(&id, &value); err != nil {
			return "", nil, err
		}
		if addr, err := netip.ParseAddr(value); err == nil && prefix.Contains(addr) {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("subnet filter: %w", err)
	}
	js, _ := json.Marshal(ids)
	return "a.id IN (SELECT value FROM json_each(?))", []any{string(js)}, nil
}

func ip4Number(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// fillAssets loads the identifiers and services of recs with one query each.
func (t *TenantDB) fillAssets(ctx context.Context, recs []store.AssetRecord) error {
	if len(recs) == 0 {
		return nil
	}
	at := make(map[string]*store.AssetRecord, len(recs))
	ids := make([]string, 0, len(recs))
	for i := range recs {
		recs[i].Identifiers = []store.AssetIdentifier{}
		recs[i].Services = []store.Service{}
		at[recs[i].ID] = &recs[i]
		ids = append(ids, recs[i].ID)
	}
	js, _ := json.Marshal(ids)
	rows, err := t.db.r(ctx).QueryContext(ctx, `SELECT asset_id, kind, value, last_seen
		FROM asset_identifiers WHERE asset_id IN (SELECT value FROM json_each(?))
		ORDER BY asset_id, kind, ip4 IS NULL, ip4, value`, string(js))
	if err != nil {
		return fmt.Errorf("asset identifiers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, seen string
		var ai store.AssetIdentifier
		if err := rows.Scan(&id, &ai.Kind, &ai.Value, &seen); err != nil {
			return err
		}
		ai.LastSeen = parseTime(seen)
		if r := at[id]; r != nil {
			r.Identifiers = append(r.Identifiers, ai)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("asset identifiers: %w", err)
	}
	rows.Close()
	rows, err = t.db.r(ctx).QueryContext(ctx, `SELECT asset_id, port, protocol, service,
		product, version FROM asset_services WHERE asset_id IN (SELECT value FROM json_each(?))
		ORDER BY asset_id, port, protocol`, string(js))
	if err != nil {
		return fmt.Errorf("asset services: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var s store.Service
		if err := rows.Scan(&id, &s.Port, &s.Protocol, &s.Service, &s.Product,
			&s.Version); err != nil {
			return err
		}
		if r := at[id]; r != nil {
			r.Services = append(r.Services, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("asset services: %w", err)
	}
	return nil
}
