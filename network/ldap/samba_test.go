package ldap_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/sambadc"
	"github.com/tenantra/tenantra/network/ldap"
)

// shared is one seeded DC for the package's tests: provisioning takes seconds, and the tests
// only read (the benchmark starts its own).
var shared struct {
	once  sync.Once
	dc    *sambadc.DC
	truth *sambadc.Truth
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dc := range []*sambadc.DC{shared.dc, bench.dc} {
		if dc != nil {
			if err := dc.Stop(); err != nil {
				println("stop samba DC:", err.Error())
			}
		}
	}
	os.Exit(code)
}

// lab returns the shared seeded DC, skipping (or failing under TENA_REQUIRE_PEERS=1) when
// samba is missing.
func lab(t *testing.T) (*sambadc.DC, *sambadc.Truth) {
	t.Helper()
	if err := sambadc.CheckInstalled(); err != nil {
		testenv.MissingPeer(t, "samba", err)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if shared.dc, shared.err = sambadc.Run(ctx, sambadc.Options{}); shared.err != nil {
			return
		}
		shared.truth, shared.err = shared.dc.Seed(ctx)
	})
	if shared.err != nil {
		t.Fatalf("samba DC: %v", shared.err)
	}
	return shared.dc, shared.truth
}

func adminConfig(dc *sambadc.DC) ldap.Config {
	return ldap.Config{URL: dc.LDAPURL, BindDN: dc.AdminUPN, Password: dc.AdminPassword}
}

func collect(t *testing.T, cfg ldap.Config) *ldap.Directory {
	t.Helper()
	c, err := ldap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := c.Collect(ctx)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	return d
}

func userFlags(u ldap.User) []sambadc.Flag {
	var f []sambadc.Flag
	add := func(on bool, flag sambadc.Flag) {
		if on {
			f = append(f, flag)
		}
	}
	add(!u.Enabled, sambadc.FlagDisabled)
	add(u.PasswordNeverExpires, sambadc.FlagPasswordNeverExpires)
	add(u.PasswordNotRequired, sambadc.FlagPasswordNotRequired)
	add(u.PreAuthNotRequired, sambadc.FlagPreAuthNotRequired)
	add(u.Kerberoastable, sambadc.FlagKerberoastable)
	add(u.TrustedForDeleg, sambadc.FlagTrustedForDelegation)
	add(u.ReversibleEncryption, sambadc.FlagReversibleEncryption)
	add(len(u.PrivilegedGroups) > 0, sambadc.FlagPrivileged)
	add(u.Stale, sambadc.FlagStale)
	slices.Sort(f)
	return f
}

func computerFlags(c ldap.Computer) []sambadc.Flag {
	var f []sambadc.Flag
	add := func(on bool, flag sambadc.Flag) {
		if on {
			f = append(f, flag)
		}
	}
	add(!c.Enabled, sambadc.FlagDisabled)
	add(c.PasswordNotRequired, sambadc.FlagPasswordNotRequired)
	add(c.TrustedForDeleg, sambadc.FlagTrustedForDelegation)
	add(len(c.PrivilegedGroups) > 0, sambadc.FlagPrivileged)
	add(c.Stale, sambadc.FlagStale)
	slices.Sort(f)
	return f
}

