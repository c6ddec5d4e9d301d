package omada

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/network/internal/restapi/restapitest"
)

const (
	testOmadacID = "de382a0e78f4deb681f3128c3e75dbd1"
	testClientID = "185586e0df424f5ea938de13cba91e01"
	testSecret   = "767372a5258a4fc1a03c57f3d071fc35"
	// fixtureToken is the accessToken in testdata/openapi-v1/token.json.
	fixtureToken = "AT-bjaJkIMIiekZY6NBufoQO4hdmJTswlwU"
)

// replay is an Omada controller stand-in over TLS on loopback: it grants the fixture token
// for the right client credentials, checks it on every call like the controller does, and
// serves the recorded responses, unless an override takes the path.
type replay struct{ *restapitest.Replay }

func newReplay(t *testing.T) replay {
	t.Helper()
	return replay{restapitest.NewReplay(t, "omada-controller", serveFixture)}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "openapi-v1", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(body)
}

func serveFixture(w http.ResponseWriter, req *http.Request) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "openapi-v1", name))
		if err != nil {
			return []byte(`{"errorCode":-1001,"msg":"Invalid request parameters."}`)
		}
		return b
	}
	if req.URL.Path == pathToken {
		var body map[string]string
		_ = json.NewDecoder(req.Body).Decode(&body)
		ok := req.Method == http.MethodPost &&
			req.URL.Query().Get("grant_type") == "client_credentials" &&
			body["omadacId"] == testOmadacID && body["client_id"] == testClientID &&
			body["client_secret"] == testSecret
		if !ok {
			writeJSON(w, read("token_invalid_client.json"))
			return
		}
		writeJSON(w, read("token.json"))
		return
	}
	if req.Header.Get("Authorization") != "AccessToken="+fixtureToken {
		writeJSON(w, []byte(`{"errorCode":-44113,"msg":"The access token is Invalid."}`))
		return
	}
	prefix := "/openapi/v1/" + testOmadacID + "/sites"
	rest, found := strings.CutPrefix(req.URL.Path, prefix)
	if !found {
		http.NotFound(w, req)
		return
	}
	pageNo := req.URL.Query().Get("page")
	switch parts := strings.Split(strings.Trim(rest, "/"), "/"); {
	case rest == "":
		writeJSON(w, read("sites_page"+pageNo+".json"))
	case len(parts) == 2 && pageNo == "1":
		writeJSON(w, read(parts[1]+"_"+parts[0]+".json"))
	default:
		writeJSON(w, []byte(`{"errorCode":0,"msg":"Success.","result":{"totalRows":0,`+
			`"currentPage":2,"currentSize":1000,"data":[]}}`))
	}
}

// newTLSServer starts h over TLS on loopback with a certificate of its own.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	return restapitest.NewTLSServer(t, "omada-controller", h)
}

func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	return restapitest.CAFile(t, srv, "omada-ca.pem")
}

func (r replay) options(t *testing.T) Options {
	return Options{
		BaseURL:      r.Server.URL,
		OmadacID:     testOmadacID,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		CAFile:       caFile(t, r.Server),
		PageSize:     2, // the site list spans two pages
		MaxRetryWait: 50 * time.Millisecond,
	}
}

