package appliance

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

func httpCall(h http.Handler, method, path, token, body string,
	cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestRefreshCookieOverHTTP signs in over HTTP and checks the refresh cookie's attributes,
// then refreshes with it and logs out.
func TestRefreshCookieOverHTTP(t *testing.T) {
	e := newIDEnv(t)
	srv := web.New(e.a, web.Options{})
	rec := httpCall(srv, "POST", "/v1/auth/login", "",
		`{"email":"ann@example.com","password":"`+idPassword+`"}`)
	if rec.Code != 200 {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	var c *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == web.RefreshCookie {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode ||
		c.Path != "/v1/auth" || c.Value == "" {
		t.Fatalf("refresh cookie: %+v", c)
	}
	if strings.Contains(rec.Body.String(), c.Value) {
		t.Fatal("the refresh token is in the body too")
	}
	rec = httpCall(srv, "POST", "/v1/auth/refresh", "", "", c)
	var tok web.Tokens
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tok) != nil {
		t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
	}
	// The spent cookie is refused and the family revoked.
	if rec = httpCall(srv, "POST", "/v1/auth/refresh", "", "", c); rec.Code != 401 {
		t.Fatalf("replayed cookie: %d", rec.Code)
	}
	if rec = httpCall(srv, "GET", "/v1/auth/me", tok.AccessToken, ""); rec.Code != 401 {
		t.Fatalf("access token of the revoked family: %d", rec.Code)
	}
}

// TestAPITokenLimits: an admin-role API token works in its tenant but cannot mint tokens or
// create people, and dies with its creator.
func TestAPITokenLimits(t *testing.T) {
	e := newIDEnv(t)
	ctx := context.Background()
	tok, _ := e.login(t, "ann@example.com", idPassword, "")
	p, _ := e.auth(tok)
	tenant, _ := e.a.GetTenant(e.local, "acme")
	created, err := e.a.CreateAPIToken(authz.WithPrincipal(ctx, p), tenant.ID,
		web.NewAPIToken{Name: "ci", Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(e.a, web.Options{})
	if rec := httpCall(srv, "GET", "/v1/tenants/acme", created.Token, ""); rec.Code != 200 {
		t.Fatalf("token reads its tenant: %d", rec.Code)
	}
	for _, c := range []struct{ path, body string }{
		{"/v1/tenants/acme/tokens", `{"name":"child","role":"admin"}`},
		{"/v1/tenants/acme/users", `{"email":"x@example.com","role":"admin",` +
			`"password":"a long enough passphrase 1"}`},
	} {
		if rec := httpCall(srv, "POST", c.path, created.Token, c.body); rec.Code != 403 {
			t.Fatalf("token POST %s: %d %s", c.path, rec.Code, rec.Body)
		}
	}
	if _, err := e.a.CreateTenant(e.local, "other", "Other"); err != nil {
		t.Fatal(err)
	}
	if rec := httpCall(srv, "GET", "/v1/tenants/other", created.Token, ""); rec.Code != 404 {
		t.Fatalf("token reads another tenant: %d", rec.Code)
	}
	yes := true
	if _, err := e.a.UpdateUser(e.local, "ann@example.com",
		web.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if rec := httpCall(srv, "GET", "/v1/tenants/acme", created.Token, ""); rec.Code != 401 {
		t.Fatalf("token of a disabled creator: %d", rec.Code)
	}
}

// TestTenantUserListHidesOtherTenants: listing a tenant's users shows only that tenant's
// memberships, never the slugs of the users' other tenants.
func TestTenantUserListHidesOtherTenants(t *testing.T) {
	e := newIDEnv(t)
	if _, err := e.a.CreateTenant(e.local, "secret-co", "Secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.CreateUser(e.local, web.NewUser{Email: "bob@example.com",
		Password: idPassword, Tenant: "acme", Role: store.RoleStandard}); err != nil {
		t.Fatal(err)
	}
	st, _ := e.a.GetTenant(e.local, "secret-co")
	if _, err := e.a.SetTenantRole(e.local, st.ID, "bob@example.com",
		store.RoleAuditor); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.login(t, "ann@example.com", idPassword, "")
	srv := web.New(e.a, web.Options{})
	rec := httpCall(srv, "GET", "/v1/tenants/acme/users", tok.AccessToken, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "bob@example.com") {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "secret-co") {
		t.Fatalf("a tenant admin sees another tenant's slug: %s", rec.Body)
	}
}

// TestReenrolNeedsPassword: with TOTP on, starting enrolment again is refused, so a stolen
// session cannot switch the second factor off.
func TestReenrolNeedsPassword(t *testing.T) {
	e := newIDEnv(t)
	tok, _ := e.login(t, "ann@example.com", idPassword, "")
	p, _ := e.auth(tok)
	ctx := authz.WithPrincipal(context.Background(), p)
	enr, err := e.a.StartTOTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totpCode(enr.Secret, e.clk.Now())
	if _, err := e.a.ConfirmTOTP(ctx, code); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.StartTOTP(ctx); err == nil {
		t.Fatal("re-enrolment without the password was allowed")
	}
}
