package restapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config describes one device and the collector that reads it.
type Config struct {
	// Name is the collector ("fortigate"): it prefixes errors and names the debug line
	// ("fortigate request").
	Name string
	// BaseURL is https://host[:port]; NeedsHTTPS completes its error for another scheme
	// (see ParseBaseURL).
	BaseURL    string
	NeedsHTTPS string
	Trust      Trust
	// Limits are the configured limits; Defaults replace the zero ones.
	Limits   Limits
	Defaults Limits
	// Logger receives one debug line per request and never a header; nil discards.
	// LogMethod adds the method to it, for APIs that do not only GET.
	Logger    *slog.Logger
	LogMethod bool
	Errors    Sentinels
	Hints     Hints
}

// Client makes requests to one device. It is safe for concurrent use.
type Client struct {
	name      string
	base      *url.URL
	http      *http.Client
	lim       Limits
	log       *slog.Logger
	logMethod bool
	errs      Sentinels
	hints     Hints
}

// New builds a Client for cfg; it reads the CA file but does not connect. Its errors wrap
// cfg.Errors.Invalid.
func New(cfg Config) (*Client, error) {
	lim := cfg.Limits.withDefaults(cfg.Defaults)
	base, err := ParseBaseURL(cfg.BaseURL, cfg.NeedsHTTPS)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cfg.Errors.Invalid, err)
	}
	hc, err := newHTTPClient(cfg.Trust, lim, cfg.Errors)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{name: cfg.Name, base: base, http: hc, lim: lim, log: log,
		logMethod: cfg.LogMethod, errs: cfg.Errors, hints: cfg.Hints}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Request is one API call.
type Request struct {
	// What names the table or operation in errors ("policies", "access token").
	What   string
	Method string
	// Path is below the base URL; it is named in errors and logs, the query never is.
	Path  string
	Query url.Values
	// Body, when not nil, is sent as application/json.
	Body []byte
	// Auth, when not empty, is the Authorization header.
	Auth string
}

// Do makes req, retrying 429 answers, and hands any other response to handle, whose error
// Do returns. The response body is closed and drained after handle, and the request's
// timeout covers handle's reading of it. Transport failures and 429 exhaustion are errors
// without handle.
func (c *Client) Do(ctx context.Context, req Request, handle func(*http.Response) error) error {
	u := *c.base
	u.Path = req.Path
	u.RawQuery = req.Query.Encode()
	target := u.String()
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, req, target, attempt, handle)
		if wait < 0 {
			return err
		}
		if attempt >= c.lim.MaxRetries {
			return fmt.Errorf("%w: %s: still 429 Too Many Requests after %d retries — %s",
				c.errs.RateLimited, req.What, c.lim.MaxRetries, c.hints.RateLimited)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %s: waiting to retry after 429: %w", c.name, req.What, err)
		}
	}
}

// once makes one request. A 429 answer returns the wait before the next attempt; anything
// else returns a negative wait and the outcome.
func (c *Client) once(ctx context.Context, req Request, target string, attempt int,
	handle func(*http.Response) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.lim.Timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, target, body)
	if err != nil {
		return -1, fmt.Errorf("%s: %s: %w", c.name, req.What, err)
	}
	hr.Header.Set("Accept", "application/json")
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.Auth != "" {
		hr.Header.Set("Authorization", req.Auth)
	}
	start := time.Now()
	resp, err := c.http.Do(hr)
	if err != nil {
		return -1, c.transportError(req.What, req.Path, err)
	}
	defer resp.Body.Close()
	defer drain(resp.Body)
	attrs := make([]slog.Attr, 0, 5)
	if c.logMethod {
		attrs = append(attrs, slog.String("method", req.Method))
	}
	attrs = append(attrs, slog.String("endpoint", req.Path),
		slog.Int("status", resp.StatusCode), slog.Duration("duration", time.Since(start)),
		slog.Int("attempt", attempt))
	c.log.LogAttrs(ctx, slog.LevelDebug, c.name+" request", attrs...)
	if resp.StatusCode == http.StatusTooManyRequests {
		return retryAfter(resp.Header.Get("Retry-After"), attempt, c.lim.MaxRetryWait), nil
	}
	return -1, handle(resp)
}

