package inventory

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// memIndex is an Index over a map, standing in for the tenant database's identifier table
// (whose queries get their own tests with the store); the logic under test is Decide.
type memIndex struct {
	assets map[string]map[Identifier]time.Time
	next   int
}

func newMem() *memIndex { return &memIndex{assets: map[string]map[Identifier]time.Time{}} }

func (m *memIndex) Find(id Identifier) ([]Candidate, error) {
	var out []Candidate
	for _, aid := range slices.Sorted(maps.Keys(m.assets)) {
		ids := m.assets[aid]
		match := false
		for have := range ids {
			match = match || have == id || id.Kind == KindHostname &&
				have.Kind == KindHostname && shortName(have.Value) == shortName(id.Value)
		}
		if match {
			out = append(out, Candidate{AssetID: aid, Identifiers: maps.Clone(ids)})
		}
	}
	return out, nil
}

// apply records an observation as the store will: into the decided asset (merging others
// into it) or a new one. It returns the asset id.
func (m *memIndex) apply(t *testing.T, obs Observation, opt Options) string {
	t.Helper()
	d, err := Decide(m, obs, opt)
	if err != nil {
		t.Fatal(err)
	}
	target := d.Target
	if target == "" {
		m.next++
		target = fmt.Sprintf("asset-%03d", m.next)
		m.assets[target] = map[Identifier]time.Time{}
	}
	for _, other := range d.Merge {
		maps.Copy(m.assets[target], m.assets[other])
		delete(m.assets, other)
	}
	for _, id := range obs.Identifiers() {
		m.assets[target][id] = obs.At
	}
	return target
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	fw := Observation{Source: "snmp", At: t0, Addresses: []string{"10.0.0.1"},
		MACs: []string{"00:09:0F:AA:BB:CC"}, Hostnames: []string{"fw1.corp.example"},
		Serial: "FGT60F1234567890"}
	tests := []struct {
		name     string
		existing []Observation
		obs      Observation
		want     string // asset id, or "" for a new asset
		merge    []string
		minConf  float64
	}{
		{name: "empty inventory", obs: fw, want: ""},
		{name: "same MAC, other format", existing: []Observation{fw},
			obs:  Observation{MACs: []string{"0009.0faa.bbcc"}, At: t0},
			want: "asset-001", minConf: 1},
		{name: "same serial, different case", existing: []Observation{fw},
			obs:  Observation{Serial: " fgt60f1234567890 ", At: t0},
			want: "asset-001", minConf: 1},
		{name: "serial contradicts a shared MAC", existing: []Observation{fw},
			obs: Observation{Serial: "FGT60F0000000001", MACs: []string{"00:09:0f:aa:bb:cc"},
				At: t0}, want: ""},
		{name: "host name and address", existing: []Observation{fw},
			obs: Observation{Hostnames: []string{"FW1.corp.example."},
				Addresses: []string{"10.0.0.1"}, At: t0.Add(time.Hour)},
			want: "asset-001", minConf: 0.9},
		{name: "short host name", existing: []Observation{fw},
			obs:  Observation{Hostnames: []string{"fw1"}, At: t0},
			want: "asset-001", minConf: 0.7},
		{name: "recent address alone", existing: []Observation{fw},
			obs:  Observation{Addresses: []string{"10.0.0.1"}, At: t0.Add(24 * time.Hour)},
			want: "asset-001", minConf: 0.5},
		{name: "stale address alone", existing: []Observation{fw},
			obs:  Observation{Addresses: []string{"10.0.0.1"}, At: t0.Add(30 * 24 * time.Hour)},
			want: ""},
		{name: "address reused by another machine (DHCP)", existing: []Observation{fw},
			obs: Observation{Addresses: []string{"10.0.0.1"},
				MACs: []string{"3c:52:82:00:00:01"}, At: t0}, want: ""},
		{name: "randomised MAC is no identity", existing: []Observation{
			{MACs: []string{"02:11:22:33:44:55"}, Addresses: []string{"10.0.0.9"}, At: t0}},
			obs: Observation{MACs: []string{"02:11:22:33:44:55"},
				Addresses: []string{"10.0.0.50"}, At: t0}, want: ""},
		{name: "placeholder serials do not match", existing: []Observation{
			{Serial: "To Be Filled By O.E.M.", Addresses: []string{"10.0.0.7"}, At: t0}},
			obs: Observation{Serial: "to be filled by o.e.m.", At: t0}, want: ""},
		{name: "multicast MAC ignored", existing: []Observation{
			{MACs: []string{"01:00:5e:00:00:01"}, At: t0}},
			obs: Observation{MACs: []string{"01:00:5e:00:00:01"}, At: t0}, want: ""},
		{name: "two assets are one device", existing: []Observation{
			{MACs: []string{"00:09:0f:aa:bb:cc"}, At: t0},
			{Serial: "FGT60F1234567890", At: t0}},
			obs: Observation{MACs: []string{"00:09:0f:aa:bb:cc"}, Serial: "FGT60F1234567890",
				At: t0}, want: "asset-001", merge: []string{"asset-002"}, minConf: 1},
		{name: "AD object joins a scanned host by name", existing: []Observation{
			{Hostnames: []string{"ws-042.corp.example"}, Addresses: []string{"10.1.2.42"},
				At: t0}},
			obs: Observation{Source: "ldap", ADObjectGUID: "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
				Hostnames: []string{"WS-042"}, At: t0}, want: "asset-001", minConf: 0.7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			for _, o := range tt.existing {
				m.next++
				id := fmt.Sprintf("asset-%03d", m.next)
				m.assets[id] = map[Identifier]time.Time{}
				for _, i := range o.Identifiers() {
					m.assets[id][i] = o.At
				}
			}
			d, err := Decide(m, tt.obs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Target != tt.want || !slices.Equal(d.Merge, tt.merge) {
				t.Fatalf("decision %+v, want target %q merge %v", d, tt.want, tt.merge)
			}
			if d.Target != "" && d.Confidence < tt.minConf {
				t.Fatalf("confidence %.2f, want at least %.2f (%s)", d.Confidence, tt.minConf,
					d.Reason)
			}
			if d.Reason == "" {
				t.Fatal("a decision without a reason")
			}
		})
	}
}

