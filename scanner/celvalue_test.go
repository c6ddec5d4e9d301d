package scanner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// edgeFacts are assets that exercise what the conversion must read exactly as
// ext.NativeTypes does (nil against empty slices and maps, nil pointers, zero times,
// evidence maps) and sizes large enough to reach the higher size classes of the static cost
// bound (long strings, long lists).
func edgeFacts() Facts {
	long := strings.Repeat("Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M) ", 40)
	addrs := make([]string, 300)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.9.%d.%d", i/256, i%256)
	}
	var svcs []Service
	for p := 1; p <= 60; p++ {
		svcs = append(svcs, Service{Port: p, Protocol: "tcp", Name: "http",
			Product: "Apache httpd", Version: "2.2.3",
			Evidence: map[string]string{"banner": long, "powered_by": "PHP/5.4.1"},
			Hints:    []string{"tls1.0-accepted", "smbv1-enabled", "redis-no-auth"},
			TLS: &TLS{Versions: []string{"TLS1.0", "TLS1.3"}, CertSANs: addrs[:40],
				CertSubject: "CN=" + long, KeyType: "DSA", KeyBits: 1024}})
	}
	return Facts{Assets: []Asset{
		{ID: "zero"},
		{ID: "empty", Addresses: []string{}, Services: []Service{}, Software: []Software{},
			SNMP: &SNMP{Interfaces: []Interface{}}, AD: &ADComputer{}},
		{ID: "big", Name: "big", OS: "Windows Server 2008 R2 Standard", OSVersion: "6.1",
			Addresses: addrs, Hostnames: []string{long}, Services: svcs,
			SNMP: &SNMP{Version: "v2c", DefaultCommunity: true, SysDescr: long,
				Storage: []Storage{{Descr: "/", Size: 100, Used: 99}}},
			Software: []Software{{Name: "Adobe Flash Player", Version: "32"}},
			AD:       &ADComputer{Enabled: true, ServicePrincipals: addrs[:50]},
			Firewall: &Firewall{Version: "6.4.9", BaselineVersion: "7.2.8",
				Policies: []FWPolicy{{ID: 1, Status: "enable", Action: "accept",
					SrcIntf: []string{"wan1"}, DstIntf: []string{"port1"},
					SrcAddr: []string{"all"}, DstAddr: []string{"all"}, Service: addrs[:100]}},
				Admins: []FWAdmin{{Name: "admin", TrustedHosts: addrs[:100]}},
				Interfaces: []FWInterface{{Name: "wan1", Role: "wan",
					AllowAccess: []string{"http", "telnet", "ssh"}}}},
			LastSeen: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	}, Directory: &Directory{Domain: "corp.example", Users: []ADUser{
		{SAMAccountName: "a", MemberOf: addrs, PrivilegedGroups: []string{"Domain Admins"},
			Enabled: true, AdminCount: 1},
		{SAMAccountName: "b"},
	}}}
}

// evalPair binds one subject twice, through NativeTypes' reflection (the values the
// environments declare) and through the converted values, with the run's parameters.
type evalPair struct {
	native, converted *activation
}

func subjectPairs(t *testing.T, c *Catalog, facts Facts) ([]*runCheck, map[Subject][]*runCheck,
	[]subject, []evalPair) {
	t.Helper()
	res := &Result{}
	checks := c.selectChecks(RunOptions{Now: testNow}, res)
	if len(res.Errors) > 0 {
		t.Fatalf("select checks: %+v", res.Errors)
	}
	by := map[Subject][]*runCheck{}
	for _, rc := range checks {
		by[rc.m.Check.Subject] = append(by[rc.m.Check.Subject], rc)
	}
	subs := buildSubjects(facts, by)
	fv := c.parser.envs.values
	adapter := c.parser.envs.bySubject[SubjectAsset].CELTypeAdapter()
	now := types.Timestamp{Time: testNow}
	pairs := make([]evalPair, len(subs))
	for i, s := range subs {
		n, v := &activation{}, &activation{}
		for _, b := range s.vars {
			n.set(b.name, adapter.NativeToValue(b.value.src))
			val, sizes := fv.value(b.value.src)
			v.setSized(b.name, val, sizes)
		}
		n.set("now", now)
		v.set("now", now)
		pairs[i] = evalPair{n, v}
	}
	return checks, by, subs, pairs
}

