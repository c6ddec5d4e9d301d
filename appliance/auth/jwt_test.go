package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testKey returns a deterministic signing key, so that tests and the committed fuzz corpus
// agree on what a genuine token is.
func testKey(id string) SigningKey {
	sum := sha256.Sum256([]byte("tenantra test signing key " + id))
	return SigningKey{ID: id, Secret: keys.Key(sum[:])}
}

func testIssuer(now *time.Time, ks ...SigningKey) *Issuer {
	if len(ks) == 0 {
		ks = []SigningKey{testKey("k1")}
	}
	return &Issuer{Keys: ks, TTL: 15 * time.Minute, Now: func() time.Time { return *now }}
}

// craft builds a compact JWS from a header and claims, signed by sign (nil: empty signature),
// so tests can forge what the jwt library would refuse to make.
func craft(t testing.TB, header, claims map[string]any, sign func(string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign(input)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func hs256(secret []byte) func(string) []byte {
	return func(input string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

func goodClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": TokenIssuer, "aud": []string{TokenAudience}, "sub": "user-1", "sid": "sess-1",
		"jti": "j1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for mk, mv := range m {
		out[mk] = mv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestIssueVerify(t *testing.T) {
	now := t0
	iss := testIssuer(&now)
	tok, exp, err := iss.Issue("user-1", "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("exp = %v", exp)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["kid"] != "k1" || parsed.Header["alg"] != "HS256" {
		t.Fatalf("header %v", parsed.Header)
	}
	c, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "user-1" || c.SessionID != "sess-1" || c.Issuer != TokenIssuer ||
		len(c.Audience) != 1 || c.Audience[0] != TokenAudience || c.ID == "" ||
		!c.IssuedAt.Equal(t0) || !c.NotBefore.Equal(t0) || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("claims %+v", c)
	}
	tok2, _, err := iss.Issue("user-1", "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := iss.Verify(tok2)
	if err != nil || c2.ID == c.ID {
		t.Fatalf("second token: %v, same jti %v", err, c2 != nil && c2.ID == c.ID)
	}

	// Time: valid until exp plus leeway, and not before nbf minus leeway.
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{t0.Add(15*time.Minute - time.Second), true},
		{t0.Add(15*time.Minute + TokenLeeway - time.Second), true},
		{t0.Add(15*time.Minute + TokenLeeway + time.Second), false},
		{t0.Add(24 * time.Hour), false},
		{t0.Add(-TokenLeeway + time.Second), true},
		{t0.Add(-TokenLeeway - time.Second), false},
	} {
		now = c.at
		_, err := iss.Verify(tok)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrTokenInvalid)) {
			t.Errorf("at t0%+v: err = %v, want ok=%v", c.at.Sub(t0), err, c.ok)
		}
	}
}

func TestIssueRejects(t *testing.T) {
	now := t0
	good := testIssuer(&now)
	short := SigningKey{ID: "s", Secret: keys.Key("too short")}
	cases := []struct {
		name     string
		iss      *Issuer
		user, ss string
	}{
		{"no user", good, "", "sess"},
		{"no session", good, "user", ""},
		{"no keys", &Issuer{TTL: time.Minute}, "user", "sess"},
		{"short secret", &Issuer{Keys: []SigningKey{short}, TTL: time.Minute}, "user", "sess"},
		{"no key id", &Issuer{Keys: []SigningKey{{Secret: testKey("x").Secret}},
			TTL: time.Minute}, "user", "sess"},
		{"duplicate id", &Issuer{Keys: []SigningKey{testKey("a"), {ID: "a",
			Secret: testKey("b").Secret}}, TTL: time.Minute}, "user", "sess"},
		{"zero ttl", &Issuer{Keys: []SigningKey{testKey("a")}}, "user", "sess"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := c.iss.Issue(c.user, c.ss); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Issue = %v, want ErrInvalid", err)
			}
			if _, err := c.iss.Verify("x.y.z"); !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("Verify = %v, want ErrTokenInvalid", err)
			}
		})
	}
	var nilIssuer *Issuer
	if _, err := nilIssuer.Verify("x.y.z"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("nil issuer: %v", err)
	}
	// A zero-value clock uses the real time.
	real := &Issuer{Keys: []SigningKey{testKey("k1")}, TTL: time.Minute}
	tok, _, err := real.Issue("u", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := real.Verify(tok); err != nil {
		t.Fatal(err)
	}
}

