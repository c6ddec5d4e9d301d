package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// The fuzz targets drive the real handler, through every middleware, with arbitrary request
// bodies: the decoder is the first code that parses untrusted bytes. Seeds live in
// testdata/fuzz/<FuzzName>/ and run with every `go test`.

func FuzzDecodeTenantCreate(f *testing.F) {
	f.Add([]byte(`{"slug":"new-co","name":"New Co"}`))
	f.Add([]byte(`{"slug":"acme-corp","name":"Taken"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzBody(t, http.MethodPost, "/v1/tenants", body, http.StatusCreated, "slug", "name")
	})
}

func FuzzDecodeTenantUpdate(f *testing.F) {
	f.Add([]byte(`{"name":"Acme Inc","status":"suspended"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzBody(t, http.MethodPatch, "/v1/tenants/acme-corp", body, http.StatusOK, "name",
			"status")
	})
}

// fuzzBody sends body and checks what must hold for any input: no panic and no 5xx; a
// success is one tenant, anything else one error envelope with a client status; and neither
// invalid JSON nor a key outside fields (compared exactly, unlike encoding/json) is accepted.
func fuzzBody(t *testing.T, method, target string, body []byte, okStatus int,
	fields ...string) {
	srv := web.New(newMemService("acme-corp"), web.Options{})
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.RemoteAddr = loopbackAddr
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	rec := serve(srv, r)

	switch rec.Code {
	case okStatus:
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not valid JSON: %q", body)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(body, &keys); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		for k := range keys {
			if !slices.Contains(fields, k) {
				t.Fatalf("accepted unknown key %q in %q", k, body)
			}
		}
		var tenant store.Tenant
		decodeStrict(t, rec.Body.Bytes(), &tenant)
		if store.ValidateSlug(tenant.Slug) != nil || tenant.Status != store.TenantActive &&
			tenant.Status != store.TenantSuspended {
			t.Fatalf("answered %d with tenant %+v", rec.Code, tenant)
		}
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		e := checkEnvelope(t, rec.Header(), rec.Body.Bytes())
		if e.Code == "internal" {
			t.Fatalf("client error with code internal: %s", rec.Body.Bytes())
		}
	default:
		t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
	}
}