func newController(t *testing.T, o Options) *Controller {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

const (
	siteHQ     = "640effd1b3f2ae5b912275ec"
	siteWH     = "640f0a22b3f2ae5b91227a10"
	siteLyon   = "64100c33b3f2ae5b91227c77"
	sitesPath  = "/openapi/v1/" + testOmadacID + "/sites"
	hqDevices  = sitesPath + "/" + siteHQ + "/devices"
	hqClients  = sitesPath + "/" + siteHQ + "/clients"
	whClients  = sitesPath + "/" + siteWH + "/clients"
	whDevices  = sitesPath + "/" + siteWH + "/devices"
	lyonClient = sitesPath + "/" + siteLyon + "/clients"
)

// wantInventory is the exact Inventory the fixtures describe.
func wantInventory() *Inventory {
	return &Inventory{
		Sites: []Site{
			{ID: siteHQ, Name: "HQ", Region: "United States", TimeZone: "America/New_York",
				Scenario: "Office"},
			{ID: siteWH, Name: "Warehouse", Region: "United States",
				TimeZone: "America/Chicago", Scenario: "Warehouse"},
			{ID: siteLyon, Name: "Branch-Lyon", Region: "France", TimeZone: "Europe/Paris",
				Scenario: "Shop"},
		},
		Devices: []Device{
			{Site: "HQ", SiteID: siteHQ, Name: "HQ-Gateway", Model: "ER605",
				Firmware: "2.2.3 Build 20231201 Rel.32918", Status: "connected",
				Type: "gateway", MAC: "3c:52:a1:00:11:22", IP: "192.168.0.1",
				Serial: "22312Z9000123"},
			{Site: "HQ", SiteID: siteHQ, Name: "HQ-Core-SW", Model: "TL-SG3428",
				Firmware: "2.0.11 Build 20230807 Rel.59374", Status: "connected",
				Type: "switch", MAC: "3c:52:a1:00:33:44", IP: "192.168.0.2",
				Serial: "22417X8000456"},
			{Site: "HQ", SiteID: siteHQ, Name: "HQ-AP-Lobby", Model: "EAP650",
				Firmware: "1.0.10 Build 20230420 Rel. 64125", Status: "disconnected",
				Type: "ap", MAC: "3c:52:a1:00:55:66", IP: "192.168.0.21",
				Serial: "22A05Y7000789"},
			{Site: "Warehouse", SiteID: siteWH, Name: "WH-AP-Dock", Model: "EAP225-Outdoor",
				Firmware: "5.1.0 Build 20220926 Rel. 60233", Status: "heartbeat-missed",
				Type: "ap", MAC: "3c:52:a1:00:77:88", IP: "10.20.0.31",
				Serial: "21B11W6000321"},
		},
		Clients: []Client{
			{Site: "HQ", SiteID: siteHQ, MAC: "aa:bb:cc:00:00:01", IP: "192.168.0.105",
				Name: "Reception-PC", HostName: "DESKTOP-7Q2LM4K", Vendor: "Dell Inc."},
			{Site: "HQ", SiteID: siteHQ, MAC: "f0:18:98:12:34:56", IP: "192.168.0.177",
				Name: "iPhone", HostName: "iPhone", Vendor: "Apple, Inc.", Wireless: true},
		},
	}
}

func diffJSON(t *testing.T, got, want any) {
	t.Helper()
	restapitest.DiffJSON(t, got, want)
}

func TestCollectHappy(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	inv, err := newController(t, r.options(t)).Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	diffJSON(t, inv, wantInventory())
	if n := r.Count(pathToken); n != 1 {
		t.Errorf("token requested %d times, want 1", n)
	}
	if n := r.Count(sitesPath); n != 2 {
		t.Errorf("site list read in %d pages, want 2", n)
	}
}

func TestTest(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	n, err := newController(t, r.options(t)).Test(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("Test = %d, %v; want 3 sites", n, err)
	}
	if r.Count(hqDevices) != 0 {
		t.Error("Test read a device table")
	}
}

func TestTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	var mu sync.Mutex
	calls := 0
	r.Override(hqDevices, func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			writeJSON(w, fixture(t, "token_expired.json"))
			return
		}
		writeJSON(w, fixture(t, "devices_"+siteHQ+".json"))
	})
	inv, err := newController(t, r.options(t)).Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	diffJSON(t, inv, wantInventory())
	if n := r.Count(pathToken); n != 2 {
		t.Errorf("token requested %d times, want 2 (one refresh)", n)
	}
}

func TestRetryAfterThenSuccess(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	var once sync.Once
	r.Override(sitesPath, func(w http.ResponseWriter, req *http.Request) {
		first := false
		once.Do(func() { first = true })
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		writeJSON(w, fixture(t, "sites_page1.json"))
	})
	o := r.options(t)
	o.MaxRetryWait = 5 * time.Second
	n, err := newController(t, o).Test(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("Test = %d, %v", n, err)
	}
	r.CheckRetriedAfter(t, sitesPath, 900*time.Millisecond) // Retry-After: 1
}

// truncated declares a body longer than it sends, then drops the connection.
func truncated(body []byte) http.HandlerFunc { return restapitest.Truncated(body) }