func TestKeyRotation(t *testing.T) {
	now := t0
	oldKey, newKey := testKey("old"), testKey("new")
	before := testIssuer(&now, oldKey)
	oldTok, _, err := before.Issue("user-1", "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: the new key signs, the old one still verifies, so nobody is logged out.
	during := testIssuer(&now, newKey, oldKey)
	if _, err := during.Verify(oldTok); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	newTok, _, err := during.Issue("user-1", "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _ := jwt.NewParser().ParseUnverified(newTok, &Claims{}); p.Header["kid"] != "new" {
		t.Fatalf("new token kid %v", p.Header["kid"])
	}
	// Retired: the old key is gone, its tokens are refused even while unexpired.
	after := testIssuer(&now, newKey)
	if _, err := after.Verify(oldTok); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("token of a retired key: %v", err)
	}
	if _, err := after.Verify(newTok); err != nil {
		t.Fatal(err)
	}
	// Same kid, different secret (a key replaced under an old id): refused.
	impostor := testIssuer(&now, SigningKey{ID: "new", Secret: testKey("other").Secret})
	if _, err := impostor.Verify(newTok); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("token under a replaced secret: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := t0
	key := testKey("k1")
	iss := testIssuer(&now, key)
	genuine, _, err := iss.Issue("user-1", "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(genuine, ".")
	hdr := map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}
	claims := goodClaims(t0)
	secret := []byte(key.Secret)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es256, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims)).
		SignedString(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(claims))
	hs512.Header["kid"] = "k1"
	hs512Tok, err := hs512.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims))
	none.Header["kid"] = "k1"
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	flipLast := func(s string) string {
		b := []byte(s)
		if b[len(b)-1] == 'A' {
			b[len(b)-1] = 'B'
		} else {
			b[len(b)-1] = 'A'
		}
		return string(b)
	}
	// The signature's last character carries 2 spare bits; setting one keeps the decoded
	// bytes (to a lenient decoder) but must not produce a second valid spelling.
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	sig := parts[2]
	last := strings.IndexByte(b64, sig[len(sig)-1])
	nonCanonical := parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] + string(b64[last|1])
	if raw, err := base64.RawURLEncoding.DecodeString(nonCanonical[strings.LastIndexByte(
		nonCanonical, '.')+1:]); err != nil || string(hs256(secret)(parts[0]+"."+parts[1])) !=
		string(raw) {
		t.Fatal("test bug: the non-canonical signature should decode leniently to the real one")
	}

	cases := []struct{ name, token string }{
		{"empty", ""},
		{"garbage", "not a token"},
		{"two parts", parts[0] + "." + parts[1]},
		{"four parts", genuine + ".x"},
		{"empty signature", parts[0] + "." + parts[1] + "."},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2])},
		{"non-canonical signature", nonCanonical},
		{"padded signature", genuine + "="},
		{"std base64 signature", parts[0] + "." + parts[1] + "." +
			base64.StdEncoding.EncodeToString(hs256(secret)(parts[0]+"."+parts[1]))},
		{"tampered claims", parts[0] + "." + craftPart(t, with(claims, "sub", "admin")) + "." +
			parts[2]},
		{"whitespace", " " + genuine},
		{"too long", genuine + strings.Repeat("A", MaxTokenLen)},
		{"huge", strings.Repeat(genuine, 1000)},
		{"alg none", noneTok},
		{"alg none crafted", craft(t, with(hdr, "alg", "none"), claims, nil)},
		{"alg NONE with hmac", craft(t, with(hdr, "alg", "NONE"), claims, hs256(secret))},
		{"alg lowercase", craft(t, with(hdr, "alg", "hs256"), claims, hs256(secret))},
		{"alg missing", craft(t, with(hdr, "alg", nil), claims, hs256(secret))},
		{"alg RS256 hmac-signed", craft(t, with(hdr, "alg", "RS256"), claims, hs256(secret))},
		{"alg ES256", es256},
		{"alg HS512 same secret", hs512Tok},
		{"kid missing", craft(t, with(hdr, "kid", nil), claims, hs256(secret))},
		{"kid empty", craft(t, with(hdr, "kid", ""), claims, hs256(secret))},
		{"kid unknown", craft(t, with(hdr, "kid", "k2"), claims, hs256(secret))},
		{"kid number", craft(t, with(hdr, "kid", 1), claims, hs256(secret))},
		{"kid path", craft(t, with(hdr, "kid", "../../etc/passwd"), claims, hs256(secret))},
		{"wrong secret", craft(t, hdr, claims, hs256([]byte("wrong")))},
		{"wrong issuer", craft(t, hdr, with(claims, "iss", "evil"), hs256(secret))},
		{"no issuer", craft(t, hdr, with(claims, "iss", nil), hs256(secret))},
		{"wrong audience", craft(t, hdr, with(claims, "aud", "other-api"), hs256(secret))},
		{"no audience", craft(t, hdr, with(claims, "aud", nil), hs256(secret))},
		{"no exp", craft(t, hdr, with(claims, "exp", nil), hs256(secret))},
		{"exp string", craft(t, hdr, with(claims, "exp", "never"), hs256(secret))},
		{"expired", craft(t, hdr, with(claims, "exp", t0.Add(-time.Hour).Unix()),
			hs256(secret))},
		{"nbf future", craft(t, hdr, with(claims, "nbf", t0.Add(time.Hour).Unix()),
			hs256(secret))},
		{"iat future", craft(t, hdr, with(claims, "iat", t0.Add(time.Hour).Unix()),
			hs256(secret))},
		{"no iat", craft(t, hdr, with(claims, "iat", nil), hs256(secret))},
		{"no sub", craft(t, hdr, with(claims, "sub", nil), hs256(secret))},
		{"no sid", craft(t, hdr, with(claims, "sid", nil), hs256(secret))},
		{"no jti", craft(t, hdr, with(claims, "jti", nil), hs256(secret))},
		{"sid not string", craft(t, hdr, with(claims, "sid", 7), hs256(secret))},
		{"claims null", craftRaw(t, hdr, "null", hs256(secret))},
		{"claims array", craftRaw(t, hdr, "[]", hs256(secret))},
		{"claims not JSON", craftRaw(t, hdr, "{", hs256(secret))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := iss.Verify(c.token)
			if !errors.Is(err, ErrTokenInvalid) || got != nil {
				t.Fatalf("Verify = %+v, %v; want ErrTokenInvalid", got, err)
			}
			if len(c.token) > 8 && strings.Contains(err.Error(), c.token) {
				t.Fatalf("error %q contains the token", err)
			}
		})
	}
	// The signed forgeries above fail for their one defect, not by accident: the same
	// construction with nothing wrong verifies.
	if _, err := iss.Verify(craft(t, hdr, claims, hs256(secret))); err != nil {
		t.Fatalf("well-formed crafted token: %v", err)
	}
}

func craftPart(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func craftRaw(t testing.TB, header map[string]any, claimsJSON string,
	sign func(string) []byte) string {
	input := craftPart(t, header) + "." + base64.RawURLEncoding.EncodeToString([]byte(claimsJSON))
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

func TestTokenFailureReasons(t *testing.T) {
	now := t0
	iss := testIssuer(&now)
	tok, _, err := iss.Issue("u", "s")
	if err != nil {
		t.Fatal(err)
	}
	now = t0.Add(time.Hour)
	_, err = iss.Verify(tok)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	now = t0
	_, err = testIssuer(&now, testKey("other")).Verify(tok)
	if err == nil || !strings.Contains(err.Error(), "kid") {
		t.Fatalf("unknown kid: %v", err)
	}
}

// BenchmarkVerify measures the per-request cost of access-token verification (target < 50 µs).
func BenchmarkVerify(b *testing.B) {
	now := t0
	iss := testIssuer(&now, testKey("k1"), testKey("k0"))
	tok, _, err := iss.Issue("0190c2a4-7f3e-7a51-9d2b-5c7e3f1a2b4c",
		"0190c2a4-8a11-7c3d-b6e2-1f0e9d8c7b6a")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
