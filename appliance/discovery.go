package appliance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/fixtures"
	"github.com/tenantra/tenantra/network/fingerprint"
	"github.com/tenantra/tenantra/network/probe"
	"github.com/tenantra/tenantra/network/snmp"
	"github.com/tenantra/tenantra/network/targets"
	"github.com/tenantra/tenantra/store"
)

// scanLimits bound what one service grab may read and wait for.
var scanLimits = fingerprint.Limits{MaxBytes: 64 << 10, Timeout: 4 * time.Second}

// Scan discovers a tenant's hosts (unprivileged TCP ping), probes their ports, identifies
// services, reads SNMP agents with the given communities, and reconciles everything into
// the tenant's inventory: one asset per device, however often it is scanned.
func (a *Appliance) Scan(ctx context.Context, tenantRef string, req web.ScanRequest,
	progress func(web.ScanProgress)) (web.ScanReport, error) {
	if progress == nil {
		progress = func(web.ScanProgress) {}
	}
	rep := web.ScanReport{Started: time.Now().UTC()}
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return rep, err
	}
	if t.Status == store.TenantSuspended {
		return rep, store.Errorf(store.ErrConflict, "tenant %s is suspended; resume it "+
			"before scanning", t.Slug)
	}
	if len(req.Targets) == 0 && len(req.Sources) == 0 {
		return rep, store.Errorf(store.ErrInvalid, "targets are required: CIDRs, ranges "+
			"(10.0.0.5-20) or host names; or name sources such as ldap:corp")
	}
	sources, err := a.scanSources(ctx, t.ID, req.Sources) // unsealed now, never stored
	if err != nil {
		return rep, err
	}
	defer func() {
		for _, s := range sources {
			s.close()
		}
	}()
	ports, err := scanPorts(req.Ports)
	if err != nil {
		return rep, err
	}
	vault, err := a.vaultSNMP(ctx, t.ID, req.Credentials) // unsealed now, never stored
	if err != nil {
		return rep, err
	}
	if len(req.Targets) > 0 {
		if err := a.scanNetwork(ctx, t, req, ports, vault, &rep, progress); err != nil {
			return rep, err
		}
	}
	// 6. Directory, firewall and controller sources.
	sr := newScanReport(&rep)
	for _, src := range sources {
		progress(web.ScanProgress{Stage: "source " + src.name})
		if err := a.collectSource(ctx, t.ID, src, sr); err != nil {
			return rep, err
		}
	}
	// 7. Checks and compliance over the updated inventory. A failed run does not fail the
	// scan: the inventory is stored, and the next run catches up.
	progress(web.ScanProgress{Stage: "checks"})
	if res, err := a.RunChecks(ctx, t.ID, "scan"); err != nil {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Error: "checks: " + err.Error()})
	} else {
		rep.Findings, rep.Score = len(res.Findings), res.Summary.Score
	}
	rep.Finished = time.Now().UTC()
	a.audit(ctx, t.ID, "scan.run", strings.Join(req.Targets, ","), "success", map[string]any{
		"hosts": rep.Hosts, "open_ports": rep.OpenPorts, "assets": len(rep.Assets)})
	progress(web.ScanProgress{Stage: "done", Done: len(rep.Assets), Total: len(rep.Assets)})
	return rep, nil
}

// neighNoteAfter is how long on-link addresses may wait for the kernel's neighbour table
// before the scan report says so.
const neighNoteAfter = 2 * time.Second

