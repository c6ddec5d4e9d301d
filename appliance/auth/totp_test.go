package auth

import (
	"bytes"
	"encoding/base32"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tenantra/tenantra/store"
)

// rfcSecret is the SHA1 shared secret of RFC 6238 Appendix B ("12345678901234567890").
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestNewTOTPKey(t *testing.T) {
	secret, uri, img, err := NewTOTPKey("Tenantra", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != totpSecretSize {
		t.Fatalf("secret decodes to %d bytes, %v; want %d", len(raw), err, totpSecretSize)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || q.Get("secret") != secret ||
		q.Get("issuer") != "Tenantra" || q.Get("algorithm") != "SHA1" ||
		q.Get("digits") != "6" || q.Get("period") != "30" ||
		u.Path != "/Tenantra:alice@example.com" {
		t.Fatalf("unexpected provisioning URI %s", uri)
	}
	pic, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if b := pic.Bounds(); b.Dx() != totpQRSize || b.Dy() != totpQRSize {
		t.Fatalf("QR code is %v, want %dx%d", b, totpQRSize, totpQRSize)
	}
	// The key works with a standard implementation, as an authenticator app would use it.
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (TOTPVerifier{Now: fixedClock(now)}).Verify(secret, code, 0); err != nil {
		t.Fatalf("Verify of a code from the new key: %v", err)
	}
	other, _, _, err := NewTOTPKey("Tenantra", "alice@example.com")
	if err != nil || other == secret {
		t.Fatalf("second key %v, same secret %v", err, other == secret)
	}
}

func TestNewTOTPKeyRejects(t *testing.T) {
	for _, c := range []struct{ issuer, account string }{
		{"", "alice@example.com"},
		{"Tenantra", ""},
		{"Ten:antra", "alice@example.com"},
		{"Tenantra", "alice:x@example.com"},
		{"Tenantra", "alice\n@example.com"},
		{"Tenantra\x00", "alice@example.com"},
		{"Tenantra", "\xff\xfe"},
		{strings.Repeat("T", maxLabelLen+1), "alice@example.com"},
	} {
		if _, _, _, err := NewTOTPKey(c.issuer, c.account); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("NewTOTPKey(%q, %q) = %v, want ErrInvalid", c.issuer, c.account, err)
		}
	}
}

// TestTOTPVerifyRFC6238 checks the RFC 6238 Appendix B SHA1 vectors (last six digits).
func TestTOTPVerifyRFC6238(t *testing.T) {
	for _, c := range []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		v := TOTPVerifier{Now: fixedClock(time.Unix(c.unix, 0))}
		step, err := v.Verify(rfcSecret, c.code, 0)
		if err != nil || step != c.unix/30 {
			t.Errorf("t=%d: step %d, %v; want %d", c.unix, step, err, c.unix/30)
		}
	}
}

func TestTOTPVerify(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	cur := now.Unix() / 30
	code := func(step int64) string {
		c, err := totp.GenerateCodeCustom(rfcSecret, time.Unix(step*30, 0),
			totp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := code(cur)
	cases := []struct {
		name     string
		secret   string
		code     string
		last     int64
		wantStep int64
		wantErr  error
	}{
		{"current", rfcSecret, c, 0, cur, nil},
		{"previous step", rfcSecret, code(cur - 1), 0, cur - 1, nil},
		{"next step", rfcSecret, code(cur + 1), 0, cur + 1, nil},
		{"two steps back", rfcSecret, code(cur - 2), 0, 0, ErrTOTPInvalid},
		{"two steps ahead", rfcSecret, code(cur + 2), 0, 0, ErrTOTPInvalid},
		{"lowercase secret", strings.ToLower(rfcSecret), c, 0, cur, nil},
		{"spaces", rfcSecret, c[:3] + " " + c[3:], 0, cur, nil},
		{"surrounding spaces", rfcSecret, "  " + c + " ", 0, cur, nil},
		{"after last step", rfcSecret, c, cur - 1, cur, nil},

		{"replay same step", rfcSecret, c, cur, 0, ErrTOTPReplay},
		{"older than last", rfcSecret, code(cur - 1), cur, 0, ErrTOTPReplay},
		{"last in future", rfcSecret, c, cur + 1, 0, ErrTOTPReplay},

		{"wrong code", rfcSecret, wrongCode(c), 0, 0, ErrTOTPInvalid},
		{"empty", rfcSecret, "", 0, 0, ErrTOTPInvalid},
		{"five digits", rfcSecret, c[:5], 0, 0, ErrTOTPInvalid},
		{"seven digits", rfcSecret, c + "0", 0, 0, ErrTOTPInvalid},
		{"letter", rfcSecret, c[:5] + "a", 0, 0, ErrTOTPInvalid},
		{"dash", rfcSecret, c[:3] + "-" + c[3:], 0, 0, ErrTOTPInvalid},
		{"tab", rfcSecret, c[:3] + "\t" + c[3:], 0, 0, ErrTOTPInvalid},
		{"sign", rfcSecret, "+" + c[1:], 0, 0, ErrTOTPInvalid},
		{"arabic digits", rfcSecret, "١٢٣٤٥٦", 0, 0, ErrTOTPInvalid},
		{"fullwidth digits", rfcSecret, "１２３４５６", 0, 0, ErrTOTPInvalid},
		{"NUL", rfcSecret, c[:5] + "\x00", 0, 0, ErrTOTPInvalid},
		{"invalid UTF-8", rfcSecret, "\xff\xfe\xfd\xfc\xfb\xfa", 0, 0, ErrTOTPInvalid},
		{"huge", rfcSecret, strings.Repeat(c, 1<<16), 0, 0, ErrTOTPInvalid},
		{"many spaces", rfcSecret, c + strings.Repeat(" ", 1<<16), 0, 0, ErrTOTPInvalid},

		{"empty secret", "", c, 0, 0, store.ErrCorrupt},
		{"short secret", "GEZDGNBV", c, 0, 0, store.ErrCorrupt},
		{"non-base32 secret", "!!!!!!!!!!!!!!!!!!!!!!!!", c, 0, 0, store.ErrCorrupt},
	}
	v := TOTPVerifier{Now: fixedClock(now)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step, err := v.Verify(tc.secret, tc.code, tc.last)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if step != tc.wantStep {
				t.Fatalf("step = %d, want %d", step, tc.wantStep)
			}
			if err != nil && strings.Contains(err.Error(), c) {
				t.Fatalf("error %q contains the code", err)
			}
		})
	}
}

// TestTOTPVerifyClockEdges covers a clock at or before the epoch, where step arithmetic could
// go negative.
func TestTOTPVerifyClockEdges(t *testing.T) {
	for _, at := range []time.Time{time.Unix(0, 0), time.Unix(-1, 0), time.Unix(-3600, 0),
		{}} {
		v := TOTPVerifier{Now: fixedClock(at)}
		if _, err := v.Verify(rfcSecret, "000000", -1<<62); err != nil &&
			!errors.Is(err, ErrTOTPInvalid) {
			t.Errorf("at %v: %v", at, err)
		}
	}
	if floorDiv(-1, 30) != -1 || floorDiv(-30, 30) != -1 || floorDiv(29, 30) != 0 {
		t.Error("floorDiv does not round down")
	}
	// A zero-value verifier uses the real clock.
	if _, err := (TOTPVerifier{}).Verify(rfcSecret, "12345", 0); !errors.Is(err,
		ErrTOTPInvalid) {
		t.Errorf("zero verifier: %v", err)
	}
}

func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+5)%10
	return string(b)
}
