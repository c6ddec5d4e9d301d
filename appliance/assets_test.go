package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/inventory"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// assetEnv is an appliance with two tenants and an HTTP server over it, signed in as the
// local admin (the authorization matrix covers who may call the routes).
type assetEnv struct {
	a      *Appliance
	srv    *web.Server
	lan    store.Tenant
	other  store.Tenant
	ids    map[string]string // by primary address
	otherA string            // an asset of the other tenant
}

func newAssetEnv(t *testing.T) *assetEnv {
	t.Helper()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	t.Cleanup(func() { a.Close() })
	e := &assetEnv{a: a, srv: web.New(a, web.Options{Trusted: true}),
		ids: map[string]string{}}
	var err error
	if e.lan, err = a.CreateTenant(ctx, "lan", "LAN"); err != nil {
		t.Fatal(err)
	}
	if e.other, err = a.CreateTenant(ctx, "other", "Other"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	observe := func(ten store.Tenant, o inventory.Observation, f Facts) string {
		t.Helper()
		id, _, err := a.Observe(ctx, ten.ID, o, f)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// 12 hosts 10.0.0.1-12: text order would put 10.0.0.10 before 10.0.0.2.
	for i := 1; i <= 12; i++ {
		ip := fmt.Sprintf("10.0.0.%d", i)
		f := Facts{Type: "server", Vendor: "Dell", OS: "Linux 6.1", Model: "R650"}
		svc := store.Service{Port: 22, Protocol: "tcp", Service: "ssh", Product: "OpenSSH"}
		if i%2 == 1 {
			f = Facts{Type: "switch", Vendor: "TP-Link", Model: "TL-SG3428", OS: ""}
			svc = store.Service{Port: 80, Protocol: "tcp", Service: "http"}
		}
		f.Services = []store.Service{svc}
		e.ids[ip] = observe(e.lan, inventory.Observation{Source: "scan",
			At: at.Add(time.Duration(i) * time.Minute), Addresses: []string{ip},
			MACs:      []string{fmt.Sprintf("00:50:56:00:00:%02x", i)},
			Hostnames: []string{fmt.Sprintf("host-%02d.lab", i)}}, f)
	}
	// A firewall with two addresses in different subnets, an IPv6 address, a serial and
	// SNMP.
	e.ids["192.168.7.1"] = observe(e.lan, inventory.Observation{Source: "snmp", At: at,
		Addresses: []string{"192.168.7.1", "172.16.9.1", "2001:db8::1"},
		MACs:      []string{"00:09:0f:00:00:01"}, Serial: "FGT60F0000000001",
		Hostnames: []string{"fw.lab"}},
		Facts{Type: "firewall", Vendor: "Fortinet", Model: "FortiGate 60F", OS: "FortiOS",
			Firmware: "7.2.5", Services: []store.Service{
				{Port: 443, Protocol: "tcp", Service: "https", Product: "FortiGate"},
				{Port: 161, Protocol: "udp", Service: "snmp"}}})
	// The same firewall seen by AD: the merge log gains an entry.
	observe(e.lan, inventory.Observation{Source: "ldap", At: at.Add(time.Hour),
		Hostnames: []string{"fw.lab"}, ADObjectGUID: "guid-fw"}, Facts{})
	e.otherA = observe(e.other, inventory.Observation{Source: "scan", At: at,
		Addresses: []string{"10.0.0.1"}}, Facts{Type: "server"})
	return e
}

func (e *assetEnv) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = "127.0.0.1:1000"
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	return rec
}

func (e *assetEnv) list(t *testing.T, query string) web.ListBody[web.AssetBody] {
	t.Helper()
	rec := e.get(t, "/v1/tenants/lan/assets?"+query)
	if rec.Code != http.StatusOK {
		t.Fatalf("list ?%s: %d %s", query, rec.Code, rec.Body)
	}
	var body web.ListBody[web.AssetBody]
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func firstAddresses(items []web.AssetBody) []string {
	out := make([]string, len(items))
	for i, a := range items {
		if len(a.Addresses) > 0 {
			out[i] = a.Addresses[0]
		}
	}
	return out
}

func TestAssetListFilters(t *testing.T) {
	e := newAssetEnv(t)
	tests := []struct {
		query string
		want  []string // first addresses, sorted by address
	}{
		{"", nil}, // everything: checked by count
		{"q=HOST-03", []string{"10.0.0.3"}},
		{"q=fortigate", []string{"192.168.7.1"}},   // model
		{"q=fgt60f", []string{"192.168.7.1"}},      // serial
		{"q=172.16.9", []string{"192.168.7.1"}},    // a second address
		{"q=fw.lab", []string{"192.168.7.1"}},      // host name
		{"q=2001:db8", []string{"192.168.7.1"}},    // IPv6
		{"type=FIREWALL", []string{"192.168.7.1"}}, // type ignores case
		{"vendor=tp-link&port=80", oddHosts()},     // combined
		{"os=linux", evenHosts()},                  // substring of os
		{"port=161", []string{"192.168.7.1"}},      // UDP counts too
		{"port=8080", []string{}},                  // nothing there
		{"subnet=10.0.0.8/29", []string{"10.0.0.8", "10.0.0.9", "10.0.0.10", "10.0.0.11",
			"10.0.0.12"}},
		{"subnet=172.16.0.0/12", []string{"192.168.7.1"}}, // not the primary address
		{"subnet=2001:db8::/32", []string{"192.168.7.1"}}, // IPv6
		{"subnet=0.0.0.0/0", nil},
		{"subnet=10.0.0.5/32", []string{"10.0.0.5"}},
		// Hostile values match nothing and break nothing.
		{"q=" + url.QueryEscape("' OR 1=1 --"), []string{}},
		{"q=" + url.QueryEscape(`%_"; DROP TABLE assets; --`), []string{}},
		{"q=%25", []string{}}, // LIKE wildcards are not wildcards
		{"q=_", []string{}},
		{"vendor=" + url.QueryEscape("Dell' --"), []string{}},
	}
	all := e.list(t, "page_size=100")
	if all.Total != 13 || len(all.Items) != 13 {
		t.Fatalf("all: total %d, %d items", all.Total, len(all.Items))
	}
	for _, tt := range tests {
		got := e.list(t, tt.query+"&sort=address&page_size=100")
		if tt.want == nil {
			if got.Total != 13 {
				t.Errorf("?%s: total %d, want 13", tt.query, got.Total)
			}
			continue
		}
		if addrs := firstAddresses(got.Items); !slices.Equal(addrs, tt.want) ||
			got.Total != len(tt.want) {
			t.Errorf("?%s: %v (total %d), want %v", tt.query, addrs, got.Total, tt.want)
		}
	}
	if n := countAssets(t, e.a, e.lan.ID); n != 13 {
		t.Fatalf("after hostile queries: %d assets", n)
	}
}

func oddHosts() []string {
	return []string{"10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7", "10.0.0.9", "10.0.0.11"}
}

func evenHosts() []string {
	return []string{"10.0.0.2", "10.0.0.4", "10.0.0.6", "10.0.0.8", "10.0.0.10", "10.0.0.12"}
}

func TestAssetListBadParameters(t *testing.T) {
	e := newAssetEnv(t)
	for _, tt := range []struct{ query, msg string }{
		{"subnet=10.0.0.0/33", "subnet must be a CIDR"},
		{"subnet=10.0.0.1", "subnet must be a CIDR"},
		{"subnet=" + url.QueryEscape("'; DROP TABLE assets; --"), "subnet must be a CIDR"},
		{"subnet=" + strings.Repeat("9", 10000), "subnet must be a CIDR"},
		{"port=0", "port must be a whole number from 1 to 65535"},
		{"port=65536", "port must be"},
		{"port=http", "port must be"},
		{"sort=password", "sort must be one of name, address"},
		{"sort=--name", "sort must be one of"},
		{"q=" + strings.Repeat("a", 1<<16), "q must be at most 200 bytes"},
		{"q=%ff%fe", "q is not valid UTF-8"},
		{"os=%1b%5b31m", "os must not contain control characters"},
		{"page=0", "page must be"},
		{"page_size=101", "page_size must be"},
	} {
		rec := e.get(t, "/v1/tenants/lan/assets?"+tt.query)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.msg) {
			t.Errorf("?%.60s: %d %.300s, want 400 with %q", tt.query, rec.Code, rec.Body,
				tt.msg)
		}
		if len(rec.Body.String()) > 1000 {
			t.Errorf("?%.60s: error body of %d bytes echoes the input", tt.query,
				len(rec.Body.String()))
		}
	}
}

func TestAssetListSortAndPages(t *testing.T) {
	e := newAssetEnv(t)
	byAddr := e.list(t, "sort=address&page_size=100")
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6",
		"10.0.0.7", "10.0.0.8", "10.0.0.9", "10.0.0.10", "10.0.0.11", "10.0.0.12",
		"192.168.7.1"}
	if got := firstAddresses(byAddr.Items); !slices.Equal(got, want) {
		t.Fatalf("sort=address: %v", got)
	}
	desc := firstAddresses(e.list(t, "sort=-address&page_size=100").Items)
	if slices.Reverse(desc); !slices.Equal(desc, want) {
		t.Fatalf("sort=-address: %v", desc)
	}
	// Pages of 5 cover the list exactly once, in order, with the total on each.
	var paged []string
	for page := 1; page <= 4; page++ {
		b := e.list(t, fmt.Sprintf("sort=address&page_size=5&page=%d", page))
		if b.Total != 13 || b.Page != page || b.PageSize != 5 {
			t.Fatalf("page %d: total %d page %d size %d", page, b.Total, b.Page, b.PageSize)
		}
		paged = append(paged, firstAddresses(b.Items)...)
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("pages: %v", paged)
	}
	for _, tt := range []struct {
		sort  string
		check func(a, b web.AssetBody) bool // a comes no later than b
	}{
		{"name", func(a, b web.AssetBody) bool { return a.Name <= b.Name }},
		{"-name", func(a, b web.AssetBody) bool { return a.Name >= b.Name }},
		{"vendor", func(a, b web.AssetBody) bool {
			return strings.ToLower(a.Vendor) <= strings.ToLower(b.Vendor)
		}},
		{"type", func(a, b web.AssetBody) bool { return a.Type <= b.Type }},
		{"last_seen", func(a, b web.AssetBody) bool { return !a.LastSeen.After(b.LastSeen) }},
		{"-last_seen", func(a, b web.AssetBody) bool { return !a.LastSeen.Before(b.LastSeen) }},
		{"first_seen", func(a, b web.AssetBody) bool {
			return !a.FirstSeen.After(b.FirstSeen)
		}},
	} {
		items := e.list(t, "page_size=100&sort="+tt.sort).Items
		for i := 1; i < len(items); i++ {
			if !tt.check(items[i-1], items[i]) {
				t.Errorf("sort=%s: %s before %s", tt.sort, items[i-1].ID, items[i].ID)
			}
		}
	}
	// The ETag answers 304 for an unchanged page.
	rec := e.get(t, "/v1/tenants/lan/assets?sort=address")
	r := httptest.NewRequest(http.MethodGet, "/v1/tenants/lan/assets?sort=address", nil)
	r.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec2 := httptest.NewRecorder()
	e.srv.ServeHTTP(rec2, r)
	if rec.Header().Get("ETag") == "" || rec2.Code != http.StatusNotModified {
		t.Fatalf("etag %q: %d", rec.Header().Get("ETag"), rec2.Code)
	}
	// Past the end: an empty page with the total.
	if b := e.list(t, "page=99"); len(b.Items) != 0 || b.Total != 13 {
		t.Fatalf("page 99: %d items, total %d", len(b.Items), b.Total)
	}
}

