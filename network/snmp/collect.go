package snmp

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// OIDs of the standard MIB objects the collector reads.
const (
	oidSystem        = ".1.3.6.1.2.1.1"
	oidIfEntry       = ".1.3.6.1.2.1.2.2.1"
	oidIfXEntry      = ".1.3.6.1.2.1.31.1.1.1"
	oidNetToMedia    = ".1.3.6.1.2.1.4.22.1.2"   // ipNetToMediaPhysAddress
	oidNetToPhys     = ".1.3.6.1.2.1.4.35.1.4"   // ipNetToPhysicalPhysAddress
	oidLldpRemEntry  = ".1.0.8802.1.1.2.1.4.1.1" // lldpRemEntry
	oidEntPhysEntry  = ".1.3.6.1.2.1.47.1.1.1.1"
	oidHrStorage     = ".1.3.6.1.2.1.25.2.3.1"
	oidHrSWInstName  = ".1.3.6.1.2.1.25.6.3.1.2"
	oidHrStorageType = ".1.3.6.1.2.1.25.2.1."
	maxStringLen     = 1024
	maxGetOIDs       = 10
)

// Collect identifies the agent at target ("host" or "host:port") with the first credential
// set in creds that answers, and reads its tables. The error, when the agent cannot be read at
// all, is a *TargetError naming every attempt; a table that fails or hits the row cap is
// listed in Device.Partial instead.
func (c *Client) Collect(ctx context.Context, target string, creds []Credential) (*Device, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	s, sys, err := c.open(ctx, target, creds)
	if err != nil {
		return nil, err
	}
	defer s.close()
	d := &Device{Target: target, Credential: s.cred.Name, Version: s.cred.Version,
		Evidence: map[string]string{}}
	fillSystem(d, sys)
	s.collectInterfaces(d, c.oui)
	s.collectARP(d, c.oui)
	s.collectLLDP(d)
	s.collectEntity(d)
	s.collectHostResources(d)
	c.identify(s, d)
	return d, nil
}

// Walk walks the subtree at root with one credential set, GETBULK for v2c/v3 and GETNEXT for
// v1, calling fn (if not nil) for each value, and stops after limit values. It returns how
// many values it walked.
func (c *Client) Walk(ctx context.Context, target string, cred Credential, root string,
	limit int, fn func(oid string, value any) error) (int, error) {
	if err := cred.Validate(); err != nil {
		return 0, err
	}
	host, port, err := splitTarget(target, c.cfg.Port)
	if err != nil {
		return 0, err
	}
	s, err := c.dial(ctx, host, port, cred)
	if err != nil {
		return 0, err
	}
	defer s.close()
	n := 0
	_, err = s.walk(root, limit, func(_ string, p gosnmp.SnmpPDU) error {
		n++
		if fn != nil {
			return fn(p.Name, p.Value)
		}
		return nil
	})
	return n, err
}

// systemGroup GETs the six system scalars; a v1 agent missing one fails the whole request
// (noSuchName), so then each is fetched alone.
func (s *session) systemGroup() ([]gosnmp.SnmpPDU, error) {
	oids := make([]string, 6)
	for i := range oids {
		oids[i] = fmt.Sprintf("%s.%d.0", oidSystem, i+1)
	}
	pdus, err := s.get(oids)
	if err == nil || errors.Is(err, ErrNoResponse) || errors.Is(err, ErrAuth) ||
		errors.Is(err, context.DeadlineExceeded) {
		return pdus, err
	}
	var out []gosnmp.SnmpPDU
	for _, o := range oids {
		if p, err1 := s.get([]string{o}); err1 == nil {
			out = append(out, p...)
		}
	}
	if len(out) == 0 {
		return nil, err
	}
	return out, nil
}

