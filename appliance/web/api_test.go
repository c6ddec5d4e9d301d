package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// TestTenantAPI drives every tenant route through the whole middleware chain, with the hostile
// bodies the strict decoder must turn away.
func TestTenantAPI(t *testing.T) {
	const create = `{"slug":"new-co","name":"New Co"}`
	badSlug := store.ValidateSlug("Bad_Slug").Error()
	deep := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)
	tests := []struct {
		name   string
		method string
		target string
		body   string
		// edit adjusts the request, e.g. its headers.
		edit       func(*http.Request)
		wantStatus int
		// wantCode and wantMsg (a substring) check the error envelope of a failure.
		wantCode string
		wantMsg  string
		// check inspects a successful response.
		check func(t *testing.T, svc *memService, h http.Header, body []byte)
	}{
		// Routing.
		{name: "unknown route", method: "GET", target: "/v1/nope",
			wantStatus: 404, wantCode: "not_found", wantMsg: "no route GET /v1/nope"},
		{name: "api root", method: "GET", target: "/v1",
			wantStatus: 404, wantCode: "not_found"},
		{name: "outside the api without UI", method: "GET", target: "/index.html",
			wantStatus: 404, wantCode: "not_found"},
		{name: "unknown tenant", method: "GET", target: "/v1/tenants/ghost",
			wantStatus: 404, wantCode: "not_found", wantMsg: `tenant "ghost" does not exist`},
		{name: "PUT on the collection", method: "PUT", target: "/v1/tenants", body: create,
			wantStatus: 405, wantCode: "method_not_allowed",
			wantMsg: "PUT is not allowed on /v1/tenants",
			check: func(t *testing.T, _ *memService, h http.Header, _ []byte) {
				if a := h.Get("Allow"); !strings.Contains(a, "GET") ||
					!strings.Contains(a, "POST") {
					t.Errorf("Allow = %q, want GET and POST", a)
				}
			}},
		{name: "DELETE on the collection", method: "DELETE", target: "/v1/tenants",
			wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "POST on a tenant", method: "POST", target: "/v1/tenants/acme-corp",
			body: create, wantStatus: 405, wantCode: "method_not_allowed"},

		// Create.
		{name: "create", method: "POST", target: "/v1/tenants", body: create,
			wantStatus: 201,
			check: func(t *testing.T, svc *memService, h http.Header, body []byte) {
				if loc := h.Get("Location"); loc != "/v1/tenants/new-co" {
					t.Errorf("Location = %q, want /v1/tenants/new-co", loc)
				}
				var got store.Tenant
				decodeStrict(t, body, &got)
				want, err := svc.GetTenant(t.Context(), "new-co")
				if err != nil || got != want {
					t.Errorf("created %+v, store has %+v (%v)", got, want, err)
				}
				if got.Status != store.TenantActive || got.KeyVersion != 1 {
					t.Errorf("created %+v, want active with key version 1", got)
				}
			}},
		{name: "create with charset", method: "POST", target: "/v1/tenants", body: create,
			edit: contentType("application/json; charset=utf-8"), wantStatus: 201},
		{name: "media type is case-insensitive", method: "POST", target: "/v1/tenants",
			body: create, edit: contentType("Application/JSON"), wantStatus: 201},
		{name: "duplicate slug", method: "POST", target: "/v1/tenants",
			body: `{"slug":"acme-corp","name":"Again"}`, wantStatus: 409, wantCode: "conflict",
			wantMsg: `tenant slug "acme-corp" is already taken; choose another`},
		{name: "invalid slug", method: "POST", target: "/v1/tenants",
			body: `{"slug":"Bad_Slug","name":"X"}`, wantStatus: 400, wantCode: "invalid",
			wantMsg: badSlug},
		{name: "path traversal slug", method: "POST", target: "/v1/tenants",
			body: `{"slug":"../../etc/passwd","name":"X"}`, wantStatus: 400, wantCode: "invalid"},
		{name: "invalid UTF-8 slug", method: "POST", target: "/v1/tenants",
			body: "{\"slug\":\"ac\xffme\",\"name\":\"X\"}", wantStatus: 400, wantCode: "invalid"},
		{name: "empty name", method: "POST", target: "/v1/tenants",
			body: `{"slug":"new-co","name":""}`, wantStatus: 400, wantCode: "invalid",
			wantMsg: "tenant name must be 1-200 characters"},
		{name: "missing fields", method: "POST", target: "/v1/tenants", body: `{}`,
			wantStatus: 400, wantCode: "invalid"},
		{name: "malformed JSON", method: "POST", target: "/v1/tenants", body: `{"slug":`,
			wantStatus: 400, wantCode: "invalid_json", wantMsg: "not valid JSON"},
		{name: "bad syntax", method: "POST", target: "/v1/tenants", body: `{slug: "x"}`,
			wantStatus: 400, wantCode: "invalid_json", wantMsg: "not valid JSON"},
		{name: "empty body", method: "POST", target: "/v1/tenants",
			edit: contentType("application/json"), wantStatus: 400, wantCode: "invalid_json",
			wantMsg: "request body is empty"},
		{name: "blank body", method: "POST", target: "/v1/tenants", body: " \r\n\t",
			wantStatus: 400, wantCode: "invalid_json", wantMsg: "request body is empty"},
		{name: "unknown field", method: "POST", target: "/v1/tenants",
			body: `{"slug":"new-co","name":"X","admin":true}`, wantStatus: 400,
			wantCode: "unknown_field", wantMsg: `unknown field "admin"`},
		{name: "field in the wrong case", method: "POST", target: "/v1/tenants",
			body: `{"SLUG":"new-co","name":"X"}`, wantStatus: 400, wantCode: "unknown_field",
			wantMsg: `"SLUG"`},
		// encoding/json folds case with Unicode rules: U+017F (ſ) matches "s".
		{name: "field matching only by Unicode folding", method: "POST",
			target: "/v1/tenants", body: `{"\u017flug":"new-co","name":"X"}`, wantStatus: 400,
			wantCode: "unknown_field"},
		{name: "field given twice", method: "POST", target: "/v1/tenants",
			body: `{"slug":"new-co","name":"X","slug":"acme-corp"}`, wantStatus: 400,
			wantCode: "invalid_json", wantMsg: `field "slug" appears more than once`},
		{name: "huge unknown field name is not echoed", method: "POST", target: "/v1/tenants",
			body: `{"` + strings.Repeat("k", 100_000) + `":1}`, wantStatus: 400,
			wantCode: "unknown_field",
			check: func(t *testing.T, _ *memService, _ http.Header, body []byte) {
				if len(body) > 1000 {
					t.Errorf("error response is %d bytes; the key is echoed", len(body))
				}
			}},
		{name: "number for a string", method: "POST", target: "/v1/tenants",
			body: `{"slug":1,"name":"X"}`, wantStatus: 400, wantCode: "invalid_json",
			wantMsg: `field "slug" must be a JSON string`},
		{name: "huge number for a string", method: "POST", target: "/v1/tenants",
			body: `{"slug":1e999999,"name":"X"}`, wantStatus: 400, wantCode: "invalid_json"},
		{name: "object for a string", method: "POST", target: "/v1/tenants",
			body: `{"slug":{"a":1},"name":"X"}`, wantStatus: 400, wantCode: "invalid_json",
			wantMsg: `field "slug" must be a JSON string`},
		{name: "two JSON values", method: "POST", target: "/v1/tenants",
			body: create + create, wantStatus: 400, wantCode: "invalid_json",
			wantMsg: "one JSON object"},
		{name: "trailing brace", method: "POST", target: "/v1/tenants", body: create + "}",
			wantStatus: 400, wantCode: "invalid_json"},
		{name: "trailing bracket", method: "POST", target: "/v1/tenants", body: create + "]",
			wantStatus: 400, wantCode: "invalid_json"},
		{name: "trailing whitespace is fine", method: "POST", target: "/v1/tenants",
			body: create + "\n\n", wantStatus: 201},
		{name: "null", method: "POST", target: "/v1/tenants", body: `null`,
			wantStatus: 400, wantCode: "invalid_json", wantMsg: "must be a JSON object"},
		{name: "array", method: "POST", target: "/v1/tenants", body: `[` + create + `]`,
			wantStatus: 400, wantCode: "invalid_json", wantMsg: "must be a JSON object"},
		{name: "string", method: "POST", target: "/v1/tenants", body: `"new-co"`,
			wantStatus: 400, wantCode: "invalid_json", wantMsg: "must be a JSON object"},
		{name: "deeply nested", method: "POST", target: "/v1/tenants",
			body: `{"slug":` + deep + `}`, wantStatus: 400, wantCode: "invalid_json"},
		{name: "text/plain", method: "POST", target: "/v1/tenants", body: create,
			edit: contentType("text/plain"), wantStatus: 415,
			wantCode: "unsupported_media_type", wantMsg: "application/json"},
		{name: "form", method: "POST", target: "/v1/tenants", body: create,
			edit: contentType("application/x-www-form-urlencoded"), wantStatus: 415,
			wantCode: "unsupported_media_type"},
		{name: "json lookalike", method: "POST", target: "/v1/tenants", body: create,
			edit: contentType("application/jsonp"), wantStatus: 415,
			wantCode: "unsupported_media_type"},
		// Browsers send a body without Content-Type cross-origin with no CORS preflight.
		{name: "no Content-Type", method: "POST", target: "/v1/tenants", body: create,
			edit: contentType(""), wantStatus: 415, wantCode: "unsupported_media_type"},

		// Read, update, delete.
		{name: "get by slug", method: "GET", target: "/v1/tenants/acme-corp", wantStatus: 200,
			check: checkTenant("acme-corp", "Tenant acme-corp", store.TenantActive)},
		{name: "get by id", method: "GET",
			target: "/v1/tenants/00000000-0000-7000-8000-000000000001", wantStatus: 200,
			check: checkTenant("acme-corp", "Tenant acme-corp", store.TenantActive)},
		{name: "rename", method: "PATCH", target: "/v1/tenants/acme-corp",
			body: `{"name":"Acme Inc"}`, wantStatus: 200,
			check: checkTenant("acme-corp", "Acme Inc", store.TenantActive)},
		{name: "suspend", method: "PATCH", target: "/v1/tenants/acme-corp",
			body: `{"status":"suspended"}`, wantStatus: 200,
			check: checkTenant("acme-corp", "Tenant acme-corp", store.TenantSuspended)},
		{name: "empty update", method: "PATCH", target: "/v1/tenants/acme-corp", body: `{}`,
			wantStatus: 200,
			check:      checkTenant("acme-corp", "Tenant acme-corp", store.TenantActive)},
		{name: "internal status", method: "PATCH", target: "/v1/tenants/acme-corp",
			body: `{"status":"deleting"}`, wantStatus: 400, wantCode: "invalid",
			wantMsg: `status must be "active" or "suspended"`},
		{name: "status of the wrong type", method: "PATCH", target: "/v1/tenants/acme-corp",
			body: `{"status":1}`, wantStatus: 400, wantCode: "invalid_json",
			wantMsg: `field "status" must be a JSON string`},
		{name: "slug cannot be patched", method: "PATCH", target: "/v1/tenants/acme-corp",
			body: `{"slug":"other"}`, wantStatus: 400, wantCode: "unknown_field"},
		{name: "patch null", method: "PATCH", target: "/v1/tenants/acme-corp", body: `null`,
			wantStatus: 400, wantCode: "invalid_json"},
		{name: "patch without Content-Type", method: "PATCH", target: "/v1/tenants/acme-corp",
			body: `{"name":"X"}`, edit: contentType(""), wantStatus: 415,
			wantCode: "unsupported_media_type"},
		{name: "patch unknown tenant", method: "PATCH", target: "/v1/tenants/ghost",
			body: `{"name":"X"}`, wantStatus: 404, wantCode: "not_found"},
		{name: "delete", method: "DELETE", target: "/v1/tenants/acme-corp", wantStatus: 204,
			check: func(t *testing.T, svc *memService, _ http.Header, body []byte) {
				if len(body) != 0 {
					t.Errorf("204 with body %q", body)
				}
				if _, err := svc.GetTenant(t.Context(), "acme-corp"); err == nil {
					t.Error("tenant still exists after delete")
				}
			}},
		{name: "delete unknown tenant", method: "DELETE", target: "/v1/tenants/ghost",
			wantStatus: 404, wantCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newMemService("acme-corp")
			r := newRequest(tt.method, tt.target, tt.body)
			if tt.edit != nil {
				tt.edit(r)
			}
			rec := serve(web.New(svc, web.Options{}), r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus,
					truncated(rec.Body.Bytes()))
			}
			if tt.wantCode != "" {
				e := checkEnvelope(t, rec.Header(), rec.Body.Bytes())
				if e.Code != tt.wantCode {
					t.Errorf("code = %q, want %q (message %q)", e.Code, tt.wantCode, e.Message)
				}
				if !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantMsg)
				}
			}
			if tt.check != nil {
				tt.check(t, svc, rec.Header(), rec.Body.Bytes())
			}
		})
	}
}

