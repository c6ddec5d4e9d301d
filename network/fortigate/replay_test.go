package fortigate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/network/internal/restapi/restapitest"
)

const testToken = "tk-9f8e7d6c5b4a3928fortigate"

// fixtureFiles maps each endpoint to its recorded response under testdata/fortios-7.2.
var fixtureFiles = map[string]string{
	pathStatus:     "monitor_system_status.json",
	pathHA:         "cmdb_system_ha.json",
	pathInterfaces: "cmdb_system_interface.json",
	pathAdmins:     "cmdb_system_admin.json",
	pathPolicies:   "cmdb_firewall_policy.json",
	pathARP:        "monitor_network_arp.json",
	pathDHCP:       "monitor_system_dhcp.json",
}

// replay is a FortiGate stand-in over TLS on loopback: it checks the bearer token like the
// device does and serves the fixture for each path, unless an override takes the path.
type replay struct{ *restapitest.Replay }

func newReplay(t *testing.T) replay {
	t.Helper()
	return replay{restapitest.NewReplay(t, "FGT60FTK22000001", serveFixture)}
}

// newTLSServer starts h over TLS on loopback with a certificate of its own.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	return restapitest.NewTLSServer(t, "FGT60FTK22000001", h)
}

func serveFixture(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Authorization") != "Bearer "+testToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	name, ok := fixtureFiles[req.URL.Path]
	if !ok {
		name = "error_404.json"
	}
	body, err := os.ReadFile(filepath.Join("testdata", "fortios-7.2", name))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
	}
	_, _ = w.Write(body)
}

// caFile writes the server's certificate as PEM, as an operator would export it.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	return restapitest.CAFile(t, srv, "fortigate-ca.pem")
}

func (r replay) options(t *testing.T) Options {
	return Options{
		BaseURL:         r.Server.URL,
		Token:           testToken,
		CAFile:          caFile(t, r.Server),
		BaselineVersion: "7.2.8",
		MaxRetryWait:    50 * time.Millisecond,
	}
}

func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// wantConfig is the exact Config the fixtures describe.
func wantConfig() *Config {
	return &Config{
		Hostname: "FGT-HQ-01",
		Model:    "FortiGate-60F",
		Version:  "7.2.5",
		Build:    1517,
		Serial:   "FGT60FTK22000001",
		HAMode:   "a-p",
		Interfaces: []Interface{
			{Name: "wan1", Role: "wan", IP: "203.0.113.10/29", Status: "up",
				AllowAccess: []string{"ping", "https", "ssh", "fgfm"}},
			{Name: "internal", Role: "lan", IP: "192.168.1.99/24", Status: "up",
				AllowAccess: []string{"ping", "https", "ssh", "http", "telnet"}},
			{Name: "dmz", Role: "dmz", IP: "10.10.10.1/24", Status: "down",
				AllowAccess: []string{"ping"}},
			{Name: "ssl.root", Role: "undefined", IP: "", Status: "up"},
		},
		Admins: []Admin{
			{Name: "admin", Profile: "super_admin"},
			{Name: "netops", Profile: "prof_admin", TwoFactor: true, TrustedHosts: []string{
				"192.168.1.0/24", "10.99.0.5/32", "2001:db8:10::/48"}},
			{Name: "auditor", Profile: "read_only", TwoFactor: true,
				TrustedHosts: []string{"172.16.5.0/24"}},
		},
		Policies: []Policy{
			{ID: 1, Name: "LAN-to-WAN", Status: "enable", Action: "accept",
				SrcIntf: []string{"internal"}, DstIntf: []string{"wan1"},
				SrcAddr: []string{"all"}, DstAddr: []string{"all"}, Service: []string{"ALL"},
				Schedule: "always", LogTraffic: "all", UTMStatus: "enable"},
			{ID: 7, Name: "WAN-RDP-in", Status: "enable", Action: "accept",
				SrcIntf: []string{"wan1"}, DstIntf: []string{"internal"},
				SrcAddr: []string{"all"}, DstAddr: []string{"VIP-RDP"},
				Service: []string{"RDP", "PING"}, Schedule: "always", LogTraffic: "disable",
				UTMStatus: "disable"},
			{ID: 3, Name: "", Status: "disable", Action: "deny",
				SrcIntf: []string{"dmz"}, DstIntf: []string{"internal", "wan1"},
				SrcAddr: []string{"DMZ-net"}, DstAddr: []string{"all"},
				Service: []string{"ALL"}, Schedule: "weekdays", LogTraffic: "utm",
				UTMStatus: "disable"},
		},
		BaselineVersion: "7.2.8",
		Addresses: []Address{
			{IP: "192.168.1.20", MAC: "00:1a:2b:3c:4d:5e", Interface: "internal",
				Sources: []string{"arp"}},
			{IP: "192.168.1.110", MAC: "3c:22:fb:01:02:03", Hostname: "LAPTOP-ACCT-07",
				Interface: "internal", Sources: []string{"arp", "dhcp"}},
			{IP: "192.168.1.150", MAC: "00:80:77:12:34:56", Hostname: "BRN-PRINTER",
				Interface: "internal", Sources: []string{"dhcp"}},
			{IP: "203.0.113.9", MAC: "e8:1c:ba:aa:bb:cc", Interface: "wan1",
				Sources: []string{"arp"}},
		},
		BelowBaseline: true,
		VDOM:          "root",
	}
}