func fillSystem(d *Device, pdus []gosnmp.SnmpPDU) {
	for _, p := range pdus {
		if absent(p) {
			continue
		}
		switch p.Name {
		case oidSystem + ".1.0":
			d.SysDescr = pduString(p)
		case oidSystem + ".2.0":
			d.SysObjectID = strings.TrimPrefix(pduString(p), ".")
		case oidSystem + ".3.0":
			d.SysUpTime = time.Duration(pduUint(p)) * 10 * time.Millisecond
		case oidSystem + ".4.0":
			d.SysContact = pduString(p)
		case oidSystem + ".5.0":
			d.SysName = pduString(p)
		case oidSystem + ".6.0":
			d.SysLocation = pduString(p)
		}
	}
}

var errRowCap = errors.New("row cap reached")

// walk calls fn for every value under root (index suffix without the leading dot) and stops
// after limit values, reporting truncated. Non-increasing OIDs end the walk with an error, so a
// looping agent cannot keep us busy.
func (s *session) walk(root string, limit int,
	fn func(suffix string, p gosnmp.SnmpPDU) error) (truncated bool, err error) {
	root = "." + strings.TrimPrefix(root, ".")
	n := 0
	var last []int
	wf := func(p gosnmp.SnmpPDU) error {
		if absent(p) || !strings.HasPrefix(p.Name, root+".") {
			return nil
		}
		cur, perr := parseOID(p.Name)
		if perr != nil {
			return fmt.Errorf("malformed oid %q: %w", p.Name, perr)
		}
		if last != nil && compareOID(cur, last) <= 0 {
			return fmt.Errorf("agent returned non-increasing oid %s", p.Name)
		}
		last = cur
		if n >= limit {
			return errRowCap
		}
		n++
		return fn(p.Name[len(root)+1:], p)
	}
	err = s.walkLoop(root, wf)
	switch {
	case errors.Is(err, errRowCap):
		return true, nil
	case errors.Is(err, ErrAuth):
		return false, err
	case err != nil && strings.Contains(err.Error(), "non-increasing"),
		err != nil && strings.Contains(err.Error(), "malformed oid"):
		return false, err
	case err != nil:
		return false, s.classify(err)
	}
	return false, nil
}

// walkLoop is GETNEXT (v1) or GETBULK (v2c, v3) from root until the agent leaves root's
// subtree or reports endOfMibView. Unlike gosnmp's walkers it accepts a one-arc root such as
// ".1" (a BER OID needs two arcs, so the first request then starts at root.0).
func (s *session) walkLoop(root string, wf func(gosnmp.SnmpPDU) error) error {
	cur := root
	if strings.Count(root, ".") < 2 {
		cur = root + ".0"
	}
	for {
		var pkt *gosnmp.SnmpPacket
		var err error
		if s.g.Version == gosnmp.Version1 {
			pkt, err = s.g.GetNext([]string{cur})
		} else {
			pkt, err = s.g.GetBulk([]string{cur}, 0, s.cfg.MaxRepetitions)
		}
		switch {
		case err != nil:
			return err
		case pkt.PDUType == gosnmp.Report:
			return fmt.Errorf("%w: agent sent a report during a walk", ErrAuth)
		case pkt.PDUType != gosnmp.GetResponse:
			return fmt.Errorf("malformed response: pdu type %v during a walk", pkt.PDUType)
		case pkt.Error == gosnmp.NoSuchName && s.g.Version == gosnmp.Version1:
			return nil // v1's end of the MIB view
		case pkt.Error != gosnmp.NoError:
			return fmt.Errorf("agent error %v during a walk at %s", pkt.Error, cur)
		case len(pkt.Variables) == 0:
			return nil
		}
		for _, p := range pkt.Variables {
			if p.Type == gosnmp.EndOfMibView || p.Type == gosnmp.NoSuchObject ||
				p.Type == gosnmp.NoSuchInstance || !strings.HasPrefix(p.Name, root+".") {
				return nil
			}
			if err := wf(p); err != nil {
				return err
			}
			cur = p.Name
		}
	}
}

