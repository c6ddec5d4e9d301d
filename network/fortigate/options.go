package fortigate

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/tenantra/tenantra/network/internal/restapi"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = 60 * time.Second
	DefaultDialTimeout  = 10 * time.Second
	DefaultMaxBody      = 64 << 20 // 64 MiB: ~60,000 policies with every field FortiOS sends
	DefaultMaxRetries   = 3
	DefaultMaxRetryWait = 30 * time.Second
)

// ErrInvalidOptions reports Options that cannot be used as given.
var ErrInvalidOptions = errors.New("fortigate: invalid options")

// Secret is an API token, redacted wherever it would be printed (restapi.Secret).
type Secret = restapi.Secret

// Options configures a Client: where the FortiGate is, how to trust it and how to call it.
// The zero values of the limits take the Default* constants.
type Options struct {
	// BaseURL is https://host[:port] of the FortiGate's management interface.
	BaseURL string
	// Token is a REST API administrator's token, sent as "Authorization: Bearer <token>".
	Token Secret
	// CAFile is a PEM file of the CA (or the self-signed certificate) that signs the
	// FortiGate's certificate. Empty means the system roots, unless PinSHA256 is set.
	CAFile string
	// CAPEM is the same as PEM bytes (what a credential vault stores); CAFile wins.
	CAPEM []byte
	// PinSHA256 is the SHA-256 of the FortiGate's leaf certificate (DER) in hex, colons
	// allowed, as `openssl x509 -noout -fingerprint -sha256` prints it. With a pin and no
	// CAFile the chain and host name are not checked: the pin alone identifies the device,
	// which is how self-signed appliance certificates are trusted. With both, both must hold.
	PinSHA256 string
	// VDOM selects the virtual domain; empty means the token's default VDOM.
	VDOM string
	// Timeout bounds one request including its body; DialTimeout bounds connecting.
	Timeout     time.Duration
	DialTimeout time.Duration
	// MaxBody caps one response body; a larger body is an error (ErrTooLarge).
	MaxBody int64
	// MaxRetries is how often a 429 answer is retried before giving up (ErrRateLimited);
	// MaxRetryWait caps the wait that one Retry-After may ask for.
	MaxRetries   int
	MaxRetryWait time.Duration
	// BaselineVersion is the minimum firmware the tenant expects ("7.2.8"); it is carried
	// into Config so that checks can compare it with the running version.
	BaselineVersion string
	// Logger receives one debug line per request (method, endpoint, status, duration) and
	// never a header. Nil discards.
	Logger *slog.Logger
}

// Validate reports whether o is complete and well formed. Its errors name the field and
// never contain the token.
func (o Options) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
	}
	if _, err := restapi.ParseBaseURL(o.BaseURL, "the API token needs"); err != nil {
		return bad("%v", err)
	}
	if o.Token == "" {
		return bad("the API token is empty: create a REST API admin and paste its token")
	}
	for _, r := range string(o.Token) {
		if r <= ' ' || r == 0x7f {
			return bad("the API token contains spaces or control characters")
		}
	}
	if o.PinSHA256 != "" {
		if _, err := restapi.ParsePin(o.PinSHA256); err != nil {
			return bad("%v", err)
		}
	}
	if !validVDOM(o.VDOM) {
		return bad("VDOM %q: use up to 31 letters, digits, '-', '_' or '.'", o.VDOM)
	}
	if o.BaselineVersion != "" {
		if _, ok := parseVersion(o.BaselineVersion); !ok {
			return bad("baseline version %q: use dotted numbers such as 7.2.8",
				o.BaselineVersion)
		}
	}
	return nil
}

func validVDOM(s string) bool {
	if len(s) > 31 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// parseVersion reads "7.2.8" or "v7.2.8" into its numbers.
func parseVersion(s string) ([]int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return nil, false
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// versionBelow reports whether version is older than baseline; false when either does not
// parse, so that an unknown version never raises a finding by itself.
func versionBelow(version, baseline string) bool {
	v, ok1 := parseVersion(version)
	b, ok2 := parseVersion(baseline)
	if !ok1 || !ok2 {
		return false
	}
	for i := 0; i < len(v) || i < len(b); i++ {
		var x, y int
		if i < len(v) {
			x = v[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x < y
		}
	}
	return false
}
