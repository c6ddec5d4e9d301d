package fortigate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/network/internal/restapi"
	"github.com/tenantra/tenantra/network/internal/restapi/restapitest"
)

// fuzzSeeds are the recorded responses plus hostile shapes: wrong types, deep nesting,
// truncation, duplicate keys, nulls and invalid UTF-8.
func fuzzSeeds(f *testing.F) {
	restapitest.AddFileSeeds(f, filepath.Join("testdata", "fortios-7.2", "*"))
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"results":null}`, `{"results":{}}`, `{"results":[null]}`,
		`{"results":[{"policyid":"x"}]}`, `{"results":[{"srcintf":"port1"}]}`,
		`{"results":[{"srcintf":[{"name":1}]}]}`, `{"results":[],"status":"error"}`,
		`{"results":[],"build":"12x"}`, `{"results":[],"http_status":404}`,
		`{"results":[{"ip":"10.0.0.1 255.0.255.0","mac":"\xff\xfe"}]}`,
		`{"results":[{"trusthost1":"1.2.3.4 255.255.255.255","two-factor":true}]}`,
		`{"results":[],"results":[{"policyid":1}]}`,
		`{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `,"results":[]}`,
		`{"results":[]} trailing`, `{"results":[]`, `{"results":[{"mode":"a-a"}]}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzDecoders feeds the same bytes to every response decoder: none may panic, and a
// decoder that succeeds returns results whose invariants hold.
func FuzzDecoders(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeStatus(bytes.NewReader(b))
		_, _ = decodeHA(bytes.NewReader(b))
		if ifs, err := decodeInterfaces(bytes.NewReader(b)); err == nil {
			for _, i := range ifs {
				for _, a := range i.AllowAccess {
					if a == "" || strings.ContainsAny(a, " \t\n") {
						t.Fatalf("allowaccess item %q", a)
					}
				}
			}
		}
		if admins, err := decodeAdmins(bytes.NewReader(b)); err == nil {
			for _, a := range admins {
				if len(a.TrustedHosts) > 20 {
					t.Fatalf("%d trusted hosts from 20 attributes", len(a.TrustedHosts))
				}
			}
		}
		_, _ = decodePolicies(bytes.NewReader(b))
		if addrs, err := decodeNeighbours(bytes.NewReader(b), "arp", pathARP); err == nil {
			for _, a := range addrs {
				if a.IP == "" {
					t.Fatal("address without IP")
				}
			}
		}
		// The cap holds for any body: a reader capped below its size never succeeds.
		if len(b) > 1 {
			cr := restapi.CapReader(bytes.NewReader(b), int64(len(b)-1), ErrTooLarge)
			if _, err := decodePolicies(cr); err == nil {
				t.Fatal("decoded more bytes than the cap allows")
			}
		}
	})
}

func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, want string
	}{
		{"empty", ``, "empty response"},
		{"list", `[]`, `want an object, found [`},
		{"deep nesting", `{"x":` + strings.Repeat("[", 100000) + `}`, "nested deeper"},
		{"results not a list", `{"results":{"policyid":1}}`, "want a list"},
		{"wrong type", `{"results":[{"policyid":"one"}]}`, "cannot unmarshal"},
		{"no results", `{"status":"success"}`, "without results"},
		{"error status", `{"results":[],"status":"error","http_status":500}`, "HTTP 500"},
		{"truncated", `{"results":[{"policyid":1},`, "unexpected EOF"},
		{"bad build", `{"results":[],"build":[1]}`, "want a scalar"},
	}
	for _, tc := range cases {
		_, err := decodePolicies(strings.NewReader(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestCappedReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size, limit int
		tooLarge    bool
	}{{10, 10, false}, {10, 9, true}, {0, 0, false}, {1, 0, true}, {100, 1000, false}} {
		cr := restapi.CapReader(bytes.NewReader(make([]byte, tc.size)), int64(tc.limit),
			ErrTooLarge)
		var err error
		buf := make([]byte, 3)
		for err == nil {
			_, err = cr.Read(buf)
		}
		if got := errors.Is(err, ErrTooLarge); got != tc.tooLarge {
			t.Errorf("size %d limit %d: err %v", tc.size, tc.limit, err)
		}
	}
}

func TestPrefixOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.168.1.99 255.255.255.0":   "192.168.1.99/24",
		"10.99.0.5 255.255.255.255":    "10.99.0.5/32",
		"0.0.0.0 0.0.0.0":              "0.0.0.0/0",
		"10.0.0.1 255.0.255.0":         "10.0.0.1 255.0.255.0", // not contiguous: kept
		"2001:db8:10::/48":             "2001:db8:10::/48",
		"::/0":                         "::/0",
		"10.1.2.3":                     "10.1.2.3",
		"":                             "",
		"  ":                           "",
		"garbage":                      "garbage",
		"1.2.3.4 255.255.255.0 extra":  "1.2.3.4 255.255.255.0 extra",
		"1.2.3.4 ffff:ffff::":          "1.2.3.4 ffff:ffff::",
		"172.16.5.0 255.255.255.0":     "172.16.5.0/24",
		"203.0.113.10 255.255.255.248": "203.0.113.10/29",
	} {
		if got := prefixOf(in); got != want {
			t.Errorf("prefixOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersionBelow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, baseline string
		below             bool
	}{
		{"7.2.5", "7.2.8", true},
		{"7.2.8", "7.2.8", false},
		{"7.4.0", "7.2.8", false},
		{"6.4.15", "7.0.0", true},
		{"v7.2.10", "7.2.9", false},
		{"7.2", "7.2.1", true},
		{"7.2.1", "", false},
		{"", "7.2.1", false},
		{"7.x", "7.2.1", false},
	} {
		if got := versionBelow(tc.version, tc.baseline); got != tc.below {
			t.Errorf("versionBelow(%q, %q) = %v", tc.version, tc.baseline, got)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	good := Options{BaseURL: "https://fw.example:8443", Token: "abc123"}
	cases := []struct {
		name string
		edit func(*Options)
		want string // "" = valid
	}{
		{"good", func(*Options) {}, ""},
		{"trailing slash", func(o *Options) { o.BaseURL = "https://10.0.0.1/" }, ""},
		{"http", func(o *Options) { o.BaseURL = "http://10.0.0.1" }, "needs https"},
		{"no host", func(o *Options) { o.BaseURL = "https://" }, "want https://host"},
		{"path", func(o *Options) { o.BaseURL = "https://fw/api/v2" }, "give only"},
		{"userinfo", func(o *Options) { o.BaseURL = "https://u:p@fw" }, "give only"},
		{"empty token", func(o *Options) { o.Token = "" }, "token is empty"},
		{"token with newline", func(o *Options) { o.Token = "abc\r\nX-Evil: 1" },
			"control characters"},
		{"pin ok", func(o *Options) { o.PinSHA256 = strings.Repeat("ab:", 31) + "ab" }, ""},
		{"pin short", func(o *Options) { o.PinSHA256 = "abcd" }, "64 hex digits"},
		{"vdom ok", func(o *Options) { o.VDOM = "cust_a-1" }, ""},
		{"vdom bad", func(o *Options) { o.VDOM = "root&x=1" }, "VDOM"},
		{"vdom long", func(o *Options) { o.VDOM = strings.Repeat("v", 32) }, "VDOM"},
		{"baseline ok", func(o *Options) { o.BaselineVersion = "7.2.8" }, ""},
		{"baseline bad", func(o *Options) { o.BaselineVersion = "seven" }, "dotted numbers"},
	}
	for _, tc := range cases {
		o := good
		tc.edit(&o)
		err := o.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	_, err := New(Options{BaseURL: "https://fw", Token: "t", CAFile: "/nonexistent"})
	if err == nil {
		t.Error("New accepted a missing CA file")
	}
	p := filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(p, []byte("not a certificate"), 0o600)
	if _, err := New(Options{BaseURL: "https://fw", Token: "t", CAFile: p}); err == nil ||
		!strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("New with a non-PEM CA file: %v", err)
	}
}