// table walks the given columns of a conceptual table, calling fn per cell with the column
// number and the row index. A failing column is recorded in d.Partial.
func (s *session) table(d *Device, name, entry string, cols []int,
	fn func(col int, index string, p gosnmp.SnmpPDU)) {
	for _, col := range cols {
		if s.dead {
			d.Partial = append(d.Partial, name+": skipped, agent stopped answering")
			return
		}
		trunc, err := s.walk(fmt.Sprintf("%s.%d", entry, col), s.cfg.MaxRows,
			func(idx string, p gosnmp.SnmpPDU) error { fn(col, idx, p); return nil })
		if trunc {
			d.Partial = append(d.Partial,
				fmt.Sprintf("%s: truncated at %d rows", name, s.cfg.MaxRows))
		}
		if err != nil {
			d.Partial = append(d.Partial, fmt.Sprintf("%s: %v", name, err))
			if errors.Is(err, ErrNoResponse) {
				s.dead = true
			}
			return
		}
	}
}

var ifStatus = map[uint64]string{1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant",
	6: "notPresent", 7: "lowerLayerDown"}

func (s *session) collectInterfaces(d *Device, oui *OUITable) {
	rows := map[int]*Interface{}
	row := func(index string) *Interface {
		i, err := strconv.Atoi(index)
		if err != nil || i <= 0 {
			return nil
		}
		if r, ok := rows[i]; ok {
			return r
		}
		if len(rows) >= s.cfg.MaxRows {
			return nil
		}
		r := &Interface{Index: i}
		rows[i] = r
		return r
	}
	var highSpeed = map[int]uint64{}
	s.table(d, "ifTable", oidIfEntry, []int{2, 3, 5, 6, 7, 8},
		func(col int, idx string, p gosnmp.SnmpPDU) {
			r := row(idx)
			if r == nil {
				return
			}
			switch col {
			case 2:
				r.Descr = pduString(p)
			case 3:
				r.Type = int(pduUint(p))
			case 5:
				r.SpeedBps = pduUint(p)
			case 6:
				r.MAC = formatMAC(pduBytes(p))
				r.MACVendor = oui.Lookup(r.MAC)
			case 7:
				r.AdminStatus = ifStatus[pduUint(p)]
			case 8:
				r.OperStatus = ifStatus[pduUint(p)]
			}
		})
	s.table(d, "ifXTable", oidIfXEntry, []int{1, 15, 18},
		func(col int, idx string, p gosnmp.SnmpPDU) {
			r := row(idx)
			if r == nil {
				return
			}
			switch col {
			case 1:
				r.Name = pduString(p)
			case 15:
				highSpeed[r.Index] = pduUint(p)
			case 18:
				r.Alias = pduString(p)
			}
		})
	for _, r := range rows {
		if r.Name == "" {
			r.Name = r.Descr
		}
		if hs := highSpeed[r.Index]; hs > 0 {
			r.SpeedBps = hs * 1_000_000
		}
		d.Interfaces = append(d.Interfaces, *r)
	}
	sort.Slice(d.Interfaces, func(i, j int) bool {
		return d.Interfaces[i].Index < d.Interfaces[j].Index
	})
}

