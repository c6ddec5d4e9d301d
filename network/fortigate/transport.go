package fortigate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/tenantra/tenantra/network/internal/restapi"
)

// Sentinel errors; every error of this package wraps at most one of them, so callers can map
// them to user messages and credential-test results with errors.Is.
var (
	// ErrAuth means the FortiGate refused the token (HTTP 401 or 403).
	ErrAuth = errors.New("fortigate: API token rejected")
	// ErrTLS means the certificate did not verify against the CA file or the pin.
	ErrTLS = errors.New("fortigate: certificate not trusted")
	// ErrRateLimited means 429 answers outlasted the retries.
	ErrRateLimited = errors.New("fortigate: rate limited")
	// ErrNotJSON means an endpoint answered something that is not a FortiOS JSON response,
	// typically an HTML error or login page.
	ErrNotJSON = errors.New("fortigate: response is not JSON")
	// ErrTooLarge means a response body exceeded Options.MaxBody.
	ErrTooLarge = errors.New("fortigate: response body too large")
	// ErrAPI means FortiOS answered with an error status in its JSON envelope.
	ErrAPI = errors.New("fortigate: API error")
)

// sentinels lets restapi's errors wrap this package's.
var sentinels = restapi.Sentinels{Invalid: ErrInvalidOptions, TLS: ErrTLS,
	RateLimited: ErrRateLimited, NotJSON: ErrNotJSON, TooLarge: ErrTooLarge, API: ErrAPI}

// newAPI builds the REST client for o, which Validate accepted.
func newAPI(o Options) (*restapi.Client, error) {
	return restapi.New(restapi.Config{
		Name:       "fortigate",
		BaseURL:    o.BaseURL,
		NeedsHTTPS: "the API token needs",
		Trust:      restapi.Trust{CAFile: o.CAFile, CAPEM: o.CAPEM, PinSHA256: o.PinSHA256},
		Limits: restapi.Limits{Timeout: o.Timeout, DialTimeout: o.DialTimeout,
			MaxBody: o.MaxBody, MaxRetries: o.MaxRetries, MaxRetryWait: o.MaxRetryWait},
		Defaults: restapi.Limits{Timeout: DefaultTimeout, DialTimeout: DefaultDialTimeout,
			MaxBody: DefaultMaxBody, MaxRetries: DefaultMaxRetries,
			MaxRetryWait: DefaultMaxRetryWait},
		Logger: o.Logger,
		Errors: sentinels,
		Hints: restapi.Hints{
			RateLimited: "lower the scan rate or raise the API rate limit",
			Redirect:    "check the base URL",
			Announced:   "raise the body limit",
			NotJSON:     "is the base URL the FortiGate's REST API?",
		},
	})
}

// get requests path (below the base URL) for the table named table, retries 429 answers and
// hands a successful, size-capped JSON body to decode. An error that quotes the token, as a
// device echoing it back could make one, has it cut out.
func (c *Client) get(ctx context.Context, table, path string, q url.Values,
	decode func(io.Reader) error) error {
	if c.opts.VDOM != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("vdom", c.opts.VDOM)
	}
	req := restapi.Request{What: table, Method: http.MethodGet, Path: path, Query: q,
		Auth: "Bearer " + string(c.opts.Token)}
	err := c.api.Do(ctx, req, func(resp *http.Response) error {
		return c.handle(table, path, resp, decode)
	})
	return restapi.Scrub(err, []string{string(c.opts.Token)}, ErrAuth, ErrTLS,
		ErrRateLimited, ErrNotJSON, ErrTooLarge, ErrAPI)
}

// handle maps one non-429 response to an error or to decode(body).
func (c *Client) handle(table, path string, resp *http.Response,
	decode func(io.Reader) error) error {
	code := resp.StatusCode
	switch code {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (401) — check the token and its trusted hosts", ErrAuth)
	case http.StatusForbidden:
		return fmt.Errorf("%w (403) — check the token, its trusted hosts and that its "+
			"admin profile may read %s", ErrAuth, table)
	}
	if err := c.api.Screen(table, path, resp); err != nil {
		return err
	}
	body := c.api.Body(resp)
	if code != http.StatusOK {
		env, err := decodeEnvelope(body, nil)
		if err != nil {
			return fmt.Errorf("%w: %s: %s answered HTTP %d", ErrAPI, table, path, code)
		}
		return env.err(table, path, code)
	}
	if err := decode(body); err != nil {
		return c.api.BodyError(table, path, err)
	}
	return nil
}
