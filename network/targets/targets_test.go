package targets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// mapResolver is a test resolver over a fixed table; it never leaves the process.
type mapResolver map[string][]string

func (m mapResolver) LookupHost(_ context.Context, name string) ([]string, error) {
	if a, ok := m[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", name)
}

func collect(s *Set) []string {
	var out []string
	for a := range s.All() {
		out = append(out, a.String())
	}
	return out
}

func TestParseValid(t *testing.T) {
	res := mapResolver{
		"printer.lan": {"10.0.0.9", "2001:db8::9"},
		"dup.lan":     {"10.0.0.1"},
	}
	tests := []struct {
		spec, exclude string
		want          []string
	}{
		{"10.0.0.1", "", []string{"10.0.0.1"}},
		{"10.0.0.0/30", "", []string{"10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{"10.0.0.6/30", "", []string{"10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"}},
		{"10.0.0.1-3", "", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{"10.0.0.255-10.0.1.1", "", []string{"10.0.0.255", "10.0.1.0", "10.0.1.1"}},
		{"10.0.0.3 10.0.0.1,10.0.0.2,,10.0.0.1", "",
			[]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{"10.0.0.0/30,!10.0.0.1", "", []string{"10.0.0.0", "10.0.0.2", "10.0.0.3"}},
		{"10.0.0.0/30", "10.0.0.2-3", []string{"10.0.0.0", "10.0.0.1"}},
		{"10.0.0.0/30", "!10.0.0.0/24", nil},
		{"2001:db8::2,::ffff:10.0.0.1,2001:db8::1", "",
			[]string{"10.0.0.1", "2001:db8::1", "2001:db8::2"}},
		{"2001:db8::/126", "", []string{"2001:db8::", "2001:db8::1", "2001:db8::2",
			"2001:db8::3"}},
		{"printer.lan dup.lan 10.0.0.1", "",
			[]string{"10.0.0.1", "10.0.0.9", "2001:db8::9"}},
		{"PRINTER.LAN.", "!2001:db8::9", []string{"10.0.0.9"}},
		{"255.255.255.254/31", "", []string{"255.255.255.254", "255.255.255.255"}},
		{"", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"|"+tt.exclude, func(t *testing.T) {
			s, err := Parse(context.Background(), tt.spec,
				Options{Resolver: res, Exclude: tt.exclude})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := collect(s)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if s.Len() != uint64(len(tt.want)) {
				t.Fatalf("Len = %d, want %d", s.Len(), len(tt.want))
			}
			// A second pass yields the same sequence: iteration is deterministic.
			if again := collect(s); !slices.Equal(got, again) {
				t.Fatalf("second iteration differs: %v", again)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	tests := []struct {
		spec     string
		wantCol  int
		contains string
	}{
		{"999.1.1.1", 1, "not a valid address"},
		{"10.0.0.1,10.0.0.20-5", 10, "reversed"},
		{"10.0.0.5-10.0.0.1", 1, "reversed"},
		{"10.0.0.1-256", 1, "0-255"},
		{"10.0.0.1-", 1, "0-255"},
		{"-10.0.0.1", 1, "range start"},
		{"10.0.0.0/33", 1, "CIDR"},
		{"10.0.0.0/-1", 1, "CIDR"},
		{"2001:db8::/64", 1, "/120"},
		{"::/0", 1, "/120"},
		{"fe80::1%eth0", 1, "zoned"},
		{"exa mple.com\x00", 5, "not allowed"},
		{"bücher.de", 1, "punycode"},
		{"\xff\xfe", 1, "UTF-8"},
		{"a..b", 1, "1-63"},
		{"-bad.lan", 1, "start or end"},
		{"host/name", 1, "CIDR"},
		{"1.2.3", 1, "not a valid address"},
		{"010.0.0.1", 1, "not a valid address"},
		{"!", 1, "empty"},
		{"a;rm -rf", 1, "not allowed"},
		{strings.Repeat("a", 300), 1, "1-253"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := Parse(context.Background(), tt.spec, Options{})
			if err == nil {
				t.Fatal("want error")
			}
			var te *TokenError
			if !errors.As(err, &te) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("want *TokenError wrapping ErrSyntax, got %T %v", err, err)
			}
			if te.Col != tt.wantCol {
				t.Errorf("column = %d, want %d (%v)", te.Col, tt.wantCol, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.contains) || !strings.Contains(msg, "accepted:") {
				t.Errorf("error %q lacks %q or the accepted forms", msg, tt.contains)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	ctx := context.Background()
	if s, err := Parse(ctx, "10.0.0.0/16", Options{}); err != nil || s.Len() != 65536 {
		t.Fatalf("a /16 is allowed without force: %v", err)
	}
	for _, spec := range []string{"10.0.0.0/15", "0.0.0.0/0", "10.0.0.0/16,10.1.0.0"} {
		_, err := Parse(ctx, spec, Options{})
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "--force") {
			t.Errorf("%s: want ErrTooLarge naming --force, got %v", spec, err)
		}
	}
	s, err := Parse(ctx, "10.0.0.0/15", Options{Force: true})
	if err != nil || s.Len() != 1<<17 {
		t.Fatalf("forced /15: %v", err)
	}
	// Exclusions count before the limit: a /15 minus a /16 is a /16.
	if _, err := Parse(ctx, "10.0.0.0/15", Options{Exclude: "10.1.0.0/16"}); err != nil {
		t.Fatalf("/15 minus /16: %v", err)
	}
	_, err = Parse(ctx, "0.0.0.0/0", Options{Force: true})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("/0 with force must still fail: %v", err)
	}
	_, err = Parse(ctx, strings.Repeat("1", MaxSpecBytes+1), Options{})
	if err == nil {
		t.Fatal("oversize spec accepted")
	}
}

func TestUnresolvableIsPerTarget(t *testing.T) {
	res := mapResolver{"ok.lan": {"10.0.0.1"}}
	s, err := Parse(context.Background(), "ok.lan,gone.lan,10.0.0.2", Options{Resolver: res})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := collect(s); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Fatalf("got %v", got)
	}
	errs := s.Errors()
	if len(errs) != 1 || errs[0].Token != "gone.lan" || errs[0].Index != 2 {
		t.Fatalf("errors = %v", errs)
	}
	if h := s.Hostnames(netip.MustParseAddr("10.0.0.1")); !slices.Equal(h, []string{"ok.lan"}) {
		t.Fatalf("Hostnames = %v", h)
	}
	// Without a resolver a name is still a per-target error.
	s, err = Parse(context.Background(), "ok.lan,10.0.0.2", Options{})
	if err != nil || s.Len() != 1 || len(s.Errors()) != 1 {
		t.Fatalf("no resolver: %v %v", err, s)
	}
}

func TestContainsAndLargeIteration(t *testing.T) {
	s, err := Parse(context.Background(), "10.0.0.0/16", Options{Exclude: "10.0.128.0/17"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Contains(netip.MustParseAddr("10.0.127.255")) ||
		s.Contains(netip.MustParseAddr("10.0.128.0")) {
		t.Fatal("Contains wrong at the exclusion edge")
	}
	var n uint64
	prev := netip.Addr{}
	for a := range s.All() {
		if prev.IsValid() && !prev.Less(a) {
			t.Fatalf("not ascending: %v then %v", prev, a)
		}
		prev = a
		n++
	}
	if n != s.Len() || n != 1<<15 {
		t.Fatalf("iterated %d, Len %d", n, s.Len())
	}
	// Breaking out early works (the iterator honours yield's result).
	for range s.All() {
		break
	}
}

// FuzzParse checks that no input panics, that every accepted set iterates exactly Len
// addresses in strictly ascending order, and that the limit holds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "10.0.0.1-20", "10.0.0.1-10.0.1.5",
		"2001:db8::/120", "::ffff:1.2.3.4", "host.lan,!10.0.0.1", "999.1.1.1", "",
		"0.0.0.0/0", "a..b", "\xff"} {
		f.Add(s, "10.0.0.5")
	}
	res := mapResolver{"host.lan": {"10.0.0.7", "::1"}}
	f.Fuzz(func(t *testing.T, spec, exclude string) {
		s, err := Parse(context.Background(), spec,
			Options{Resolver: res, Exclude: exclude, Limit: 4096})
		if err != nil {
			return
		}
		if s.Len() > 4096 {
			t.Fatalf("Len %d over the limit", s.Len())
		}
		var n uint64
		prev := netip.Addr{}
		for a := range s.All() {
			if prev.IsValid() && !prev.Less(a) {
				t.Fatalf("not strictly ascending: %v then %v", prev, a)
			}
			if !s.Contains(a) {
				t.Fatalf("Contains(%v) false for an iterated address", a)
			}
			prev = a
			n++
		}
		if n != s.Len() {
			t.Fatalf("iterated %d, Len %d", n, s.Len())
		}
	})
}
