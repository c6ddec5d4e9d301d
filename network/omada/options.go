package omada

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tenantra/tenantra/network/internal/restapi"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultDialTimeout  = 10 * time.Second
	DefaultMaxBody      = 16 << 20 // one page of 1,000 clients is well under 2 MiB
	DefaultMaxRetries   = 3
	DefaultMaxRetryWait = 30 * time.Second
	// DefaultPageSize is the OpenAPI's largest page (1–1000): the controller budgets
	// requests (10 per second per controller), so fewer, larger pages are kinder.
	DefaultPageSize = 1000
	// DefaultMaxRows bounds one list (sites, or one site's devices or clients), so that a
	// controller announcing absurd totals cannot keep the collector paging forever.
	DefaultMaxRows = 200000
)

// ErrInvalidOptions reports Options that cannot be used as given.
var ErrInvalidOptions = errors.New("omada: invalid options")

// Secret is a client secret or an access token, redacted wherever it would be printed
// (restapi.Secret).
type Secret = restapi.Secret

// Options configures a Controller: where the Omada controller is, which application
// credentials to use and how to trust it. Zero limits take the Default* constants.
type Options struct {
	// BaseURL is https://host[:port] of the controller's OpenAPI ("Interface Access
	// Address" under Settings > Platform Integration > Open API).
	BaseURL string
	// OmadacID is the controller's (or MSP customer's) Omada ID.
	OmadacID string
	// ClientID and ClientSecret are the Open API application's credentials (client
	// credentials mode).
	ClientID     string
	ClientSecret Secret
	// CAFile is a PEM file of the CA (or self-signed certificate) of the controller. Empty
	// means the system roots, unless PinSHA256 is set.
	CAFile string
	// CAPEM is the same as PEM bytes (what a credential vault stores); CAFile wins.
	CAPEM []byte
	// PinSHA256 is the SHA-256 of the controller's leaf certificate (DER) in hex, colons
	// allowed. With a pin and no CAFile the pin alone identifies the controller (its
	// self-signed certificate names no resolvable host); with both, both must hold.
	PinSHA256 string
	// Timeout bounds one request including its body; DialTimeout bounds connecting.
	Timeout     time.Duration
	DialTimeout time.Duration
	// MaxBody caps one response body; a larger body is an error (ErrTooLarge).
	MaxBody int64
	// MaxRetries is how often a 429 answer is retried (ErrRateLimited after); MaxRetryWait
	// caps the wait that one Retry-After may ask for.
	MaxRetries   int
	MaxRetryWait time.Duration
	// PageSize is the rows asked per page (1–1000); MaxRows caps one list.
	PageSize int
	MaxRows  int
	// Logger receives one debug line per request (method, endpoint, status, duration),
	// never a header, a body or a token. Nil discards.
	Logger *slog.Logger
}

// withDefaults returns o with the zero paging limits and logger replaced by the defaults;
// restapi applies the request limits' defaults.
func (o Options) withDefaults() Options {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports whether o is complete and well formed. Its errors name the field and
// never contain the secret.
func (o Options) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
	}
	if _, err := restapi.ParseBaseURL(o.BaseURL, "client credentials need"); err != nil {
		return bad("%v", err)
	}
	if !validID(o.OmadacID) {
		return bad("omadacId %q: copy the Omada ID from Settings > Platform Integration",
			o.OmadacID)
	}
	if !validID(o.ClientID) {
		return bad("client id %q: copy it from the Open API application", o.ClientID)
	}
	if o.ClientSecret == "" {
		return bad("the client secret is empty")
	}
	for _, r := range string(o.ClientSecret) {
		if r < ' ' || r == 0x7f {
			return bad("the client secret contains control characters")
		}
	}
	if o.PinSHA256 != "" {
		if _, err := restapi.ParsePin(o.PinSHA256); err != nil {
			return bad("%v", err)
		}
	}
	if o.PageSize > 1000 {
		return bad("page size %d: the OpenAPI allows 1 to 1000", o.PageSize)
	}
	return nil
}

// validID accepts the identifiers that go into URL paths: Omada IDs, client IDs and site
// IDs are hex or alphanumeric; anything else could walk the path.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}