// neighNote explains a scan slowed by the kernel's neighbour table (ADR 0011), or is empty
// when the waits were short. sweep is discovery's wait, which an ARP sweep (CAP_NET_RAW)
// avoids; ports is the port stages', which only a larger table shortens. limit is the
// table's size, 0 when unknown.
func neighNote(sweep, ports time.Duration, limit int) string {
	wait := sweep + ports
	if wait < neighNoteAfter {
		return ""
	}
	size := ""
	if limit > 0 {
		size = fmt.Sprintf(" (%d entries)", limit)
	}
	remedy := "raise net.ipv4.neigh.default.gc_thresh3 as the .deb does " +
		"(/usr/lib/sysctl.d/60-tenantra.conf)"
	why := "every live host it probes holds an entry for 15-45 s"
	if sweep >= ports {
		remedy = "run the appliance with CAP_NET_RAW (its service has it) to sweep subnets " +
			"by ARP, or " + remedy
		why = "every unanswered address holds an entry for about 3 s"
	}
	return fmt.Sprintf("on-link addresses waited %v for room in the kernel's neighbour "+
		"table%s, where %s: %s", wait.Round(100*time.Millisecond), size, why, remedy)
}

// scanNetwork is the network stage of a scan: host discovery, port probes, service
// fingerprints and SNMP, reconciled into the inventory.
func (a *Appliance) scanNetwork(ctx context.Context, t store.Tenant, req web.ScanRequest,
	ports []uint16, vault []snmp.Credential, rep *web.ScanReport,
	progress func(web.ScanProgress)) error {
	set, err := targets.Parse(ctx, strings.Join(req.Targets, ","), targets.Options{
		Resolver: a.resolve(), Exclude: strings.Join(req.Exclude, ","), Force: req.Force})
	if err != nil {
		return store.Errorf(store.ErrInvalid, "%s", err.Error())
	}
	for _, e := range set.Errors() {
		rep.Errors = append(rep.Errors, web.ScanTargetError{Target: "", Error: e.Error()})
	}
	sc, err := probe.NewScanner(probe.Config{})
	if err != nil {
		return err
	}
	preq := probe.Request{Targets: set.All(), Total: set.Len()}
	if req.Rate > 0 {
		preq.Rate = rate.Limit(req.Rate)
	}
	// 1. Which addresses answer at all: ARP on on-link subnets and ICMP echo with raw
	// sockets (CAP_NET_RAW), TCP pings otherwise (probe.Auto chooses).
	var alive []netip.Addr
	var found []probe.Host
	macs := map[netip.Addr]string{}
	var mu sync.Mutex
	progress(web.ScanProgress{Stage: "discovery", Total: int(set.Len())})
	dprog, err := (probe.Auto{Scanner: sc}).Discover(ctx, preq, func(h probe.Host) {
		mu.Lock()
		defer mu.Unlock()
		alive = append(alive, h.Addr)
		found = append(found, h)
		if len(h.MAC) > 0 {
			macs[h.Addr] = h.MAC.String()
		}
	})
	if err != nil {
		return fmt.Errorf("host discovery: %w", err)
	}
	sweepWait := dprog.NeighWait
	slices.SortFunc(alive, func(x, y netip.Addr) int { return x.Compare(y) })
	rep.Hosts = len(alive)
	preq.Timing = probe.PortTiming(preq.Timing, found)
	// 2. Their open ports.
	open := map[netip.Addr][]uint16{}
	progress(web.ScanProgress{Stage: "ports", Total: len(alive) * len(ports)})
	preq.Targets, preq.Total, preq.Ports = slices.Values(alive), uint64(len(alive)), ports
	pprog, err := sc.Scan(ctx, preq, func(r probe.Result) {
		if r.State == probe.StateOpen {
			open[r.Addr.Addr()] = append(open[r.Addr.Addr()], r.Addr.Port())
		}
	})
	if err != nil {
		return fmt.Errorf("port scan: %w", err)
	}
	portWait := pprog.NeighWait
	// 2b. UDP services: DNS 53, NTP 123 and SNMP 161 answer a protocol request; silence
	// (open|filtered) proves nothing and is not recorded.
	var udpOpen []probe.Result
	if udpPorts, err := fixtures.Ports("udp"); err == nil && len(alive) > 0 {
		ureq := preq
		ureq.Proto, ureq.Ports = probe.UDP, udpPorts
		ureq.Targets = slices.Values(alive)
		progress(web.ScanProgress{Stage: "udp", Total: len(alive) * len(udpPorts)})
		uprog, err := sc.Scan(ctx, ureq, func(r probe.Result) {
			if r.State == probe.StateOpen {
				udpOpen = append(udpOpen, r)
			}
		})
		if err != nil {
			return fmt.Errorf("udp probes: %w", err)
		}
		portWait += uprog.NeighWait
	}
	if note := neighNote(sweepWait, portWait, probe.NeighTableLimit()); note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	// 3. What listens there, and 4. what SNMP agents say.
	services := a.identify(ctx, open, progress)
	for _, r := range udpOpen {
		addr := r.Addr.Addr()
		name := r.Service
		if name == "" {
			name = "unknown"
		}
		services[addr] = append(services[addr], fingerprint.Service{Port: int(r.Addr.Port()),
			Protocol: "udp", Name: name, Evidence: map[string]string{"probe": "reply to a " +
				name + " request"}, Findings: []string{}})
		open[addr] = append(open[addr], r.Addr.Port())
	}
	devices := a.collectSNMP(ctx, alive, vault, req.SNMPCommunities,
		progress)
	// 5. Into the inventory.
	progress(web.ScanProgress{Stage: "inventory", Total: len(alive)})
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return err
	}
	defer release()
	for i, addr := range alive {
		obs := inventory.Observation{Source: "scan", At: time.Now().UTC(),
			Addresses: []string{addr.String()}}
		if mac := macs[addr]; mac != "" {
			obs.MACs = append(obs.MACs, mac)
		}
		doc := factDoc{Updated: obs.At, Sources: []string{"scan"}}
		f := Facts{doc: &doc}
		for _, s := range services[addr] {
			f.Services = append(f.Services, storeService(s))
			doc.Services = append(doc.Services, factService(s))
		}
		if d := devices[addr]; d != nil {
			obs.Source = "scan+snmp"
			obs.Serial = d.Serial
			obs.Hostnames = append(obs.Hostnames, d.SysName)
			for _, ifc := range d.Interfaces {
				obs.MACs = append(obs.MACs, ifc.MAC)
			}
			f.Vendor, f.Model, f.OS, f.Firmware, f.Type = d.Vendor, d.Model, d.OS, d.Firmware,
				d.Type
			sd := snmpFacts(d.Device, d.community)
			doc.merge(sd)
		}
		classify(&f, &doc, services[addr], devices[addr], obs.Hostnames)
		rep.OpenPorts += len(open[addr])
		id, created, err := a.Observe(ctx, t.ID, obs, f)
		if err != nil {
			rep.Errors = append(rep.Errors, web.ScanTargetError{Target: addr.String(),
				Error: err.Error()})
			continue
		}
		rec, err := tdb.AssetRecord(ctx, id)
		if err != nil {
			return err
		}
		body, _, _ := assetBody(rec)
		rep.Assets = append(rep.Assets, web.ScannedAsset{AssetBody: body, New: created})
		progress(web.ScanProgress{Stage: "inventory", Done: i + 1, Total: len(alive)})
	}
	// ARP neighbours that agents reported become discovered addresses: devices the sweep
	// may not reach (other subnets, filtered hosts) still enter the inventory, by MAC.
	seen := map[string]bool{}
	for _, addr := range alive {
		seen[addr.String()] = true
	}
	for _, addr := range alive {
		d := devices[addr]
		if d == nil {
			continue
		}
		for _, n := range d.Neighbours {
			if seen[n.IP] || n.MAC == "" {
				continue
			}
			seen[n.IP] = true
			obs := inventory.Observation{Source: "snmp-arp:" + addr.String(),
				At: time.Now().UTC(), Addresses: []string{n.IP}, MACs: []string{n.MAC}}
			f := Facts{Vendor: n.MACVendor, doc: &factDoc{Updated: obs.At,
				Sources: []string{"snmp-arp"}}}
			if n.MACVendor != "" {
				f.doc.Classification = []web.AssetReason{{Field: "vendor", Value: n.MACVendor,
					Source: "mac vendor", Detail: "OUI of " + n.MAC}}
			}
			id, created, err := a.Observe(ctx, t.ID, obs, f)
			if err != nil {
				rep.Errors = append(rep.Errors, web.ScanTargetError{Target: n.IP,
					Error: err.Error()})
				continue
			}
			rec, err := tdb.AssetRecord(ctx, id)
			if err != nil {
				return err
			}
			body, _, _ := assetBody(rec)
			rep.Neighbours++
			rep.Assets = append(rep.Assets, web.ScannedAsset{AssetBody: body, New: created})
		}
	}
	return nil
}

