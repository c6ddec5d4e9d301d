package omada

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tenantra/tenantra/network/internal/restapi"
)

// Sentinel errors; every error of this package wraps at most one of them.
var (
	// ErrAuth means the controller refused the application's credentials or its tokens.
	ErrAuth = errors.New("omada: credentials rejected")
	// ErrForbidden means the application may not read a site or an operation.
	ErrForbidden = errors.New("omada: permission denied")
	// ErrTLS means the certificate did not verify against the CA file or the pin.
	ErrTLS = errors.New("omada: certificate not trusted")
	// ErrRateLimited means 429 answers outlasted the retries.
	ErrRateLimited = errors.New("omada: rate limited")
	// ErrNotJSON means an endpoint answered something that is not an OpenAPI JSON
	// response, typically an HTML error or login page.
	ErrNotJSON = errors.New("omada: response is not JSON")
	// ErrTooLarge means a response body exceeded Options.MaxBody.
	ErrTooLarge = errors.New("omada: response body too large")
	// ErrAPI means the controller answered with a non-zero errorCode or an HTTP error.
	ErrAPI = errors.New("omada: API error")
)

// Omada OpenAPI general error codes ("Open API Access Guide", 1.2 General Error Code In
// Result).
const (
	codeForbidden        = -1005  // Operation forbidden
	codeNoSitePermission = -1505  // the current user may not access this site
	codeBadClient        = -44106 // the client id or client secret is invalid
	codeBadGrantType     = -44111 // the grant type is invalid
	codeTokenExpired     = -44112 // the access token has expired
	codeTokenInvalid     = -44113 // the access token is invalid
	codeAuthorizeFailed  = -44116 // Open API authorized failed: check the parameters
	codeCodeModeOnly     = -44118 // the interface supports only the authorization code mode
)

// envelope is every OpenAPI response: {"errorCode": 0, "msg": "...", "result": ...}.
type envelope struct {
	ErrorCode int             `json:"errorCode"`
	Msg       string          `json:"msg"`
	Result    json.RawMessage `json:"result"`
}

// response is one HTTP exchange's outcome that the API layer still has to judge.
type response struct {
	status int
	env    envelope
}

// decodeEnvelope reads one OpenAPI response object and nothing after it.
func decodeEnvelope(r io.Reader) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(r)
	if err := dec.Decode(&env); err != nil {
		if errors.Is(err, io.EOF) {
			return env, errors.New("empty response")
		}
		return env, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return env, err
		}
		return env, errors.New("data after the response object")
	}
	return env, nil
}

// sentinels lets restapi's errors wrap this package's.
var sentinels = restapi.Sentinels{Invalid: ErrInvalidOptions, TLS: ErrTLS,
	RateLimited: ErrRateLimited, NotJSON: ErrNotJSON, TooLarge: ErrTooLarge, API: ErrAPI}

// newAPI builds the REST client for o, which Validate accepted.
func newAPI(o Options) (*restapi.Client, error) {
	return restapi.New(restapi.Config{
		Name:       "omada",
		BaseURL:    o.BaseURL,
		NeedsHTTPS: "client credentials need",
		Trust:      restapi.Trust{CAFile: o.CAFile, CAPEM: o.CAPEM, PinSHA256: o.PinSHA256},
		Limits: restapi.Limits{Timeout: o.Timeout, DialTimeout: o.DialTimeout,
			MaxBody: o.MaxBody, MaxRetries: o.MaxRetries, MaxRetryWait: o.MaxRetryWait},
		Defaults: restapi.Limits{Timeout: DefaultTimeout, DialTimeout: DefaultDialTimeout,
			MaxBody: DefaultMaxBody, MaxRetries: DefaultMaxRetries,
			MaxRetryWait: DefaultMaxRetryWait},
		Logger:    o.Logger,
		LogMethod: true,
		Errors:    sentinels,
		Hints: restapi.Hints{
			RateLimited: "the controller allows about 10 requests a second; lower the " +
				"scan rate",
			Redirect: "check the base URL (the OpenAPI interface access address)",
			NotJSON:  "is the base URL the controller's OpenAPI address?",
		},
	})
}