func (s *session) collectARP(d *Device, oui *OUITable) {
	seen := map[[2]string]bool{}
	add := func(ifIndex int, ip, mac string) {
		if ip == "" || mac == "" || mac == "00:00:00:00:00:00" || len(seen) >= s.cfg.MaxRows {
			return
		}
		if seen[[2]string{ip, mac}] {
			return
		}
		seen[[2]string{ip, mac}] = true
		d.Neighbours = append(d.Neighbours,
			Neighbour{IfIndex: ifIndex, IP: ip, MAC: mac, MACVendor: oui.Lookup(mac)})
	}
	if !s.dead {
		_, err := s.walk(oidNetToMedia, s.cfg.MaxRows, func(idx string, p gosnmp.SnmpPDU) error {
			if ifi, ip, ok := parseNetToMediaIndex(idx); ok {
				add(ifi, ip, formatMAC(pduBytes(p)))
			}
			return nil
		})
		s.note(d, "ipNetToMediaTable", err)
	}
	if !s.dead {
		_, err := s.walk(oidNetToPhys, s.cfg.MaxRows, func(idx string, p gosnmp.SnmpPDU) error {
			if ifi, ip, ok := parseNetToPhysIndex(idx); ok {
				add(ifi, ip, formatMAC(pduBytes(p)))
			}
			return nil
		})
		s.note(d, "ipNetToPhysicalTable", err)
	}
}

// note records a failed walk in d.Partial and marks the session dead on silence.
func (s *session) note(d *Device, name string, err error) {
	if err == nil {
		return
	}
	d.Partial = append(d.Partial, fmt.Sprintf("%s: %v", name, err))
	if errors.Is(err, ErrNoResponse) || errors.Is(err, context.DeadlineExceeded) {
		s.dead = true
	}
}

var chassisSubtype = map[uint64]string{1: "chassisComponent", 2: "interfaceAlias",
	3: "portComponent", 4: "macAddress", 5: "networkAddress", 6: "interfaceName", 7: "local"}

func (s *session) collectLLDP(d *Device) {
	type rem struct {
		n                   LLDPNeighbour
		chassisSub, portSub uint64
		chassisRaw, portRaw []byte
	}
	rows := map[string]*rem{}
	var order []string
	s.table(d, "lldpRemTable", oidLldpRemEntry, []int{4, 5, 6, 7, 8, 9, 10},
		func(col int, idx string, p gosnmp.SnmpPDU) {
			r, ok := rows[idx]
			if !ok {
				if len(rows) >= s.cfg.MaxRows {
					return
				}
				parts := strings.Split(idx, ".")
				if len(parts) != 3 {
					return
				}
				r = &rem{}
				r.n.LocalPort, _ = strconv.Atoi(parts[1])
				rows[idx] = r
				order = append(order, idx)
			}
			switch col {
			case 4:
				r.chassisSub = pduUint(p)
			case 5:
				r.chassisRaw = pduBytes(p)
			case 6:
				r.portSub = pduUint(p)
			case 7:
				r.portRaw = pduBytes(p)
			case 8:
				r.n.PortDescr = pduString(p)
			case 9:
				r.n.SysName = pduString(p)
			case 10:
				r.n.SysDescr = pduString(p)
			}
		})
	for _, idx := range order {
		r := rows[idx]
		r.n.ChassisKind = chassisSubtype[r.chassisSub]
		r.n.ChassisID = lldpID(r.chassisSub == 4, r.chassisSub == 5, r.chassisRaw)
		r.n.PortID = lldpID(r.portSub == 3, r.portSub == 4, r.portRaw)
		d.LLDP = append(d.LLDP, r.n)
	}
}

// lldpID renders an LLDP chassis or port id by its subtype: a MAC, a network address
// (IANA family byte, then the address) or text.
func lldpID(isMAC, isAddr bool, b []byte) string {
	switch {
	case isMAC && len(b) == 6:
		return formatMAC(b)
	case isAddr && len(b) == 5 && b[0] == 1:
		return fmt.Sprintf("%d.%d.%d.%d", b[1], b[2], b[3], b[4])
	}
	return printable(b)
}

