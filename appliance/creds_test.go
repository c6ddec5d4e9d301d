package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/snmpagent"
	"github.com/tenantra/tenantra/store"
)

// Markers for the secrets: none may appear in an API response, an audit entry or any file.
const (
	communityMarker = "COMMUNITY-MARKER-91c2e"
	authPassMarker  = "AUTHPASS-MARKER-3b7e0"
	privPassMarker  = "PRIVPASS-MARKER-c55d1"
)

var credMarkers = []string{communityMarker, authPassMarker, privPassMarker}

// apiClient signs in a platform admin and calls the API in process.
func apiClient(t *testing.T, a *Appliance) func(method, path, body string) (int, string) {
	t.Helper()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	if _, err := a.CreateUser(ctx, web.NewUser{Email: "root@example.com",
		PlatformRole: store.PlatformAdmin, Password: matrixPassword}); err != nil {
		t.Fatal(err)
	}
	srv := web.New(a, web.Options{Registry: prometheus.NewRegistry()})
	token := ""
	call := func(method, path, body string) (int, string) {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequest(method, path, nil)
		}
		r.RemoteAddr = "127.0.0.1:1000"
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		return rec.Code, rec.Body.String()
	}
	code, body := call("POST", "/v1/auth/login",
		`{"email":"root@example.com","password":"`+matrixPassword+`"}`)
	var tok web.Tokens
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	token = tok.AccessToken
	return call
}

func noMarkers(t *testing.T, where, s string) {
	t.Helper()
	for _, m := range credMarkers {
		if strings.Contains(s, m) {
			t.Errorf("secret %s found in %s: %s", m, where, s)
		}
	}
}

