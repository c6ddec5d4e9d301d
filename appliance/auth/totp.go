package auth

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	imgpng "image/png"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/tenantra/tenantra/store"
)

// TOTP parameters. SHA1, six digits and 30-second steps are what every authenticator app
// implements; other values are accepted in the URI by some apps and silently ignored by others.
const (
	totpPeriod     = 30
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20 // bytes: 160 bits, RFC 4226's recommended shared-secret length
	totpMinSecret  = 10 // bytes: reject stored secrets too short to resist guessing
	totpSkew       = 1  // steps either side, for clock drift and typing time
	totpQRSize     = 256
	maxCodeInput   = 32 // bytes; anything longer is not a code and is rejected unread
	maxLabelLen    = 200
)

// ErrTOTPInvalid means the code is malformed or matches no time step in the window.
var ErrTOTPInvalid = errors.New("invalid totp code")

// ErrTOTPReplay means the code is valid but its time step was already used, so it may have
// been observed by someone else (RFC 6238 §5.2 requires refusing it).
var ErrTOTPReplay = errors.New("totp code already used")

// NewTOTPKey generates a TOTP secret for account at issuer and returns the base32 secret to
// store (encrypted, it is a credential), the otpauth:// provisioning URI and a 256-pixel QR
// code of that URI as PNG for the enrolment screen.
func NewTOTPKey(issuer, account string) (secret, uri string, png []byte, err error) {
	if err := validateLabel("issuer", issuer); err != nil {
		return "", "", nil, err
	}
	if err := validateLabel("account", account); err != nil {
		return "", "", nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      totpPeriod,
		SecretSize:  totpSecretSize,
		Digits:      totpDigits,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("generate totp key: %w", err)
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return "", "", nil, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := imgpng.Encode(&buf, img); err != nil {
		return "", "", nil, fmt.Errorf("totp qr code: %w", err)
	}
	return key.Secret(), key.URL(), buf.Bytes(), nil
}

// validateLabel checks an issuer or account name. A colon would split the otpauth label
// ("issuer:account") in the wrong place, and control characters have no business in an app.
func validateLabel(what, s string) error {
	if s == "" || len(s) > maxLabelLen || !utf8.ValidString(s) {
		return store.Errorf(store.ErrInvalid, "totp %s must be 1-%d bytes of UTF-8 text",
			what, maxLabelLen)
	}
	if strings.ContainsRune(s, ':') || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return store.Errorf(store.ErrInvalid,
			"totp %s must not contain colons or control characters", what)
	}
	return nil
}

// TOTPVerifier checks TOTP codes against an injected clock.
type TOTPVerifier struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks code against secret for the current time step and one step either side. It
// returns the matched step, which the caller stores as lastStep for the next call: a code
// whose step is not after lastStep is refused with ErrTOTPReplay, so each code works once and
// codes never go backwards. Spaces in code are ignored ("123 456"); anything else that is not
// six ASCII digits gives ErrTOTPInvalid. A secret that is not usable base32 is a storage
// fault and gives an error wrapping store.ErrCorrupt.
func (v TOTPVerifier) Verify(secret, code string, lastStep int64) (step int64, err error) {
	if len(code) > maxCodeInput {
		return 0, ErrTOTPInvalid
	}
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != totpDigits.Length() || strings.IndexFunc(code, notASCIIDigit) >= 0 {
		return 0, ErrTOTPInvalid
	}
	if err := checkTOTPSecret(secret); err != nil {
		return 0, err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	current := floorDiv(now().Unix(), totpPeriod)
	opts := hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	// Every step in the window is computed and compared, so the time taken does not say
	// which step (if any) matched.
	matched, replayed := int64(-1), false
	for s := current - totpSkew; s <= current+totpSkew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), opts)
		if err != nil {
			return 0, store.Errorf(store.ErrCorrupt, "stored totp secret is unusable")
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if s > lastStep {
			matched = s
		} else {
			replayed = true
		}
	}
	switch {
	case matched >= 0:
		return matched, nil
	case replayed:
		return 0, ErrTOTPReplay
	default:
		return 0, ErrTOTPInvalid
	}
}

// checkTOTPSecret rejects a stored secret that is not base32 or too short to be a key: an
// empty secret would otherwise make every HMAC keyed by nothing, and codes guessable.
func checkTOTPSecret(secret string) error {
	s := strings.ToUpper(strings.TrimSpace(secret))
	s = strings.TrimRight(s, "=")
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(raw) < totpMinSecret {
		return store.Errorf(store.ErrCorrupt, "stored totp secret is unusable")
	}
	return nil
}

func notASCIIDigit(r rune) bool { return r < '0' || r > '9' }

// floorDiv divides rounding towards negative infinity, so times before 1970 (a broken clock)
// still map to distinct, ordered steps.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
