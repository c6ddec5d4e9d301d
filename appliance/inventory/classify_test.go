package inventory

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// classifyCase is one row of testdata/classify/cases.yaml.
type classifyCase struct {
	Name     string
	Evidence Evidence
	Want     struct {
		Type, OS, OSVersion, Vendor string
		Sources                     map[string]string
	}
	MinConfidence, MaxConfidence float64
}

// loadClassifyCases reads the YAML cases. Evidence is decoded through JSON so that the file
// uses the same field names as the API (the types carry json tags only).
func loadClassifyCases(t *testing.T) []classifyCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "classify", "cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	if err := yaml.Unmarshal(raw, &docs); err != nil {
		t.Fatalf("cases.yaml: %v", err)
	}
	var cases []classifyCase
	for i, doc := range docs {
		var c classifyCase
		c.Name, _ = doc["name"].(string)
		if err := viaJSON(doc["evidence"], &c.Evidence); err != nil {
			t.Fatalf("case %d (%s): evidence: %v", i, c.Name, err)
		}
		var want struct {
			Type      string            `json:"type"`
			OS        string            `json:"os"`
			OSVersion string            `json:"os_version"`
			Vendor    string            `json:"vendor"`
			Sources   map[string]string `json:"sources"`
		}
		if err := viaJSON(doc["want"], &want); err != nil {
			t.Fatalf("case %d (%s): want: %v", i, c.Name, err)
		}
		c.Want.Type, c.Want.OS, c.Want.OSVersion, c.Want.Vendor = want.Type, want.OS,
			want.OSVersion, want.Vendor
		c.Want.Sources = want.Sources
		if c.Want.Type == "" {
			c.Want.Type = TypeUnknown
		}
		c.MinConfidence, _ = doc["min_confidence"].(float64)
		c.MaxConfidence, _ = doc["max_confidence"].(float64)
		for k := range doc {
			if !slices.Contains([]string{"name", "evidence", "want", "min_confidence",
				"max_confidence"}, k) {
				t.Fatalf("case %d (%s): unknown key %q", i, c.Name, k)
			}
		}
		cases = append(cases, c)
	}
	return cases
}

func viaJSON(in any, out any) error {
	if in == nil {
		return nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

func TestClassifyCases(t *testing.T) {
	cases := loadClassifyCases(t)
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			got := Classify(tt.Evidence)
			w := tt.Want
			if got.Type != w.Type || got.OS != w.OS || got.OSVersion != w.OSVersion ||
				got.Vendor != w.Vendor {
				t.Errorf("got type %q os %q version %q vendor %q\nwant type %q os %q "+
					"version %q vendor %q\nevidence: %s", got.Type, got.OS, got.OSVersion,
					got.Vendor, w.Type, w.OS, w.OSVersion, w.Vendor, reasons(got))
			}
			for field, src := range w.Sources {
				r, ok := reasonFor(got, field)
				if !ok || r.Source != src {
					t.Errorf("%s decided by %q, want %q\nevidence: %s", field, r.Source, src,
						reasons(got))
				}
			}
			if tt.MinConfidence > 0 && got.Confidence < tt.MinConfidence {
				t.Errorf("confidence %.2f, want at least %.2f", got.Confidence,
					tt.MinConfidence)
			}
			if tt.MaxConfidence > 0 && got.Confidence > tt.MaxConfidence {
				t.Errorf("confidence %.2f, want at most %.2f", got.Confidence,
					tt.MaxConfidence)
			}
			checkClassification(t, got)
		})
	}
}

func reasonFor(c Classification, field string) (Reason, bool) {
	for _, r := range c.Evidence {
		if r.Field == field {
			return r, true
		}
	}
	return Reason{}, false
}

func reasons(c Classification) string {
	var b strings.Builder
	for _, r := range c.Evidence {
		b.WriteString("\n  " + r.Field + "=" + r.Value + " from " + r.Source + ": " + r.Detail)
	}
	return b.String()
}

