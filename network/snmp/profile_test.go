package snmp

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/fixtures"
)

func TestEmbeddedProfiles(t *testing.T) {
	ps, err := LoadProfiles(fixtures.SNMP())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"1.3.6.1.4.1.12356.101.1.60":    "fortinet-fortigate",
		".1.3.6.1.4.1.12356.101.1.60":   "fortinet-fortigate",
		"1.3.6.1.4.1.11863.5.37":        "tplink",
		"1.3.6.1.4.1.8072.3.2.10":       "net-snmp-linux",
		"1.3.6.1.4.1.311.1.1.3.1.2":     "microsoft-windows",
		"1.3.6.1.4.1.9.1.1208":          "cisco",
		"1.3.6.1.4.1.90":                "", // arc-aligned: 90 is not Cisco's 9
		"1.3.6.1.4.1.123560":            "",
		"":                              "",
		"not an oid":                    "",
		"1.3.6.1.4.1.12356":             "fortinet-fortigate",
		"1.3.6.1.4.1.8072.3.2.10.9.9.9": "net-snmp-linux",
	}
	for oid, want := range cases {
		got := ""
		if p := ps.Match(oid); p != nil {
			got = p.Name
		}
		if got != want {
			t.Errorf("Match(%q) = %q, want %q", oid, got, want)
		}
	}
}

func TestIdentifyFromSysDescr(t *testing.T) {
	ps, err := LoadProfiles(fixtures.SNMP())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		oid, descr            string
		vendor, os, fw, model string
	}{
		{"1.3.6.1.4.1.311.1.1.3.1.2", "Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT " +
			"COMPATIBLE - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)",
			"Microsoft", "Windows", "6.3 (Build 17763",
			"Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE"},
		{"1.3.6.1.4.1.9.1.1208", "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), " +
			"Version 15.2(2)E7, RELEASE SOFTWARE (fc3)", "Cisco", "Cisco IOS", "15.2(2)E7",
			"C2960X"},
		{"1.3.6.1.4.1.8072.3.2.10", "Linux db01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC x86_64",
			"net-snmp", "Linux", "6.1.0-18-amd64", ""},
		{"1.3.6.1.4.1.8072.3.2.10", "", "net-snmp", "Unix-like", "", ""},
		{"1.3.6.1.4.1.99999", "anything", "", "", "", ""},
	}
	for _, tc := range cases {
		d := &Device{SysObjectID: tc.oid, SysDescr: tc.descr}
		Identify(ps.Match(tc.oid), d, nil)
		got := []string{d.Vendor, d.OS, d.Firmware, d.Model}
		want := []string{tc.vendor, tc.os, tc.fw, tc.model}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s %q:\n got %q\nwant %q", tc.oid, tc.descr, got, want)
		}
	}
}

func TestFortiGateScalars(t *testing.T) {
	ps, _ := LoadProfiles(fixtures.SNMP())
	p := ps.Match("1.3.6.1.4.1.12356.101.1.60")
	want := []string{".1.3.6.1.4.1.12356.101.4.1.1.0", ".1.3.6.1.4.1.12356.100.1.1.1.0",
		".1.3.6.1.4.1.12356.101.13.1.1.0"}
	if got := p.ScalarOIDs(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ScalarOIDs = %v, want %v", got, want)
	}
	for mode, name := range map[string]string{"1": "standalone", "2": "active-active",
		"3": "active-passive", "9": ""} {
		d := &Device{SysObjectID: "1.3.6.1.4.1.12356.101.1.60"}
		Identify(p, d, map[string]string{"1.3.6.1.4.1.12356.101.13.1.1.0": mode,
			"1.3.6.1.4.1.12356.101.4.1.1.0": "v6.4.6,build1879,210520 (GA)"})
		if d.HAMode != name || d.Firmware != "6.4.6" {
			t.Errorf("mode %s: ha %q firmware %q", mode, d.HAMode, d.Firmware)
		}
	}
}

