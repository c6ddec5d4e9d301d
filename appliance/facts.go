package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/fingerprint"
	"github.com/tenantra/tenantra/network/snmp"
	"github.com/tenantra/tenantra/scanner"
	"github.com/tenantra/tenantra/store"
)

// Result-store keys of the per-asset documents. History keys sort by time because the
// timestamp is fixed-width.
const (
	factsPrefix   = "facts/"
	historyPrefix = "history/"
	historyLimit  = 200
)

// factDoc is what discovery keeps about an asset beyond its inventory row: the full service
// fingerprints, the SNMP view, interfaces and neighbours, and what other sources (AD,
// FortiGate, Omada) said. Checks read it (scanner.Asset); the asset detail shows it. Each
// source replaces only the parts it produced.
type factDoc struct {
	Services       []scanner.Service    `json:"services,omitempty"`
	SNMP           *scanner.SNMP        `json:"snmp,omitempty"`
	Interfaces     []web.AssetInterface `json:"interfaces,omitempty"`
	Neighbours     []web.AssetNeighbour `json:"neighbours,omitempty"`
	Software       []scanner.Software   `json:"software,omitempty"`
	AD             *scanner.ADComputer  `json:"ad,omitempty"`
	Firewall       *scanner.Firewall    `json:"firewall,omitempty"`
	Omada          *scanner.OmadaDevice `json:"omada,omitempty"`
	OSVersion      string               `json:"os_version,omitempty"`
	Classification []web.AssetReason    `json:"classification,omitempty"`
	Sources        []string             `json:"sources,omitempty"`
	Updated        time.Time            `json:"updated"`
}

// merge folds a newer observation's document into d.
func (d *factDoc) merge(n factDoc) {
	for _, s := range n.Services {
		i := slices.IndexFunc(d.Services, func(o scanner.Service) bool {
			return o.Port == s.Port && o.Protocol == s.Protocol
		})
		if i >= 0 {
			d.Services[i] = s
		} else {
			d.Services = append(d.Services, s)
		}
	}
	slices.SortFunc(d.Services, func(x, y scanner.Service) int {
		if c := strings.Compare(x.Protocol, y.Protocol); c != 0 {
			return c
		}
		return x.Port - y.Port
	})
	if n.SNMP != nil {
		d.SNMP, d.Interfaces, d.Neighbours, d.Software = n.SNMP, n.Interfaces, n.Neighbours,
			n.Software
	}
	if n.AD != nil {
		d.AD = n.AD
	}
	if n.Firewall != nil {
		d.Firewall = n.Firewall
	}
	if n.Omada != nil {
		d.Omada = n.Omada
	}
	if n.OSVersion != "" {
		d.OSVersion = n.OSVersion
	}
	if len(n.Classification) > 0 {
		d.Classification = n.Classification
	}
	for _, s := range n.Sources {
		if !slices.Contains(d.Sources, s) {
			d.Sources = append(d.Sources, s)
		}
	}
	slices.Sort(d.Sources)
	if n.Updated.After(d.Updated) {
		d.Updated = n.Updated
	}
}

// facts reads an asset's document; a missing one is empty.
func (a *Appliance) facts(ctx context.Context, tenantID, assetID string) (factDoc, error) {
	d, err := storedJSON[factDoc](ctx, a, tenantID, factsPrefix+assetID, "asset "+assetID+
		" facts")
	if err != nil || d == nil {
		return factDoc{}, err
	}
	return *d, nil
}

// addFacts merges n into the asset's document, and the documents of assets folded into it.
func (a *Appliance) addFacts(ctx context.Context, tenantID, assetID string, merged []string,
	n factDoc) error {
	a.factsMu.Lock()
	defer a.factsMu.Unlock()
	d, err := a.facts(ctx, tenantID, assetID)
	if err != nil {
		return err
	}
	for _, m := range merged {
		old, err := a.facts(ctx, tenantID, m)
		if err != nil {
			return err
		}
		d.merge(old)
	}
	d.merge(n)
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return a.results.Put(ctx, tenantID, factsPrefix+assetID, b)
}

// historyEntry is one observation's changes to an asset's fields.
type historyEntry struct {
	At      time.Time         `json:"at"`
	Source  string            `json:"source"`
	Changes []web.AssetChange `json:"changes"`
}

