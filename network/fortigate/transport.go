package fortigate

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
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

// newHTTPClient builds the HTTP client for o: TLS 1.2+, trust from the CA file and/or pin,
// no proxy (collectors talk to devices on the tenant's network directly) and no redirects
// (a redirect means the URL is not the REST API, and following it could carry the header
// elsewhere).
func newHTTPClient(o Options) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" || len(o.CAPEM) > 0 {
		pem := o.CAPEM
		if o.CAFile != "" {
			b, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%w: read CA file: %w", ErrInvalidOptions, err)
			}
			pem = b
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate",
				ErrInvalidOptions, o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.PinSHA256 != "" {
		pin, err := parsePin(o.PinSHA256)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
		if o.CAFile == "" && len(o.CAPEM) == 0 {
			// The pin replaces chain and name verification: appliances ship self-signed
			// certificates for names nobody resolves, and the pin identifies this one.
			tc.InsecureSkipVerify = true //nolint:gosec // VerifyConnection checks the pin
		}
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: the server sent no certificate", ErrTLS)
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return fmt.Errorf("%w: certificate SHA-256 %s does not match the pin",
					ErrTLS, hex.EncodeToString(sum[:]))
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: o.DialTimeout}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   o.DialTimeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// get requests path (below the base URL) for the table named table, retries 429 answers and
// hands a successful, size-capped JSON body to decode.
func (c *Client) get(ctx context.Context, table, path string, q url.Values,
	decode func(io.Reader) error) error {
	return c.scrub(c.fetch(ctx, table, path, q, decode))
}

// scrub is the last guard against a device that echoes the token back into something an
// error quotes: such an error is replaced by one with the token cut out that still matches
// the package's sentinels, but no longer unwraps to the original.
func (c *Client) scrub(err error) error {
	if err == nil || !strings.Contains(err.Error(), string(c.opts.Token)) {
		return err
	}
	s := &scrubbedError{msg: strings.ReplaceAll(err.Error(), string(c.opts.Token), redacted)}
	for _, sentinel := range []error{ErrAuth, ErrTLS, ErrRateLimited, ErrNotJSON,
		ErrTooLarge, ErrAPI} {
		if errors.Is(err, sentinel) {
			s.sentinels = append(s.sentinels, sentinel)
		}
	}
	return s
}

type scrubbedError struct {
	msg       string
	sentinels []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.sentinels }

func (c *Client) fetch(ctx context.Context, table, path string, q url.Values,
	decode func(io.Reader) error) error {
	u := *c.base
	u.Path = path
	if c.opts.VDOM != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("vdom", c.opts.VDOM)
	}
	u.RawQuery = q.Encode()
	target := u.String()
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, table, path, target, attempt, decode)
		if wait < 0 {
			return err
		}
		if attempt >= c.opts.MaxRetries {
			return fmt.Errorf("%w: %s: still 429 Too Many Requests after %d retries — "+
				"lower the scan rate or raise the API rate limit", ErrRateLimited, table,
				c.opts.MaxRetries)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("fortigate: %s: waiting to retry after 429: %w", table, err)
		}
	}
}

// once makes one request. A 429 answer returns the wait before the next attempt; anything
// else returns a negative wait and the outcome.
func (c *Client) once(ctx context.Context, table, path, target string, attempt int,
	decode func(io.Reader) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := c.do(ctx, target)
	if err != nil {
		return -1, c.transportError(table, path, err)
	}
	defer resp.Body.Close()
	defer drain(resp.Body)
	c.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "fortigate request",
		slog.String("endpoint", path), slog.Int("status", resp.StatusCode),
		slog.Duration("duration", time.Since(start)), slog.Int("attempt", attempt))
	if resp.StatusCode == http.StatusTooManyRequests {
		return retryAfter(resp.Header.Get("Retry-After"), attempt, c.opts.MaxRetryWait), nil
	}
	return -1, c.handle(table, path, resp, decode)
}

func (c *Client) do(ctx context.Context, target string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(c.opts.Token))
	req.Header.Set("Accept", "application/json")
	return c.http.Do(req)
}

// handle maps one non-429 response to an error or to decode(body).
func (c *Client) handle(table, path string, resp *http.Response,
	decode func(io.Reader) error) error {
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized:
		return fmt.Errorf("%w (401) — check the token and its trusted hosts", ErrAuth)
	case code == http.StatusForbidden:
		return fmt.Errorf("%w (403) — check the token, its trusted hosts and that its "+
			"admin profile may read %s", ErrAuth, table)
	case code >= 300 && code < 400:
		// Only the Location's path is named: its query could echo anything back.
		where := ""
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Path != "" {
			where = fmt.Sprintf(" to %q", loc.Path)
		}
		return fmt.Errorf("fortigate: %s: %s redirected (%d)%s — check the base URL",
			table, path, code, where)
	}
	if resp.ContentLength > c.opts.MaxBody {
		return fmt.Errorf("%w: %s: %s announces %d bytes, over the %d-byte cap — "+
			"raise the body limit", ErrTooLarge, table, path, resp.ContentLength,
			c.opts.MaxBody)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		if ct == "" {
			ct = "no content type"
		}
		return fmt.Errorf("%w: %s: %s answered HTTP %d with %s — is the base URL the "+
			"FortiGate's REST API?", ErrNotJSON, table, path, code, ct)
	}
	body := &cappedReader{r: resp.Body, left: c.opts.MaxBody}
	if code != http.StatusOK {
		env, err := decodeEnvelope(body, nil)
		if err != nil {
			return fmt.Errorf("%w: %s: %s answered HTTP %d", ErrAPI, table, path, code)
		}
		return env.err(table, path, code)
	}
	if err := decode(body); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("%w: %s: %s is over the %d-byte cap — raise the body limit",
				ErrTooLarge, table, path, c.opts.MaxBody)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || isNetError(err) {
			return fmt.Errorf("fortigate: %s: %s: body cut short (connection dropped?): %w",
				table, path, err)
		}
		if errors.Is(err, ErrAPI) {
			return err
		}
		return fmt.Errorf("fortigate: %s: %s: %w", table, path, err)
	}
	return nil
}

// transportError names what failed before any response arrived, without the request
// headers (url.Error carries only the method and URL, which hold no secret).
func (c *Client) transportError(table, path string, err error) error {
	var cve *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, ErrTLS):
		return fmt.Errorf("%s: %s %s: %w", table, c.base.Host, path, unwrapURL(err))
	case errors.As(err, &cve), errors.As(err, &hostErr):
		return fmt.Errorf("%w: %s: %s: %w — set the CA file or the certificate pin",
			ErrTLS, table, c.base.Host, unwrapURL(err))
	}
	return fmt.Errorf("fortigate: %s: %s %s: %w", table, c.base.Host, path, unwrapURL(err))
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

// cappedReader fails with ErrTooLarge once more than max bytes were read, instead of
// truncating silently as io.LimitReader would.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Probe one byte: a body of exactly max bytes is fine.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