func TestAssetDetail(t *testing.T) {
	e := newAssetEnv(t)
	rec := e.get(t, "/v1/tenants/lan/assets/"+e.ids["192.168.7.1"])
	if rec.Code != http.StatusOK {
		t.Fatalf("detail: %d %s", rec.Code, rec.Body)
	}
	var d web.AssetDetail
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Addresses, []string{"192.168.7.1", "172.16.9.1", "2001:db8::1"}) ||
		!slices.Equal(d.MACs, []string{"00:09:0f:00:00:01"}) ||
		!slices.Equal(d.Hostnames, []string{"fw.lab"}) ||
		!slices.Equal(d.ADObjects, []string{"guid-fw"}) || d.Serial != "FGT60F0000000001" ||
		d.Vendor != "Fortinet" || d.Firmware != "7.2.5" || d.Type != "firewall" {
		t.Fatalf("detail: %+v", d)
	}
	if len(d.Services) != 2 || d.Services[0].Port != 161 || d.Services[0].Protocol != "udp" ||
		d.Services[1].Port != 443 || d.Services[1].Product != "FortiGate" {
		t.Fatalf("services: %+v", d.Services)
	}
	if len(d.Evidence) != 2 || d.Evidence[0].Source != "ldap" ||
		d.Evidence[0].Reason == "" || d.Evidence[0].Confidence <= 0 {
		t.Fatalf("evidence: %+v", d.Evidence)
	}
	for _, k := range []string{`"interfaces":[]`, `"neighbours":[]`, `"history":[]`,
		`"machine_ids":[]`, `"merged_from":[]`} {
		if !strings.Contains(rec.Body.String(), k) {
			t.Errorf("detail lacks %s: %s", k, rec.Body)
		}
	}
	// Another tenant's asset, an unknown id and hostile ids are simply not found.
	for _, id := range []string{e.otherA, "00000000-0000-0000-0000-000000000000",
		url.PathEscape("' OR 1=1 --"), strings.Repeat("x", 5000), "%ff"} {
		rec := e.get(t, "/v1/tenants/lan/assets/"+id)
		if rec.Code != http.StatusNotFound || len(rec.Body.String()) > 1000 {
			t.Errorf("asset %.40s: %d %.200s", id, rec.Code, rec.Body)
		}
	}
	if rec := e.get(t, "/v1/tenants/other/assets/"+e.otherA); rec.Code != http.StatusOK {
		t.Fatalf("other tenant's own asset: %d %s", rec.Code, rec.Body)
	}
}