// exchange makes one API request with 429 retries and returns the status and envelope.
// Transport failures, redirects, 429 exhaustion, non-JSON and oversized bodies are errors
// here; 401 and 403 come back as a response without an envelope.
func (c *Controller) exchange(ctx context.Context, what, method, path string,
	q url.Values, body []byte, auth string) (response, error) {
	var r response
	req := restapi.Request{What: what, Method: method, Path: path, Query: q, Body: body,
		Auth: auth}
	err := c.api.Do(ctx, req, func(resp *http.Response) error {
		r = response{status: resp.StatusCode}
		if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
			return nil
		}
		if err := c.api.Screen(what, path, resp); err != nil {
			return err
		}
		env, err := decodeEnvelope(c.api.Body(resp))
		switch {
		case err == nil:
			r.env = env
			return nil
		case r.status != http.StatusOK:
			return fmt.Errorf("%w: %s: %s answered HTTP %d", ErrAPI, what, path, r.status)
		}
		return c.api.BodyError(what, path, err)
	})
	return r, err
}

// codeError maps a non-zero errorCode to an error an operator can act on.
func codeError(what string, code int, msg string) error {
	msg = cleanMsg(msg)
	switch code {
	case codeBadClient:
		return fmt.Errorf("%w (%d) — the client id or client secret is invalid; check the "+
			"Open API application under Settings > Platform Integration", ErrAuth, code)
	case codeBadGrantType, codeAuthorizeFailed, codeCodeModeOnly:
		return fmt.Errorf("%w (%d: %s) — use a client-credentials application and check "+
			"the omadacId", ErrAuth, code, msg)
	case codeTokenExpired, codeTokenInvalid:
		return fmt.Errorf("%w (%d) — a fresh access token was refused too; check that the "+
			"application still exists and was not modified", ErrAuth, code)
	case codeForbidden, codeNoSitePermission:
		return fmt.Errorf("%w: %s (%d: %s) — give the Open API application view access "+
			"to it", ErrForbidden, what, code, msg)
	}
	return fmt.Errorf("%w: %s: errorCode %d: %s", ErrAPI, what, code, msg)
}

// cleanMsg keeps a controller's message to one short printable line.
func cleanMsg(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	if s == "" {
		return "no message"
	}
	return s
}

// accessToken returns a valid token, asking the controller for one when there is none or
// the last one is about to expire. The lock is held while asking, so that concurrent
// callers wait for one grant instead of each requesting their own.
func (c *Controller) accessToken(ctx context.Context) (Secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.expires) {
		return c.token, nil
	}
	body, err := json.Marshal(map[string]string{
		"omadacId":      c.opts.OmadacID,
		"client_id":     c.opts.ClientID,
		"client_secret": string(c.opts.ClientSecret),
	})
	if err != nil {
		return "", fmt.Errorf("omada: token request: %w", err)
	}
	r, err := c.exchange(ctx, "access token", http.MethodPost, pathToken,
		url.Values{"grant_type": {"client_credentials"}}, body, "")
	if err != nil {
		return "", err
	}
	if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
		return "", fmt.Errorf("%w (HTTP %d) — check the client id, client secret and "+
			"omadacId", ErrAuth, r.status)
	}
	if r.env.ErrorCode != 0 {
		return "", codeError("access token", r.env.ErrorCode, r.env.Msg)
	}
	var res struct {
		AccessToken string `json:"accessToken"`
		ExpiresIn   int64  `json:"expiresIn"` // seconds
	}
	if err := json.Unmarshal(r.env.Result, &res); err != nil || res.AccessToken == "" {
		return "", fmt.Errorf("%w: access token: the controller answered without a token",
			ErrAPI)
	}
	life := time.Duration(res.ExpiresIn) * time.Second
	if res.ExpiresIn <= 0 || res.ExpiresIn > 30*86400 {
		life = 5 * time.Minute
	}
	// Renew a little early so that a token does not expire between check and use.
	c.token = Secret(res.AccessToken)
	c.issued = append(c.issued, c.token)
	if len(c.issued) > 4 {
		c.issued = c.issued[1:]
	}
	c.expires = time.Now().Add(life - min(time.Minute, life/10))
	return c.token, nil
}