// TestFactValuesMatchNative: every check of the catalog gives the same outcome and evidence
// (or fails the same way) on converted values as on NativeTypes' reflective values.
func TestFactValuesMatchNative(t *testing.T) {
	c, _ := loadEmbedded(t)
	facts := syntheticFacts(200, 3)
	edge := edgeFacts()
	facts.Assets = append(facts.Assets, edge.Assets...)
	facts.Directory.Users = append(facts.Directory.Users, edge.Directory.Users...)
	_, by, subs, pairs := subjectPairs(t, c, facts)
	wd := newWatchdog(context.Background(), time.Minute)
	defer wd.close()
	evals := 0
	for i, s := range subs {
		for _, rc := range by[s.kind] {
			p := pairs[i]
			p.native.set("params", c.parser.envs.bySubject[SubjectAsset].CELTypeAdapter().
				NativeToValue(mustParams(t, rc.m)))
			p.converted.setSized("params", rc.params, rc.paramsSize)
			o1, ev1, err1 := evalCheck(wd, rc.m, p.native, true)
			o2, ev2, err2 := evalCheck(wd, rc.m, p.converted, true)
			evals++
			if o1 != o2 || ev1 != ev2 || (err1 == nil) != (err2 == nil) {
				t.Errorf("%s on %s: native %v %q %v, converted %v %q %v", rc.m.Ref(), s.key,
					o1, ev1, err1, o2, ev2, err2)
			}
		}
	}
	if evals < 10000 {
		t.Fatalf("only %d evaluations compared", evals)
	}
}

