package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// replayServer serves recorded vendor responses (network/*/testdata) over TLS on loopback,
// answering 401 without the expected authorization header. It returns the server and the
// SHA-256 pin of its certificate.
func replayServer(t *testing.T, route func(r *http.Request) (string, bool)) (
	*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		file, ok := route(r)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(srv.Certificate().Raw)
	return srv, hex.EncodeToString(sum[:])
}

// TestFirewallAndControllerSources scans with a FortiGate and an Omada controller as
// sources (replaying responses shaped like each vendor's documented API): the firewall is
// one asset with its configuration, its ARP and DHCP hosts become assets, the firewall
// checks report its risky policies, Omada devices are TP-Link assets, a second scan adds
// nothing, and a wrong token is a line in the report, not a failed scan.
func TestFirewallAndControllerSources(t *testing.T) {
	fgDir := filepath.Join("..", "network", "fortigate", "testdata", "fortios-7.2")
	fgFiles := map[string]string{"/api/v2/monitor/system/status": "monitor_system_status.json",
		"/api/v2/cmdb/system/ha":        "cmdb_system_ha.json",
		"/api/v2/cmdb/system/interface": "cmdb_system_interface.json",
		"/api/v2/cmdb/system/admin":     "cmdb_system_admin.json",
		"/api/v2/cmdb/firewall/policy":  "cmdb_firewall_policy.json",
		"/api/v2/monitor/network/arp":   "monitor_network_arp.json",
		"/api/v2/monitor/system/dhcp":   "monitor_system_dhcp.json"}
	const fgToken = "replay-token-0123456789"
	fg, fgPin := replayServer(t, func(r *http.Request) (string, bool) {
		if r.Header.Get("Authorization") != "Bearer "+fgToken {
			return "", false
		}
		return filepath.Join(fgDir, fgFiles[r.URL.Path]), true
	})
	omDir := filepath.Join("..", "network", "omada", "testdata", "openapi-v1")
	const omadac, clientID, secret = "de382a0e78f4deb681f3128c3e75dbd1",
		"185586e0df424f5ea938de13cba91e01", "767372a5258a4fc1a03c57f3d071fc35"
	om, omPin := replayServer(t, func(r *http.Request) (string, bool) {
		if r.URL.Path == "/openapi/authorize/token" {
			return filepath.Join(omDir, "token.json"), true
		}
		if r.Header.Get("Authorization") != "AccessToken=AT-bjaJkIMIiekZY6NBufoQO4hdmJTswlwU" {
			return "", false
		}
		rest := strings.TrimPrefix(r.URL.Path, "/openapi/v1/"+omadac+"/sites")
		page := r.URL.Query().Get("page")
		parts := strings.Split(strings.Trim(rest, "/"), "/")
		switch {
		case rest == "":
			return filepath.Join(omDir, "sites_page"+page+".json"), true
		case len(parts) == 2 && page == "1":
			return filepath.Join(omDir, parts[1]+"_"+parts[0]+".json"), true
		}
		return filepath.Join(omDir, "none.json"), true
	})
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "net", "Net"); err != nil {
		t.Fatal(err)
	}
	for _, req := range []web.CredentialRequest{
		{Name: "hq", Kind: store.CredFortiGate, URL: fg.URL, Token: fgToken, Pin: fgPin,
			BaselineVersion: "7.4.4"},
		{Name: "hq-wrong", Kind: store.CredFortiGate, URL: fg.URL, Token: "not-the-token",
			Pin: fgPin},
		{Name: "branch", Kind: store.CredOmada, URL: om.URL, OmadacID: omadac,
			ClientID: clientID, ClientSecret: secret, Pin: omPin},
	} {
		if _, err := a.CreateCredential(ctx, "net", req); err != nil {
			t.Fatalf("credential %s: %v", req.Name, err)
		}
	}
	if res, err := a.TestCredential(ctx, "net", "hq", web.CredentialTestRequest{}); err != nil ||
		!res.OK || !strings.Contains(res.Detail, "FortiOS") {
		t.Fatalf("test hq: %+v %v", res, err)
	}
	if res, err := a.TestCredential(ctx, "net", "hq-wrong",
		web.CredentialTestRequest{}); err != nil || res.OK || strings.Contains(res.Error,
		"not-the-token") {
		t.Fatalf("test hq-wrong: %+v %v", res, err)
	}
	req := web.ScanRequest{Sources: []string{"fortigate:hq", "omada:branch",
		"fortigate:hq-wrong"}}
	tenantID := mustTenantID(t, a, "net")
	var first int
	for round := range 2 {
		rep, err := a.Scan(ctx, "net", req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Errors) != 1 || rep.Errors[0].Target != "fortigate:hq-wrong" ||
			!strings.Contains(rep.Errors[0].Error, "401") {
			t.Fatalf("round %d: errors %+v", round, rep.Errors)
		}
		n := countAssets(t, a, tenantID)
		if round == 0 {
			first = n
		} else if n != first {
			t.Fatalf("%d assets after the second scan, %d after the first", n, first)
		}
	}
	fws, _, err := a.ListAssets(ctx, tenantID, web.AssetFilter{Type: "firewall"},
		store.Page{Page: 1, Size: 10})
	if err != nil || len(fws) != 1 || fws[0].Vendor != "Fortinet" || fws[0].Serial == "" ||
		fws[0].Firmware == "" {
		t.Fatalf("firewall assets: %+v %v", fws, err)
	}
	doc, err := a.facts(ctx, tenantID, fws[0].ID)
	if err != nil || doc.Firewall == nil || len(doc.Firewall.Policies) != 3 ||
		len(doc.Firewall.Admins) == 0 {
		t.Fatalf("firewall facts: %+v %v", doc.Firewall, err)
	}
	tplink, _, err := a.ListAssets(ctx, tenantID, web.AssetFilter{Vendor: "TP-Link"},
		store.Page{Page: 1, Size: 100})
	if err != nil || len(tplink) == 0 {
		t.Fatalf("omada devices: %+v %v", tplink, err)
	}
	if first <= 1+len(tplink) {
		t.Errorf("%d assets: ARP, DHCP and Omada clients did not become assets", first)
	}
	findings, _, err := a.ListFindings(ctx, "net", store.FindingFilter{},
		store.Page{Page: 1, Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{}
	for _, f := range findings {
		if f.AssetID == fws[0].ID {
			checks[f.Check] = true
		}
	}
	t.Logf("%d assets; firewall findings: %v", first, checks)
	for _, c := range []string{"fw-policy-any-any-accept", "fortigate-firmware-below-baseline"} {
		if !checks[c] {
			t.Errorf("firewall finding %s missing; have %v", c, checks)
		}
	}
}