func scanPorts(spec string) ([]uint16, error) {
	if spec == "" {
		spec = "top100"
	}
	if ps, err := fixtures.Ports(spec); err == nil {
		return ps, nil
	}
	ps, err := probe.ParsePorts(spec)
	if err != nil {
		return nil, store.Errorf(store.ErrInvalid, "ports %q: use top100, top1000 or a list "+
			"such as 22,80,8000-8100 (%v)", spec, err)
	}
	return ps, nil
}

// identify runs the fingerprint for each open port, a few at a time.
func (a *Appliance) identify(ctx context.Context, open map[netip.Addr][]uint16,
	progress func(web.ScanProgress)) map[netip.Addr][]fingerprint.Service {
	type job struct {
		addr netip.Addr
		port uint16
	}
	var jobs []job
	for addr, ports := range open {
		for _, p := range ports {
			jobs = append(jobs, job{addr, p})
		}
	}
	out := map[netip.Addr][]fingerprint.Service{}
	var mu sync.Mutex
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	done := 0
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := grab(ctx, j.addr, j.port)
			mu.Lock()
			out[j.addr] = append(out[j.addr], s)
			done++
			progress(web.ScanProgress{Stage: "services", Done: done, Total: len(jobs)})
			mu.Unlock()
		}()
	}
	wg.Wait()
	for addr := range out {
		slices.SortFunc(out[addr], func(x, y fingerprint.Service) int {
			return x.Port - y.Port
		})
	}
	return out
}

