package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/fortigate"
	"github.com/tenantra/tenantra/network/ldap"
	"github.com/tenantra/tenantra/network/omada"
	"github.com/tenantra/tenantra/scanner"
	"github.com/tenantra/tenantra/store"
)

// namedSource is a scan's source: its collector and how the scan named it.
type namedSource struct {
	source
	name string // "ldap:corp"
}

// resolve is the resolver discovery uses for host names (tests point it at a loopback DNS
// server).
func (a *Appliance) resolve() *net.Resolver {
	if a.resolver != nil {
		return a.resolver
	}
	return net.DefaultResolver
}

// scanSources resolves a scan's kind:name sources to collectors with their unsealed
// secrets. An unknown name or a kind mismatch is a bad request.
func (a *Appliance) scanSources(ctx context.Context, tenantID string, names []string) (
	[]namedSource, error) {
	var out []namedSource
	fail := func(err error) ([]namedSource, error) {
		for _, s := range out {
			s.close()
		}
		return nil, err
	}
	for _, n := range names {
		kind, name, ok := strings.Cut(n, ":")
		if !ok || name == "" || (kind != store.CredLDAP && kind != store.CredFortiGate &&
			kind != store.CredOmada) {
			return fail(store.Errorf(store.ErrInvalid, "source %q must be kind:name with "+
				"kind ldap, fortigate or omada, e.g. ldap:corp", truncate(n, 80)))
		}
		c, sec, err := a.openCredential(ctx, tenantID, name)
		if errors.Is(err, store.ErrNotFound) {
			return fail(store.Errorf(store.ErrInvalid, "source %q: credential %q is not in "+
				"the tenant's vault; add it with tenantra cred add --kind %s", truncate(n, 80),
				truncate(name, 64), kind))
		}
		if err != nil {
			return fail(err)
		}
		if c.Kind != kind {
			return fail(store.Errorf(store.ErrInvalid, "source %q: credential %q is a %s "+
				"credential", truncate(n, 80), c.Name, c.Kind))
		}
		src, err := sourceClient(c, sec)
		if err != nil {
			return fail(store.Errorf(store.ErrInvalid, "source %q: %v", truncate(n, 80), err))
		}
		out = append(out, namedSource{source: src, name: n})
	}
	return out, nil
}

// collectSource runs one source and reconciles what it found. A failing source is a line
// in the report, not a failed scan; a partial result is kept and marked partial. Only an
// inventory write error fails the scan.
func (a *Appliance) collectSource(ctx context.Context, tenantID string, src namedSource,
	rep *scanReport) error {
	report := func(err error) {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Target: src.name,
			Error: err.Error()})
	}
	switch src.kind {
	case store.CredLDAP:
		dir, err := src.ldap.Collect(ctx)
		if err != nil {
			report(err)
		}
		if dir == nil {
			return nil
		}
		return a.ingestDirectory(ctx, tenantID, src.name, dir, rep)
	case store.CredFortiGate:
		cfg, err := src.fg.Collect(ctx)
		if err != nil {
			report(err)
		}
		if cfg == nil {
			return nil
		}
		return a.ingestFortiGate(ctx, tenantID, src, cfg, rep)
	case store.CredOmada:
		inv, err := src.om.Collect(ctx)
		if err != nil {
			report(err)
		}
		if inv == nil {
			return nil
		}
		return a.ingestOmada(ctx, tenantID, src.name, inv, rep)
	}
	return nil
}

// observeInto reconciles one observation and adds the asset to the report.
func (a *Appliance) observeInto(ctx context.Context, tenantID string,
	obs inventory.Observation, f Facts, rep *scanReport) error {
	id, created, err := a.Observe(ctx, tenantID, obs, f)
	if err != nil {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Target: obs.Source,
			Error: err.Error()})
		return nil
	}
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return err
	}
	defer release()
	rec, err := tdb.AssetRecord(ctx, id)
	if err != nil {
		return err
	}
	body, _, _ := assetBody(rec)
	if i, ok := rep.at[id]; ok { // seen by the network stage or a source already: one row
		rep.Assets[i].AssetBody = body
		return nil
	}
	rep.at[id] = len(rep.Assets)
	rep.Assets = append(rep.Assets, web.ScannedAsset{AssetBody: body, New: created})
	return nil
}

// scanReport is a report being written, with each asset's row, so that sources of thousands
// of objects update rows without searching the list.
type scanReport struct {
	*web.ScanReport
	at map[string]int
}

func newScanReport(rep *web.ScanReport) *scanReport {
	sr := &scanReport{ScanReport: rep, at: make(map[string]int, len(rep.Assets))}
	for i, as := range rep.Assets {
		sr.at[as.ID] = i
	}
	return sr
}

// resolveHost looks a host name up for its addresses, briefly; failure leaves it unresolved.
func (a *Appliance) resolveHost(ctx context.Context, host string) []string {
	if host == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := a.resolve().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	var out []string
	for _, ip := range ips {
		out = append(out, ip.Unmap().String())
	}
	return out
}

