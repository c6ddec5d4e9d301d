package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// module renders a module file for run tests from its varying parts.
func module(slug, subject, severity, applies, pass, evidence, mappings, tests string) string {
	return fmt.Sprintf(`slug: %s
version: 1.0.0
kind: check
name: %s
description: Test check.
category: network-exposure
state: released
platforms: [any]
profile: baseline_fast
parameters:
  type: object
  additionalProperties: false
  properties:
    min: {type: integer, default: 14}
check:
  subject: %s
  severity: %s
  applies_to: %q
  pass: %q
  evidence: %q
  title: %s failed
  remediation: Fix it.
  mappings: %s
tests:
%s
`, slug, slug, subject, severity, applies, pass, evidence, slug, mappings, tests)
}

// runCatalog is the checks the run and score tests use, one per subject kind.
func runCatalog(t testing.TB, cfg Config, extra map[string]string) *Catalog {
	t.Helper()
	files := map[string]string{
		"telnet@1.0.0.yaml": module("telnet", "asset", "high", "asset.services.size() > 0",
			"!asset.services.exists(s, s.port == 23)", `"telnet on " + asset.name`,
			`{CIS: ["4.8"], NIST-800-53: ["CM-7"]}`,
			"  pass: [{asset: {services: [{port: 22}]}}]\n"+
				"  fail: [{asset: {services: [{port: 23}]}}]"),
		"tls-old@1.0.0.yaml": module("tls-old", "asset", "medium",
			"asset.services.exists(s, has(s.tls))",
			`!asset.services.exists(s, has(s.tls) && "TLS1.0" in s.tls.versions)`, `"TLS1.0"`,
			`{CIS: ["3.10"]}`,
			"  pass: [{asset: {services: [{port: 443, tls: {versions: [TLS1.2]}}]}}]\n"+
				"  fail: [{asset: {services: [{port: 443, tls: {versions: [TLS1.0]}}]}}]"),
		"weak-pw@1.0.0.yaml": module("weak-pw", "ad_domain", "critical", "true",
			"domain.policy.min_pwd_length >= params.min", `domain.domain + " weak"`,
			`{CIS: ["5.2"], NIST-800-53: ["IA-5"]}`,
			"  pass: [{domain: {policy: {min_pwd_length: 14}}}]\n"+
				"  fail: [{domain: {policy: {min_pwd_length: 8}}}]"),
		"named@1.0.0.yaml": module("named", "asset", "info", "true", `asset.name != ""`,
			`"unnamed " + asset.id`, `{CIS: ["18.1"]}`,
			"  pass: [{asset: {name: x}}]\n  fail: [{asset: {id: y}}]"),
		"asrep@1.0.0.yaml": module("asrep", "ad_user", "high", "user.enabled",
			"!user.preauth_not_required", `user.sam_account_name + "@" + domain.domain`,
			`{NIST-800-53: ["IA-5"]}`,
			"  pass: [{user: {enabled: true}}]\n  fail: [{user: {enabled: true, "+
				"preauth_not_required: true}}]"),
		"anyany@1.0.0.yaml": module("anyany", "fw_policy", "critical", `policy.action == "accept"`,
			`!("all" in policy.srcaddr && "all" in policy.dstaddr)`, `asset.name`, `{}`,
			"  pass: [{policy: {action: accept}}]\n  fail: [{policy: {action: accept, "+
				"srcaddr: [all], dstaddr: [all]}}]"),
		"admin2fa@1.0.0.yaml": module("admin2fa", "fw_admin", "low", "true", "admin.two_factor",
			`admin.name`, `{}`,
			"  pass: [{admin: {two_factor: true}}]\n  fail: [{admin: {name: x}}]"),
		"wanmgmt@1.0.0.yaml": module("wanmgmt", "fw_interface", "medium", `iface.role == "wan"`,
			`!("https" in iface.allowaccess)`, `iface.name + " on " + asset.name`, `{}`,
			"  pass: [{iface: {role: wan}}]\n  fail: [{iface: {role: wan, allowaccess: [https]}}]"),
	}
	for k, v := range extra {
		files[k] = v
	}
	c, err := LoadCatalog(mapFS(files), cfg)
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	for _, m := range c.Modules {
		if err := c.RunTests(context.Background(), m); err != nil {
			t.Fatalf("RunTests: %v", err)
		}
	}
	return c
}

