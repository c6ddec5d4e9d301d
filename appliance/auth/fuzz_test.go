package auth

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tenantra/tenantra/store"
)

// The seed corpora live in testdata/fuzz/<Name>/; the f.Add seeds below add what can only be
// made at run time (tokens with fresh random ids).

// FuzzVerifyToken feeds arbitrary strings to Issuer.Verify. It must never panic, and must
// accept a string only if it is exactly what the issuer would sign: an HS256 signature, in
// canonical base64url, by one of its keys over the first two segments.
func FuzzVerifyToken(f *testing.F) {
	now := t0
	iss := testIssuer(&now, testKey("k1"), testKey("k0"))
	tok, _, err := iss.Issue("user-1", "sess-1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(strings.Replace(tok, ".", "..", 1))
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := iss.Verify(token)
		if err != nil {
			if claims != nil || !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("Verify = %v, %v; want nil, ErrTokenInvalid", claims, err)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 || claims == nil {
			t.Fatalf("accepted a token of %d parts", len(parts))
		}
		hb, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatalf("accepted a token with an undecodable header: %v", err)
		}
		var hdr struct{ Alg, Kid string }
		if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "HS256" {
			t.Fatalf("accepted header %q", hb)
		}
		for _, k := range iss.Keys {
			if k.ID != hdr.Kid {
				continue
			}
			want := base64.RawURLEncoding.EncodeToString(
				hs256([]byte(k.Secret))(parts[0] + "." + parts[1]))
			if !hmac.Equal([]byte(want), []byte(parts[2])) {
				t.Fatalf("accepted a signature that is not the canonical HMAC")
			}
			if claims.Subject == "" || claims.SessionID == "" {
				t.Fatalf("accepted claims %+v", claims)
			}
			return
		}
		t.Fatalf("accepted kid %q, which is not a key", hdr.Kid)
	})
}

// FuzzParseOpaque checks that ParseOpaque never panics and accepts only prefix followed by
// the one canonical base64url spelling of 32 bytes.
func FuzzParseOpaque(f *testing.F) {
	tok, _, err := NewOpaqueToken(RefreshTokenPrefix)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(RefreshTokenPrefix, tok)
	f.Add(APITokenPrefix, tok)
	f.Fuzz(func(t *testing.T, prefix, token string) {
		err := ParseOpaque(prefix, token)
		if err != nil {
			return
		}
		if !validPrefix(prefix) || !strings.HasPrefix(token, prefix) {
			t.Fatalf("accepted prefix %q for a token", prefix)
		}
		body := token[len(prefix):]
		raw, derr := base64.RawURLEncoding.DecodeString(body)
		if derr != nil || len(raw) != opaqueRandom ||
			base64.RawURLEncoding.EncodeToString(raw) != body {
			t.Fatalf("accepted a body that is not canonical base64url of %d bytes",
				opaqueRandom)
		}
	})
}

// FuzzTOTPVerify checks that Verify never panics on any code and lastStep, and accepts a code
// only if, without its spaces, it is the code of the returned step, that step is within one of
// now and after lastStep.
func FuzzTOTPVerify(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	cur := now.Unix() / totpPeriod
	codeAt := func(step int64) string {
		c, err := totp.GenerateCodeCustom(rfcSecret, time.Unix(step*totpPeriod, 0),
			totp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			f.Fatal(err)
		}
		return c
	}
	f.Add(codeAt(cur), int64(0))
	f.Add(codeAt(cur-1), cur-1)
	f.Add(codeAt(cur + 1)[:3]+" "+codeAt(cur + 1)[3:], cur)
	v := TOTPVerifier{Now: fixedClock(now)}
	f.Fuzz(func(t *testing.T, code string, lastStep int64) {
		step, err := v.Verify(rfcSecret, code, lastStep)
		switch {
		case errors.Is(err, ErrTOTPInvalid), errors.Is(err, ErrTOTPReplay):
			if step != 0 {
				t.Fatalf("step %d returned with %v", step, err)
			}
			return
		case err != nil:
			t.Fatalf("unexpected error %v", err)
		}
		if step < cur-totpSkew || step > cur+totpSkew || step <= lastStep {
			t.Fatalf("accepted step %d (now %d, last %d)", step, cur, lastStep)
		}
		if got := strings.ReplaceAll(code, " ", ""); got != codeAt(step) {
			t.Fatalf("accepted a code that is not the code of step %d", step)
		}
	})
}

// FuzzValidatePassword checks that ValidatePassword never panics, and that every refusal is
// one of its fixed messages (so no message can ever echo the password).
func FuzzValidatePassword(f *testing.F) {
	messages := map[string]bool{}
	for _, probe := range []struct {
		pw    string
		hints []string
	}{
		{"", nil}, {strings.Repeat("x", 300), nil}, {"bad-utf8-\xff-padding", nil},
		{"correct horse\nbattery", nil}, {"qwerty123456", nil}, {"tenantra1234", nil},
		{"alice.smith@example.com", []string{"alice.smith@example.com"}},
		{strings.Repeat("a", 16), nil},
	} {
		err := ValidatePassword(probe.pw, probe.hints...)
		if err == nil {
			f.Fatalf("probe %q accepted", probe.pw)
		}
		messages[err.Error()] = true
	}
	if len(messages) != 8 {
		f.Fatalf("probes found %d distinct messages, want 8", len(messages))
	}
	f.Add("correct horse battery staple", "alice@example.com")
	f.Fuzz(func(t *testing.T, pw, hint string) {
		err := ValidatePassword(pw, hint)
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrInvalid) || !messages[err.Error()] {
			t.Fatalf("unexpected refusal %v", err)
		}
	})
}