// grabber identifies one protocol on an open port, dialling as often as it needs.
type grabber func(ctx context.Context, dial fingerprint.Dialer, host string, port int) (
	fingerprint.Service, error)

// onConn adapts a grabber that needs one connection.
func onConn[I interface{ Service(int) fingerprint.Service }](
	fn func(context.Context, net.Conn, fingerprint.Limits) (I, error)) grabber {
	return func(ctx context.Context, dial fingerprint.Dialer, _ string, port int) (
		fingerprint.Service, error) {
		c, err := dial(ctx)
		if err != nil {
			return fingerprint.Service{}, err
		}
		defer func() { _ = c.Close() }()
		info, err := fn(ctx, c, scanLimits)
		return info.Service(port), err
	}
}

// onDialer adapts a grabber that opens its own connections (TLS per version, SMB, RDP).
func onDialer[I interface{ Service(int) fingerprint.Service }](
	fn func(context.Context, fingerprint.Dialer, fingerprint.Limits) (I, error)) grabber {
	return func(ctx context.Context, dial fingerprint.Dialer, _ string, port int) (
		fingerprint.Service, error) {
		info, err := fn(ctx, dial, scanLimits)
		return info.Service(port), err
	}
}

// grabbers maps well-known ports to the protocol to try there.
var grabbers = func() map[uint16]grabber {
	m := map[uint16]grabber{
		21: onConn(fingerprint.GrabFTP), 22: onConn(fingerprint.GrabSSH),
		23: onConn(fingerprint.GrabTelnet), 25: onConn(fingerprint.GrabSMTP),
		587: onConn(fingerprint.GrabSMTP), 110: onConn(fingerprint.GrabPOP3),
		143: onConn(fingerprint.GrabIMAP), 445: onDialer(fingerprint.GrabSMB),
		3389: onDialer(fingerprint.GrabRDP), 3306: onConn(fingerprint.GrabMySQL),
		5432: onConn(fingerprint.GrabPostgres), 6379: onConn(fingerprint.GrabRedis),
		27017: onConn(fingerprint.GrabMongoDB),
	}
	tls := func(ctx context.Context, dial fingerprint.Dialer, host string, port int) (
		fingerprint.Service, error) {
		info, err := fingerprint.GrabTLS(ctx, dial, host, scanLimits, time.Now())
		s := info.Service(port)
		s.Name = "https" // the ports tried here are the HTTPS ones
		return s, err
	}
	for _, p := range []uint16{443, 8443} {
		m[p] = tls
	}
	for _, p := range []uint16{80, 8000, 8008, 8080, 8081, 8888} {
		m[p] = onConn(fingerprint.GrabHTTP)
	}
	return m
}()

