package snmp

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profiles is a parsed, validated set of vendor profiles. It is immutable and safe for
// concurrent use.
type Profiles struct {
	list []*Profile
}

// Profile says how to recognise one vendor's devices (sysObjectID prefixes) and where each
// identifying field comes from. See fixtures/snmp/profiles.yaml for the format.
type Profile struct {
	Name     string              `yaml:"name"`
	Vendor   string              `yaml:"vendor"`
	Type     string              `yaml:"type"`
	Prefixes []string            `yaml:"prefixes"`
	Fields   map[string][]Source `yaml:"fields"`
}

// Source is one place a field's value may come from; exactly one of OID, Entity, SysDescr,
// SysObjectID and Value is set.
type Source struct {
	OID         string            `yaml:"oid"`
	Entity      string            `yaml:"entity"`
	SysDescr    bool              `yaml:"sysdescr"`
	SysObjectID map[string]string `yaml:"sysobjectid"`
	Value       string            `yaml:"value"`
	Regex       string            `yaml:"regex"`
	Map         map[string]string `yaml:"map"`

	re *regexp.Regexp
}

// ErrBadProfile reports a profile file that does not parse or validate.
var ErrBadProfile = errors.New("invalid snmp profile")

const maxProfileBytes = 1 << 20

var (
	profileFields  = []string{"model", "firmware", "serial", "ha_mode", "os"}
	entityAttrs    = []string{"model", "serial", "firmware", "software", "hardware", "mfg", "descr"}
	numericOIDExpr = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
)

// LoadProfiles reads profiles.yaml from fsys (fixtures.SNMP() in the binary).
func LoadProfiles(fsys fs.FS) (*Profiles, error) {
	b, err := fs.ReadFile(fsys, "profiles.yaml")
	if err != nil {
		return nil, fmt.Errorf("read snmp profiles: %w", err)
	}
	return ParseProfiles(b)
}