func diffJSON(t *testing.T, got, want any) {
	t.Helper()
	restapitest.DiffJSON(t, got, want)
}

func TestCollectHappy(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	c := newClient(t, r.options(t))
	cfg, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	diffJSON(t, cfg, wantConfig())
	if q := r.Query(pathPolicies); !strings.Contains(q, "format=policyid") {
		t.Errorf("policy request did not limit fields: %q", q)
	}
}

func TestCollectVDOM(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	o := r.options(t)
	o.VDOM = "customer-a"
	cfg, err := newClient(t, o).Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if cfg.VDOM != "customer-a" {
		t.Errorf("VDOM = %q", cfg.VDOM)
	}
	for _, p := range []string{pathStatus, pathPolicies, pathARP} {
		if q := r.Query(p); !strings.Contains(q, "vdom=customer-a") {
			t.Errorf("%s query %q lacks the VDOM", p, q)
		}
	}
}

func TestTest(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	st, err := newClient(t, r.options(t)).Test(context.Background())
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	want := Status{Hostname: "FGT-HQ-01", Model: "FortiGate-60F", Version: "7.2.5",
		Build: 1517, Serial: "FGT60FTK22000001", VDOM: "root"}
	if st != want {
		t.Errorf("Test = %+v, want %+v", st, want)
	}
	if n := r.Count(pathPolicies); n != 0 {
		t.Errorf("Test read the policy table %d times", n)
	}
}

// truncated declares a body longer than it sends, then drops the connection.
func truncated(body string) http.HandlerFunc { return restapitest.Truncated([]byte(body)) }

