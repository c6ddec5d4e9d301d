package restapi

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Redacted stands in for a secret wherever one would be printed.
const Redacted = "[redacted]"

// Secret is a token or client secret. It formats, logs and marshals as Redacted, so that
// printing a collector's Options by mistake does not leak it; only the request that needs
// it carries the value.
type Secret string

// String hides the secret from fmt verbs that use it (%v, %s, %q).
func (Secret) String() string { return Redacted }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return Redacted }

// LogValue hides the secret from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON hides the secret from encoding/json.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// Sentinels are a collector's sentinel errors. Errors made here wrap them, so a collector's
// callers match its own sentinels with errors.Is and never see this package.
type Sentinels struct {
	Invalid     error // options that cannot be used (a CA file that is missing or not PEM)
	TLS         error // the certificate did not verify against the CA or the pin
	RateLimited error // 429 answers outlasted the retries
	NotJSON     error // an answer that is not application/json
	TooLarge    error // a body over Limits.MaxBody
	API         error // an error the device answered; passed through from decoders
}

// Hints complete the errors made here with what the operator of this kind of device should
// do; each is the text after " — ".
type Hints struct {
	// RateLimited follows "still 429 Too Many Requests after N retries".
	RateLimited string
	// Redirect follows "<path> redirected (302) to \"/login\"".
	Redirect string
	// Announced follows "announces N bytes, over the M-byte cap"; empty adds nothing.
	Announced string
	// NotJSON follows "<path> answered HTTP 500 with text/html".
	NotJSON string
}

// Trust says how the device's certificate is verified: against the CA file (or, without
// one, CAPEM) and/or a SHA-256 pin of the leaf; with neither, against the system roots.
type Trust struct {
	CAFile    string
	CAPEM     []byte
	PinSHA256 string
}

// Limits bound the requests to one device. New replaces zero values (and a negative
// MaxRetries, by 0) as the collector's defaults say.
type Limits struct {
	Timeout      time.Duration // one attempt, including its body
	DialTimeout  time.Duration // connecting and the TLS handshake
	MaxBody      int64
	MaxRetries   int // of a 429 answer
	MaxRetryWait time.Duration
}

// withDefaults returns l with zero limits replaced by def.
func (l Limits) withDefaults(def Limits) Limits {
	if l.Timeout <= 0 {
		l.Timeout = def.Timeout
	}
	if l.DialTimeout <= 0 {
		l.DialTimeout = def.DialTimeout
	}
	if l.MaxBody <= 0 {
		l.MaxBody = def.MaxBody
	}
	if l.MaxRetries < 0 {
		l.MaxRetries = 0
	} else if l.MaxRetries == 0 {
		l.MaxRetries = def.MaxRetries
	}
	if l.MaxRetryWait <= 0 {
		l.MaxRetryWait = def.MaxRetryWait
	}
	return l
}

// ParseBaseURL accepts https://host[:port] with an optional trailing slash. needs names
// what requires https in the error for another scheme: "the API token needs".
func ParseBaseURL(s, needs string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want https://host[:port]", s)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q: %s https, not %q", s, needs, u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("base URL %q: give only https://host[:port]", s)
	}
	u.Path = ""
	return u, nil
}

// ParsePin decodes a SHA-256 fingerprint in hex with optional colons or spaces.
func ParsePin(s string) ([]byte, error) {
	clean := strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("certificate pin %q: want the 64 hex digits of a SHA-256", s)
	}
	return b, nil
}