// Screen rejects a response that redirects, announces a body over the cap or is not JSON,
// the answers of something that is not the REST API (a login page, a proxy) or of a
// table too large to read.
func (c *Client) Screen(what, path string, resp *http.Response) error {
	code := resp.StatusCode
	if code >= 300 && code < 400 {
		// Only the Location's path is named: its query could echo anything back.
		where := ""
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Path != "" {
			where = fmt.Sprintf(" to %q", loc.Path)
		}
		return fmt.Errorf("%s: %s: %s redirected (%d)%s — %s", c.name, what, path, code,
			where, c.hints.Redirect)
	}
	if resp.ContentLength > c.lim.MaxBody {
		hint := ""
		if c.hints.Announced != "" {
			hint = " — " + c.hints.Announced
		}
		return fmt.Errorf("%w: %s: %s announces %d bytes, over the %d-byte cap%s",
			c.errs.TooLarge, what, path, resp.ContentLength, c.lim.MaxBody, hint)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		if ct == "" {
			ct = "no content type"
		}
		return fmt.Errorf("%w: %s: %s answered HTTP %d with %s — %s", c.errs.NotJSON, what,
			path, code, ct, c.hints.NotJSON)
	}
	return nil
}

// Body is resp's body capped at MaxBody: reading past the cap fails with the TooLarge
// sentinel instead of truncating.
func (c *Client) Body(resp *http.Response) io.Reader {
	return CapReader(resp.Body, c.lim.MaxBody, c.errs.TooLarge)
}

// BodyError names why decoding a 200 answer's body failed: over the cap, cut short, an
// API error the decoder found (returned as it is), or the decoder's own error.
func (c *Client) BodyError(what, path string, err error) error {
	switch {
	case errors.Is(err, c.errs.TooLarge):
		return fmt.Errorf("%w: %s: %s is over the %d-byte cap — raise the body limit",
			c.errs.TooLarge, what, path, c.lim.MaxBody)
	case errors.Is(err, io.ErrUnexpectedEOF) || isNetError(err):
		return fmt.Errorf("%s: %s: %s: body cut short (connection dropped?): %w", c.name,
			what, path, err)
	case errors.Is(err, c.errs.API):
		return err
	}
	return fmt.Errorf("%s: %s: %s: %w", c.name, what, path, err)
}

// transportError names what failed before any response arrived, without the request
// headers (url.Error carries only the method and URL, which hold no secret).
func (c *Client) transportError(what, path string, err error) error {
	var cve *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, c.errs.TLS):
		return fmt.Errorf("%s: %s %s: %w", what, c.base.Host, path, unwrapURL(err))
	case errors.As(err, &cve), errors.As(err, &hostErr):
		return fmt.Errorf("%w: %s: %s: %w — set the CA file or the certificate pin",
			c.errs.TLS, what, c.base.Host, unwrapURL(err))
	}
	return fmt.Errorf("%s: %s: %s %s: %w", c.name, what, c.base.Host, path, unwrapURL(err))
}

// unwrapURL drops the url.Error layer, whose message repeats the method and full URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

// retryAfter is the wait a 429 asks for: Retry-After in seconds or as an HTTP date, else
// exponential backoff from one second; never more than limit.
func retryAfter(h string, attempt int, limit time.Duration) time.Duration {
	var d time.Duration
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		d = time.Duration(min(s, 86400)) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	} else {
		d = time.Second << min(attempt, 10)
	}
	return max(0, min(d, limit))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drain reads a little of what is left so that the connection can be reused.
func drain(r io.Reader) {
	_, _ = io.CopyN(io.Discard, r, 64<<10)
}
