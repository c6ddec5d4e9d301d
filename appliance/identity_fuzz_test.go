package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
)

// FuzzLoginBody drives the real sign-in endpoint with arbitrary bodies: it never answers
// 5xx, always with the JSON envelope or tokens, and signs in only with the right password.
func FuzzLoginBody(f *testing.F) {
	for _, seed := range []string{
		`{"email":"fuzz@example.com","password":"fuzzing passphrase 2026"}`,
		`{"email":"fuzz@example.com","password":"wrong"}`,
		`{"email":"","password":""}`, `{}`, `null`, `[]`, `{"email":1}`,
		`{"email":"a@b","password":"x","totp":"123456"}`,
		`{"email":"a@b","password":"x","extra":true}`,
		`{"email":"\u0000","password":"\ud800"}`, "{\"email\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	a := openTest(f, testConfig(f, f.TempDir()))
	f.Cleanup(func() { _ = a.Close() })
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	if _, err := a.CreateUser(ctx, web.NewUser{Email: "fuzz@example.com",
		Password: "fuzzing passphrase 2026", PlatformRole: "admin"}); err != nil {
		f.Fatal(err)
	}
	srv := web.New(a, web.Options{})
	good := []byte(`{"email":"fuzz@example.com","password":"fuzzing passphrase 2026"}`)
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/auth/login", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		// A new address each time keeps the per-address limit out of the way; a 429 would
		// hide what the body does.
		n++
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1", n>>16&255, n>>8&255, n&255)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		if rec.Code == http.StatusOK && !bytes.Equal(body, good) {
			var req web.LoginRequest
			if json.Unmarshal(body, &req) != nil || req.Password != "fuzzing passphrase 2026" {
				t.Fatalf("signed in with %q", body)
			}
		}
	})
}