func contentType(ct string) func(*http.Request) {
	return func(r *http.Request) {
		if ct == "" {
			r.Header.Del("Content-Type")
			return
		}
		r.Header.Set("Content-Type", ct)
	}
}

func checkTenant(slug, name string, status store.TenantStatus) func(*testing.T, *memService,
	http.Header, []byte) {
	return func(t *testing.T, _ *memService, h http.Header, body []byte) {
		t.Helper()
		if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		var got store.Tenant
		decodeStrict(t, body, &got)
		if got.Slug != slug || got.Name != name || got.Status != status ||
			!got.CreatedAt.Equal(testTime) {
			t.Errorf("tenant = %+v, want slug %q name %q status %q", got, slug, name, status)
		}
	}
}

func truncated(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// bodyOfSize returns a create request body of exactly n bytes (n ≥ 40) whose name is long.
func bodyOfSize(n int) []byte {
	const head, tail = `{"slug":"big-co","name":"`, `"}`
	return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
}

// chunked hides the body's length, so the request goes out as Transfer-Encoding: chunked.
type chunked struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		// chunked sends the body without a Content-Length.
		chunked    bool
		wantStatus int
		wantCode   string
	}{
		{name: "content-length over the cap", body: bodyOfSize(web.MaxBodyBytes + 1),
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "chunked over the cap", body: bodyOfSize(web.MaxBodyBytes + 1), chunked: true,
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "chunked garbage over the cap", chunked: true,
			body:       bytes.Repeat([]byte("x"), web.MaxBodyBytes+1),
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "chunked whitespace after a value, over the cap", chunked: true,
			body: append([]byte(`{"slug":"big-co","name":"X"}`),
				bytes.Repeat([]byte(" "), web.MaxBodyBytes)...),
			wantStatus: 413, wantCode: "body_too_large"},
		// Exactly at the cap the body is read, and the store rejects the 10 MiB name.
		{name: "content-length at the cap", body: bodyOfSize(web.MaxBodyBytes),
			wantStatus: 400, wantCode: "invalid"},
		{name: "chunked at the cap", body: bodyOfSize(web.MaxBodyBytes), chunked: true,
			wantStatus: 400, wantCode: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest("POST", "/v1/tenants", "")
			r.Header.Set("Content-Type", "application/json")
			r.Body = io.NopCloser(bytes.NewReader(tt.body))
			r.ContentLength = int64(len(tt.body))
			if tt.chunked {
				r.Body = io.NopCloser(chunked{bytes.NewReader(tt.body)})
				r.ContentLength = -1
				r.TransferEncoding = []string{"chunked"}
			}
			rec := serve(web.New(newMemService(), web.Options{}), r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus,
					truncated(rec.Body.Bytes()))
			}
			if e := checkEnvelope(t, rec.Header(), rec.Body.Bytes()); e.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Code, tt.wantCode)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	slugs := make([]string, 30)
	for i := range slugs {
		slugs[i] = fmt.Sprintf("tenant-%02d", i)
	}
	tests := []struct {
		query        string
		wantStatus   int
		wantPage     int
		wantPageSize int
		wantFirst    string // slug of the first item; "" for an empty page
		wantItems    int
		wantMsg      string // for 400s
	}{
		{query: "", wantStatus: 200, wantPage: 1, wantPageSize: 25, wantFirst: "tenant-00",
			wantItems: 25},
		{query: "page=2", wantStatus: 200, wantPage: 2, wantPageSize: 25,
			wantFirst: "tenant-25", wantItems: 5},
		{query: "page=2&page_size=10", wantStatus: 200, wantPage: 2, wantPageSize: 10,
			wantFirst: "tenant-10", wantItems: 10},
		{query: "page=4&page_size=10", wantStatus: 200, wantPage: 4, wantPageSize: 10,
			wantItems: 0},
		{query: "page=1000000", wantStatus: 200, wantPage: 1000000, wantPageSize: 25},
		{query: "page_size=1", wantStatus: 200, wantPage: 1, wantPageSize: 1,
			wantFirst: "tenant-00", wantItems: 1},
		{query: "page_size=100", wantStatus: 200, wantPage: 1, wantPageSize: 100,
			wantFirst: "tenant-00", wantItems: 30},
		{query: "page=&page_size=", wantStatus: 200, wantPage: 1, wantPageSize: 25,
			wantFirst: "tenant-00", wantItems: 25},
		{query: "page=0", wantStatus: 400, wantMsg: `page must be a whole number from 1, got "0"`},
		{query: "page=-1", wantStatus: 400, wantMsg: "page must be"},
		{query: "page=abc", wantStatus: 400, wantMsg: `got "abc"`},
		{query: "page=1.5", wantStatus: 400, wantMsg: "page must be"},
		{query: "page=1000001", wantStatus: 400, wantMsg: "page must be"},
		{query: "page=" + strings.Repeat("9", 500), wantStatus: 400, wantMsg: `999..."`},
		{query: "page=%00", wantStatus: 400, wantMsg: "page must be"},
		{query: "page_size=0", wantStatus: 400,
			wantMsg: `page_size must be a whole number from 1 to 100, got "0"`},
		{query: "page_size=101", wantStatus: 400, wantMsg: `got "101"`},
		{query: "page_size=-5", wantStatus: 400, wantMsg: "page_size must be"},
		{query: "page_size=abc", wantStatus: 400, wantMsg: "page_size must be"},
	}
	srv := web.New(newMemService(slugs...), web.Options{})
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := serve(srv, newRequest("GET", "/v1/tenants?"+tt.query, ""))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus,
					truncated(rec.Body.Bytes()))
			}
			if tt.wantStatus != 200 {
				e := checkEnvelope(t, rec.Header(), rec.Body.Bytes())
				if e.Code != "invalid" || !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("error %q %q, want invalid containing %q", e.Code, e.Message,
						tt.wantMsg)
				}
				if len(e.Message) > 200 {
					t.Errorf("message is %d bytes; the query is echoed", len(e.Message))
				}
				return
			}
			var got web.ListBody[store.Tenant]
			decodeStrict(t, rec.Body.Bytes(), &got)
			if got.Items == nil {
				t.Errorf("items is null, want []: %s", rec.Body.Bytes())
			}
			if got.Total != 30 || got.Page != tt.wantPage || got.PageSize != tt.wantPageSize ||
				len(got.Items) != tt.wantItems {
				t.Errorf("total %d page %d page_size %d items %d, want 30 %d %d %d",
					got.Total, got.Page, got.PageSize, len(got.Items), tt.wantPage,
					tt.wantPageSize, tt.wantItems)
			}
			if tt.wantItems > 0 && got.Items[0].Slug != tt.wantFirst {
				t.Errorf("first item %q, want %q", got.Items[0].Slug, tt.wantFirst)
			}
		})
	}
}

