package audit

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestRedactDiff(t *testing.T) {
	type creds struct {
		Username  string `json:"username"`
		Password  string `json:"password"`
		Community string `json:"snmp_community"`
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"flat", map[string]any{"email": "a@b.c", "Password": "hunter22", "role": "admin"},
			`{"Password":"[redacted]","email":"a@b.c","role":"admin"}`},
		{"nested old and new", map[string]any{"changes": map[string]any{
			"password": map[string]any{"old": "x", "new": "y"},
			"name":     map[string]any{"old": "A", "new": "B"}}},
			`{"changes":{"name":{"new":"B","old":"A"},"password":"[redacted]"}}`},
		{"inside arrays", []any{map[string]any{"apiToken": "t1"},
			map[string]any{"items": []any{map[string]any{"TOTP_Secret": "s", "n": 1}}}},
			`[{"apiToken":"[redacted]"},{"items":[{"TOTP_Secret":"[redacted]","n":1}]}]`},
		{"struct tags", creds{"bob", "pw", "public"},
			`{"password":"[redacted]","snmp_community":"[redacted]","username":"bob"}`},
		{"object under secret key", map[string]any{"credentials": map[string]any{
			"user": "u", "pass": "p"}}, `{"credentials":"[redacted]"}`},
		{"null kept", map[string]any{"password": nil}, `{"password":null}`},
		{"key words", map[string]any{"apiKey": 1, "master_key": 2, "hexkey": 3,
			"key_version": 4, "keyring": "k", "recovery_codes": []string{"a"}, "otp": "1",
			"footprint": 5, "private-key": "pem", "client_secret": "c", "x-api-key": "k"},
			`{"apiKey":"[redacted]","client_secret":"[redacted]","footprint":5,` +
				`"hexkey":"[redacted]","key_version":4,"keyring":"k","master_key":"[redacted]",` +
				`"otp":"[redacted]","private-key":"[redacted]","recovery_codes":"[redacted]",` +
				`"x-api-key":"[redacted]"}`},
		{"raw JSON in",
			json.RawMessage(`{"a": {"b": {"SECRET": 1.50}}, "big": 12345678901234567890}`),
			`{"a":{"b":{"SECRET":"[redacted]"}},"big":12345678901234567890}`},
		{"html kept readable", map[string]string{"note": "<b>&"}, `{"note":"<b>&"}`},
		{"scalar", "just a string", `"just a string"`},
		{"nil", nil, `null`},
		{"unencodable", map[string]any{"f": math.Inf(1)}, `"[unencodable diff]"`},
		{"channel", make(chan int), `"[unencodable diff]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactDiff(tt.in)
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
		})
	}
}

func TestRedactDiffDeep(t *testing.T) {
	// A secret far down a deep tree is still found.
	var v any = map[string]any{"token": "deep"}
	for range 500 {
		v = map[string]any{"next": []any{v}}
	}
	got := string(RedactDiff(v))
	if strings.Contains(got, "deep") || !strings.Contains(got, `"token":"[redacted]"`) {
		t.Fatalf("deep secret not redacted: …%s", got[len(got)-80:])
	}
}

func TestIsSecretKey(t *testing.T) {
	for k, want := range map[string]bool{
		"password": true, "newPassword": true, "PASSWD": true, "passphrase": true,
		"secret": true, "totp_secret": true, "token": true, "refreshToken": true,
		"community": true, "snmpCommunity": true, "recovery": true, "key": true, "Key": true,
		"apiKey": true, "api_key": true, "privateKey": true, "dek": true, "pin": true,
		"password_hash": true, "Authorization": true, "cookie": true, "bind_credential": true,
		"key_version": false, "keyVersion": false, "keyring": false, "name": false,
		"email": false, "role": false, "footprint": false, "spinner": false, "": false,
		"tokenizer": true, // over-matching is preferred to a leak
	} {
		if got := IsSecretKey(k); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", k, got, want)
		}
	}
}
