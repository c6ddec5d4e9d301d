package restapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	limit := 30 * time.Second
	cases := []struct {
		header  string
		attempt int
		want    time.Duration
	}{
		{"2", 0, 2 * time.Second},
		{" 7 ", 0, 7 * time.Second},
		{"0", 3, 0},
		{"3600", 0, limit},
		{"99999999999999999999", 0, 4 * time.Second}, // not an int: backoff
		{"-5", 1, 2 * time.Second},
		{"", 0, time.Second},
		{"", 2, 4 * time.Second},
		{"", 60, limit},
		{"soon", 1, 2 * time.Second},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, 0}, // in the past
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 0, limit},
	}
	for _, tc := range cases {
		got := retryAfter(tc.header, tc.attempt, limit)
		if tc.header == "99999999999999999999" {
			tc.want = time.Second // attempt 0
		}
		if got != tc.want {
			t.Errorf("retryAfter(%q, %d) = %v, want %v", tc.header, tc.attempt, got, tc.want)
		}
	}
}

// FuzzRetryAfter feeds Retry-After headers a device chooses: the wait is never negative
// and never over the limit.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"2", " 7 ", "-5", "", "soon", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "1e9", "\x00"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, h string, attempt int) {
		const limit = 30 * time.Second
		if d := retryAfter(h, max(attempt, 0), limit); d < 0 || d > limit {
			t.Fatalf("retryAfter(%q, %d) = %v", h, attempt, d)
		}
	})
}

func TestScrub(t *testing.T) {
	t.Parallel()
	errA := errors.New("x: A")
	errB := errors.New("x: B")
	cases := []struct {
		name    string
		err     error
		secrets []string
		want    string
		is      []error // sentinels the result must match
		same    bool    // the error comes back as it was
	}{
		{name: "nil", err: nil, secrets: []string{"s3cret"}},
		{name: "clean", err: fmt.Errorf("%w: no secret here", errA),
			secrets: []string{"s3cret"}, want: "x: A: no secret here", is: []error{errA},
			same: true},
		{name: "empty secret ignored", err: errors.New("plain"), secrets: []string{""},
			want: "plain", same: true},
		{name: "one secret twice", err: fmt.Errorf("%w: s3cret and s3cret", errA),
			secrets: []string{"s3cret"}, want: "x: A: [redacted] and [redacted]",
			is: []error{errA}},
		{name: "two secrets", err: fmt.Errorf("%w: tok1 then key2", errB),
			secrets: []string{"", "key2", "tok1"}, want: "x: B: [redacted] then [redacted]",
			is: []error{errB}},
	}
	for _, tc := range cases {
		got := Scrub(tc.err, tc.secrets, errA, errB)
		if tc.err == nil {
			if got != nil {
				t.Errorf("%s: %v", tc.name, got)
			}
			continue
		}
		if got.Error() != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		for _, s := range tc.is {
			if !errors.Is(got, s) {
				t.Errorf("%s: %v does not match %v", tc.name, got, s)
			}
		}
		if tc.same != (got == tc.err) {
			t.Errorf("%s: returned the original: %v", tc.name, got == tc.err)
		}
	}
}

func TestPartial(t *testing.T) {
	t.Parallel()
	errPartial := errors.New("dev: partial collection")
	errAuth := errors.New("dev: rejected")
	err := Partial(errPartial, []error{fmt.Errorf("%w (403)", errAuth),
		errors.New("dev: arp: cut short")})
	want := "dev: partial collection: dev: rejected (403); dev: arp: cut short"
	if err.Error() != want {
		t.Errorf("%q, want %q", err, want)
	}
	if !errors.Is(err, errPartial) || !errors.Is(err, errAuth) {
		t.Errorf("%v does not match its sentinels", err)
	}
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{"https://fw.example:8443", "https://fw.example:8443", ""},
		{" https://10.0.0.1/ ", "https://10.0.0.1", ""},
		{"http://10.0.0.1", "", `base URL "http://10.0.0.1": keys need https, not "http"`},
		{"https://", "", "want https://host[:port]"},
		{"https://fw/api", "", "give only"},
		{"https://u:p@fw", "", "give only"},
		{"https://fw?x=1", "", "give only"},
	} {
		u, err := ParseBaseURL(tc.in, "keys need")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBaseURL(%q) = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
		}
	}
}