func jsonInt(n int) string { return strconv.Itoa(n) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fortios-7.2", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCollectErrors(t *testing.T) {
	t.Parallel()
	htmlPage := fixture(t, "error_page.html")
	policies := fixture(t, "cmdb_firewall_policy.json")
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	cases := []struct {
		name     string
		path     string
		handler  http.HandlerFunc
		opts     func(*Options)
		fatal    bool   // Collect returns no Config
		table    string // the table named in PartialReasons
		sentinel error
		contains string
		hits     int // requests expected on path; 0 = do not check
	}{
		{name: "401 on status", path: pathStatus, handler: status(401), fatal: true,
			sentinel: ErrAuth, contains: "fortigate: API token rejected (401) — check the " +
				"token and its trusted hosts"},
		{name: "403 on admins", path: pathAdmins, handler: status(403), table: "admins",
			sentinel: ErrAuth, contains: "API token rejected (403)"},
		{name: "html error page", path: pathInterfaces, table: "interfaces",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(500)
				_, _ = w.Write([]byte(htmlPage))
			},
			sentinel: ErrNotJSON,
			contains: "/api/v2/cmdb/system/interface answered HTTP 500 with text/html"},
		{name: "html with 200", path: pathHA, table: "ha",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte(htmlPage))
			},
			sentinel: ErrNotJSON, contains: "text/html"},
		{name: "json content type, html body", path: pathARP, table: "arp",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(htmlPage))
			},
			contains: "invalid character '<'"},
		{name: "404 table", path: pathHA, table: "ha",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(404)
				_, _ = w.Write([]byte(fixture(t, "error_404.json")))
			},
			sentinel: ErrAPI, contains: "HTTP 404"},
		{name: "status error in 200 envelope", path: pathDHCP, table: "dhcp",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"http_method":"GET","results":[],"status":"error",` +
					`"http_status":424,"error":-651}`))
			},
			sentinel: ErrAPI, contains: "FortiOS error -651"},
		{name: "truncated policies", path: pathPolicies, table: "policies",
			handler: truncated(policies), contains: "body cut short"},
		{name: "truncated status", path: pathStatus, fatal: true,
			handler:  truncated(fixture(t, "monitor_system_status.json")),
			contains: "body cut short"},
		{name: "body over cap", path: pathPolicies, table: "policies",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				pad := strings.Repeat(" ", 20000)
				_, _ = w.Write([]byte(strings.Replace(policies, "{", "{"+pad, 1)))
			},
			opts:     func(o *Options) { o.MaxBody = 16384 },
			sentinel: ErrTooLarge, contains: "16384-byte cap"},
		{name: "content length over cap", path: pathPolicies, table: "policies",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "999999")
				_, _ = w.Write([]byte(policies))
			},
			opts:     func(o *Options) { o.MaxBody = 16384 },
			sentinel: ErrTooLarge, contains: "announces 999999 bytes"},
		{name: "429 forever", path: pathPolicies, table: "policies", handler: status(429),
			opts:     func(o *Options) { o.MaxRetries = 2 },
			sentinel: ErrRateLimited, contains: "after 2 retries", hits: 3},
		{name: "redirect to login", path: pathStatus, fatal: true,
			handler: func(w http.ResponseWriter, req *http.Request) {
				http.Redirect(w, req, "/login", http.StatusFound)
			},
			contains: `redirected (302) to "/login"`},
		{name: "trailing garbage", path: pathAdmins, table: "admins",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"results":[],"status":"success"}{"x":1}`))
			},
			contains: "data after the response object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplay(t)
			if tc.handler != nil {
				r.Override(tc.path, tc.handler)
			}
			o := r.options(t)
			if tc.opts != nil {
				tc.opts(&o)
			}
			cfg, err := newClient(t, o).Collect(context.Background())
			restapitest.CheckError(t, err, restapitest.ErrorWant{Secrets: []string{testToken},
				Forbidden: "\n", Sentinel: tc.sentinel, Contains: tc.contains})
			r.CheckHits(t, tc.path, tc.hits)
			if tc.fatal {
				if cfg != nil {
					t.Errorf("Config returned on a fatal error: %+v", cfg)
				}
				return
			}
			if !errors.Is(err, ErrPartial) {
				t.Fatalf("error %v does not wrap ErrPartial", err)
			}
			if cfg == nil || !cfg.Partial || len(cfg.PartialReasons) != 1 ||
				!strings.Contains(cfg.PartialReasons[tc.table], tc.contains) {
				t.Fatalf("partial config: %+v", cfg)
			}
			// Every other table is still there, exactly.
			want := wantConfig()
			want.Partial = true
			want.PartialReasons = cfg.PartialReasons
			switch tc.table {
			case "ha":
				want.HAMode = ""
			case "interfaces":
				want.Interfaces = nil
			case "admins":
				want.Admins = nil
			case "policies":
				want.Policies = nil
			case "arp":
				want.Addresses = []Address{wantConfig().Addresses[1], wantConfig().Addresses[2]}
				want.Addresses[0].Sources = []string{"dhcp"}
			case "dhcp":
				want.Addresses = []Address{wantConfig().Addresses[0],
					wantConfig().Addresses[1], wantConfig().Addresses[3]}
				want.Addresses[1].Hostname = ""
				want.Addresses[1].Sources = []string{"arp"}
			}
			diffJSON(t, cfg, want)
		})
	}
}