func (s *session) collectEntity(d *Device) {
	chassis, first := -1, -1
	s.table(d, "entPhysicalTable", oidEntPhysEntry, []int{5},
		func(_ int, idx string, p gosnmp.SnmpPDU) {
			i, err := strconv.Atoi(idx)
			if err != nil {
				return
			}
			if first < 0 {
				first = i
			}
			if chassis < 0 && pduUint(p) == 3 { // PhysicalClass chassis(3)
				chassis = i
			}
		})
	if chassis < 0 {
		chassis = first
	}
	if chassis < 0 || s.dead {
		return
	}
	cols := []int{2, 8, 9, 10, 11, 12, 13}
	oids := make([]string, len(cols))
	for i, c := range cols {
		oids[i] = fmt.Sprintf("%s.%d.%d", oidEntPhysEntry, c, chassis)
	}
	pdus, err := s.get(oids)
	if err != nil {
		s.note(d, "entPhysicalTable", err)
		return
	}
	e := Entity{Index: chassis}
	for i, p := range pdus {
		if absent(p) {
			continue
		}
		v := pduString(p)
		switch cols[i] {
		case 2:
			e.Descr = v
		case 8:
			e.HardwareRev = v
		case 9:
			e.FirmwareRev = v
		case 10:
			e.SoftwareRev = v
		case 11:
			e.Serial = v
		case 12:
			e.Mfg = v
		case 13:
			e.Model = v
		}
	}
	d.Chassis = e
}

var storageTypes = map[string]string{"1": "other", "2": "ram", "3": "virtualMemory",
	"4": "fixedDisk", "5": "removableDisk", "6": "floppyDisk", "7": "compactDisc",
	"8": "ramDisk", "9": "flashMemory", "10": "networkDisk"}

func (s *session) collectHostResources(d *Device) {
	if s.dead {
		return
	}
	_, err := s.walk(oidHrSWInstName, s.cfg.MaxRows, func(_ string, p gosnmp.SnmpPDU) error {
		if v := pduString(p); v != "" {
			d.Software = append(d.Software, v)
		}
		return nil
	})
	s.note(d, "hrSWInstalledTable", err)
	type row struct {
		st          Storage
		units, size uint64
		used        uint64
	}
	rows := map[int]*row{}
	var order []int
	s.table(d, "hrStorageTable", oidHrStorage, []int{2, 3, 4, 5, 6},
		func(col int, idx string, p gosnmp.SnmpPDU) {
			i, err := strconv.Atoi(idx)
			if err != nil {
				return
			}
			r, ok := rows[i]
			if !ok {
				if len(rows) >= s.cfg.MaxRows {
					return
				}
				r = &row{}
				rows[i] = r
				order = append(order, i)
			}
			switch col {
			case 2:
				t := strings.TrimPrefix(pduString(p), ".")
				r.st.Type = storageTypes[strings.TrimPrefix("."+t, oidHrStorageType)]
				if r.st.Type == "" {
					r.st.Type = t
				}
			case 3:
				r.st.Descr = pduString(p)
			case 4:
				r.units = pduUint(p)
			case 5:
				r.size = pduUint(p)
			case 6:
				r.used = pduUint(p)
			}
		})
	sort.Ints(order)
	for _, i := range order {
		r := rows[i]
		r.st.Size, r.st.Used = r.size*r.units, r.used*r.units
		d.Storage = append(d.Storage, r.st)
	}
}

// identify fetches the vendor profile's scalars and fills vendor, model, firmware, serial,
// OS and HA mode with evidence.
func (c *Client) identify(s *session, d *Device) {
	p := c.profiles.Match(d.SysObjectID)
	scalars := map[string]string{}
	if p != nil && !s.dead {
		oids := p.ScalarOIDs()
		for len(oids) > 0 {
			n := min(len(oids), maxGetOIDs)
			s.getScalars(oids[:n], scalars)
			oids = oids[n:]
		}
	}
	Identify(p, d, scalars)
}

// getScalars GETs oids into out, one by one when the batch fails (v1 noSuchName).
func (s *session) getScalars(oids []string, out map[string]string) {
	pdus, err := s.get(oids)
	if err != nil {
		if len(oids) == 1 || errors.Is(err, ErrNoResponse) {
			return
		}
		for _, o := range oids {
			s.getScalars([]string{o}, out)
		}
		return
	}
	for _, p := range pdus {
		if !absent(p) {
			out[strings.TrimPrefix(p.Name, ".")] = pduString(p)
		}
	}
}

