package appliance

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/lab/sambadc"
	"github.com/tenantra/tenantra/store"
)

// adFindings maps the ground truth's flags to the checks that must report them, for users
// and computers (the disabled-and-privileged combination has its own check).
var adFindings = map[sambadc.Kind]map[sambadc.Flag]string{
	sambadc.KindUser: {
		sambadc.FlagPasswordNeverExpires: "ad-user-password-never-expires",
		sambadc.FlagPasswordNotRequired:  "ad-user-password-not-required",
		sambadc.FlagPreAuthNotRequired:   "ad-user-asrep-roastable",
		sambadc.FlagKerberoastable:       "ad-user-kerberoastable",
		sambadc.FlagTrustedForDelegation: "ad-user-unconstrained-delegation",
		sambadc.FlagReversibleEncryption: "ad-user-reversible-encryption",
		sambadc.FlagPrivileged:           "ad-user-privileged",
		sambadc.FlagStale:                "ad-user-stale",
	},
	sambadc.KindComputer: {
		sambadc.FlagStale:                "ad-computer-stale",
		sambadc.FlagTrustedForDelegation: "ad-computer-unconstrained-delegation",
	},
}

// TestActiveDirectorySource provisions a real Samba AD DC, seeds risky and clean objects,
// and scans the DC's address with the directory as a source. Every seeded risky object is
// reported with the right finding and no clean one is (precision and recall 100% on the
// seeded set); the domain policy findings appear; the DC found on the network and its AD
// computer object end as one asset.
func TestActiveDirectorySource(t *testing.T) {
	dc := sambadc.Start(t, sambadc.Options{})
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	truth, err := dc.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	a.resolver = loopbackDNS(t, map[string]string{dc.ServerName + ".": dc.Addr.String()})
	if _, err := a.CreateTenant(ctx, "corp", "Corp"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateCredential(ctx, "corp", web.CredentialRequest{Name: "dc",
		Kind: store.CredLDAP, URL: dc.LDAPSURL, BindDN: dc.AdminUPN,
		Password: dc.AdminPassword, CAPEM: string(dc.CAPEM)}); err != nil {
		t.Fatal(err)
	}
	res, err := a.TestCredential(ctx, "corp", "dc", web.CredentialTestRequest{})
	if err != nil || !res.OK {
		t.Fatalf("test connection: %+v %v", res, err)
	}
	creds, err := a.ListCredentials(ctx, "corp")
	if err != nil || len(creds) != 1 || strings.Contains(creds[0].Metadata["bind_dn"]+
		creds[0].Metadata["url"], dc.AdminPassword) || creds[0].Metadata["password"] != "" {
		t.Fatalf("credential metadata: %+v %v", creds, err)
	}
	rep, err := a.Scan(ctx, "corp", web.ScanRequest{Targets: []string{dc.Addr.String()},
		Ports: "389,636", Sources: []string{"ldap:dc"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Errors {
		t.Errorf("scan error: %s: %s", e.Target, e.Error)
	}
	tenantID := mustTenantID(t, a, "corp")
	// The DC: one asset with its address, its AD object and its LDAP services.
	list, _, err := a.ListAssets(ctx, tenantID, web.AssetFilter{Q: dc.Addr.String()},
		store.Page{Page: 1, Size: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("assets at the DC's address: %+v %v", list, err)
	}
	d, err := a.GetAsset(ctx, tenantID, list[0].ID)
	if err != nil || len(d.ADObjects) != 1 || len(d.Services) == 0 {
		t.Fatalf("the DC's asset has AD objects %v and services %v (%v)", d.ADObjects,
			d.Services, err)
	}
	// Computers by sAMAccountName, through their fact documents.
	computerOf := map[string]string{} // asset id → sAMAccountName
	all, _, err := a.ListAssets(ctx, tenantID, web.AssetFilter{}, store.Page{Page: 1,
		Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range all {
		doc, err := a.facts(ctx, tenantID, as.ID)
		if err != nil {
			t.Fatal(err)
		}
		if doc.AD != nil {
			computerOf[as.ID] = doc.AD.SAMAccountName
		}
	}
	findings, _, err := a.ListFindings(ctx, "corp", store.FindingFilter{},
		store.Page{Page: 1, Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{} // "sam check"
	domain := map[string]bool{}
	for _, f := range findings {
		sam := f.Resource
		if f.AssetID != "" {
			sam = computerOf[f.AssetID]
		}
		got[sam+" "+f.Check] = true
		if strings.HasPrefix(f.Check, "ad-domain-") {
			domain[f.Check] = true
		}
	}
	checked := map[string]bool{}
	for _, kindChecks := range adFindings {
		for _, c := range kindChecks {
			checked[c] = true
		}
	}
	checked["ad-user-disabled-privileged"] = true
	var want, hits int
	for _, o := range truth.Objects {
		if o.Kind == sambadc.KindGroup {
			continue
		}
		expect := map[string]bool{}
		disabled := slices.Contains(o.Flags, sambadc.FlagDisabled)
		for _, fl := range o.Flags {
			c := adFindings[o.Kind][fl]
			if o.Kind == sambadc.KindUser && fl == sambadc.FlagPrivileged && disabled {
				c = "ad-user-disabled-privileged"
			}
			if c != "" && (!disabled || c == "ad-user-disabled-privileged") {
				expect[c] = true
			}
		}
		for c := range checked {
			switch {
			case expect[c] && got[o.SAMAccountName+" "+c]:
				want++
				hits++
			case expect[c]:
				want++
				t.Errorf("recall: %s (%v) has no %s finding", o.SAMAccountName, o.Flags, c)
			case got[o.SAMAccountName+" "+c]:
				t.Errorf("precision: %s (%v) has a %s finding it does not deserve",
					o.SAMAccountName, o.Flags, c)
			}
		}
	}
	t.Logf("%d of %d expected identity findings on seeded objects", hits, want)
	if want < 15 {
		t.Fatalf("only %d expected findings: the seeded set is not what this test assumes",
			want)
	}
	for _, c := range []string{"ad-domain-min-password-length", "ad-domain-lockout-disabled",
		"ad-domain-machine-account-quota", "ad-domain-krbtgt-password-age"} {
		if !domain[c] {
			t.Errorf("domain finding %s missing; have %v", c, domain)
		}
	}
	// A second scan: no duplicate assets.
	before := countAssets(t, a, tenantID)
	if _, err := a.Scan(ctx, "corp", web.ScanRequest{Targets: []string{dc.Addr.String()},
		Ports: "389,636", Sources: []string{"ldap:dc"}}, nil); err != nil {
		t.Fatal(err)
	}
	if n := countAssets(t, a, tenantID); n != before {
		t.Errorf("%d assets after the second scan, %d after the first", n, before)
	}
	// Bad sources are refused before anything runs.
	for _, src := range []string{"ldap:nope", "snmp:dc", "fortigate:dc", "dc"} {
		if _, err := a.Scan(ctx, "corp", web.ScanRequest{Sources: []string{src}},
			nil); err == nil {
			t.Errorf("source %q was accepted", src)
		}
	}
}

// loopbackDNS serves A records on a loopback UDP port and returns a resolver that asks only
// it, so discovery resolves the lab's names without looking anything up outside.
func loopbackDNS(t *testing.T, records map[string]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(
		func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			for _, q := range r.Question {
				ip, ok := records[strings.ToLower(q.Name)]
				if ok && q.Qtype == dns.TypeA {
					m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name,
						Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
						A: net.ParseIP(ip)})
				}
				if !ok {
					m.Rcode = dns.RcodeNameError
				}
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (
		net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}