// scoreFacts is the small tenant of the hand-computed score cases (see TestScore).
func scoreFacts() Facts {
	return Facts{
		Assets: []Asset{
			{ID: "a1", Name: "sw01", Services: []Service{{Port: 23, Name: "telnet"}}},
			{ID: "a2", Name: "web01", Services: []Service{{Port: 22},
				{Port: 443, TLS: &TLS{Versions: []string{"TLS1.0", "TLS1.2"}}}}},
			{ID: "a3", Name: "web02", Services: []Service{{Port: 443,
				TLS: &TLS{Versions: []string{"TLS1.2"}}}}},
			{ID: "a4"},
		},
		Directory: &Directory{Domain: "corp.example", Policy: ADPolicy{MinPwdLength: 8}},
	}
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustRun(t testing.TB, c *Catalog, f Facts, opts RunOptions) *Result {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	res, err := c.Run(context.Background(), f, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestRunFindings(t *testing.T) {
	c := runCatalog(t, testConfig(t), nil)
	f := scoreFacts()
	f.Assets = append(f.Assets, Asset{ID: "fw", Name: "fw01", Type: "firewall",
		Firewall: &Firewall{
			Policies: []FWPolicy{{ID: 7, Action: "accept", SrcAddr: []string{"all"},
				DstAddr: []string{"all"}}, {ID: 8, Action: "deny"}},
			Admins:     []FWAdmin{{Name: "admin"}, {Name: "ops", TwoFactor: true}},
			Interfaces: []FWInterface{{Name: "wan1", Role: "wan", AllowAccess: []string{"https"}}},
		}})
	f.Directory.Users = []ADUser{{SAMAccountName: "svc", Enabled: true, PreAuthNotRequired: true},
		{SAMAccountName: "bob", Enabled: true}}
	res := mustRun(t, c, f, RunOptions{})
	var got []string
	for _, x := range res.Findings {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s|%s", x.Check, x.Severity, x.Resource,
			x.AssetID, x.Key, x.Evidence))
		if len(x.ID) != 32 || x.Title != x.Check+" failed" || x.Remediation == "" {
			t.Errorf("finding %+v", x)
		}
	}
	want := []string{
		"admin2fa|low|admin|fw|fw/admin/admin|admin",
		"anyany|critical|policy 7|fw|fw/policy/7|fw01",
		"asrep|high|svc||ad:corp.example/user/svc|svc@corp.example",
		"named|info|a4|a4|a4|unnamed a4",
		"telnet|high|sw01|a1|a1|telnet on sw01",
		"tls-old|medium|web01|a2|a2|TLS1.0",
		"wanmgmt|medium|wan1|fw|fw/iface/wan1|wan1 on fw01",
		"weak-pw|critical|corp.example||ad:corp.example|corp.example weak",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors: %+v", res.Errors)
	}
	// The id is stable: the same check on the same subject in another run.
	again := mustRun(t, c, f, RunOptions{Now: testNow.Add(time.Hour)})
	if again.Findings[0].ID != res.Findings[0].ID {
		t.Error("finding id changed between runs")
	}
}

// TestRunDeterministic: the same facts, in any order and with any number of workers, and
// the same Now give byte-identical JSON.
func TestRunDeterministic(t *testing.T) {
	c := runCatalog(t, testConfig(t), nil)
	f := syntheticFacts(300, 1)
	// A generous time budget: under -race on a loaded machine a descheduled evaluation
	// must not turn into a budget error, which is TestRunBudgets' subject, not this one's.
	const budget = time.Minute
	base, err := json.Marshal(mustRun(t, c, f, RunOptions{Workers: 1, EvalTimeout: budget}))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i, workers := range []int{1, 2, 4, 8} {
		g := syntheticFacts(300, 1)
		rng.Shuffle(len(g.Assets), func(a, b int) {
			g.Assets[a], g.Assets[b] = g.Assets[b], g.Assets[a]
		})
		rng.Shuffle(len(g.Directory.Users), func(a, b int) {
			g.Directory.Users[a], g.Directory.Users[b] = g.Directory.Users[b], g.Directory.Users[a]
		})
		for j := range g.Assets {
			if fw := g.Assets[j].Firewall; fw != nil {
				rng.Shuffle(len(fw.Policies), func(a, b int) {
					fw.Policies[a], fw.Policies[b] = fw.Policies[b], fw.Policies[a]
				})
			}
		}
		got, err := json.Marshal(mustRun(t, c, g, RunOptions{Workers: workers,
			EvalTimeout: budget}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, base) {
			t.Fatalf("run %d (%d workers, shuffled) differs from the first run", i, workers)
		}
	}
	var res Result
	if err := json.Unmarshal(base, &res); err != nil || len(res.Findings) == 0 {
		t.Fatalf("envelope: %v, %d findings", err, len(res.Findings))
	}
}

// TestRunBudgets: a check beyond its cost limit or time budget errors for that subject,
// recorded with its slug and the subject; the other checks of the run go on.
func TestRunBudgets(t *testing.T) {
	heavy := module("heavy", "asset", "low", "true",
		`asset.addresses.all(a, asset.addresses.all(b, a.size() + b.size() > 0))`, `"x"`, `{}`,
		"  pass: [{asset: {addresses: [a]}}]\n  fail: [{asset: {addresses: []}}]")
	heavy = strings.Replace(heavy, "> 0))", "> 0)) && asset.addresses.size() > 0", 1)
	addrs := make([]string, 3000)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	f := Facts{Assets: []Asset{
		{ID: "big", Name: "big", Addresses: addrs, Services: []Service{{Port: 23}}},
		{ID: "small", Name: "small", Addresses: []string{"10.9.9.9"},
			Services: []Service{{Port: 23}}},
	}}
	tests := []struct {
		name    string
		cfg     func(*Config)
		timeout time.Duration
		want    string
	}{
		// A low limit keeps the case quick under -race; the default limit is the same code.
		{"cost", func(c *Config) { c.CostLimit = 20_000 }, time.Minute,
			"actual cost limit exceeded"},
		{"time", func(c *Config) { c.CostLimit = 1 << 62 }, 5 * time.Millisecond,
			"evaluation exceeded its time budget (5ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.cfg(&cfg)
			c := runCatalog(t, cfg, map[string]string{"heavy@1.0.0.yaml": heavy})
			res := mustRun(t, c, f, RunOptions{EvalTimeout: tt.timeout, Workers: 1})
			if len(res.Errors) != 1 {
				t.Fatalf("errors = %+v, want one", res.Errors)
			}
			e := res.Errors[0]
			if e.Check != "heavy" || e.Key != "big" || !strings.Contains(e.Error, tt.want) {
				t.Errorf("error %+v, want heavy on big: %q", e, tt.want)
			}
			var telnet int
			for _, x := range res.Findings {
				if x.Check == "telnet" {
					telnet++
				}
			}
			if telnet != 2 {
				t.Errorf("telnet findings = %d, want 2 (the other checks go on)", telnet)
			}
			for _, ct := range res.Checks {
				if ct.Check == "heavy" && (ct.Errors != 1 || ct.Passed != 1) {
					t.Errorf("heavy tally %+v", ct)
				}
			}
		})
	}
}

// TestRunSelection: Enabled picks versions, bad parameters and unknown checks are recorded
// and never stop the others.
func TestRunSelection(t *testing.T) {
	v2 := strings.NewReplacer("version: 1.0.0", "version: 1.1.0", "state: released", "state: qa").
		Replace(module("telnet", "asset", "high", "true", "false", `"v2"`, `{}`,
			"  pass: []\n  fail: [{asset: {}}]"))
	v2 = strings.Replace(v2, "  pass: []\n", "  pass: [{asset: {name: x}}]\n", 1)
	v2 = strings.Replace(v2, `pass: "false"`, `pass: "asset.name != \"\""`, 1)
	c := runCatalog(t, testConfig(t), map[string]string{"telnet@1.1.0.yaml": v2})
	f := scoreFacts()
	res := mustRun(t, c, f, RunOptions{
		Enabled: map[string]string{"telnet": "", "weak-pw": "1.0.0", "nope": "",
			"tls-old": "1.1.0"},
		Params: map[string]json.RawMessage{"weak-pw": json.RawMessage(`{"min": "x"}`)},
	})
	var errs []string
	for _, e := range res.Errors {
		errs = append(errs, e.Check+": "+e.Error)
	}
	want := []string{
		"nope: check nope is not in the catalog",
		"tls-old: check tls-old has no version 1.1.0",
		`weak-pw: parameters of weak-pw@1.0.0: field "min": got string, want integer`,
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Checks) != 1 || res.Checks[0].Version != "1.0.0" || res.Checks[0].Failed != 1 {
		t.Errorf("checks %+v: want telnet 1.0.0 (1.1.0 is in qa)", res.Checks)
	}
	res = mustRun(t, c, f, RunOptions{Enabled: map[string]string{"telnet": "1.1.0"}})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error, "not schedulable") {
		t.Errorf("qa version ran: %+v", res.Errors)
	}
	res = mustRun(t, c, f, RunOptions{Enabled: map[string]string{"weak-pw": ""},
		Params: map[string]json.RawMessage{"weak-pw": json.RawMessage(`{"min": 8}`)}})
	if res.Summary.Passed != 1 || res.Summary.Failed != 0 {
		t.Errorf("params not applied: %+v", res.Summary)
	}
}

