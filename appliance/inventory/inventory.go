// Package inventory owns asset reconciliation: turning observations from every discovery
// source (port scans, SNMP, Active Directory, firewalls, later agents) into exactly one asset
// per real device. It matches on strong identifiers first (serial number, MAC address, AD
// objectGUID, agent machine id), then on weaker evidence (host name, IP address seen recently),
// records how confident each match is and why, and merges assets that turn out to be the
// same device. It is pure logic over an Index; storage lives in the store.
package inventory

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Identifier kinds, strongest first.
const (
	KindSerial    = "serial"
	KindMAC       = "mac"
	KindADGUID    = "ad_guid"
	KindMachineID = "machine_id"
	KindHostname  = "hostname"
	KindIP        = "ip"
)

// strong tells which kinds identify a device on their own.
var strong = map[string]bool{KindSerial: true, KindMAC: true, KindADGUID: true,
	KindMachineID: true}

// Identifier is one normalised identifying value of a device.
type Identifier struct {
	Kind  string
	Value string
}

// Observation is what one source saw of one device at one time.
type Observation struct {
	Source       string
	At           time.Time
	Addresses    []string
	MACs         []string
	Hostnames    []string
	Serial       string
	ADObjectGUID string
	MachineID    string
}

// Identifiers returns the observation's normalised identifiers, dropping values that do not
// identify a device: multicast, broadcast and all-zero MACs, locally administered (often
// randomised) MACs as strong identifiers, placeholder serials, a host's self-addresses
// (127.0.0.1, ::1) and unspecified IPs. Other 127/8 addresses stay: the lab network lives
// there.
func (o Observation) Identifiers() []Identifier {
	var ids []Identifier
	add := func(kind, v string) {
		if v == "" {
			return
		}
		id := Identifier{kind, v}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	add(KindSerial, NormalizeSerial(o.Serial))
	for _, m := range o.MACs {
		if mac, ok := NormalizeMAC(m); ok && !LocallyAdministered(mac) {
			add(KindMAC, mac)
		}
	}
	add(KindADGUID, strings.ToLower(strings.Trim(o.ADObjectGUID, "{} ")))
	add(KindMachineID, strings.ToLower(strings.TrimSpace(o.MachineID)))
	for _, h := range o.Hostnames {
		add(KindHostname, NormalizeHostname(h))
	}
	for _, a := range o.Addresses {
		ip, err := netip.ParseAddr(strings.TrimSpace(a))
		self := ip == netip.MustParseAddr("127.0.0.1") || ip == netip.IPv6Loopback()
		if err == nil && !self && !ip.IsUnspecified() && !ip.IsMulticast() {
			add(KindIP, ip.Unmap().String())
		}
	}
	return ids
}

// NormalizeMAC returns a MAC as lowercase colon-separated hex, or false when it is not a
// usable unicast hardware address.
func NormalizeMAC(s string) (string, bool) {
	hex := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f':
			return r
		case r >= 'A' && r <= 'F':
			return r + 'a' - 'A'
		case r == ':' || r == '-' || r == '.' || r == ' ':
			return -1
		}
		return 'x'
	}, s)
	if len(hex) != 12 || strings.ContainsRune(hex, 'x') {
		return "", false
	}
	if hex == "000000000000" || hex == "ffffffffffff" {
		return "", false
	}
	if first := hexNibble(hex[1]); first&1 == 1 { // the group (multicast) bit
		return "", false
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String(), true
}

func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// LocallyAdministered reports whether a normalised MAC has the locally administered bit set,
// as randomised Wi-Fi MACs and many virtual interfaces do; such a MAC may be reused by another
// device, so it is never a strong identifier.
func LocallyAdministered(mac string) bool {
	return len(mac) >= 2 && hexNibble(mac[1])&2 == 2
}

// placeholderSerials are values vendors put where a serial number should be.
var placeholderSerials = map[string]bool{"": true, "0": true, "none": true, "n/a": true,
	"na": true, "unknown": true, "default": true, "to be filled by o.e.m.": true,
	"system serial number": true, "0123456789": true, "123456789": true,
	"not specified": true, "not available": true}

// NormalizeSerial trims and uppercases a serial number, and drops placeholders.
func NormalizeSerial(s string) string {
	s = strings.TrimSpace(s)
	if placeholderSerials[strings.ToLower(s)] || strings.Trim(s, "0") == "" {
		return ""
	}
	return strings.ToUpper(s)
}

// NormalizeHostname lowercases a host name and strips the trailing dot; a bare IP address is
// not a host name.
func NormalizeHostname(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	if _, err := netip.ParseAddr(h); err == nil || h == "localhost" {
		return ""
	}
	return h
}

// shortName is the first label of a host name, so "srv1" and "srv1.corp.example" match.
func shortName(h string) string {
	name, _, _ := strings.Cut(h, ".")
	return name
}