// ingestDirectory keeps the domain (policy and users) for the identity checks and makes each
// computer an observation: by objectGUID, host name and, when it resolves, address, so an
// AD computer and the same host found on the network end as one asset.
func (a *Appliance) ingestDirectory(ctx context.Context, tenantID, name string,
	dir *ldap.Directory, rep *scanReport) error {
	d := scanner.Directory{Domain: dir.Domain, StaleDays: dir.StaleDays,
		Users: make([]scanner.ADUser, 0, len(dir.Users)),
		Policy: scanner.ADPolicy{MinPwdLength: dir.Policy.MinPwdLength,
			PwdHistoryLength:     dir.Policy.PwdHistoryLength,
			MaxPwdAgeDays:        dir.Policy.MaxPwdAgeDays,
			LockoutThreshold:     dir.Policy.LockoutThreshold,
			LockoutDurationMins:  dir.Policy.LockoutDurationMins,
			PasswordComplexity:   dir.Policy.PasswordComplexity,
			MachineAccountQuota:  dir.Policy.MachineAccountQuota,
			KrbtgtPwdLastSet:     dir.Policy.KrbtgtPwdLastSet,
			FunctionalLevel:      dir.Policy.FunctionalLevel,
			ReversibleEncryption: dir.Policy.ReversibleEncryption}}
	for _, u := range dir.Users {
		d.Users = append(d.Users, scanner.ADUser{SAMAccountName: u.SAMAccountName,
			DistinguishedName: u.DistinguishedName, DisplayName: u.DisplayName,
			Enabled: u.Enabled, LastLogon: u.LastLogon, PwdLastSet: u.PwdLastSet,
			UAC: u.UAC, PasswordNeverExpires: u.PasswordNeverExpires,
			PasswordNotRequired: u.PasswordNotRequired, PreAuthNotRequired: u.PreAuthNotRequired,
			TrustedForDeleg: u.TrustedForDeleg, ReversibleEncryption: u.ReversibleEncryption,
			ServicePrincipals: nonNilStrings(u.ServicePrincipals), AdminCount: u.AdminCount,
			MemberOf: nonNilStrings(u.MemberOf), PrivilegedGroups: nonNilStrings(
				u.PrivilegedGroups), Stale: u.Stale, Builtin: u.Builtin})
	}
	if dir.Partial {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Target: name,
			Error: "partial: " + partialText(dir.PartialReasons)})
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := a.results.Put(ctx, tenantID, directoryKey, b); err != nil {
		return err
	}
	for _, c := range dir.Computers {
		host := strings.TrimSuffix(c.SAMAccountName, "$")
		obs := inventory.Observation{Source: name, At: time.Now().UTC(),
			ADObjectGUID: c.ObjectGUID, Hostnames: []string{c.DNSHostName, host},
			Addresses: a.resolveHost(ctx, c.DNSHostName)}
		typ := "workstation"
		if c.DomainController || strings.Contains(strings.ToLower(c.OS), "server") {
			typ = "server"
		}
		if c.OS == "" {
			typ = ""
		}
		doc := factDoc{Updated: obs.At, Sources: []string{"ldap"},
			OSVersion: c.OSVersion, AD: &scanner.ADComputer{SAMAccountName: c.SAMAccountName,
				DNSHostName: c.DNSHostName, OS: c.OS, OSVersion: c.OSVersion,
				Enabled: c.Enabled, LastLogon: c.LastLogon, PwdLastSet: c.PwdLastSet,
				UAC: c.UAC, TrustedForDeleg: c.TrustedForDeleg, Stale: c.Stale,
				ObjectGUID: c.ObjectGUID, DistinguishedName: c.DistinguishedName,
				ServicePrincipals:  nonNilStrings(c.ServicePrincipals),
				PrivilegedGroups:   nonNilStrings(c.PrivilegedGroups),
				DelegationAllowed:  c.DelegationAllowed,
				PasswordNotRequire: c.PasswordNotRequired}}
		if c.OS != "" {
			doc.Classification = []web.AssetReason{{Field: "os", Value: c.OS,
				Source: "ldap operatingSystem", Detail: c.DistinguishedName}}
		}
		f := Facts{Name: c.DNSHostName, OS: c.OS, Type: typ, doc: &doc}
		if f.Name == "" {
			f.Name = host
		}
		if err := a.observeInto(ctx, tenantID, obs, f, rep); err != nil {
			return err
		}
	}
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func partialText(reasons map[string]string) string {
	var parts []string
	for k, v := range reasons {
		parts = append(parts, k+": "+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// ingestFortiGate makes the firewall an asset with its configuration as facts, and the
// hosts of its ARP table and DHCP leases discovered addresses.
func (a *Appliance) ingestFortiGate(ctx context.Context, tenantID string, src namedSource,
	cfg *fortigate.Config, rep *scanReport) error {
	if cfg.Partial {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Target: src.name,
			Error: "partial: " + partialText(cfg.PartialReasons)})
	}
	fw := &scanner.Firewall{Hostname: cfg.Hostname, Model: cfg.Model, Version: cfg.Version,
		Build: cfg.Build, Serial: cfg.Serial, HAMode: cfg.HAMode,
		BaselineVersion: cfg.BaselineVersion, Partial: cfg.Partial,
		Interfaces: []scanner.FWInterface{}, Admins: []scanner.FWAdmin{},
		Policies: make([]scanner.FWPolicy, 0, len(cfg.Policies))}
	var addrs []string
	for _, i := range cfg.Interfaces {
		fw.Interfaces = append(fw.Interfaces, scanner.FWInterface{Name: i.Name, Role: i.Role,
			IP: i.IP, Status: i.Status, AllowAccess: nonNilStrings(i.AllowAccess)})
		if p, err := netip.ParsePrefix(i.IP); err == nil {
			addrs = append(addrs, p.Addr().String())
		}
	}
	for _, ad := range cfg.Admins {
		fw.Admins = append(fw.Admins, scanner.FWAdmin{Name: ad.Name, Profile: ad.Profile,
			TrustedHosts: nonNilStrings(ad.TrustedHosts), TwoFactor: ad.TwoFactor})
	}
	for _, p := range cfg.Policies {
		fw.Policies = append(fw.Policies, scanner.FWPolicy{ID: p.ID, Name: p.Name,
			Status: p.Status, Action: p.Action, SrcIntf: nonNilStrings(p.SrcIntf),
			DstIntf: nonNilStrings(p.DstIntf), SrcAddr: nonNilStrings(p.SrcAddr),
			DstAddr: nonNilStrings(p.DstAddr), Service: nonNilStrings(p.Service),
			Schedule: p.Schedule, LogTraffic: p.LogTraffic, UTMStatus: p.UTMStatus})
	}
	if u, err := url.Parse(src.url); err == nil {
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
			addrs = append([]string{ip.String()}, addrs...)
		}
	}
	at := time.Now().UTC()
	obs := inventory.Observation{Source: src.name, At: at, Serial: cfg.Serial,
		Hostnames: []string{cfg.Hostname}, Addresses: addrs}
	doc := factDoc{Updated: at, Sources: []string{"fortigate"}, Firewall: fw,
		OSVersion: cfg.Version, Classification: []web.AssetReason{{Field: "type",
			Value: "firewall", Source: src.name, Detail: "FortiOS REST API system status"}}}
	if err := a.observeInto(ctx, tenantID, obs, Facts{Name: cfg.Hostname, Type: "firewall",
		Vendor: "Fortinet", Model: cfg.Model, OS: "FortiOS", Firmware: cfg.Version,
		doc: &doc}, rep); err != nil {
		return err
	}
	for _, ad := range cfg.Addresses {
		obs := inventory.Observation{Source: src.name + " " + strings.Join(ad.Sources, "+"),
			At: at, Addresses: []string{ad.IP}, MACs: []string{ad.MAC}}
		if ad.Hostname != "" {
			obs.Hostnames = []string{ad.Hostname}
		}
		if err := a.observeInto(ctx, tenantID, obs, Facts{Name: ad.Hostname,
			doc: &factDoc{Updated: at, Sources: []string{"fortigate"}}}, rep); err != nil {
			return err
		}
		rep.Neighbours++
	}
	return nil
}

