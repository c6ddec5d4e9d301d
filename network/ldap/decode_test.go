package ldap

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestDecodeFileTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"0", time.Time{}},
		{"9223372036854775807", time.Time{}}, // never
		{"-1", time.Time{}},
		{"junk", time.Time{}},
		{"", time.Time{}},
		{"116444736000000000", time.Unix(0, 0).UTC()},
		{"133497504000000000", time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)},
		{" 133497504000000001 ", time.Date(2024, 1, 15, 0, 0, 0, 100, time.UTC)},
	} {
		if got := DecodeFileTime(tc.in); !got.Equal(tc.want) {
			t.Errorf("DecodeFileTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	now := time.Now().UTC().Truncate(100 * time.Nanosecond)
	if got := DecodeFileTime(itoa(EncodeFileTime(now))); !got.Equal(now) {
		t.Errorf("round trip %v -> %v", now, got)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestDecodeGeneralizedTime(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"20240102030405.0Z", want},
		{"20240102030405Z", want},
		{"20240102050405+0200", want},
		{"20240102030405,0Z", want},
		{"20240102030405.123Z", want.Add(123 * time.Millisecond)},
		{"202401020304Z", want.Add(-5 * time.Second)},
		{"not a time", time.Time{}},
		{"", time.Time{}},
	} {
		if got := DecodeGeneralizedTime(tc.in); !got.Equal(tc.want) {
			t.Errorf("DecodeGeneralizedTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestDecodeInterval(t *testing.T) {
	for _, tc := range []struct {
		in         string
		days, mins int
	}{
		{"-36288000000000", 42, 60480},  // Samba's default maxPwdAge
		{"-18000000000", 0, 30},         // 30 minutes
		{"-9223372036854775808", 0, -1}, // never
		{"0", 0, -1},                    // maxPwdAge 0: never
		{"18000000000", 0, 30},          // positive: magnitude
		{"junk", 0, 0},
	} {
		i := DecodeInterval(tc.in)
		if i.Days() != tc.days || i.Minutes() != tc.mins {
			t.Errorf("DecodeInterval(%q) = %d days %d mins, want %d %d", tc.in, i.Days(),
				i.Minutes(), tc.days, tc.mins)
		}
	}
}

func TestSID(t *testing.T) {
	for _, tc := range []struct {
		sid string
		rid uint32
	}{
		{"S-1-5-21-2231798228-739168149-3343836522-512", 512},
		{"S-1-5-32-544", 544},
		{"S-1-1-0", 0},
		{"S-1-0xFFFFFFFFFFFF-7", 7},
	} {
		b, err := EncodeSID(tc.sid)
		if err != nil {
			t.Fatalf("EncodeSID(%s): %v", tc.sid, err)
		}
		got, err := DecodeSID(b)
		if err != nil || got != tc.sid {
			t.Errorf("DecodeSID(EncodeSID(%s)) = %s, %v", tc.sid, got, err)
		}
		if r := RID(tc.sid); r != tc.rid {
			t.Errorf("RID(%s) = %d, want %d", tc.sid, r, tc.rid)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {1, 2, 0, 0, 0, 0, 0, 5}, {1, 16}} {
		if _, err := DecodeSID(bad); err == nil {
			t.Errorf("DecodeSID(%x) accepted", bad)
		}
	}
	for _, bad := range []string{"", "S-1", "X-1-5", "S-1-5-x", "S-1-5-4294967296"} {
		if _, err := EncodeSID(bad); err == nil {
			t.Errorf("EncodeSID(%q) accepted", bad)
		}
	}
}

func TestDecodeGUID(t *testing.T) {
	b := []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
		0xdd, 0xee, 0xff}
	got, err := DecodeGUID(b)
	if want := "00112233-4455-6677-8899-aabbccddeeff"; err != nil || got != want {
		t.Errorf("DecodeGUID = %s, %v, want %s", got, err, want)
	}
	if _, err := DecodeGUID(b[:15]); err == nil {
		t.Error("short GUID accepted")
	}
}

func TestParsePin(t *testing.T) {
	hexPin := strings.Repeat("0a", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{hexPin, true},
		{strings.ToUpper(hexPin), true},
		{strings.TrimSuffix(strings.Repeat("0a:", 32), ":"), true},
		{"sha256//CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo=", true},
		{"CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo", true},
		{"sha256:" + hexPin, true},
		{"", false},
		{"abcd", false},
		{strings.Repeat("zz", 32), false},
	} {
		b, err := parsePin(tc.in)
		if (err == nil) != tc.ok || (tc.ok && b[0] != 0x0a) {
			t.Errorf("parsePin(%q) = %x, %v; want ok %v", tc.in, b, err, tc.ok)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"scheme", Config{URL: "http://dc"}, "use ldap:// or ldaps://"},
		{"no host", Config{URL: "ldap://"}, "is not ldap://host"},
		{"starttls on ldaps", Config{URL: "ldaps://dc", StartTLS: true}, "StartTLS is for"},
		{"no password", Config{URL: "ldap://dc", BindDN: "a@b"}, "needs a password"},
		{"ntlm no user", Config{URL: "ldap://dc", NTLMDomain: "X"}, "needs a user name"},
		{"bad pin", Config{URL: "ldaps://dc", Pin: "nope"}, "pin is not a SHA-256"},
		{"bad ca", Config{URL: "ldaps://dc", CAPEM: []byte("x")}, "no PEM certificate"},
		{"missing ca", Config{URL: "ldaps://dc", CAFile: "/nonexistent/ca.pem"}, "CA file"},
	} {
		_, err := New(tc.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err %v, want ErrConfig with %q", tc.name, err, tc.msg)
		}
	}
	c, err := New(Config{URL: "ldaps://dc.corp.example"})
	if err != nil || c.srv.addr != "dc.corp.example:636" || c.cfg.PageSize != 500 ||
		c.cfg.StaleDays != 90 {
		t.Errorf("defaults: %+v %+v %v", c.srv, c.cfg, err)
	}
}

func TestBindErrors(t *testing.T) {
	for _, tc := range []struct {
		code uint16
		diag string
		ntlm bool
		want string
	}{
		{49, "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, " +
			"data 52e, v4563", false, "invalid credentials (check the password)"},
		{49, "80090308: LdapErr: DSID-0C09044E, data 775, v4563", false, "locked out"},
		{49, "80090308: LdapErr: data 532, v4563", false, "password has expired"},
		{49, "", false, "invalid credentials"},
		{8, "", false, "use ldaps:// or StartTLS"},
		{50, "no rights", false, "Insufficient Access Rights"},
	} {
		err := bindError("svc@corp", tc.ntlm, goldap.NewError(tc.code, errors.New(tc.diag)))
		if !errors.Is(err, ErrBind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("code %d %q: %v, want %q", tc.code, tc.diag, err, tc.want)
		}
	}
	err := bindError(`X\u`, true, errors.New("unable to read LDAP response packet: EOF"))
	if !strings.Contains(err.Error(), "may not support NTLM") {
		t.Errorf("ntlm hang-up: %v", err)
	}
}

// TestNonUTF8Entry: invalid UTF-8 in any attribute becomes U+FFFD, and the Directory still
// marshals to JSON.
func TestNonUTF8Entry(t *testing.T) {
	col := &collection{d: &Directory{StaleDays: 90}, privOf: map[string][]string{},
		privByRID: map[uint32][]string{}}
	e := goldap.NewEntry("CN=bad\xff,DC=x", map[string][]string{
		"sAMAccountName":       {"b\xc3\x28d"},
		"displayName":          {"\xfe\xff\x00ok"},
		"memberOf":             {"CN=g\x80,DC=x"},
		"servicePrincipalName": {"HTTP/\xffhost"},
		"userAccountControl":   {"512"},
		"objectSid":            {"\x01\x02short"},
		"objectGUID":           {"\xff\xff"},
		"whenCreated":          {"\xff"},
		"lastLogonTimestamp":   {"\xff"},
	})
	u := col.user(e, time.Now())
	for _, s := range append([]string{u.SAMAccountName, u.DisplayName, u.DistinguishedName},
		append(u.MemberOf, u.ServicePrincipals...)...) {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 kept: %q", s)
		}
	}
	if u.ObjectSID != "" || u.ObjectGUID != "" || !u.LastLogon.IsZero() || u.Builtin {
		t.Errorf("malformed binary values decoded: %+v", u)
	}
	c := col.computer(e, time.Now())
	col.d.Users, col.d.Computers = []User{u}, []Computer{c}
	if _, err := json.Marshal(col.d); err != nil {
		t.Fatal(err)
	}
}

func TestStale(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name                   string
		enabled                bool
		logon, created, pwdSet time.Time
		want                   bool
	}{
		{"recent logon", true, now.Add(-10 * day), now.Add(-900 * day), time.Time{}, false},
		{"old logon", true, now.Add(-91 * day), now.Add(-900 * day), now, true},
		{"disabled", false, now.Add(-400 * day), time.Time{}, time.Time{}, false},
		{"never, new", true, time.Time{}, now.Add(-5 * day), time.Time{}, false},
		{"never, old", true, time.Time{}, now.Add(-200 * day), now.Add(-150 * day), true},
		{"never, reset", true, time.Time{}, now.Add(-200 * day), now.Add(-1 * day), false},
		{"nothing known", true, time.Time{}, time.Time{}, time.Time{}, false},
	} {
		if got := stale(tc.enabled, tc.logon, tc.created, tc.pwdSet, now, 90); got != tc.want {
			t.Errorf("%s: stale = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDomainOfDN(t *testing.T) {
	for in, want := range map[string]string{
		"DC=corp,DC=example": "corp.example", "dc=LAB,dc=Test": "lab.test",
		"OU=x,DC=a": "a", "not a dn": "",
	} {
		if got := domainOfDN(in); got != want {
			t.Errorf("domainOfDN(%q) = %q, want %q", in, got, want)
		}
	}
}