func mustParams(t *testing.T, m *Module) map[string]any {
	t.Helper()
	p, err := paramsValue(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStaticCostBound: whenever an evaluation takes the untracked program, the cost the
// tracked program measures stays within the static bound that chose it (and so within the
// cost limit).
func TestStaticCostBound(t *testing.T) {
	c, _ := loadEmbedded(t)
	facts := syntheticFacts(200, 5)
	edge := edgeFacts()
	facts.Assets = append(facts.Assets, edge.Assets...)
	facts.Directory.Users = append(facts.Directory.Users, edge.Directory.Users...)
	_, by, subs, pairs := subjectPairs(t, c, facts)
	var fast, tracked int
	for i, s := range subs {
		act := pairs[i].converted
		for _, rc := range by[s.kind] {
			act.setSized("params", rc.params, rc.paramsSize)
			p := rc.m.prog
			for k, e := range []*compiledExpr{p.appliesTo, p.pass, p.evidence} {
				if e == nil {
					continue
				}
				_, bound, ok := e.program(act.maxSize(e.refs))
				if !ok {
					tracked++
					continue
				}
				fast++
				_, det, err := e.prg.Eval(act)
				if err != nil && det == nil {
					continue // a runtime error of the check itself
				}
				if got := det.ActualCost(); got == nil || *got > bound {
					t.Errorf("%s %s on %s: actual cost %d > static bound %d", rc.m.Ref(),
						[]string{"applies_to", "pass", "evidence"}[k], s.key, costOf(got), bound)
				}
			}
		}
	}
	t.Logf("%d untracked, %d tracked evaluations", fast, tracked)
	if fast == 0 || tracked == 0 {
		t.Errorf("want both kinds of evaluation, got %d untracked and %d tracked", fast, tracked)
	}
}

// TestFactValueSemantics pins field reads the checks rely on, on both representations.
func TestFactValueSemantics(t *testing.T) {
	envs, err := newCELEnvs(testConfig(t).EOL, DefaultCostLimit)
	if err != nil {
		t.Fatal(err)
	}
	asset := &Asset{ID: "a", Addresses: []string{}, Sources: nil,
		Services: []Service{{Port: 443, Evidence: map[string]string{"server": "nginx"},
			TLS: &TLS{Versions: []string{"TLS1.2"}}}, {Port: 22}},
		Firewall: &Firewall{Policies: []FWPolicy{{ID: 7}}}}
	tests := []string{
		`!has(asset.snmp) && asset.snmp.version == "" && asset.snmp.interfaces.size() == 0`,
		`has(asset.addresses) && asset.addresses.size() == 0`, // empty, not nil
		`!has(asset.sources) && asset.sources.size() == 0`,    // nil
		`!has(asset.name) && has(asset.id)`,
		`asset.last_seen == timestamp(0) && !has(asset.last_seen)`,
		`asset.services[0].evidence["server"] == "nginx" && "server" in asset.services[0].evidence`,
		`asset.services.exists(s, has(s.tls) && "TLS1.2" in s.tls.versions)`,
		`asset.services[1].tls.versions.size() == 0 && !has(asset.services[1].tls)`,
		`asset.services[1].tls.cert_not_after == timestamp(0)`,
		`asset.firewall.policies[0].id == 7 && asset.firewall.policies.map(p, p.id) == [7]`,
		`asset.services.filter(s, s.port == 22).size() == 1`,
		`type(asset) == scanner.Asset && type(asset.services[0]) == scanner.Service`,
		`asset.services[0] == asset.services[0] && asset.services[0] != asset.services[1]`,
		`!has(asset.omada) && !has(asset.ad) && asset.ad.sam_account_name == ""`,
	}
	adapter := envs.bySubject[SubjectAsset].CELTypeAdapter()
	wd := newWatchdog(context.Background(), time.Minute)
	defer wd.close()
	val, sizes := envs.values.value(asset)
	for _, expr := range tests {
		e, err := envs.compile(SubjectAsset, expr, cel.BoolType)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		for name, act := range map[string]*activation{"native": {}, "converted": {}} {
			if name == "native" {
				act.set("asset", adapter.NativeToValue(asset))
			} else {
				act.setSized("asset", val, sizes)
			}
			act.set("now", types.Timestamp{Time: testNow})
			act.set("params", adapter.NativeToValue(map[string]any{}))
			got, err := evalBool(wd, e, act)
			if err != nil || !got {
				t.Errorf("%s (%s) = %v, %v; want true", expr, name, got, err)
			}
		}
	}
}

func costOf(c *uint64) int64 {
	if c == nil {
		return -1
	}
	return int64(*c)
}

// TestProgramSelection: an evaluation skips cost tracking only when the static bound for
// its inputs' sizes is within the limit, with trusted functions and known sizes.
func TestProgramSelection(t *testing.T) {
	envs, err := newCELEnvs(testConfig(t).EOL, DefaultCostLimit)
	if err != nil {
		t.Fatal(err)
	}
	small := &Asset{Addresses: []string{"10.0.0.1"}}
	big := &Asset{Addresses: make([]string, 5000)}
	tests := []struct {
		name, expr  string
		asset       *Asset
		sized, fast bool
	}{
		{"constant cost", `asset.name == "x"`, big, true, true},
		{"small list", `asset.addresses.exists(a, a.startsWith("10."))`, small, true, true},
		{"nested, small", `asset.addresses.all(a, asset.addresses.all(b, a != b))`, small,
			true, true},
		{"nested, big", `asset.addresses.all(a, asset.addresses.all(b, a != b))`, big, true,
			false},
		{"unknown sizes", `asset.addresses.exists(a, a.startsWith("10."))`, small, false,
			false},
		{"untrusted function", `asset.addresses.sort().size() > 0`, small, true, false},
		{"join of a field", `("(" + asset.addresses.join(", ") + ")").size() > 0`, small, true,
			true},
		{"join of a computed list", `asset.addresses.map(a, a + a).join(",").size() > 0`,
			small, true, false},
	}
	for _, tt := range tests {
		e, err := envs.compile(SubjectAsset, tt.expr, cel.BoolType)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		act := &activation{}
		if tt.sized {
			v, sizes := envs.values.value(tt.asset)
			act.setSized("asset", v, sizes)
		} else {
			act.set("asset", envs.bySubject[SubjectAsset].CELTypeAdapter().
				NativeToValue(tt.asset))
		}
		if _, _, fast := e.program(act.maxSize(e.refs)); fast != tt.fast {
			t.Errorf("%s: untracked = %v, want %v (bounds %v)", tt.name, fast, tt.fast,
				e.bounds)
		}
	}
}