// TestCollectGroundTruth: every seeded object carries exactly its flags and privileged
// groups (precision and recall 100% over the seeded set), the policy and krbtgt age read back
// as seeded, and the continuation reference Samba returns is reported, not followed.
func TestCollectGroundTruth(t *testing.T) {
	dc, truth := lab(t)
	d := collect(t, adminConfig(dc))
	if d.Partial {
		t.Fatalf("partial: %v", d.PartialReasons)
	}
	if d.Domain != dc.DNSDomain || d.BaseDN != dc.BaseDN || d.DomainSID != dc.DomainSID {
		t.Errorf("domain %q base %q sid %q, want %q %q %q", d.Domain, d.BaseDN, d.DomainSID,
			dc.DNSDomain, dc.BaseDN, dc.DomainSID)
	}
	users := map[string]ldap.User{}
	for _, u := range d.Users {
		users[strings.ToLower(u.SAMAccountName)] = u
	}
	computers := map[string]ldap.Computer{}
	for _, c := range d.Computers {
		computers[strings.ToLower(c.SAMAccountName)] = c
	}
	groups := map[string]ldap.Group{}
	for _, g := range d.Groups {
		groups[g.Name] = g
	}
	var tp, fp, fn int
	score := func(name string, got, want []sambadc.Flag) {
		for _, f := range got {
			if slices.Contains(want, f) {
				tp++
			} else {
				fp++
				t.Errorf("%s: unexpected flag %s", name, f)
			}
		}
		for _, f := range want {
			if !slices.Contains(got, f) {
				fn++
				t.Errorf("%s: missing flag %s", name, f)
			}
		}
	}
	for _, o := range truth.Objects {
		key := strings.ToLower(o.SAMAccountName)
		var got []sambadc.Flag
		var gotGroups []string
		switch o.Kind {
		case sambadc.KindUser:
			u, ok := users[key]
			if !ok {
				t.Errorf("user %s not collected", o.SAMAccountName)
				continue
			}
			got, gotGroups = userFlags(u), u.PrivilegedGroups
			if u.Builtin || u.ObjectGUID == "" || u.RID < 1000 || u.WhenCreated.IsZero() {
				t.Errorf("%s: builtin %v guid %q rid %d created %v", key, u.Builtin,
					u.ObjectGUID, u.RID, u.WhenCreated)
			}
		case sambadc.KindComputer:
			c, ok := computers[key]
			if !ok {
				t.Errorf("computer %s not collected", o.SAMAccountName)
				continue
			}
			got, gotGroups = computerFlags(c), c.PrivilegedGroups
		case sambadc.KindGroup:
			for _, g := range d.Groups {
				if slices.ContainsFunc(g.Members, func(m string) bool {
					return strings.EqualFold(m, o.DN)
				}) {
					gotGroups = append(gotGroups, g.Name)
				}
			}
			slices.Sort(gotGroups)
			if len(gotGroups) > 0 {
				got = []sambadc.Flag{sambadc.FlagPrivileged}
			}
		}
		score(o.SAMAccountName, got, o.Flags)
		if !slices.Equal(gotGroups, o.PrivilegedGroups) && (len(gotGroups) > 0 ||
			len(o.PrivilegedGroups) > 0) {
			t.Errorf("%s: privileged groups %v, want %v", o.SAMAccountName, gotGroups,
				o.PrivilegedGroups)
		}
	}
	precision, recall := 1.0, 1.0
	if tp+fp > 0 {
		precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		recall = float64(tp) / float64(tp+fn)
	}
	t.Logf("%d seeded objects, %d flags: precision %.3f recall %.3f", len(truth.Objects), tp,
		precision, recall)

	want := truth.Policy
	p := d.Policy
	if p.MinPwdLength != want.MinPwdLength || p.PwdHistoryLength != want.PwdHistoryLength ||
		p.MaxPwdAgeDays != want.MaxPwdAgeDays || p.LockoutThreshold != want.LockoutThreshold ||
		p.LockoutDurationMins != want.LockoutDurationMins ||
		p.PasswordComplexity != want.PasswordComplexity ||
		p.ReversibleEncryption != want.ReversibleEncryption ||
		p.MachineAccountQuota != want.MachineAccountQuota || p.FunctionalLevel < 2 {
		t.Errorf("policy %+v, want %+v", p, want)
	}
	if !p.KrbtgtPwdLastSet.Equal(truth.KrbtgtPwdLastSet) {
		t.Errorf("krbtgt pwdLastSet %v, want %v", p.KrbtgtPwdLastSet, truth.KrbtgtPwdLastSet)
	}
	if k := users["krbtgt"]; !k.Builtin || k.Kerberoastable || k.Enabled {
		t.Errorf("krbtgt: builtin %v kerberoastable %v enabled %v", k.Builtin,
			k.Kerberoastable, k.Enabled)
	}
	if a := users["administrator"]; !a.Builtin || !slices.Contains(a.PrivilegedGroups,
		"Domain Admins") {
		t.Errorf("Administrator: builtin %v groups %v", a.Builtin, a.PrivilegedGroups)
	}
	if c := computers["dc1$"]; !c.DomainController || c.TrustedForDeleg ||
		c.UAC&0x80000 == 0 {
		t.Errorf("DC1$: dc %v trusted %v uac %#x", c.DomainController, c.TrustedForDeleg,
			c.UAC)
	}
	for _, name := range []string{"Domain Admins", "Enterprise Admins", "Schema Admins",
		"Administrators", "Account Operators", "Backup Operators", "Server Operators"} {
		if _, ok := groups[name]; !ok {
			t.Errorf("privileged group %s not found", name)
		}
	}
	if !slices.ContainsFunc(d.Referrals, func(r string) bool {
		return strings.Contains(r, "CN=Configuration,"+dc.BaseDN)
	}) {
		t.Errorf("the Configuration continuation reference was not reported: %v", d.Referrals)
	}
	t.Logf("stats %+v, referrals %v", d.Stats, d.Referrals)
}