// checkClassification holds for every classification: a known type, every decided field
// cited exactly once in order (and nothing undecided cited), bounded printable values, a
// confidence in [0, 1] that is 0 only when nothing was decided.
func checkClassification(t testing.TB, c Classification) {
	t.Helper()
	if !slices.Contains(DeviceTypes, c.Type) {
		t.Fatalf("type %q is not a device type", c.Type)
	}
	var want []string
	for _, f := range []struct{ name, value string }{{"type", c.Type}, {"os", c.OS},
		{"os_version", c.OSVersion}, {"vendor", c.Vendor}} {
		if f.value != "" && (f.name != "type" || f.value != TypeUnknown) {
			want = append(want, f.name)
			r, ok := reasonFor(c, f.name)
			if !ok || r.Value != f.value || r.Source == "" || r.Detail == "" {
				t.Fatalf("%s %q is not cited: %s", f.name, f.value, reasons(c))
			}
		}
	}
	var got []string
	for _, r := range c.Evidence {
		got = append(got, r.Field)
		for _, s := range []string{r.Value, r.Source, r.Detail} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
				return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
			}) {
				t.Fatalf("reason text %q is not printable UTF-8", s)
			}
		}
		if utf8.RuneCountInString(r.Value) > maxValueRunes+1 ||
			utf8.RuneCountInString(r.Detail) > maxDetailRunes+100 {
			t.Fatalf("reason %+v is too long", r)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reasons for %v, want %v", got, want)
	}
	if c.Confidence < 0 || c.Confidence > 1 {
		t.Fatalf("confidence %v out of range", c.Confidence)
	}
	if (c.Confidence == 0) != (c.Type == TypeUnknown && c.OS == "") {
		t.Fatalf("confidence %v with type %q os %q", c.Confidence, c.Type, c.OS)
	}
}

func TestClassifyUnknownIsNoGuess(t *testing.T) {
	got := Classify(Evidence{})
	if !reflect.DeepEqual(got, Classification{Type: TypeUnknown}) {
		t.Fatalf("Classify(empty) = %+v", got)
	}
}

// TestClassifyOrderIndependent: evidence listed in another order decides the same.
func TestClassifyOrderIndependent(t *testing.T) {
	e := Evidence{
		Services: []ServiceEvidence{
			{Port: 443, Name: "https", Evidence: map[string]string{"title": "iDRAC9"}},
			{Port: 22, Name: "ssh", Evidence: map[string]string{
				"banner": "SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5"}},
		},
		MACVendors: []string{"TP-Link", "Dell"},
		Hostnames:  []string{"sw-01", "srv-02"},
	}
	a := Classify(e)
	slices.Reverse(e.Services)
	slices.Reverse(e.MACVendors)
	slices.Reverse(e.Hostnames)
	b := Classify(e)
	if a.Type != b.Type || a.OS != b.OS || a.OSVersion != b.OSVersion ||
		a.Confidence != b.Confidence {
		t.Fatalf("order changed the result:\n%+v\n%+v", a, b)
	}
}

// TestClassifyConfidenceOrdering: stronger evidence gives more confidence.
func TestClassifyConfidenceOrdering(t *testing.T) {
	byName := Classify(Evidence{Hostnames: []string{"fw-01"}})
	byOUI := Classify(Evidence{MACVendors: []string{"Fortinet"}})
	byProfile := Classify(Evidence{SNMP: &SNMPEvidence{Profile: "fortinet-fortigate",
		Vendor: "Fortinet", Type: TypeFirewall}})
	both := Classify(Evidence{MACVendors: []string{"Fortinet"}, Hostnames: []string{"fw-01"}})
	if !(byName.Confidence < byOUI.Confidence && byOUI.Confidence < byProfile.Confidence) {
		t.Errorf("confidence name %.2f, OUI %.2f, profile %.2f: want increasing",
			byName.Confidence, byOUI.Confidence, byProfile.Confidence)
	}
	if both.Confidence <= byOUI.Confidence {
		t.Errorf("agreeing evidence %.2f is not more confident than one source %.2f",
			both.Confidence, byOUI.Confidence)
	}
}

func TestClassifyHostileInput(t *testing.T) {
	huge := strings.Repeat("A", 1<<20)
	tests := []Evidence{
		{SNMP: &SNMPEvidence{SysDescr: "VMware ESXi " + strings.Repeat("7.", 5000)}},
		{SNMP: &SNMPEvidence{SysDescr: huge, Profile: huge, Vendor: huge, OS: huge,
			Type: huge, Firmware: huge}},
		{Services: []ServiceEvidence{{Port: 22, Protocol: "\x00", Name: "ssh\n",
			Evidence: map[string]string{"banner": "SSH-2.0-OpenSSH_\xff\xfe Ubuntu-\x00"}}}},
		{Services: []ServiceEvidence{{Port: 443, Evidence: map[string]string{
			"title": "iDRAC" + strings.Repeat("9", 10000)}}}},
		{AD: &ADEvidence{OS: "Windows \u202eServer\u202c 2019\r\n", OSVersion: huge}},
		{MACVendors: []string{"\xff\xfeVendor\x07", huge}, Hostnames: []string{huge + ".x"}},
		{SNMP: &SNMPEvidence{Profile: "net-snmp-linux", Type: TypeUnknown}},
		{SNMP: &SNMPEvidence{Profile: "tplink", Type: TypeUnknown, Vendor: "TP-Link"}},
	}
	for _, e := range tests {
		checkClassification(t, Classify(e))
	}
}