func absent(p gosnmp.SnmpPDU) bool {
	return p.Type == gosnmp.NoSuchObject || p.Type == gosnmp.NoSuchInstance ||
		p.Type == gosnmp.EndOfMibView || p.Type == gosnmp.Null
}

func pduBytes(p gosnmp.SnmpPDU) []byte {
	if b, ok := p.Value.([]byte); ok {
		return b
	}
	return nil
}

// pduString renders a value as bounded, printable text.
func pduString(p gosnmp.SnmpPDU) string {
	switch v := p.Value.(type) {
	case []byte:
		return printable(v)
	case string:
		return printable([]byte(v))
	case nil:
		return ""
	}
	if p.Type == gosnmp.ObjectIdentifier {
		return fmt.Sprint(p.Value)
	}
	return gosnmp.ToBigInt(p.Value).String()
}

func pduUint(p gosnmp.SnmpPDU) uint64 {
	b := gosnmp.ToBigInt(p.Value)
	if b.Sign() < 0 || !b.IsUint64() {
		if b.Cmp(new(big.Int).SetUint64(^uint64(0))) > 0 {
			return ^uint64(0)
		}
		return 0
	}
	return b.Uint64()
}

// printable keeps valid UTF-8 text minus control characters, trimmed and capped at
// maxStringLen bytes on a rune boundary.
func printable(b []byte) string {
	if len(b) > 4*maxStringLen {
		b = b[:4*maxStringLen]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' {
			return -1
		}
		return r
	}, s)
	if len(s) > maxStringLen {
		cut := maxStringLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.TrimSpace(s)
}

// formatMAC renders 6 bytes as aa:bb:cc:dd:ee:ff; other lengths (none, or EUI-64) as hex.
func formatMAC(b []byte) string {
	if len(b) == 0 || len(b) > 20 {
		return ""
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// parseNetToMediaIndex splits an ipNetToMediaTable index: ifIndex.a.b.c.d.
func parseNetToMediaIndex(idx string) (int, string, bool) {
	arcs, err := parseOID(idx)
	if err != nil || len(arcs) != 5 {
		return 0, "", false
	}
	for _, a := range arcs[1:] {
		if a > 255 {
			return 0, "", false
		}
	}
	return arcs[0], fmt.Sprintf("%d.%d.%d.%d", arcs[1], arcs[2], arcs[3], arcs[4]), true
}

// parseNetToPhysIndex splits an ipNetToPhysicalTable index:
// ifIndex.addrType.len.addr… (type 1 IPv4, 2 IPv6; the length may be omitted by some agents).
func parseNetToPhysIndex(idx string) (int, string, bool) {
	arcs, err := parseOID(idx)
	if err != nil || len(arcs) < 3 {
		return 0, "", false
	}
	ifi, typ, rest := arcs[0], arcs[1], arcs[2:]
	want := map[int]int{1: 4, 2: 16}[typ]
	if want == 0 {
		return 0, "", false
	}
	if len(rest) == want+1 && rest[0] == want {
		rest = rest[1:]
	}
	if len(rest) != want {
		return 0, "", false
	}
	b := make([]byte, want)
	for i, a := range rest {
		if a > 255 {
			return 0, "", false
		}
		b[i] = byte(a)
	}
	if want == 4 {
		return ifi, fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3]), true
	}
	return ifi, netip.AddrFrom16([16]byte(b)).String(), true
}

func parseOID(s string) ([]int, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, errors.New("empty oid")
	}
	parts := strings.Split(s, ".")
	if len(parts) > 128 {
		return nil, errors.New("oid longer than 128 arcs")
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("arc %q: not a number", p)
		}
		out[i] = int(n)
	}
	return out, nil
}

func compareOID(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