// TestStaleByNow decides staleness against a configurable clock: 200 days on, accounts that
// never logged on are stale by their creation time, disabled ones never are.
func TestStaleByNow(t *testing.T) {
	dc, _ := lab(t)
	cfg := adminConfig(dc)
	cfg.Now = func() time.Time { return time.Now().Add(200 * 24 * time.Hour) }
	d := collect(t, cfg)
	for _, u := range d.Users {
		switch u.SAMAccountName {
		case "clean-alice", "stale-user", "stale-never":
			if !u.Stale {
				t.Errorf("%s not stale 200 days on", u.SAMAccountName)
			}
		case "bo-disabled", "disabled-old", "krbtgt":
			if u.Stale {
				t.Errorf("disabled %s is stale", u.SAMAccountName)
			}
		}
	}
	for _, c := range d.Computers {
		if c.SAMAccountName == "ws-new$" && !c.Stale {
			t.Error("ws-new$ not stale 200 days on")
		}
	}
}

func testConn(t *testing.T, cfg ldap.Config) (*ldap.ServerInfo, error) {
	t.Helper()
	c, err := ldap.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Test(ctx)
}

// TestTransports: plain LDAP, LDAPS with the CA or a pin (hex and base64), StartTLS; a wrong
// pin and an unknown CA fail clearly.
func TestTransports(t *testing.T) {
	dc, _ := lab(t)
	pin, _ := hex.DecodeString(dc.SPKIPin)
	wrong := strings.Repeat("ab", 32)
	ok := []struct {
		name string
		cfg  func(*ldap.Config)
		tls  bool
	}{
		{"plain", func(*ldap.Config) {}, false},
		{"ldaps-ca-file", func(c *ldap.Config) { c.URL, c.CAFile = dc.LDAPSURL, dc.CAFile }, true},
		{"ldaps-ca-servername", func(c *ldap.Config) {
			c.URL, c.CAPEM, c.ServerName = dc.LDAPSURL, dc.CAPEM, dc.ServerName
		}, true},
		{"ldaps-pin-hex", func(c *ldap.Config) { c.URL, c.Pin = dc.LDAPSURL, dc.SPKIPin }, true},
		{"ldaps-pin-base64", func(c *ldap.Config) {
			c.URL, c.Pin = dc.LDAPSURL, "sha256//"+base64.StdEncoding.EncodeToString(pin)
		}, true},
		{"starttls-ca", func(c *ldap.Config) { c.StartTLS, c.CAPEM = true, dc.CAPEM }, true},
		{"starttls-pin", func(c *ldap.Config) { c.StartTLS, c.Pin = true, dc.SPKIPin }, true},
		{"bind-dn", func(c *ldap.Config) { c.BindDN = dc.AdminDN }, false},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			cfg := adminConfig(dc)
			tc.cfg(&cfg)
			info, err := testConn(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if info.DefaultNamingContext != dc.BaseDN || info.TLS != tc.tls {
				t.Errorf("info %+v, want base %s tls %v", info, dc.BaseDN, tc.tls)
			}
		})
	}
	bad := []struct {
		name string
		cfg  func(*ldap.Config)
		is   error
		msg  string
	}{
		{"wrong-pin", func(c *ldap.Config) { c.URL, c.Pin = dc.LDAPSURL, wrong },
			ldap.ErrPin, "does not match the pin"},
		{"starttls-wrong-pin", func(c *ldap.Config) { c.StartTLS, c.Pin = true, wrong },
			ldap.ErrPin, "does not match the pin"},
		{"unknown-ca", func(c *ldap.Config) { c.URL = dc.LDAPSURL },
			ldap.ErrConnect, "certificate signed by unknown authority"},
		{"wrong-name", func(c *ldap.Config) {
			c.URL, c.CAPEM, c.ServerName = dc.LDAPSURL, dc.CAPEM, "other.lab.test"
		}, ldap.ErrConnect, "certificate is valid for"},
		{"wrong-password", func(c *ldap.Config) { c.Password = "Not-the-password-42" },
			ldap.ErrBind, "failed: invalid credentials (check the password)"},
		// Samba has no "sicily" NTLM bind (the one go-ldap and AD speak): it hangs up, and
		// the error says what to do instead.
		{"ntlm-unsupported", func(c *ldap.Config) {
			c.NTLMDomain, c.BindDN = dc.Domain, dc.AdminUser
		}, ldap.ErrBind, "may not support NTLM binds"},
		{"no-server", func(c *ldap.Config) { c.URL = "ldap://127.0.0.1:1" },
			ldap.ErrConnect, "connect failed"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cfg := adminConfig(dc)
			tc.cfg(&cfg)
			_, err := testConn(t, cfg)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want %v containing %q", err, tc.is, tc.msg)
			}
			if strings.Contains(err.Error(), cfg.Password) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error leaks the password or spans lines: %v", err)
			}
			t.Log(err)
		})
	}
}
