package appliance

import (
	"context"
	"net/netip"
	"slices"

	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// maxEvidence caps the merge log an asset's detail shows: every scan adds an entry per
// source, and the newest explain the asset as it is.
const maxEvidence = 200

// ListAssets returns one page of a tenant's inventory, filtered and ordered as f says.
func (a *Appliance) ListAssets(ctx context.Context, tenantID string, f web.AssetFilter,
	p store.Page) ([]web.AssetBody, int, error) {
	q := store.AssetQuery{Q: f.Q, Type: f.Type, OS: f.OS, Vendor: f.Vendor, Port: f.Port,
		Sort: f.Sort, Desc: f.Desc}
	if f.Subnet != "" {
		pfx, err := netip.ParsePrefix(f.Subnet)
		if err != nil {
			return nil, 0, store.Errorf(store.ErrInvalid, "subnet must be a CIDR such as "+
				"10.1.0.0/16")
		}
		q.Subnet = pfx
	}
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	recs, total, err := tdb.ListAssets(ctx, q, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]web.AssetBody, len(recs))
	for i, r := range recs {
		out[i], _, _ = assetBody(r)
	}
	return out, total, nil
}

// GetAsset returns one asset of a tenant with its identifiers, services and merge log.
func (a *Appliance) GetAsset(ctx context.Context, tenantID, id string) (web.AssetDetail,
	error) {
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return web.AssetDetail{}, err
	}
	defer release()
	rec, err := tdb.AssetRecord(ctx, id)
	if err != nil {
		return web.AssetDetail{}, err
	}
	merges, err := tdb.AssetMerges(ctx, id, maxEvidence)
	if err != nil {
		return web.AssetDetail{}, err
	}
	body, ad, machine := assetBody(rec)
	d := web.AssetDetail{AssetBody: body, ADObjects: ad, MachineIDs: machine,
		Evidence:   make([]web.AssetEvidence, len(merges)),
		Interfaces: []web.AssetInterface{}, Neighbours: []web.AssetNeighbour{},
		History: []web.AssetChange{}}
	for i, m := range merges {
		d.Evidence[i] = web.AssetEvidence{At: m.At, Source: m.Source,
			Confidence: m.Confidence, Reason: m.Reason, MergedFrom: m.MergedFrom}
	}
	doc, err := a.facts(ctx, tenantID, id)
	if err != nil {
		return web.AssetDetail{}, err
	}
	if d.History, err = a.history(ctx, tenantID, id); err != nil {
		return web.AssetDetail{}, err
	}
	d.Interfaces = append(d.Interfaces, doc.Interfaces...)
	d.Neighbours = append(d.Neighbours, doc.Neighbours...)
	d.Classification = append([]web.AssetReason{}, doc.Classification...)
	d.Facts = doc
	return d, nil
}

// assetBody groups an asset's identifiers by kind. The asset's own address and MAC come
// first; assets written before reconciliation (UpsertAssets) have only those.
func assetBody(r store.AssetRecord) (b web.AssetBody, adObjects, machineIDs []string) {
	b = web.AssetBody{ID: r.ID, Name: r.Name, Type: r.Type, Vendor: r.Vendor, Model: r.Model,
		OS: r.OS, Firmware: r.Firmware, Serial: r.Serial, FirstSeen: r.FirstSeen,
		LastSeen: r.LastSeen, Services: r.Services, Addresses: []string{}, MACs: []string{},
		Hostnames: []string{}}
	adObjects, machineIDs = []string{}, []string{}
	if b.Services == nil {
		b.Services = []store.Service{}
	}
	add := func(list []string, v string) []string {
		if slices.Contains(list, v) {
			return list
		}
		return append(list, v)
	}
	if r.Address != "" {
		b.Addresses = append(b.Addresses, r.Address)
	}
	if r.MAC != "" {
		b.MACs = append(b.MACs, r.MAC)
	}
	for _, id := range r.Identifiers {
		switch id.Kind {
		case inventory.KindIP:
			b.Addresses = add(b.Addresses, id.Value)
		case inventory.KindMAC:
			b.MACs = add(b.MACs, id.Value)
		case inventory.KindHostname:
			b.Hostnames = add(b.Hostnames, id.Value)
		case inventory.KindADGUID:
			adObjects = add(adObjects, id.Value)
		case inventory.KindMachineID:
			machineIDs = add(machineIDs, id.Value)
		case inventory.KindSerial:
			if b.Serial == "" {
				b.Serial = id.Value
			}
		}
	}
	return b, adObjects, machineIDs
}