// ParseProfiles parses and validates a profile document. Unknown keys, unknown fields,
// non-numeric OIDs, bad regexes and sources naming zero or several kinds are errors.
func ParseProfiles(data []byte) (*Profiles, error) {
	if len(data) > maxProfileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadProfile, maxProfileBytes)
	}
	var doc struct {
		Profiles []*Profile `yaml:"profiles"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadProfile, err)
	}
	if len(doc.Profiles) == 0 {
		return nil, fmt.Errorf("%w: no profiles", ErrBadProfile)
	}
	names := map[string]bool{}
	for i, p := range doc.Profiles {
		if p == nil {
			return nil, fmt.Errorf("%w: profile %d is empty", ErrBadProfile, i)
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("%w: profile %d %q: %w", ErrBadProfile, i, p.Name, err)
		}
		if names[p.Name] {
			return nil, fmt.Errorf("%w: duplicate profile %q", ErrBadProfile, p.Name)
		}
		names[p.Name] = true
	}
	return &Profiles{list: doc.Profiles}, nil
}

func (p *Profile) validate() error {
	if p.Name == "" || p.Vendor == "" {
		return errors.New("name and vendor are required")
	}
	if len(p.Prefixes) == 0 {
		return errors.New("no sysObjectID prefixes")
	}
	for i, pre := range p.Prefixes {
		pre = strings.TrimPrefix(pre, ".")
		if !numericOIDExpr.MatchString(pre) {
			return fmt.Errorf("prefix %q is not a numeric oid", pre)
		}
		p.Prefixes[i] = pre
	}
	for field, srcs := range p.Fields {
		if !contains(profileFields, field) {
			return fmt.Errorf("unknown field %q (want one of %v)", field, profileFields)
		}
		for j := range srcs {
			if err := srcs[j].compile(); err != nil {
				return fmt.Errorf("field %s source %d: %w", field, j, err)
			}
		}
	}
	return nil
}

func (s *Source) compile() error {
	kinds := 0
	if s.OID != "" {
		kinds++
		s.OID = strings.TrimPrefix(s.OID, ".")
		if !numericOIDExpr.MatchString(s.OID) {
			return fmt.Errorf("oid %q is not numeric", s.OID)
		}
	}
	if s.Entity != "" {
		kinds++
		if !contains(entityAttrs, s.Entity) {
			return fmt.Errorf("entity %q is not one of %v", s.Entity, entityAttrs)
		}
	}
	if s.SysDescr {
		kinds++
	}
	if s.SysObjectID != nil {
		kinds++
	}
	if s.Value != "" {
		kinds++
	}
	if kinds != 1 {
		return fmt.Errorf("needs exactly one of oid, entity, sysdescr, sysobjectid, value; "+
			"has %d", kinds)
	}
	if s.Regex != "" {
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			return fmt.Errorf("regex: %w", err)
		}
		s.re = re
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Match returns the profile whose prefix is the longest arc-aligned prefix of sysObjectID, or
// nil. A nil *Profiles matches nothing.
func (ps *Profiles) Match(sysObjectID string) *Profile {
	if ps == nil {
		return nil
	}
	oid := strings.TrimPrefix(sysObjectID, ".")
	var best *Profile
	bestLen := -1
	for _, p := range ps.list {
		for _, pre := range p.Prefixes {
			if (oid == pre || strings.HasPrefix(oid, pre+".")) && len(pre) > bestLen {
				best, bestLen = p, len(pre)
			}
		}
	}
	return best
}

// Names lists the profile names, sorted.
func (ps *Profiles) Names() []string {
	var out []string
	for _, p := range ps.list {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// ScalarOIDs lists the OIDs the profile's sources GET, without duplicates.
func (p *Profile) ScalarOIDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range profileFields {
		for _, s := range p.Fields[f] {
			if s.OID != "" && !seen[s.OID] {
				seen[s.OID] = true
				out = append(out, "."+s.OID)
			}
		}
	}
	return out
}

// Identify fills d's vendor, type, model, firmware, serial, OS and HA mode from profile p
// (nil: generic ENTITY-MIB rules only), the fetched scalars (OID without leading dot → value)
// and what d already holds, and records where each value came from in d.Evidence.
func Identify(p *Profile, d *Device, scalars map[string]string) {
	if d.Evidence == nil {
		d.Evidence = map[string]string{}
	}
	if p != nil {
		d.Profile, d.Vendor, d.Type = p.Name, p.Vendor, p.Type
		d.Evidence["vendor"] = fmt.Sprintf("sysObjectID %s matches profile %s",
			d.SysObjectID, p.Name)
		set := map[string]*string{"model": &d.Model, "firmware": &d.Firmware,
			"serial": &d.Serial, "ha_mode": &d.HAMode, "os": &d.OS}
		for _, f := range profileFields {
			for _, s := range p.Fields[f] {
				if v, ev := s.resolve(d, scalars); v != "" {
					*set[f] = v
					d.Evidence[f] = ev
					break
				}
			}
		}
	}
	// Generic fallbacks: ENTITY-MIB's chassis row is standard across vendors.
	fallback := func(dst *string, field, v, ev string) {
		if *dst == "" && v != "" {
			*dst = v
			d.Evidence[field] = ev
		}
	}
	fallback(&d.Vendor, "vendor", d.Chassis.Mfg, "ENTITY-MIB entPhysicalMfgName (chassis)")
	fallback(&d.Model, "model", d.Chassis.Model, "ENTITY-MIB entPhysicalModelName (chassis)")
	fallback(&d.Serial, "serial", d.Chassis.Serial, "ENTITY-MIB entPhysicalSerialNum (chassis)")
	fallback(&d.Firmware, "firmware", d.Chassis.SoftwareRev,
		"ENTITY-MIB entPhysicalSoftwareRev (chassis)")
	fallback(&d.Firmware, "firmware", d.Chassis.FirmwareRev,
		"ENTITY-MIB entPhysicalFirmwareRev (chassis)")
}

// resolve returns the source's value for d and a sentence of evidence, or "" when it yields
// nothing.
func (s Source) resolve(d *Device, scalars map[string]string) (string, string) {
	var raw, where string
	switch {
	case s.OID != "":
		raw, where = scalars[s.OID], "oid "+s.OID
	case s.Entity != "":
		e := d.Chassis
		raw = map[string]string{"model": e.Model, "serial": e.Serial, "firmware": e.FirmwareRev,
			"software": e.SoftwareRev, "hardware": e.HardwareRev, "mfg": e.Mfg,
			"descr": e.Descr}[s.Entity]
		where = "ENTITY-MIB chassis " + s.Entity
	case s.SysDescr:
		raw, where = d.SysDescr, "sysDescr"
	case s.SysObjectID != nil:
		raw, where = s.SysObjectID[strings.TrimPrefix(d.SysObjectID, ".")], "sysObjectID table"
	default:
		return s.Value, "profile constant"
	}
	if raw == "" {
		return "", ""
	}
	v := raw
	if s.re != nil {
		m := s.re.FindStringSubmatch(raw)
		switch {
		case m == nil:
			return "", ""
		case len(m) > 1 && m[1] != "":
			v = m[1]
		default:
			v = m[0]
		}
	}
	if s.Map != nil {
		mapped, ok := s.Map[v]
		if !ok {
			return "", ""
		}
		v = mapped
	}
	v = strings.TrimSpace(v)
	if len(raw) > 120 {
		raw = raw[:120] + "…"
	}
	return v, fmt.Sprintf("%s = %q", where, raw)
}