// grab identifies the service on one port by the protocol its number suggests; an
// unidentified open port is still recorded, as "unknown".
func grab(ctx context.Context, addr netip.Addr, port uint16) fingerprint.Service {
	hostport := net.JoinHostPort(addr.String(), strconv.Itoa(int(port)))
	dial := func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: scanLimits.Timeout}
		return d.DialContext(ctx, "tcp", hostport)
	}
	var s fingerprint.Service
	var err error
	if g, ok := grabbers[port]; ok {
		s, err = g(ctx, dial, addr.String(), int(port))
	} else {
		s, err = sniff(ctx, dial, addr.String(), int(port))
	}
	if err != nil || s.Name == "" {
		s = fingerprint.Service{Port: int(port), Protocol: "tcp", Name: "unknown",
			Evidence: s.Evidence, Findings: s.Findings}
		if err != nil {
			s.Evidence = map[string]string{"error": err.Error()}
		}
	}
	s.Port, s.Protocol = int(port), "tcp"
	return s
}

// classify decides type, OS and vendor from everything seen of one host, keeping the
// evidence; what an SNMP vendor profile said explicitly is kept as it is.
func classify(f *Facts, doc *factDoc, svcs []fingerprint.Service, ag *agent,
	hostnames []string) {
	ev := inventory.Evidence{Hostnames: hostnames}
	for _, s := range svcs {
		ev.Services = append(ev.Services, inventory.ServiceEvidence{Port: s.Port,
			Protocol: s.Protocol, Name: s.Name, Product: s.Product, Version: s.Version,
			Evidence: s.Evidence})
	}
	if ag != nil {
		d := ag.Device
		ev.SNMP = &inventory.SNMPEvidence{SysDescr: d.SysDescr, SysObjectID: d.SysObjectID,
			Profile: d.Profile, Vendor: d.Vendor, Type: d.Type, Model: d.Model, OS: d.OS,
			Firmware: d.Firmware}
		for _, ifc := range d.Interfaces {
			if ifc.MACVendor != "" && !slices.Contains(ev.MACVendors, ifc.MACVendor) {
				ev.MACVendors = append(ev.MACVendors, ifc.MACVendor)
			}
		}
	}
	c := inventory.Classify(ev)
	if f.Type == "" && c.Type != inventory.TypeUnknown {
		f.Type = c.Type
	}
	if f.OS == "" {
		f.OS = c.OS
	}
	if f.Vendor == "" {
		f.Vendor = c.Vendor
	}
	doc.OSVersion = c.OSVersion
	for _, r := range c.Evidence {
		doc.Classification = append(doc.Classification, web.AssetReason{Field: r.Field,
			Value: r.Value, Source: r.Source, Detail: r.Detail})
	}
}

// sniffWait is how long a port without a well-known protocol gets to greet first.
const sniffWait = 2 * time.Second

