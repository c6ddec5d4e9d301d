package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// The identities of the matrix. The platform admin goes last, because its allowed calls
// include deleting the scratch tenant.
var matrixIdentities = []string{"anonymous", "tenant-admin", "standard", "auditor",
	"other-admin", "platform-admin"}

// matrixWho says, independently of the permission table in package authz, who may perform
// each action on tenant A.
var matrixWho = map[authz.Action][]string{
	authz.Public: matrixIdentities,
	authz.Self:   {"tenant-admin", "standard", "auditor", "other-admin", "platform-admin"},
	authz.TenantsList: {"tenant-admin", "standard", "auditor", "other-admin",
		"platform-admin"},
	authz.PlatformTenantsCreate: {"platform-admin"},
	authz.PlatformTenantsDelete: {"platform-admin"},
	authz.PlatformUsersRead:     {"platform-admin"},
	authz.PlatformUsersManage:   {"platform-admin"},
	authz.PlatformAuditRead:     {"platform-admin"},
	authz.PlatformBackup:        {"platform-admin"},
	authz.PlatformKeys:          {"platform-admin"},
	authz.TenantWrite:           {"tenant-admin", "standard", "platform-admin"},
	authz.TenantExport:          {"tenant-admin", "auditor", "platform-admin"},
	authz.TenantRead:            {"tenant-admin", "standard", "auditor", "platform-admin"},
	authz.TenantUpdate:          {"tenant-admin", "platform-admin"},
	authz.TenantUsersRead:       {"tenant-admin", "auditor", "platform-admin"},
	authz.TenantUsersManage:     {"tenant-admin", "platform-admin"},
	authz.TenantTokensRead:      {"tenant-admin", "auditor", "platform-admin"},
	authz.TenantTokensManage:    {"tenant-admin", "platform-admin"},
	authz.TenantAuditRead:       {"tenant-admin", "auditor", "platform-admin"},

	// The credential vault: only admins touch secrets; auditors see the metadata.
	authz.TenantCredentialsRead:   {"tenant-admin", "auditor", "platform-admin"},
	authz.TenantCredentialsManage: {"tenant-admin", "platform-admin"},

	// The module engine: the catalog's states are the operator's; enablement and waivers
	// are tenant admins'.
	authz.PlatformModules:     {"platform-admin"},
	authz.TenantModulesManage: {"tenant-admin", "platform-admin"},
	authz.TenantWaive:         {"tenant-admin", "platform-admin"},
}

// routeSpec is what the matrix expects of a route: its action, and the status an allowed
// caller gets for the probe request (an empty JSON object as body, harmless parameters).
type routeSpec struct {
	action authz.Action
	ok     int
}

