package omada

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tenantra/tenantra/network/internal/restapi/restapitest"
)

// FuzzDecodeResponse feeds bytes through what the collector does with a response body:
// the envelope, a page of each row kind, status names and error messages. Nothing may
// panic, and messages stay one printable, bounded line.
func FuzzDecodeResponse(f *testing.F) {
	restapitest.AddFileSeeds(f, filepath.Join("testdata", "openapi-v1", "*.json"))
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"errorCode":"0"}`, `{"errorCode":-44112}`,
		`{"errorCode":0,"result":null}`, `{"errorCode":0,"result":{"data":null}}`,
		`{"errorCode":0,"result":{"totalRows":-1,"data":[{"status":"1"}]}}`,
		`{"errorCode":0,"result":{"data":[{"status":99999999999999999999}]}}`,
		`{"errorCode":1,"msg":"\u0000\u001b[31m` + strings.Repeat("é", 300) + `"}`,
		`{"errorCode":0} {"errorCode":1}`, `{"msg":"\xff\xfe"}`,
		`{"result":` + strings.Repeat("[", 5000) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(bytes.NewReader(b))
		if err != nil {
			return
		}
		msg := codeError("devices of site x", env.ErrorCode, env.Msg).Error()
		if strings.IndexFunc(msg, unicode.IsControl) >= 0 {
			t.Fatalf("control character in %q", msg)
		}
		if utf8.RuneCountInString(cleanMsg(env.Msg)) > 201 {
			t.Fatalf("message not bounded: %d runes", utf8.RuneCountInString(cleanMsg(env.Msg)))
		}
		var devs page[deviceRow]
		if json.Unmarshal(env.Result, &devs) == nil {
			for _, d := range devs.Data {
				_ = deviceStatus(d.Status)
				_ = normalMAC(d.MAC)
			}
		}
		var sites page[siteRow]
		_ = json.Unmarshal(env.Result, &sites)
		var clients page[clientRow]
		_ = json.Unmarshal(env.Result, &clients)
	})
}

func TestDeviceStatus(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		`0`: "disconnected", `1`: "connected", `2`: "pending", `3`: "heartbeat-missed",
		`4`: "isolated", `14`: "status-14", `"CONNECTED"`: "connected", `null`: "",
		`{}`: "", ``: "", `1.5`: "",
	} {
		if got := deviceStatus(json.RawMessage(raw)); got != want {
			t.Errorf("deviceStatus(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{``, "empty response"},
		{`{"errorCode":0}{}`, "data after the response object"},
		{`{"errorCode":"x"}`, "cannot unmarshal"},
		{`{"errorCode":0,"result":{"data":[`, "unexpected EOF"},
		{`<html>`, "invalid character '<'"},
	} {
		_, err := decodeEnvelope(strings.NewReader(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeEnvelope(%q) = %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	good := Options{BaseURL: "https://omada.example:8043", OmadacID: testOmadacID,
		ClientID: testClientID, ClientSecret: testSecret}
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"good", func(*Options) {}, ""},
		{"http", func(o *Options) { o.BaseURL = "http://omada" }, "need https"},
		{"path", func(o *Options) { o.BaseURL = "https://omada/openapi" }, "give only"},
		{"no omadac", func(o *Options) { o.OmadacID = "" }, "omadacId"},
		{"omadac walks", func(o *Options) { o.OmadacID = "../x" }, "omadacId"},
		{"no client", func(o *Options) { o.ClientID = "" }, "client id"},
		{"no secret", func(o *Options) { o.ClientSecret = "" }, "secret is empty"},
		{"secret control", func(o *Options) { o.ClientSecret = "a\nb" }, "control"},
		{"pin", func(o *Options) { o.PinSHA256 = "00" }, "64 hex digits"},
		{"page size", func(o *Options) { o.PageSize = 5000 }, "1 to 1000"},
	}
	for _, tc := range cases {
		o := good
		tc.edit(&o)
		err := o.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s: error leaks the secret", tc.name)
		}
	}
}

// TestTokenRenewedWhenExpired checks the time-based renewal: a token granted for one
// second is not used after it.
func TestTokenRenewedWhenExpired(t *testing.T) {
	t.Parallel()
	r := newReplay(t)
	r.Override(pathToken, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, bytes.Replace(fixture(t, "token.json"), []byte(`"expiresIn":7200`),
			[]byte(`"expiresIn":1`), 1))
	})
	c := newController(t, r.options(t))
	for range 2 {
		if _, err := c.Test(context.Background()); err != nil {
			t.Fatalf("Test: %v", err)
		}
	}
	if n := r.Count(pathToken); n != 1 {
		t.Errorf("token requested %d times within its life, want 1", n)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.Test(context.Background()); err != nil {
		t.Fatalf("Test: %v", err)
	}
	if n := r.Count(pathToken); n != 2 {
		t.Errorf("token requested %d times after it expired, want 2", n)
	}
}