// FuzzClassifySysDescr feeds arbitrary sysDescr strings to the sysDescr rules.
func FuzzClassifySysDescr(f *testing.F) {
	for _, s := range []string{
		"Linux srv-db-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64",
		"Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: " +
			"Windows Version 6.3 (Build 17763 Multiprocessor Free)",
		"Hardware: x86 Family 6 - Software: Windows 2000 Version 5.0 (Build 2195)",
		"Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E3, " +
			"RELEASE SOFTWARE (fc3)",
		"Cisco Adaptive Security Appliance Version 9.16(3)19",
		"FortiGate-60F v7.2.5,build1517,230606 (GA.F)",
		"JetStream 24-Port Gigabit L2+ Managed Switch with 4 SFP Slots",
		"HP ETHERNET MULTI-ENVIRONMENT,ROM none,JETDIRECT,JD153,EEPROM JSI23900006",
		"Brother NC-8300h, Firmware Ver.1.10  (12.11.13),MID 8CE-F03,FID 2",
		"APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.8.2 PN:apc_hw05_aos_682.bin)",
		"Linux DiskStation 4.4.302+ #69057 SMP Fri Jan 12 17:02:59 CST 2024 x86_64",
		"VMware ESXi 7.0.3 build-20328353 VMware, Inc. x86_64",
		"Juniper Networks, Inc. ex2300-24p Ethernet Switch, kernel JUNOS 20.4R3-S1.3",
		"", "\xff", "Linux", "Software: Windows Version",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Evidence{SNMP: &SNMPEvidence{SysDescr: s}}
		a := Classify(e)
		checkClassification(t, a)
		if b := Classify(e); !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic: %+v vs %+v", a, b)
		}
	})
}

// FuzzClassifyBanner feeds arbitrary text to every service evidence rule at once.
func FuzzClassifyBanner(f *testing.F) {
	for _, s := range []string{
		"SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5",
		"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
		"SSH-2.0-OpenSSH_9.3 FreeBSD-20230719",
		"SSH-2.0-OpenSSH_for_Windows_8.1",
		"SSH-2.0-ROSSSH",
		"220 MikroTik FTP server (MikroTik 6.49.7) ready",
		"Microsoft-IIS/10.0", "Apache/2.4.52 (Ubuntu)", "xxxxxxxx-xxxxx", "FortiGate",
		"iDRAC9", "iLO 5", "Synology DiskStation", "HP LaserJet Pro M404dn", "debut/1.20",
		"VMware ESXi 8.0", "RouterOS v7.12", "windows", "", "\x00\xff",
	} {
		f.Add(s, 22)
	}
	f.Fuzz(func(t *testing.T, s string, port int) {
		ev := map[string]string{}
		for _, k := range []string{"banner", "server", "title", "location", "os_hint",
			"cert_subject", "cert_issuer", "dialect"} {
			ev[k] = s
		}
		e := Evidence{Services: []ServiceEvidence{
			{Port: port, Name: s, Product: s, Version: s, Evidence: ev},
			{Port: 445, Name: "smb", Evidence: map[string]string{"dialect": s}},
			{Port: 3389, Name: "rdp"},
		}, MACVendors: []string{s}, Hostnames: []string{s}}
		a := Classify(e)
		checkClassification(t, a)
		if b := Classify(e); !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic: %+v vs %+v", a, b)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	e := Evidence{
		SNMP: &SNMPEvidence{SysDescr: "Linux web-01 5.4.0-150-generic #167-Ubuntu SMP " +
			"Mon May 15 17:35:05 UTC 2023 x86_64", Profile: "net-snmp-linux", Type: TypeServer},
		Services: []ServiceEvidence{
			{Port: 22, Name: "ssh", Evidence: map[string]string{
				"banner": "SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.9", "os_hint": "ubuntu"}},
			{Port: 443, Name: "https", Evidence: map[string]string{
				"server": "nginx/1.18.0 (Ubuntu)", "title": "Welcome to nginx!"}},
		},
		MACVendors: []string{"Dell Inc."},
		Hostnames:  []string{"web-01.corp.example"},
	}
	b.ReportAllocs()
	for b.Loop() {
		Classify(e)
	}
}