var matrixRoutes = map[string]routeSpec{
	"GET /health":                              {authz.Public, 200},
	"GET /ready":                               {authz.Public, 200},
	"GET /metrics":                             {authz.Public, 200},
	"GET /v1/tenants":                          {authz.TenantsList, 200},
	"POST /v1/tenants":                         {authz.PlatformTenantsCreate, 400},
	"GET /v1/tenants/:tenant":                  {authz.TenantRead, 200},
	"PATCH /v1/tenants/:tenant":                {authz.TenantUpdate, 200},
	"DELETE /v1/tenants/:tenant":               {authz.PlatformTenantsDelete, 204},
	"POST /v1/auth/login":                      {authz.Public, 400},
	"POST /v1/auth/refresh":                    {authz.Public, 401}, // no cookie sent
	"POST /v1/auth/logout":                     {authz.Self, 204},
	"GET /v1/auth/me":                          {authz.Self, 200},
	"GET /v1/auth/sessions":                    {authz.Self, 200},
	"DELETE /v1/auth/sessions/:session":        {authz.Self, 404},
	"DELETE /v1/auth/sessions":                 {authz.Self, 204},
	"POST /v1/auth/password":                   {authz.Self, 400},
	"POST /v1/auth/mfa/totp":                   {authz.Self, 200},
	"POST /v1/auth/mfa/totp/confirm":           {authz.Self, 400},
	"DELETE /v1/auth/mfa/totp":                 {authz.Self, 400},
	"GET /v1/users":                            {authz.PlatformUsersRead, 200},
	"POST /v1/users":                           {authz.PlatformUsersManage, 400},
	"GET /v1/users/:user":                      {authz.PlatformUsersRead, 200},
	"PATCH /v1/users/:user":                    {authz.PlatformUsersManage, 200},
	"POST /v1/users/:user/password":            {authz.PlatformUsersManage, 400},
	"GET /v1/tenants/:tenant/users":            {authz.TenantUsersRead, 200},
	"POST /v1/tenants/:tenant/users":           {authz.TenantUsersManage, 400},
	"PUT /v1/tenants/:tenant/users/:user":      {authz.TenantUsersManage, 400},
	"DELETE /v1/tenants/:tenant/users/:user":   {authz.TenantUsersManage, 404},
	"GET /v1/tenants/:tenant/tokens":           {authz.TenantTokensRead, 200},
	"POST /v1/tenants/:tenant/tokens":          {authz.TenantTokensManage, 400},
	"DELETE /v1/tenants/:tenant/tokens/:token": {authz.TenantTokensManage, 404},
	"GET /v1/tenants/:tenant/audit":            {authz.TenantAuditRead, 200},
	"GET /v1/audit":                            {authz.PlatformAuditRead, 200},
	"GET /v1/audit/verify":                     {authz.PlatformAuditRead, 200},
	"GET /v1/tls":                              {authz.PlatformKeys, 404}, // not serving
	"GET /v1/keys":                             {authz.PlatformKeys, 200},
	"POST /v1/keys/rotate":                     {authz.PlatformKeys, 400},
	"POST /v1/backup":                          {authz.PlatformBackup, 200},
	"POST /v1/tenants/:tenant/scans":           {authz.TenantWrite, 400},
	"POST /v1/tenants/:tenant/export":          {authz.TenantExport, 200},
	"GET /v1/tenants/:tenant/assets":           {authz.TenantRead, 200},
	"GET /v1/tenants/:tenant/assets/:id":       {authz.TenantRead, 404}, // :id names no asset

	// Scan jobs and their schedules.
	"GET /v1/tenants/:tenant/scans":                       {authz.TenantRead, 200},
	"GET /v1/tenants/:tenant/scans/:scan":                 {authz.TenantRead, 404},
	"DELETE /v1/tenants/:tenant/scans/:scan":              {authz.TenantWrite, 404},
	"GET /v1/tenants/:tenant/scans/:scan/events":          {authz.TenantRead, 404},
	"POST /v1/tenants/:tenant/scan-schedules":             {authz.TenantWrite, 400},
	"GET /v1/tenants/:tenant/scan-schedules":              {authz.TenantRead, 200},
	"DELETE /v1/tenants/:tenant/scan-schedules/:schedule": {authz.TenantWrite, 404},

	// The credential vault; :credential names no credential.
	"GET /v1/tenants/:tenant/credentials":                   {authz.TenantCredentialsRead, 200},
	"POST /v1/tenants/:tenant/credentials":                  {authz.TenantCredentialsManage, 400},
	"DELETE /v1/tenants/:tenant/credentials/:credential":    {authz.TenantCredentialsManage, 404},
	"POST /v1/tenants/:tenant/credentials/:credential/test": {authz.TenantCredentialsManage, 404},

	// Modules, findings, compliance; :slug, :finding name nothing, the waiver lacks a reason.
	"GET /v1/modules":                                   {authz.Self, 200},
	"GET /v1/modules/drift":                             {authz.PlatformModules, 200},
	"PATCH /v1/modules/:slug/versions/:version":         {authz.PlatformModules, 404},
	"GET /v1/overview":                                  {authz.TenantsList, 200},
	"GET /v1/tenants/:tenant/modules":                   {authz.TenantRead, 200},
	"PUT /v1/tenants/:tenant/modules":                   {authz.TenantModulesManage, 400},
	"GET /v1/tenants/:tenant/findings":                  {authz.TenantRead, 200},
	"GET /v1/tenants/:tenant/findings/:finding":         {authz.TenantRead, 404},
	"POST /v1/tenants/:tenant/findings/:finding/waiver": {authz.TenantWaive, 400},
	"GET /v1/tenants/:tenant/compliance":                {authz.TenantRead, 200},
	"GET /v1/tenants/:tenant/compliance/trend":          {authz.TenantRead, 200},
	"GET /v1/tenants/:tenant/reports/compliance.csv":    {authz.TenantExport, 200},
	"GET /v1/tenants/:tenant/reports/compliance.pdf":    {authz.TenantExport, 200},
}

const matrixPassword = "matrix test passphrase 4711"