func TestListETag(t *testing.T) {
	svc := newMemService("acme-corp", "globex")
	srv := web.New(svc, web.Options{})
	list := func(target, inm string) *http.Response {
		t.Helper()
		r := newRequest("GET", target, "")
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		return serve(srv, r).Result()
	}

	first := list("/v1/tenants", "")
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("first list: status %d ETag %q, want 200 and a quoted strong ETag",
			first.StatusCode, etag)
	}
	if again := list("/v1/tenants", "").Header.Get("ETag"); again != etag {
		t.Errorf("ETag changed without a change: %q then %q", etag, again)
	}

	for _, inm := range []string{etag, "W/" + etag, `"stale", ` + etag, "*"} {
		resp := list("/v1/tenants", inm)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match %s: status %d body %q, want 304 and no body", inm,
				resp.StatusCode, body)
		}
		if got := resp.Header.Get("ETag"); got != etag {
			t.Errorf("If-None-Match %s: 304 ETag = %q, want %q", inm, got, etag)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("If-None-Match %s: 304 lacks security headers", inm)
		}
	}

	for _, inm := range []string{`"stale"`, strings.Trim(etag, `"`), "W/" + `"stale"`} {
		if resp := list("/v1/tenants", inm); resp.StatusCode != 200 {
			t.Errorf("If-None-Match %s: status %d, want 200", inm, resp.StatusCode)
		}
	}
	if other := list("/v1/tenants?page_size=1", ""); other.Header.Get("ETag") == etag {
		t.Error("another page has the same ETag")
	}

	rec := serve(srv, newRequest("POST", "/v1/tenants", `{"slug":"initech","name":"I"}`))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.Bytes())
	}
	changed := list("/v1/tenants", etag)
	if changed.StatusCode != 200 || changed.Header.Get("ETag") == etag {
		t.Errorf("after a change: status %d ETag %q, want 200 and a new ETag",
			changed.StatusCode, changed.Header.Get("ETag"))
	}
}