// TestCredentialVault stores credentials through the API and checks that their secrets
// never come back out (responses, list, audit trail, files on disk, before and after close),
// that bad requests get clear errors, and that scans can still unseal them, also after the
// tenant's data key was rotated and the appliance reopened.
func TestCredentialVault(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a := openTest(t, cfg)
	ten, err := a.CreateTenant(ctx, "vault-co", "Vault Co")
	if err != nil {
		t.Fatal(err)
	}
	call := apiClient(t, a)
	base := "/v1/tenants/vault-co/credentials"
	for _, body := range []string{
		`{"name":"core-v2c","kind":"snmp-v2c","community":"` + communityMarker + `"}`,
		`{"name":"core-v3","kind":"snmp-v3","user":"monitor","auth_proto":"SHA",` +
			`"auth_password":"` + authPassMarker + `","priv_password":"` + privPassMarker + `"}`,
	} {
		code, resp := call("POST", base, body)
		if code != http.StatusCreated || !strings.Contains(resp, `"has_secret":true`) {
			t.Fatalf("create: %d %s", code, resp)
		}
		noMarkers(t, "the create response", resp)
	}
	code, list := call("GET", base, "")
	if code != 200 || !strings.Contains(list, `"user":"monitor"`) ||
		!strings.Contains(list, `"priv_proto":"AES"`) ||
		!strings.Contains(list, `"auth_proto":"SHA"`) {
		t.Fatalf("list: %d %s", code, list)
	}
	noMarkers(t, "the list", list)

	bad := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"unknown kind", `{"name":"x","kind":"telnet","community":"c"}`, 400, "unknown"},
		{"no kind", `{"name":"x","community":"c"}`, 400, "kind is required"},
		{"no community", `{"name":"x","kind":"snmp-v2c"}`, 400, "community"},
		{"v3 without user", `{"name":"x","kind":"snmp-v3","auth_password":"12345678",` +
			`"priv_password":"12345678"}`, 400, "user"},
		{"weak v3 password", `{"name":"x","kind":"snmp-v3","user":"u",` +
			`"auth_password":"short","priv_password":"12345678"}`, 400, "8-255"},
		{"bad auth proto", `{"name":"x","kind":"snmp-v3","user":"u","auth_proto":"MD5",` +
			`"auth_password":"12345678","priv_password":"12345678"}`, 400, "SHA or SHA-256"},
		{"bad priv proto", `{"name":"x","kind":"snmp-v3","user":"u","priv_proto":"DES",` +
			`"auth_password":"12345678","priv_password":"12345678"}`, 400, "use AES"},
		{"community on v3", `{"name":"x","kind":"snmp-v3","user":"u","community":"c",` +
			`"auth_password":"12345678","priv_password":"12345678"}`, 400, "no community"},
		{"v3 fields on v2c", `{"name":"x","kind":"snmp-v2c","community":"c",` +
			`"user":"u"}`, 400, "only a community"},
		{"path traversal name", `{"name":"../etc","kind":"snmp-v2c","community":"c"}`,
			400, "name must be"},
		{"empty name", `{"name":"","kind":"snmp-v2c","community":"c"}`, 400, "name must be"},
		{"huge name", `{"name":"` + strings.Repeat("n", 65) + `","kind":"snmp-v2c",` +
			`"community":"c"}`, 400, "name must be"},
		{"unknown field", `{"name":"x","kind":"snmp-v2c","community":"c","extra":1}`, 400,
			""},
		{"duplicate name", `{"name":"core-v2c","kind":"snmp-v2c","community":"c"}`, 409,
			"exists already"},
	}
	for _, tt := range bad {
		code, resp := call("POST", base, tt.body)
		if code != tt.code || !strings.Contains(resp, tt.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, code, resp, tt.code, tt.msg)
		}
	}
	if code, resp := call("POST", base+"/nope/test", `{}`); code != 404 {
		t.Errorf("test of an unknown credential: %d %s", code, resp)
	}
	if code, resp := call("POST", base+"/core-v2c/test", `{"target":"a b/c"}`); code != 400 {
		t.Errorf("test with a bad target: %d %s", code, resp)
	}

	// Scans unseal them, in the order named, also after a rotation of the tenant's key.
	check := func(a *Appliance, when, v2c string) {
		t.Helper()
		creds, err := a.vaultSNMP(ctx, ten.ID, []string{"core-v3", v2c})
		if err != nil || len(creds) != 2 || creds[0].AuthPass != authPassMarker ||
			creds[0].PrivPass != privPassMarker || creds[0].User != "monitor" ||
			creds[1].Community != communityMarker || creds[1].Version != "v2c" {
			t.Fatalf("%s: vault credentials %v, %v", when, creds, err)
		}
		if _, err := a.vaultSNMP(ctx, ten.ID, []string{"missing"}); !errors.Is(err,
			store.ErrInvalid) {
			t.Fatalf("%s: unknown vault credential: %v", when, err)
		}
	}
	check(a, "before rotation", "core-v2c")
	_, err = a.RotateKeys(ctx, web.KeyRotateRequest{Tenants: []string{"vault-co"}})
	if err != nil {
		t.Fatal(err)
	}
	check(a, "after rotation", "core-v2c")

	// Removing one; the audit trail names both without their secrets.
	if code, resp := call("DELETE", base+"/core-v2c", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, resp)
	}
	if code, _ := call("DELETE", base+"/core-v2c", ""); code != http.StatusNotFound {
		t.Fatalf("delete twice: %d", code)
	}
	events, _, err := a.ListAudit(ctx, ten.ID, store.AuditFilter{}, store.Page{Page: 1,
		Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := json.Marshal(events)
	for _, action := range []string{"credential.create", "credential.delete"} {
		if !bytes.Contains(audit, []byte(action)) {
			t.Errorf("no %s in the audit trail", action)
		}
	}
	noMarkers(t, "the audit trail", string(audit))

	// At rest: nowhere in any file, while open and after close.
	if _, err := a.CreateCredential(ctx, "vault-co", web.CredentialRequest{Name: "again",
		Kind: store.CredSNMPv2c, Community: communityMarker}); err != nil {
		t.Fatal(err)
	}
	for _, m := range credMarkers {
		if hits, _ := grepDir(t, dir, []byte(m)); len(hits) > 0 {
			t.Fatalf("secret %s found in %v while open", m, hits)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for _, m := range credMarkers {
		if hits, _ := grepDir(t, dir, []byte(m)); len(hits) > 0 {
			t.Fatalf("secret %s found in %v after close", m, hits)
		}
	}
	a = openTest(t, cfg)
	defer a.Close()
	check(a, "after reopening", "again")
}

// TestCredentialTestConnection tests stored credentials against a real snmpd: the right
// community and v3 user answer with sysDescr, a wrong community fails with a reason.
func TestCredentialTestConnection(t *testing.T) {
	agent := snmpagent.StartSnmpd(t, testenv.LookPath(t, "snmpd"), snmpagent.Options{
		Community: "lab-right-community", SysDescr: "Vault test agent",
		V3User: "vaultuser", V3AuthPass: "auth-pass-123", V3PrivPass: "priv-pass-456"})
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "snmp-co", "SNMP Co"); err != nil {
		t.Fatal(err)
	}
	for _, req := range []web.CredentialRequest{
		{Name: "right", Kind: store.CredSNMPv2c, Community: "lab-right-community"},
		{Name: "wrong", Kind: store.CredSNMPv2c, Community: "not-the-community"},
		{Name: "v3", Kind: store.CredSNMPv3, User: "vaultuser", AuthProto: "SHA-256",
			AuthPassword: "auth-pass-123", PrivPassword: "priv-pass-456"},
	} {
		if _, err := a.CreateCredential(ctx, "snmp-co", req); err != nil {
			t.Fatalf("create %s: %v", req.Name, err)
		}
	}
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"right", true}, {"v3", true}, {"wrong", false}} {
		res, err := a.TestCredential(ctx, "snmp-co", tt.name,
			web.CredentialTestRequest{Target: agent.Addr})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.OK != tt.ok || (tt.ok && !strings.Contains(res.SysDescr, "Vault test agent")) ||
			(!tt.ok && res.Error == "") {
			t.Errorf("%s: %+v", tt.name, res)
		}
		if strings.Contains(res.Error, "not-the-community") {
			t.Errorf("%s: the error echoes the secret: %s", tt.name, res.Error)
		}
	}
}