// TestRescanCreatesNoDuplicates replays a network seen by three sources twice over: the
// second pass must land every observation on an existing asset.
func TestRescanCreatesNoDuplicates(t *testing.T) {
	var pass []Observation
	for i := range 50 {
		ip := fmt.Sprintf("10.2.0.%d", i+1)
		mac := fmt.Sprintf("00:50:56:00:00:%02x", i)
		pass = append(pass,
			Observation{Source: "scan", Addresses: []string{ip}},
			Observation{Source: "snmp", Addresses: []string{ip}, MACs: []string{mac},
				Hostnames: []string{fmt.Sprintf("host-%02d.lab", i)}},
			Observation{Source: "ldap", Hostnames: []string{fmt.Sprintf("HOST-%02d", i)},
				ADObjectGUID: fmt.Sprintf("guid-%02d", i)})
	}
	m := newMem()
	for round := range 2 {
		for _, o := range pass {
			o.At = t0.Add(time.Duration(round) * time.Hour)
			m.apply(t, o, Options{})
		}
		if len(m.assets) != 50 {
			t.Fatalf("round %d: %d assets for 50 devices", round, len(m.assets))
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"00:09:0F:AA:BB:CC": "00:09:0f:aa:bb:cc",
		"00-09-0f-aa-bb-cc": "00:09:0f:aa:bb:cc", "0009.0faa.bbcc": "00:09:0f:aa:bb:cc",
		"ff:ff:ff:ff:ff:ff": "", "00:00:00:00:00:00": "", "zz:09:0f:aa:bb:cc": "",
		"00:09:0f:aa:bb": "", "01:00:5e:00:00:01": ""} {
		got, _ := NormalizeMAC(in)
		if got != want {
			t.Errorf("NormalizeMAC(%q) = %q, want %q", in, got, want)
		}
	}
	if NormalizeHostname("10.0.0.1") != "" || NormalizeHostname("Srv1.Corp.") != "srv1.corp" {
		t.Error("NormalizeHostname")
	}
	if NormalizeSerial("0000") != "" || NormalizeSerial(" ab12 ") != "AB12" {
		t.Error("NormalizeSerial")
	}
}

func FuzzObservationIdentifiers(f *testing.F) {
	f.Add("00:09:0f:aa:bb:cc", "FGT1", "srv.example", "10.0.0.1")
	f.Add("\xff", "", ".", "::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, mac, serial, host, ip string) {
		o := Observation{MACs: []string{mac}, Serial: serial, Hostnames: []string{host},
			Addresses: []string{ip}}
		for _, id := range o.Identifiers() {
			if id.Value == "" {
				t.Fatalf("empty identifier value: %+v", id)
			}
		}
		m := newMem()
		m.apply(t, o, Options{})
		if d, _ := Decide(m, o, Options{}); len(o.Identifiers()) > 0 && d.Target == "" &&
			d.Reason == "" {
			t.Fatal("no reason given")
		}
	})
}