// syntheticFacts builds n varied assets (servers, printers, switches with SNMP, firewalls)
// plus a directory, deterministically from seed.
func syntheticFacts(n int, seed uint64) Facts {
	rng := rand.New(rand.NewPCG(seed, seed))
	oses := []struct{ os, ver string }{{"Windows Server 2008 R2 Standard", "6.1 (7601)"},
		{"Windows Server 2022 Standard", "10.0 (20348)"}, {"Ubuntu", "22.04.4 LTS"},
		{"CentOS Linux", "7.9.2009"}, {"Debian GNU/Linux", "12"}, {"FortiOS", "7.2.5"},
		{"", ""}}
	tlsVers := [][]string{{"TLS1.2", "TLS1.3"}, {"TLS1.0", "TLS1.1", "TLS1.2"}, {"TLS1.2"}}
	f := Facts{Directory: &Directory{Domain: "corp.example", StaleDays: 90,
		Policy: ADPolicy{MinPwdLength: 7, LockoutThreshold: 0, PasswordComplexity: true}}}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		o := oses[rng.IntN(len(oses))]
		a := Asset{ID: fmt.Sprintf("asset-%06d", i), Name: fmt.Sprintf("host%d", i),
			Type: []string{"server", "workstation", "printer", "switch"}[rng.IntN(4)],
			OS:   o.os, OSVersion: o.ver,
			Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)},
			Sources:   []string{"scan"}, FirstSeen: base,
			LastSeen: base.Add(time.Duration(i) * time.Hour),
		}
		if i%7 == 0 {
			a.Name = ""
		}
		for _, port := range []int{21, 22, 23, 80, 139, 443, 445, 3389, 8443} {
			if rng.IntN(3) != 0 {
				continue
			}
			s := Service{Port: port, Protocol: "tcp", Evidence: map[string]string{}}
			switch port {
			case 443, 8443:
				s.Name = "https"
				s.TLS = &TLS{Versions: tlsVers[rng.IntN(len(tlsVers))], CertSubject: "CN=" + a.Name,
					CertNotAfter: base.AddDate(0, rng.IntN(36), 0), SelfSigned: rng.IntN(2) == 0,
					KeyType: "RSA", KeyBits: []int{1024, 2048, 4096}[rng.IntN(3)]}
			case 445:
				s.Name = "smb"
				if rng.IntN(4) == 0 {
					s.Hints = []string{"smbv1-enabled"}
				}
			case 3389:
				s.Name = "rdp"
				s.Evidence["nla_required"] = fmt.Sprint(rng.IntN(2) == 0)
			case 23:
				s.Name = "telnet"
				s.Hints = []string{"telnet-open"}
			case 21:
				s.Name = "ftp"
			}
			a.Services = append(a.Services, s)
		}
		if a.Type == "switch" || a.Type == "printer" {
			a.SNMP = &SNMP{Version: []string{"v1", "v2c", "v3"}[rng.IntN(3)],
				DefaultCommunity: rng.IntN(2) == 0, SysName: a.Name,
				Interfaces: []Interface{{Name: "eth0", AdminStatus: "up", OperStatus: "up"}}}
		}
		if i%50 == 0 {
			a.Type, a.Vendor, a.OS, a.OSVersion = "firewall", "Fortinet", "FortiOS", "6.4.9"
			fw := &Firewall{Hostname: a.Name, Version: "6.4.9", BaselineVersion: "7.2.8"}
			for p := 1; p <= 20; p++ {
				pol := FWPolicy{ID: p, Name: fmt.Sprint("p", p), Status: "enable", Action: "accept",
					SrcIntf: []string{"port1"}, DstIntf: []string{"wan1"},
					SrcAddr: []string{"lan"}, DstAddr: []string{"all"}, Service: []string{"HTTPS"},
					LogTraffic: "all"}
				if p%9 == 0 {
					pol.SrcAddr, pol.Service = []string{"all"}, []string{"ALL"}
					pol.LogTraffic = "disable"
				}
				fw.Policies = append(fw.Policies, pol)
			}
			fw.Admins = []FWAdmin{{Name: "admin", Profile: "super_admin"},
				{Name: "ops", TwoFactor: true, TrustedHosts: []string{"10.0.0.0/8"}}}
			fw.Interfaces = []FWInterface{
				{Name: "wan1", Role: "wan", AllowAccess: []string{"ping", "https"}},
				{Name: "port1", Role: "lan", AllowAccess: []string{"https", "ssh"}}}
			a.Firewall = fw
		}
		f.Assets = append(f.Assets, a)
	}
	for u := 0; u < n/10+5; u++ {
		f.Directory.Users = append(f.Directory.Users, ADUser{
			SAMAccountName: fmt.Sprintf("user%04d", u), Enabled: u%11 != 0,
			PreAuthNotRequired: u%17 == 0, PasswordNeverExpires: u%5 == 0,
			ServicePrincipals: map[bool][]string{true: {"MSSQLSvc/db:1433"}}[u%13 == 0],
			LastLogon:         base.AddDate(0, 0, -u), PwdLastSet: base.AddDate(0, 0, -3*u),
			AdminCount: u % 2, Stale: u%3 == 0,
		})
	}
	return f
}
