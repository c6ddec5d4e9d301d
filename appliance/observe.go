package appliance

import (
	"context"
	"time"

	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/sqlite"
)

// Facts are what an observation says about a device besides its identity.
type Facts struct {
	Name, Type, Vendor, Model, OS, Firmware string
	Services                                []store.Service
	// doc is the evidence to keep beside the row (facts.go); nil keeps nothing new.
	doc *factDoc
}

// Observe reconciles one observation of a tenant's network into its inventory: it finds the
// asset the device already is (or makes one), folds duplicate assets together when strong
// identifiers prove them one device, and records identifiers, facts and services. It returns
// the asset id and whether the asset is new.
func (a *Appliance) Observe(ctx context.Context, tenantID string, obs inventory.Observation,
	f Facts) (string, bool, error) {
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return "", false, err
	}
	defer release()
	d, err := inventory.Decide(tenantIndex{ctx: ctx, tdb: tdb}, obs, inventory.Options{})
	if err != nil {
		return "", false, err
	}
	rec := store.ObservationRecord{Target: d.Target, Merge: d.Merge, Source: obs.Source,
		At: obs.At, Confidence: d.Confidence, Reason: d.Reason, Services: f.Services,
		Facts: store.Asset{Name: f.Name, Type: f.Type, Vendor: f.Vendor, Model: f.Model,
			OS: f.OS, Firmware: f.Firmware, Serial: inventory.NormalizeSerial(obs.Serial)}}
	for _, id := range obs.Identifiers() {
		rec.Identifiers = append(rec.Identifiers, store.AssetIdentifier{Kind: id.Kind,
			Value: id.Value})
		switch {
		case id.Kind == inventory.KindIP && rec.Facts.Address == "":
			rec.Facts.Address = id.Value
		case id.Kind == inventory.KindMAC && rec.Facts.MAC == "":
			rec.Facts.MAC = id.Value
		case id.Kind == inventory.KindHostname && rec.Facts.Name == "":
			rec.Facts.Name = id.Value
		}
	}
	if rec.Confidence == 0 {
		rec.Confidence = 1 // a new asset is certainly itself
	}
	var before store.Asset
	if d.Target != "" {
		if before, err = tdb.Asset(ctx, d.Target); err != nil {
			return "", false, err
		}
	}
	id, created, err := tdb.RecordObservation(ctx, rec)
	if err != nil {
		return "", false, err
	}
	if !created {
		after, err := tdb.Asset(ctx, id)
		if err != nil {
			return "", false, err
		}
		if err := a.recordHistory(ctx, tenantID, id, obs.Source, obs.At, before,
			after); err != nil {
			return "", false, err
		}
	}
	if f.doc != nil || len(d.Merge) > 0 {
		doc := factDoc{Updated: obs.At}
		if f.doc != nil {
			doc = *f.doc
		}
		if err := a.addFacts(ctx, tenantID, id, d.Merge, doc); err != nil {
			return "", false, err
		}
	}
	return id, created, nil
}

// tenantIndex lets reconciliation look identifiers up in a tenant's database.
type tenantIndex struct {
	ctx context.Context
	tdb *sqlite.TenantDB
}

func (ix tenantIndex) Find(id inventory.Identifier) ([]inventory.Candidate, error) {
	found, err := ix.tdb.AssetsByIdentifier(ix.ctx, id.Kind, id.Value)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.Candidate, 0, len(found))
	for _, f := range found {
		c := inventory.Candidate{AssetID: f.AssetID,
			Identifiers: make(map[inventory.Identifier]time.Time, len(f.Identifiers))}
		for _, ai := range f.Identifiers {
			c.Identifiers[inventory.Identifier{Kind: ai.Kind, Value: ai.Value}] = ai.LastSeen
		}
		out = append(out, c)
	}
	return out, nil
}