// forget drops tok if it is still the current token, so the next call asks for a new one.
func (c *Controller) forget(tok Secret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// call GETs path with a token and unmarshals the envelope's result into out. A token the
// controller calls expired or invalid (or an HTTP 401) is replaced once.
func (c *Controller) call(ctx context.Context, what, path string, q url.Values,
	out any) error {
	return c.scrub(c.callOnce(ctx, what, path, q, out))
}

func (c *Controller) callOnce(ctx context.Context, what, path string, q url.Values,
	out any) error {
	for refreshed := false; ; refreshed = true {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		r, err := c.exchange(ctx, what, http.MethodGet, path, q, nil,
			"AccessToken="+string(tok))
		if err != nil {
			return err
		}
		stale := r.status == http.StatusUnauthorized ||
			r.env.ErrorCode == codeTokenExpired || r.env.ErrorCode == codeTokenInvalid
		if stale && !refreshed {
			c.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "omada access token refused, renewing",
				slog.String("endpoint", path), slog.Int("error_code", r.env.ErrorCode))
			c.forget(tok)
			continue
		}
		switch {
		case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
			return fmt.Errorf("%w (HTTP %d) on %s — check the application's credentials "+
				"and site privileges", ErrAuth, r.status, what)
		case r.env.ErrorCode != 0:
			return codeError(what, r.env.ErrorCode, r.env.Msg)
		case r.status != http.StatusOK:
			return fmt.Errorf("%w: %s: HTTP %d", ErrAPI, what, r.status)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(r.env.Result, out); err != nil {
			return fmt.Errorf("%w: %s: result: %w", ErrAPI, what, err)
		}
		return nil
	}
}

// scrub is the last guard against a controller that echoes the secret or a token back into
// something an error quotes: such an error is replaced by one with the secret cut out that
// still matches the package's sentinels.
func (c *Controller) scrub(err error) error {
	if err == nil {
		return nil
	}
	c.mu.Lock()
	secrets := []string{string(c.opts.ClientSecret)}
	for _, t := range c.issued {
		secrets = append(secrets, string(t))
	}
	c.mu.Unlock()
	return restapi.Scrub(err, secrets, ErrAuth, ErrForbidden, ErrTLS, ErrRateLimited,
		ErrNotJSON, ErrTooLarge, ErrAPI)
}

// page is the OpenAPI's paged list: {"totalRows", "currentPage", "currentSize", "data"}.
type page[T any] struct {
	TotalRows   int64 `json:"totalRows"`
	CurrentPage int   `json:"currentPage"`
	Data        []T   `json:"data"`
}

// listAll reads every page of a paged list, bounded by MaxRows whatever totalRows claims.
func listAll[T any](ctx context.Context, c *Controller, what, path string) ([]T, error) {
	var all []T
	maxPages := c.opts.MaxRows/c.opts.PageSize + 2
	for n := 1; ; n++ {
		if n > maxPages {
			return all, fmt.Errorf("%w: %s: still paging after %d pages", ErrAPI, what,
				maxPages)
		}
		var pg page[T]
		q := url.Values{"page": {strconv.Itoa(n)}, "pageSize": {strconv.Itoa(c.opts.PageSize)}}
		if err := c.call(ctx, what, path, q, &pg); err != nil {
			return all, err
		}
		if pg.TotalRows > int64(c.opts.MaxRows) {
			return all, fmt.Errorf("%w: %s: the controller lists %d rows, over the cap of %d",
				ErrTooLarge, what, pg.TotalRows, c.opts.MaxRows)
		}
		all = append(all, pg.Data...)
		if len(all) > c.opts.MaxRows {
			return all, fmt.Errorf("%w: %s: more than %d rows", ErrTooLarge, what,
				c.opts.MaxRows)
		}
		if len(pg.Data) == 0 || int64(len(all)) >= pg.TotalRows {
			return all, nil
		}
	}
}