// BenchmarkAssetList lists pages from a tenant of 10,000 assets with several addresses,
// host names and services each, through the HTTP handler.
func BenchmarkAssetList(b *testing.B) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(b, testConfig(b, b.TempDir()))
	defer a.Close()
	ten, err := a.CreateTenant(ctx, "big", "Big")
	if err != nil {
		b.Fatal(err)
	}
	tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	err = tdb.WithTx(ctx, func(ctx context.Context) error {
		for i := range 10_000 {
			ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
			rec := store.ObservationRecord{Source: "bench", At: at, Confidence: 1,
				Reason: "new", Facts: store.Asset{Name: fmt.Sprintf("host-%05d", i),
					Address: ip, Vendor: []string{"Dell", "HP", "Cisco"}[i%3], Type: "server",
					OS: "Linux"},
				Identifiers: []store.AssetIdentifier{{Kind: "ip", Value: ip},
					{Kind: "hostname", Value: fmt.Sprintf("host-%05d.lab", i)},
					{Kind: "mac", Value: fmt.Sprintf("00:50:56:%02x:%02x:%02x", i>>16&255,
						i>>8&255, i&255)}},
				Services: []store.Service{{Port: 22, Protocol: "tcp", Service: "ssh"},
					{Port: uint16(80 + i%3), Protocol: "tcp", Service: "http"}}}
			if _, _, err := tdb.RecordObservation(ctx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	release()
	if err != nil {
		b.Fatal(err)
	}
	srv := web.New(a, web.Options{Trusted: true})
	for _, q := range []string{"sort=address&page=200", "sort=-last_seen",
		"q=host-0999&sort=name", "subnet=10.0.32.0/20&port=81", "vendor=cisco&page=50"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/v1/tenants/big/assets?"+q, nil)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