// sniff identifies the service on a port that no well-known protocol is expected on, as
// nmap's version detection does: it reads what the server says first (SSH, FTP, SMTP, POP3,
// IMAP, Telnet and MySQL speak first), and when it says nothing tries HTTP, then TLS.
func sniff(ctx context.Context, dial fingerprint.Dialer, host string, port int) (
	fingerprint.Service, error) {
	c, err := dial(ctx)
	if err != nil {
		return fingerprint.Service{}, err
	}
	_ = c.SetReadDeadline(time.Now().Add(sniffWait))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	_ = c.Close()
	first := buf[:n]
	upper := strings.ToUpper(string(first))
	var g grabber
	switch {
	case bytes.HasPrefix(first, []byte("SSH-")):
		g = grabbers[22]
	case bytes.HasPrefix(first, []byte("+OK")):
		g = grabbers[110]
	case bytes.HasPrefix(first, []byte("* OK")):
		g = grabbers[143]
	case bytes.HasPrefix(first, []byte("220")) && strings.Contains(upper, "SMTP"):
		g = grabbers[25]
	case bytes.HasPrefix(first, []byte("220")):
		g = grabbers[21]
	case n > 0 && first[0] == 0xff: // a Telnet IAC option negotiation
		g = grabbers[23]
	case n > 5 && first[3] == 0 && first[4] == 10: // MySQL handshake v10, sequence 0
		g = grabbers[3306]
	case n > 0:
		s := fingerprint.Service{Port: port, Protocol: "tcp", Name: "unknown",
			Evidence: map[string]string{"banner": fingerprint.CleanText(first)}}
		return s, nil
	default:
		if s, err := grabbers[80](ctx, dial, host, port); err == nil && s.Name != "" {
			return s, nil
		}
		return grabbers[443](ctx, dial, host, port)
	}
	return g(ctx, dial, host, port)
}

// storeService is the inventory row of a fingerprint.
func storeService(s fingerprint.Service) store.Service {
	return store.Service{Port: uint16(s.Port), Protocol: s.Protocol, Service: s.Name,
		Product: s.Product, Version: s.Version}
}

// collectSNMP reads the SNMP agents of the live hosts with the vault's credential sets,
// then the given ad-hoc v2c communities.
func (a *Appliance) collectSNMP(ctx context.Context, hosts []netip.Addr,
	vault []snmp.Credential, communities []string,
	progress func(web.ScanProgress)) map[netip.Addr]*agent {
	out := map[netip.Addr]*agent{}
	if len(vault) == 0 && len(communities) == 0 {
		return out
	}
	creds := slices.Clone(vault)
	for i, c := range communities {
		creds = append(creds, snmp.Credential{Name: fmt.Sprintf("community-%d", i+1),
			Version: "v2c", Community: c})
	}
	profiles, oui := a.snmpTables()
	client := snmp.NewClient(snmp.Config{Timeout: time.Second, Deadline: time.Minute},
		profiles, oui)
	for i, h := range hosts {
		progress(web.ScanProgress{Stage: "snmp", Done: i, Total: len(hosts)})
		d, err := client.Collect(ctx, h.String(), creds)
		if err != nil {
			continue // most hosts run no agent; silence is not worth a report line
		}
		ag := &agent{Device: d}
		for _, c := range creds {
			if c.Name == d.Credential {
				ag.community = c.Community
			}
		}
		out[h] = ag
	}
	return out
}

// agent is what an SNMP agent answered, and the community it answered to (to tell default
// communities; it is never stored).
type agent struct {
	*snmp.Device
	community string
}

// snmpTables parses the embedded vendor profiles and OUI table once per appliance rather
// than on every scan. The fixtures are compiled in and tested, so a parse error means a
// broken build: devices then simply go unidentified.
func (a *Appliance) snmpTables() (*snmp.Profiles, *snmp.OUITable) {
	a.snmpOnce.Do(func() {
		a.snmpProfiles, _ = snmp.LoadProfiles(fixtures.SNMP())
		a.snmpOUI, _ = snmp.LoadOUI(fixtures.SNMP())
	})
	return a.snmpProfiles, a.snmpOUI
}