func TestCollectErrors(t *testing.T) {
	t.Parallel()
	html := []byte("<!DOCTYPE html><html><head><title>Omada Controller</title></head>" +
		"<body>Login</body></html>")
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	serve := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, fixture(t, name)) }
	}
	cases := []struct {
		name     string
		path     string
		handler  http.HandlerFunc
		opts     func(*Options)
		fatal    bool
		key      string // PartialReasons key of the failed table
		sentinel error
		contains string
		hits     int
	}{
		{name: "invalid client", path: pathToken, handler: serve("token_invalid_client.json"),
			fatal: true, sentinel: ErrAuth,
			contains: "credentials rejected (-44106) — the client id or client secret"},
		{name: "wrong secret", opts: func(o *Options) { o.ClientSecret = "nope" },
			fatal: true, sentinel: ErrAuth, contains: "-44106"},
		{name: "token endpoint 401", path: pathToken, handler: status(401), fatal: true,
			sentinel: ErrAuth, contains: "(HTTP 401)"},
		{name: "expired forever", path: hqDevices, handler: serve("token_expired.json"),
			key: "devices/HQ", sentinel: ErrAuth, contains: "(-44112)", hits: 2},
		{name: "http 401 forever", path: hqClients, handler: status(401),
			key: "clients/HQ", sentinel: ErrAuth, contains: "(HTTP 401)", hits: 2},
		{name: "site forbidden", path: whClients, handler: serve("site_forbidden.json"),
			key: "clients/Warehouse", sentinel: ErrForbidden, contains: "(-1505: The current"},
		{name: "other error code", path: whDevices,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, []byte(`{"errorCode":-39002,"msg":"Site not exist.\n\u001b[2J"}`))
			},
			key: "devices/Warehouse", sentinel: ErrAPI,
			contains: "errorCode -39002: Site not exist."},
		{name: "html login page", path: hqDevices,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write(html)
			},
			key: "devices/HQ", sentinel: ErrNotJSON,
			contains: "answered HTTP 200 with text/html"},
		{name: "html error 502", path: sitesPath, fatal: true,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				_, _ = w.Write(html)
			},
			sentinel: ErrNotJSON, contains: "HTTP 502 with text/html"},
		{name: "truncated devices", path: hqDevices, key: "devices/HQ",
			handler:  truncated(fixture(t, "devices_"+siteHQ+".json")),
			contains: "body cut short"},
		{name: "body over cap", path: hqClients, key: "clients/HQ",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				pad := strings.Repeat(" ", 10000)
				writeJSON(w, append([]byte("{"+pad), fixture(t, "clients_"+siteHQ+".json")[1:]...))
			},
			opts:     func(o *Options) { o.MaxBody = 8192 },
			sentinel: ErrTooLarge, contains: "8192-byte cap"},
		{name: "absurd totalRows", path: whDevices, key: "devices/Warehouse",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, []byte(`{"errorCode":0,"result":{"totalRows":9999999999,`+
					`"data":[]}}`))
			},
			sentinel: ErrTooLarge, contains: "over the cap of"},
		{name: "endless pages", path: whDevices, key: "devices/Warehouse",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, []byte(`{"errorCode":0,"result":{"totalRows":20,`+
					`"data":[{"mac":"AA-AA-AA-AA-AA-AA"}]}}`))
			},
			opts:     func(o *Options) { o.MaxRows = 20 },
			sentinel: ErrAPI, contains: "still paging after 12 pages", hits: 12},
		{name: "429 forever", path: hqDevices, key: "devices/HQ", handler: status(429),
			opts:     func(o *Options) { o.MaxRetries = 2 },
			sentinel: ErrRateLimited, contains: "after 2 retries", hits: 3},
		{name: "hostile site id", path: sitesPath,
			handler: func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Query().Get("page") != "1" {
					writeJSON(w, fixture(t, "sites_page2.json"))
					return
				}
				writeJSON(w, []byte(strings.Replace(string(fixture(t, "sites_page1.json")),
					siteWH, "../../../admin", 1)))
			},
			key: "devices/Warehouse", sentinel: ErrAPI, contains: "unusable id"},
		{name: "wrong result type", path: hqClients, key: "clients/HQ",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, []byte(`{"errorCode":0,"result":{"totalRows":1,"data":{"a":1}}}`))
			},
			sentinel: ErrAPI, contains: "cannot unmarshal"},
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
			inv, err := newController(t, o).Collect(context.Background())
			restapitest.CheckError(t, err, restapitest.ErrorWant{
				Secrets:   []string{testSecret, fixtureToken},
				Forbidden: "\n\x1b", Sentinel: tc.sentinel, Contains: tc.contains})
			r.CheckHits(t, tc.path, tc.hits)
			if tc.fatal {
				if inv != nil {
					t.Errorf("Inventory returned on a fatal error: %+v", inv)
				}
				return
			}
			if !errors.Is(err, ErrPartial) {
				t.Fatalf("error %v does not wrap ErrPartial", err)
			}
			if inv == nil || !inv.Partial ||
				!strings.Contains(inv.PartialReasons[tc.key], tc.contains) {
				t.Fatalf("partial inventory: %+v", inv)
			}
			// The other sites' tables are all there.
			want := wantInventory()
			if strings.HasPrefix(tc.key, "devices/") {
				want.Devices = keepDevices(want.Devices, strings.TrimPrefix(tc.key, "devices/"))
			} else {
				want.Clients = keepClients(want.Clients, strings.TrimPrefix(tc.key, "clients/"))
			}
			if tc.name == "hostile site id" {
				want.Sites[1].ID = "../../../admin"
				want.Clients = keepClients(want.Clients, "Warehouse")
			}
			want.Partial = true
			want.PartialReasons = inv.PartialReasons
			diffJSON(t, inv, want)
		})
	}
}