func TestRetryAfterThenSuccess(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	var once sync.Once
	r.Override(pathStatus, func(w http.ResponseWriter, req *http.Request) {
		first := false
		once.Do(func() { first = true })
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(fixture(t, "monitor_system_status.json")))
	})
	o := r.options(t)
	o.MaxRetryWait = 5 * time.Second // the cap must not shorten a 1 s Retry-After
	st, err := newClient(t, o).Test(context.Background())
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if st.Hostname != "FGT-HQ-01" {
		t.Errorf("hostname %q", st.Hostname)
	}
	r.CheckRetriedAfter(t, pathStatus, 900*time.Millisecond) // Retry-After: 1
}

func TestTLSTrust(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	other := newTLSServer(t, http.NotFoundHandler())
	sum := sha256.Sum256(r.Server.Certificate().Raw)
	pin := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(pin); i += 2 {
		colons = append(colons, strings.ToUpper(pin[i:i+2]))
	}
	wrong := sha256.Sum256(other.Certificate().Raw)
	cases := []struct {
		name   string
		ca     string
		pin    string
		wantOK bool
	}{
		{"right CA", caFile(t, r.Server), "", true},
		{"wrong CA", caFile(t, other), "", false},
		{"system roots only", "", "", false},
		{"right pin", "", pin, true},
		{"right pin with colons", "", strings.Join(colons, ":"), true},
		{"wrong pin", "", hex.EncodeToString(wrong[:]), false},
		{"right CA, wrong pin", caFile(t, r.Server), hex.EncodeToString(wrong[:]), false},
		{"wrong CA, right pin", caFile(t, other), pin, false},
		{"right CA and pin", caFile(t, r.Server), pin, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Options{BaseURL: r.Server.URL, Token: testToken, CAFile: tc.ca, PinSHA256: tc.pin}
			_, err := newClient(t, o).Test(context.Background())
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Test: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTLS) {
				t.Fatalf("error %v does not wrap ErrTLS", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

// TestTokenNeverLeaks drives every failure a device can cause, including one that echoes
// the request headers back, and checks errors, debug logs and formatted options.
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	echo := func(ct string, code int) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"status":"error","http_status":` + jsonInt(code) +
				`,"echo":"` + req.Header.Get("Authorization") + `"}`))
		}
	}
	r.Override(pathHA, echo("text/html", 500))
	r.Override(pathInterfaces, echo("application/json", 400))
	r.Override(pathAdmins, echo("application/json", 200))
	r.Override(pathPolicies, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Location", "/login?token="+req.Header.Get("Authorization"))
		w.WriteHeader(http.StatusFound)
	})
	r.Override(pathARP, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(429) })
	var logs restapitest.Logs
	o := r.options(t)
	o.Logger = logs.Logger()
	cfg, err := newClient(t, o).Collect(context.Background())
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("Collect: %v", err)
	}
	logged := logs.String()
	if !strings.Contains(logged, "fortigate request") {
		t.Errorf("no debug log lines: %q", logged)
	}
	js, _ := json.Marshal(cfg)
	optJSON, _ := json.Marshal(o)
	for what, s := range map[string]string{
		"error":          err.Error(),
		"logs":           logged,
		"config":         string(js),
		"options %v":     sprintf("%v", o),
		"options %+v":    sprintf("%+v", o),
		"options %#v":    sprintf("%#v", o),
		"options json":   string(optJSON),
		"token %s":       sprintf("%s", o.Token),
		"token %q":       sprintf("%q", o.Token),
		"token %x":       sprintf("%x", o.Token),
		"invalid option": errString(Options{BaseURL: "http://x", Token: testToken}.Validate()),
	} {
		if strings.Contains(s, testToken) {
			t.Errorf("%s leaks the token: %s", what, s)
		}
	}
}