// omadaTypes maps Omada device types to asset types.
var omadaTypes = map[string]string{"ap": "access-point", "switch": "switch",
	"gateway": "router"}

// ingestOmada makes each managed device an asset (TP-Link, model, firmware) and each
// client a discovered address.
func (a *Appliance) ingestOmada(ctx context.Context, tenantID, name string,
	inv *omada.Inventory, rep *scanReport) error {
	if inv.Partial {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Target: name,
			Error: "partial: " + partialText(inv.PartialReasons)})
	}
	at := time.Now().UTC()
	for _, d := range inv.Devices {
		obs := inventory.Observation{Source: name, At: at, MACs: []string{d.MAC},
			Serial: d.Serial, Hostnames: []string{d.Name}}
		if d.IP != "" {
			obs.Addresses = []string{d.IP}
		}
		doc := factDoc{Updated: at, Sources: []string{"omada"}, Omada: &scanner.OmadaDevice{
			Site: d.Site, Model: d.Model, Firmware: d.Firmware, Status: d.Status,
			Type: d.Type}}
		if err := a.observeInto(ctx, tenantID, obs, Facts{Name: d.Name, Vendor: "TP-Link",
			Model: d.Model, Firmware: d.Firmware, Type: omadaTypes[d.Type],
			doc: &doc}, rep); err != nil {
			return err
		}
	}
	for _, c := range inv.Clients {
		obs := inventory.Observation{Source: name + " client", At: at,
			MACs: []string{c.MAC}}
		if c.IP != "" {
			obs.Addresses = []string{c.IP}
		}
		if c.HostName != "" {
			obs.Hostnames = []string{c.HostName}
		}
		if err := a.observeInto(ctx, tenantID, obs, Facts{Name: c.Name, Vendor: c.Vendor,
			doc: &factDoc{Updated: at, Sources: []string{"omada"}}}, rep); err != nil {
			return err
		}
		rep.Neighbours++
	}
	return nil
}