func keepDevices(ds []Device, dropSite string) []Device {
	var out []Device
	for _, d := range ds {
		if d.Site != dropSite {
			out = append(out, d)
		}
	}
	return out
}

func keepClients(cs []Client, dropSite string) []Client {
	var out []Client
	for _, c := range cs {
		if c.Site != dropSite {
			out = append(out, c)
		}
	}
	return out
}

func TestTLSTrust(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	other := newTLSServer(t, http.NotFoundHandler())
	sum := sha256.Sum256(r.Server.Certificate().Raw)
	pin := hex.EncodeToString(sum[:])
	wrong := sha256.Sum256(other.Certificate().Raw)
	cases := []struct {
		name, ca, pin string
		wantOK        bool
	}{
		{"right CA", caFile(t, r.Server), "", true},
		{"wrong CA", caFile(t, other), "", false},
		{"system roots only", "", "", false},
		{"right pin", "", pin, true},
		{"wrong pin", "", hex.EncodeToString(wrong[:]), false},
		{"right CA, wrong pin", caFile(t, r.Server), hex.EncodeToString(wrong[:]), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := r.options(t)
			o.CAFile, o.PinSHA256 = tc.ca, tc.pin
			_, err := newController(t, o).Test(context.Background())
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Test: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTLS) {
				t.Fatalf("error %v does not wrap ErrTLS", err)
			}
		})
	}
	if r.Count(pathToken) != 2 {
		t.Errorf("token requested %d times: a refused certificate must stop before the "+
			"secret is sent", r.Count(pathToken))
	}
}

// TestSecretsNeverLeak lets the controller echo the request (secret in the token request,
// token in the header) into messages, locations and HTML, and checks errors, logs and
// formatted options.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	echo := func(w http.ResponseWriter, req *http.Request) {
		msg := strings.ReplaceAll(req.Header.Get("Authorization"), `"`, "")
		writeJSON(w, []byte(`{"errorCode":-1,"msg":"bad token `+msg+` secret `+testSecret+`"}`))
	}
	r.Override(hqDevices, echo)
	r.Override(hqClients, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Location", "/"+testSecret+"?t="+req.Header.Get("Authorization"))
		w.WriteHeader(http.StatusFound)
	})
	r.Override(whDevices, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<p>" + req.Header.Get("Authorization") + "</p>"))
	})
	var logs restapitest.Logs
	o := r.options(t)
	o.Logger = logs.Logger()
	inv, err := newController(t, o).Collect(context.Background())
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("Collect: %v", err)
	}
	logged := logs.String()
	if !strings.Contains(logged, "omada request") {
		t.Errorf("no debug log lines: %q", logged)
	}
	js, _ := json.Marshal(inv)
	optJSON, _ := json.Marshal(o)
	for what, s := range map[string]string{
		"error":        err.Error(),
		"logs":         logged,
		"inventory":    string(js),
		"options %v":   fmt.Sprintf("%v", o),
		"options %+v":  fmt.Sprintf("%+v", o),
		"options %#v":  fmt.Sprintf("%#v", o),
		"options json": string(optJSON),
	} {
		for _, secret := range []string{testSecret, fixtureToken} {
			if strings.Contains(s, secret) {
				t.Errorf("%s leaks a secret: %s", what, s)
			}
		}
	}
}