// TestAuthorizationMatrix calls every registered route as every kind of caller and checks
// the status: allowed callers get the route's own answer, anonymous callers 401, members
// without the role 403, and callers from another tenant 404 for tenant A's resources.
func TestAuthorizationMatrix(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	mustTenant := func(slug string) store.Tenant {
		t.Helper()
		ten, err := a.CreateTenant(ctx, slug, slug)
		if err != nil {
			t.Fatal(err)
		}
		return ten
	}
	mustTenant("tenant-a")
	mustTenant("tenant-b")
	mustTenant("scratch-t")
	users := map[string]web.NewUser{
		"platform-admin": {Email: "root@example.com", PlatformRole: store.PlatformAdmin},
		"tenant-admin":   {Email: "admin-a@example.com", Tenant: "tenant-a", Role: "admin"},
		"standard":       {Email: "std-a@example.com", Tenant: "tenant-a", Role: "standard"},
		"auditor":        {Email: "aud-a@example.com", Tenant: "tenant-a", Role: "auditor"},
		"other-admin":    {Email: "admin-b@example.com", Tenant: "tenant-b", Role: "admin"},
		"scratch":        {Email: "scratch@example.com"},
	}
	ids := map[string]string{}
	for name, nu := range users {
		nu.Password = matrixPassword
		u, err := a.CreateUser(ctx, nu)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		ids[name] = u.ID
	}
	srv := web.New(a, web.Options{Registry: prometheus.NewRegistry()})
	calls := 0
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequest(method, path, nil)
		}
		// A new address per request keeps the per-address sign-in limit out of the matrix.
		calls++
		r.RemoteAddr = fmt.Sprintf("127.1.%d.%d:1000", calls>>8&255, calls&255)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		return rec
	}
	tokens := map[string]string{}
	login := func(name string) {
		rec := call("POST", "/v1/auth/login", "", `{"email":"`+users[name].Email+
			`","password":"`+matrixPassword+`"}`)
		var tok web.Tokens
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tok) != nil {
			t.Fatalf("login %s: %d %s", name, rec.Code, rec.Body)
		}
		tokens[name] = tok.AccessToken
	}
	for _, name := range matrixIdentities[1:] {
		login(name)
	}

	registered := map[string]bool{}
	for _, rt := range srv.Routes() {
		key := rt.Method + " " + rt.Path
		registered[key] = true
		spec, ok := matrixRoutes[key]
		if !ok {
			t.Errorf("route %s has no entry in the authorization matrix; add one", key)
			continue
		}
		if rt.Action != spec.action {
			t.Errorf("route %s declares action %s, the matrix expects %s", key, rt.Action,
				spec.action)
			continue
		}
		path := strings.NewReplacer(":tenant", "tenant-a", ":user", ids["scratch"],
			":session", uuid.NewString(), ":token", uuid.NewString(),
			":scan", uuid.NewString(), ":schedule", uuid.NewString(),
			":credential", uuid.NewString()).Replace(rt.Path)
		if key == "DELETE /v1/tenants/:tenant" {
			path = "/v1/tenants/scratch-t"
		}
		body := ""
		if rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH" ||
			key == "DELETE /v1/auth/mfa/totp" {
			body = "{}"
		}
		for _, who := range matrixIdentities {
			want := spec.ok
			switch {
			case slices.Contains(matrixWho[spec.action], who):
			case who == "anonymous":
				want = http.StatusUnauthorized
			case spec.action.IsTenant() && who == "other-admin":
				want = http.StatusNotFound
			default:
				want = http.StatusForbidden
			}
			rec := call(rt.Method, path, tokens[who], body)
			if rec.Code != want {
				t.Errorf("%s as %s: status %d, want %d: %s", key, who, rec.Code, want,
					strings.TrimSpace(rec.Body.String()))
			}
			hidden := strings.Contains(rec.Body.String(), `tenant \"tenant-a\" does not exist`)
			if want == http.StatusNotFound && hidden != (who == "other-admin" &&
				spec.action.IsTenant()) {
				t.Errorf("%s as %s: 404 for the wrong reason: %s", key, who, rec.Body)
			}
			if (key == "POST /v1/auth/logout" || key == "DELETE /v1/auth/sessions") &&
				rec.Code == http.StatusNoContent {
				login(who) // the session just ended
			}
		}
	}
	for key := range matrixRoutes {
		if !registered[key] {
			t.Errorf("the matrix lists %s, which the server does not register", key)
		}
	}
}