// recordHistory stores the fields that an observation changed. A new asset has no history:
// its first values are its first_seen state.
func (a *Appliance) recordHistory(ctx context.Context, tenantID, assetID, source string,
	at time.Time, before, after store.Asset) error {
	type field struct{ name, old, new string }
	fields := []field{{"name", before.Name, after.Name}, {"address", before.Address,
		after.Address}, {"mac", before.MAC, after.MAC}, {"vendor", before.Vendor, after.Vendor},
		{"os", before.OS, after.OS}, {"type", before.Type, after.Type},
		{"model", before.Model, after.Model}, {"firmware", before.Firmware, after.Firmware},
		{"serial", before.Serial, after.Serial}}
	e := historyEntry{At: at, Source: source}
	for _, f := range fields {
		if f.old != f.new {
			e.Changes = append(e.Changes, web.AssetChange{At: at, Field: f.name, Old: f.old,
				New: f.new})
		}
	}
	if len(e.Changes) == 0 {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := historyPrefix + assetID + "/" + at.UTC().Format("20060102T150405.000000000Z")
	return a.results.Put(ctx, tenantID, key, b)
}

// history returns an asset's field changes, newest first.
func (a *Appliance) history(ctx context.Context, tenantID, assetID string) (
	[]web.AssetChange, error) {
	kvs, err := a.results.List(ctx, tenantID, historyPrefix+assetID+"/", 0)
	if err != nil {
		return nil, err
	}
	out := []web.AssetChange{}
	for i := len(kvs) - 1; i >= 0 && len(out) < historyLimit; i-- {
		var e historyEntry
		if err := json.Unmarshal(kvs[i].Value, &e); err != nil {
			return nil, fmt.Errorf("asset %s history: %w", assetID, err)
		}
		out = append(out, e.Changes...)
	}
	return out, nil
}

// factService keeps a fingerprint whole for checks, decoding the TLS evidence into fields.
func factService(s fingerprint.Service) scanner.Service {
	out := scanner.Service{Port: s.Port, Protocol: s.Protocol, Name: s.Name,
		Product: s.Product, Version: s.Version, Evidence: s.Evidence, Hints: s.Findings}
	if out.Evidence == nil {
		out.Evidence = map[string]string{}
	}
	if out.Hints == nil {
		out.Hints = []string{}
	}
	if v, ok := s.Evidence["versions"]; ok {
		t := &scanner.TLS{CipherSuite: s.Evidence["cipher_suite"],
			CertSubject: s.Evidence["cert_subject"], CertIssuer: s.Evidence["cert_issuer"],
			SelfSigned: slices.Contains(s.Findings, fingerprint.FindingCertSelfSigned),
			Versions:   splitList(v), CertSANs: splitList(s.Evidence["cert_sans"])}
		t.CertNotAfter, _ = time.Parse(time.RFC3339, s.Evidence["cert_not_after"])
		if kt, bits, ok := strings.Cut(s.Evidence["cert_key"], " "); ok {
			t.KeyType = kt
			t.KeyBits, _ = strconv.Atoi(bits)
		} else {
			t.KeyType = s.Evidence["cert_key"]
		}
		t.SigAlgorithm = s.Evidence["cert_signature"]
		out.TLS = t
	}
	return out
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// defaultCommunities are the communities that vendors ship and scanners try first.
var defaultCommunities = []string{"public", "private", "community", "snmp", "cisco",
	"admin", "manager", "secret"}

// snmpFacts turns what an agent said into the asset's document.
func snmpFacts(d *snmp.Device, community string) factDoc {
	s := &scanner.SNMP{Version: d.Version, SysName: d.SysName, SysDescr: d.SysDescr,
		SysObjectID: d.SysObjectID, SysContact: d.SysContact, SysLocation: d.SysLocation,
		Profile: d.Profile, HAMode: d.HAMode, Neighbours: len(d.Neighbours),
		LLDPNeighbours: len(d.LLDP), Interfaces: []scanner.Interface{},
		Storage: []scanner.Storage{}}
	s.DefaultCommunity = d.Version != "v3" && slices.Contains(defaultCommunities,
		strings.ToLower(community))
	doc := factDoc{SNMP: s, Interfaces: []web.AssetInterface{},
		Neighbours: []web.AssetNeighbour{}, Sources: []string{"snmp"}}
	for _, ifc := range d.Interfaces {
		s.Interfaces = append(s.Interfaces, scanner.Interface{Name: ifc.Name, Type: ifc.Type,
			MAC: ifc.MAC, AdminStatus: ifc.AdminStatus, OperStatus: ifc.OperStatus,
			SpeedBps: int64(min(ifc.SpeedBps, 1<<62))})
		doc.Interfaces = append(doc.Interfaces, web.AssetInterface{Index: ifc.Index,
			Name: ifc.Name, MAC: ifc.MAC, Addresses: []string{}})
	}
	for _, st := range d.Storage {
		s.Storage = append(s.Storage, scanner.Storage{Descr: st.Descr, Type: st.Type,
			Size: int64(min(st.Size, 1<<62)), Used: int64(min(st.Used, 1<<62))})
	}
	ifName := map[int]string{}
	for _, ifc := range d.Interfaces {
		ifName[ifc.Index] = ifc.Name
	}
	for _, n := range d.Neighbours {
		via := "arp"
		if name := ifName[n.IfIndex]; name != "" {
			via = "arp on " + name
		}
		doc.Neighbours = append(doc.Neighbours, web.AssetNeighbour{Address: n.IP, MAC: n.MAC,
			Via: via})
	}
	for _, l := range d.LLDP {
		name := l.SysName
		if name == "" {
			name = l.ChassisID
		}
		doc.Neighbours = append(doc.Neighbours, web.AssetNeighbour{Address: name,
			MAC: l.ChassisID, Via: "lldp port " + l.PortID})
	}
	for _, sw := range d.Software {
		name, version := sw, ""
		if i := strings.LastIndexAny(sw, "-_ "); i > 0 && i+1 < len(sw) &&
			sw[i+1] >= '0' && sw[i+1] <= '9' {
			name, version = sw[:i], sw[i+1:]
		}
		doc.Software = append(doc.Software, scanner.Software{Name: name, Version: version})
	}
	return doc
}