func TestBadProfiles(t *testing.T) {
	valid := "profiles:\n  - name: x\n    vendor: X\n    prefixes: [1.3.6.1.4.1.1]\n"
	cases := map[string]string{
		"empty":       "",
		"no profiles": "profiles: []\n",
		"unknown key": "profiles:\n  - name: x\n    vendor: X\n    prefixes: [1.3]\n    bogus: 1\n",
		"no prefix":   "profiles:\n  - name: x\n    vendor: X\n",
		"text prefix": "profiles:\n  - name: x\n    vendor: X\n" +
			"    prefixes: [enterprises.9]\n",
		"traversal prefix": "profiles:\n  - name: x\n    vendor: X\n" +
			"    prefixes: [../../etc]\n",
		"duplicate":     valid + "  - name: x\n    vendor: Y\n    prefixes: [1.3]\n",
		"unknown field": valid + "    fields:\n      colour:\n        - value: red\n",
		"two kinds": valid + "    fields:\n      model:\n" +
			"        - {value: a, sysdescr: true}\n",
		"no kind": valid + "    fields:\n      model:\n        - {regex: a}\n",
		"bad regex": valid + "    fields:\n      model:\n" +
			"        - {sysdescr: true, regex: '('}\n",
		"bad entity":   valid + "    fields:\n      model:\n        - {entity: colour}\n",
		"bad oid":      valid + "    fields:\n      model:\n        - {oid: '1.3.x'}\n",
		"null profile": "profiles:\n  -\n",
		"not yaml":     "\x00\xff{{{",
		"huge":         valid + strings.Repeat("#", maxProfileBytes),
		"alias bomb": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n" +
			"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nprofiles: [*c]\n",
	}
	for name, doc := range cases {
		if _, err := ParseProfiles([]byte(doc)); !errors.Is(err, ErrBadProfile) {
			t.Errorf("%s: err = %v, want ErrBadProfile", name, err)
		}
	}
	if _, err := ParseProfiles([]byte(valid)); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func FuzzParseProfiles(f *testing.F) {
	embedded, err := fixturesFile("profiles.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(embedded, "1.3.6.1.4.1.12356.101.1.60", "FortiGate-60F v7.2.5")
	f.Add([]byte("profiles:\n  - {name: x, vendor: X, prefixes: ['1'], fields: {model: "+
		"[{sysdescr: true, regex: '(.*)'}]}}\n"), "1.2", "\xff\xfe")
	f.Add([]byte("profiles: [{name: a, vendor: b, prefixes: [1.3], fields: {ha_mode: "+
		"[{oid: 1.3.1.0, map: {'1': x}}]}}]"), ".1.3.1", "")
	f.Fuzz(func(t *testing.T, doc []byte, oid, descr string) {
		ps, err := ParseProfiles(doc)
		if err != nil {
			if !errors.Is(err, ErrBadProfile) {
				t.Fatalf("error does not wrap ErrBadProfile: %v", err)
			}
			return
		}
		p := ps.Match(oid)
		d := &Device{SysObjectID: oid, SysDescr: descr}
		scalars := map[string]string{}
		if p != nil {
			for _, o := range p.ScalarOIDs() {
				scalars[strings.TrimPrefix(o, ".")] = descr
			}
		}
		Identify(p, d, scalars)
		if p != nil && d.Vendor != p.Vendor {
			t.Fatalf("vendor %q, profile says %q", d.Vendor, p.Vendor)
		}
	})
}

func fixturesFile(name string) ([]byte, error) {
	var buf bytes.Buffer
	f, err := fixtures.SNMP().Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}

func TestOUI(t *testing.T) {
	seed, err := LoadOUI(fixtures.SNMP())
	if err != nil {
		t.Fatal(err)
	}
	if seed.Len() < 30 {
		t.Errorf("seed table has %d entries", seed.Len())
	}
	ieee, err := ParseOUI(strings.NewReader("OUI/MA-L\t\tOrganization\n" +
		"70-4C-A5   (hex)\t\tFortinet, Inc.\n704CA5     (base 16)\t\tFortinet, Inc.\n" +
		"\t\t\t\t899 Kifer Road\nzz-zz-zz   (hex)\t\tBroken\n"))
	if err != nil {
		t.Fatal(err)
	}
	all := seed.Merge(ieee)
	cases := map[string]string{
		"70:4c:a5:00:00:02": "Fortinet, Inc.", "00-50-56-AA-BB-01": "VMware",
		"50c7bf445566": "TP-Link", "00:00:0c:07:ac:01": "Cisco", "3c:d9:2b:11:22:33": "HP",
		"02:42:ac:11:00:02": "", // locally administered
		"":                  "", "zz:zz:zz:00:00:00": "", "00:50": "", "ff:ff:ff:ff:ff:ff": "",
	}
	for mac, want := range cases {
		if got := all.Lookup(mac); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", mac, got, want)
		}
	}
	var nilTable *OUITable
	if nilTable.Lookup("00:50:56:00:00:00") != "" || nilTable.Len() != 0 {
		t.Error("nil table should know nothing")
	}
	if _, err := LoadIEEEOUI(IEEEOUIPath); err == nil {
		t.Logf("ieee-data present at %s", IEEEOUIPath)
	}
}

func FuzzParseOUI(f *testing.F) {
	f.Add("70-4C-A5   (hex)\t\tFortinet, Inc.\n")
	f.Add("704CA5\tFortinet\n# c\n\n")
	f.Fuzz(func(t *testing.T, doc string) {
		tab, err := ParseOUI(strings.NewReader(doc))
		if err == nil {
			_ = tab.Lookup(doc)
		}
	})
}

func TestIndexParsers(t *testing.T) {
	media := map[string]string{"2.192.168.1.10": "2 192.168.1.10", "2.192.168.1": "",
		"2.300.1.1.1": "", "x.1.2.3.4": "", "": "", "1.1.1.1.1.1": ""}
	for idx, want := range media {
		ifi, ip, ok := parseNetToMediaIndex(idx)
		got := ""
		if ok {
			got = strings.TrimSpace(strings.Join([]string{strconv.Itoa(ifi), ip}, " "))
		}
		if got != want {
			t.Errorf("media %q = %q, want %q", idx, got, want)
		}
	}
	phys := map[string]string{
		"2.1.4.192.168.1.10": "2 192.168.1.10",
		"2.1.192.168.1.10":   "2 192.168.1.10", // length omitted
		"7.2.16.254.128.0.0.0.0.0.0.2.80.86.255.254.170.187.1": "7 fe80::250:56ff:feaa:bb01",
		"2.1.4.192.168":           "",
		"2.3.4.1.2.3.4":           "", // ipv4z unsupported
		"2.1.4.999.1.1.1":         "",
		"2.2.16.1":                "",
		"99999999999.1.4.1.1.1.1": "",
	}
	for idx, want := range phys {
		ifi, ip, ok := parseNetToPhysIndex(idx)
		got := ""
		if ok {
			got = strconv.Itoa(ifi) + " " + ip
		}
		if got != want {
			t.Errorf("phys %q = %q, want %q", idx, got, want)
		}
	}
}

func FuzzIndexes(f *testing.F) {
	f.Add("2.1.4.192.168.1.10")
	f.Add("7.2.16.254.128.0.0.0.0.0.0.2.80.86.255.254.170.187.1")
	f.Fuzz(func(t *testing.T, idx string) {
		_, _, _ = parseNetToMediaIndex(idx)
		_, _, _ = parseNetToPhysIndex(idx)
		_ = lldpID(true, false, []byte(idx))
		_ = lldpID(false, true, []byte(idx))
		_ = printable([]byte(idx))
	})
}
