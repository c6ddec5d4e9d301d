package inventory

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Candidate is an existing asset with the identifiers it holds and when each was last seen.
type Candidate struct {
	AssetID     string
	Identifiers map[Identifier]time.Time
}

// Index finds existing assets by identifier. For KindHostname it also matches on the short
// name (the first label), so "srv1" finds "srv1.corp.example". Implementations return each
// asset at most once per call, with all of its identifiers.
type Index interface {
	Find(id Identifier) ([]Candidate, error)
}

// Decision says where an observation belongs.
type Decision struct {
	// Target is the asset the observation updates; empty means a new asset.
	Target string
	// Merge lists other assets found to be the same device, to fold into Target.
	Merge []string
	// Confidence is 1 for a strong-identifier match and lower for weaker evidence.
	Confidence float64
	// Reason explains the decision for the merge log ("mac 00:09:0f:aa:bb:cc", ...).
	Reason string
}

// Options tune matching.
type Options struct {
	// Window is how recently an IP address must have been seen on an asset for a match on
	// that address alone to count; addresses are reassigned, so old ones prove little.
	Window time.Duration
}

// single-valued strong kinds: a device has one of each, so different values mean different
// devices, whatever else matches.
var singleValued = []string{KindSerial, KindADGUID, KindMachineID}

// Decide finds the asset an observation belongs to: strong identifiers first, then host name
// and recent IP address, never merging assets on weak evidence and never matching an asset
// whose serial, AD object or machine id contradicts the observation's.
func Decide(ix Index, obs Observation, opt Options) (Decision, error) {
	if opt.Window == 0 {
		opt.Window = 7 * 24 * time.Hour
	}
	ids := obs.Identifiers()
	cands := map[string]Candidate{}
	score := map[string]*hit{}
	for _, id := range ids {
		found, err := ix.Find(id)
		if err != nil {
			return Decision{}, fmt.Errorf("find %s: %w", id.Kind, err)
		}
		for _, c := range found {
			if conflicts(ids, c) {
				continue
			}
			cands[c.AssetID] = c
			h := score[c.AssetID]
			if h == nil {
				h = &hit{id: c.AssetID}
				score[c.AssetID] = h
			}
			h.add(id, c, obs.At, opt.Window)
		}
	}
	var strongHits, weakHits []*hit
	for _, h := range score {
		switch {
		case len(h.strong) > 0:
			strongHits = append(strongHits, h)
		case h.weakScore() > 0 && !vetoed(ids, cands[h.id]):
			weakHits = append(weakHits, h)
		}
	}
	if len(strongHits) > 0 {
		slices.SortFunc(strongHits, func(a, b *hit) int {
			if d := len(b.strong) - len(a.strong); d != 0 {
				return d
			}
			return strings.Compare(a.id, b.id)
		})
		d := Decision{Target: strongHits[0].id, Confidence: 1,
			Reason: describe(strongHits[0].strong)}
		for _, h := range strongHits[1:] {
			d.Merge = append(d.Merge, h.id)
		}
		if len(d.Merge) > 0 {
			d.Reason += fmt.Sprintf("; same device as %d other asset(s) by strong identifiers",
				len(d.Merge))
		}
		return d, nil
	}
	if len(weakHits) == 0 {
		return Decision{Reason: "no existing asset matches"}, nil
	}
	slices.SortFunc(weakHits, func(a, b *hit) int {
		if a.weakScore() != b.weakScore() {
			if a.weakScore() > b.weakScore() {
				return -1
			}
			return 1
		}
		if !a.lastSeen.Equal(b.lastSeen) {
			return b.lastSeen.Compare(a.lastSeen)
		}
		return strings.Compare(a.id, b.id)
	})
	best := weakHits[0]
	if best.weakScore() < 0.5 {
		return Decision{Reason: "only weak evidence below the threshold"}, nil
	}
	return Decision{Target: best.id, Confidence: best.weakScore(),
		Reason: describe(best.weak)}, nil
}

type hit struct {
	id       string
	strong   []Identifier
	weak     []Identifier
	hostname bool
	ip       bool
	lastSeen time.Time
}

func (h *hit) add(id Identifier, c Candidate, at time.Time, window time.Duration) {
	seen := c.Identifiers[id]
	if id.Kind == KindHostname {
		for cid, t := range c.Identifiers {
			if cid.Kind == KindHostname && shortName(cid.Value) == shortName(id.Value) {
				seen = later(seen, t)
			}
		}
	}
	h.lastSeen = later(h.lastSeen, seen)
	switch {
	case strong[id.Kind]:
		h.strong = append(h.strong, id)
	case id.Kind == KindHostname:
		h.hostname = true
		h.weak = append(h.weak, id)
	case id.Kind == KindIP && (at.IsZero() || at.Sub(seen) <= window):
		h.ip = true
		h.weak = append(h.weak, id)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// weakScore: host name and address together are good evidence, a host name alone fair, a
// recent address alone just enough when nothing contradicts it.
func (h *hit) weakScore() float64 {
	switch {
	case h.hostname && h.ip:
		return 0.9
	case h.hostname:
		return 0.7
	case h.ip:
		return 0.5
	}
	return 0
}

// conflicts reports whether c holds a single-valued strong identifier whose value differs
// from the observation's, which proves they are different devices.
func conflicts(ids []Identifier, c Candidate) bool {
	for _, kind := range singleValued {
		obs := valueOf(ids, kind)
		if obs == "" {
			continue
		}
		for cid := range c.Identifiers {
			if cid.Kind == kind && cid.Value != obs {
				return true
			}
		}
	}
	return false
}

// vetoed stops a weak match when both sides have hardware addresses and none is shared: an
// address reused by DHCP, or a host name reused, on a different machine.
func vetoed(ids []Identifier, c Candidate) bool {
	var obsMACs, candMACs int
	for _, id := range ids {
		if id.Kind == KindMAC {
			obsMACs++
		}
	}
	for cid := range c.Identifiers {
		if cid.Kind == KindMAC {
			candMACs++
		}
	}
	return obsMACs > 0 && candMACs > 0 // a shared MAC would have been a strong hit
}

func valueOf(ids []Identifier, kind string) string {
	for _, id := range ids {
		if id.Kind == kind {
			return id.Value
		}
	}
	return ""
}

func describe(ids []Identifier) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.Kind + " " + id.Value
	}
	return strings.Join(parts, ", ")
}
