// Package targets owns the scan target specification: it parses the list an operator types
// ("10.1.0.0/22,10.2.0.5-20,printer.lan,!10.1.0.1"), resolves host names through an injected
// resolver, applies exclusions, removes duplicates, enforces the size limit and hands out the
// addresses in a deterministic order without materialising them.
//
// Accepted tokens, separated by commas or white space:
//
//	10.1.0.0/22              IPv4 CIDR (host bits are ignored: 10.1.0.7/22 is 10.1.0.0/22)
//	10.1.0.5-20              IPv4 range within the last octet
//	10.1.0.5-10.1.3.20       IPv4 range between two addresses
//	10.1.0.5  2001:db8::1    single IPv4 or IPv6 address (::ffff:a.b.c.d is taken as IPv4)
//	2001:db8::/120           IPv6 CIDR, only /120 or longer (at most 256 addresses)
//	printer.lan              host name (ASCII letters, digits, '-', '_', '.'; IDNs as punycode)
//	!10.1.0.1                exclusion: any of the above prefixed with '!'
//
// IPv6 is limited to explicit addresses and small prefixes on purpose: a /64 holds 2^64
// addresses, so sweeping it is never what an operator means; IPv6 hosts are found from
// neighbour tables, DNS and SNMP instead.
//
// Host names are resolved once, at parse time. A name that does not resolve is a per-target
// error (Set.Errors), not a failure of the whole spec, so one stale DNS entry does not stop a
// scan of a /22. A syntax error anywhere fails the whole spec: scanning a guess of what the
// operator meant is worse than asking again.
package targets

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"
)

// DefaultLimit is the number of addresses (a /16) a spec may hold without Options.Force.
const DefaultLimit = 1 << 16

// HardLimit is the number of addresses no spec may exceed, even with Force: a /8. Beyond it a
// scan takes days and is almost always a typo such as 10.0.0.0/0.
const HardLimit = 1 << 24

// MaxSpecBytes bounds the length of a spec so a hostile API body cannot make the parser sort
// millions of intervals.
const MaxSpecBytes = 1 << 20

// minV6Bits is the shortest IPv6 prefix accepted: /120, 256 addresses.
const minV6Bits = 120

// ErrTooLarge is wrapped by the error returned when a spec holds more than the limit.
var ErrTooLarge = errors.New("too many target addresses")

// ErrSyntax is wrapped by every TokenError.
var ErrSyntax = errors.New("invalid target")

// accepted is appended to syntax errors so the operator sees what would have worked.
const accepted = "accepted: IPv4 CIDR (10.0.0.0/24), range (10.0.0.1-20 or " +
	"10.0.0.1-10.0.1.20), IPv4/IPv6 address, IPv6 prefix /120 or longer, host name; " +
	"prefix '!' to exclude"

// Resolver resolves host names. *net.Resolver satisfies it. Implementations must honour ctx
// and be safe for concurrent use.
type Resolver interface {
	LookupHost(ctx context.Context, name string) ([]string, error)
}

// Options configures Parse.
type Options struct {
	// Resolver resolves host names; when nil, every host name is a per-target error.
	Resolver Resolver
	// Exclude is a second spec, in the same syntax, whose addresses are removed ('!' is
	// optional there).
	Exclude string
	// Force allows more than Limit addresses (the CLI's --force), up to HardLimit.
	Force bool
	// Limit overrides DefaultLimit when positive.
	Limit uint64
}

// TokenError describes a token that could not be parsed or resolved.
type TokenError struct {
	Token string // the token as typed, '!' included
	Index int    // 1-based position of the token in its spec
	Col   int    // 1-based byte column of the token in its spec
	Spec  string // "targets" or "exclude"
	Err   error
}

// Error names the token, where it is, and what went wrong.
func (e *TokenError) Error() string {
	return fmt.Sprintf("%s token %d (column %d) %q: %v", e.Spec, e.Index, e.Col,
		e.Token, e.Err)
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// interval is an inclusive range of addresses of one family.
type interval struct{ lo, hi netip.Addr }

// Set is a parsed, resolved, de-duplicated target set. It is immutable and safe for
// concurrent use.
type Set struct {
	ivs   []interval // sorted, disjoint, non-adjacent; IPv4 before IPv6
	n     uint64
	errs  []TokenError
	names map[netip.Addr][]string
}

// Len returns the number of addresses in the set.
func (s *Set) Len() uint64 { return s.n }

// Errors returns per-target errors: host names that did not resolve. The scan goes on
// without them; the job report lists them.
func (s *Set) Errors() []TokenError { return slices.Clone(s.errs) }

// Hostnames returns the names (from the spec) that resolved to addr, sorted, so later stages
// can attach them to the asset.
func (s *Set) Hostnames(addr netip.Addr) []string { return slices.Clone(s.names[addr]) }

// All yields every address once, in ascending order with IPv4 before IPv6. It can be
// iterated any number of times and holds no more than one address in memory.
func (s *Set) All() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for _, iv := range s.ivs {
			for a := iv.lo; ; a = a.Next() {
				if !yield(a) {
					return
				}
				if a == iv.hi {
					break
				}
			}
		}
	}
}

// Contains reports whether addr is in the set.
func (s *Set) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	i, found := slices.BinarySearchFunc(s.ivs, addr, func(iv interval, a netip.Addr) int {
		return iv.lo.Compare(a)
	})
	if found {
		return true
	}
	return i > 0 && s.ivs[i-1].hi.Compare(addr) >= 0
}

// token is one whitespace/comma separated word of a spec.
type token struct {
	text  string
	index int
	col   int
}

func split(spec string) []token {
	var out []token
	start := -1
	for i, r := range spec + "," {
		sep := r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		if sep && start >= 0 {
			out = append(out, token{text: spec[start:i], index: len(out) + 1, col: start + 1})
			start = -1
		} else if !sep && start < 0 {
			start = i
		}
	}
	return out
}

// parsed is the result of parsing one token before resolution.
type parsed struct {
	iv      interval
	name    string // non-empty for a host name
	exclude bool
	tok     token
	spec    string
}

// Parse parses spec (and opts.Exclude), resolves host names, removes exclusions and
// duplicates and checks the size limit. Syntax errors, all of them, are returned joined as
// *TokenError values wrapping ErrSyntax; an oversize set returns an error wrapping
// ErrTooLarge; unresolvable names are reported by Set.Errors.
func Parse(ctx context.Context, spec string, opts Options) (*Set, error) {
	if len(spec)+len(opts.Exclude) > MaxSpecBytes {
		return nil, fmt.Errorf("%w: spec is %d bytes, at most %d are accepted",
			ErrSyntax, len(spec)+len(opts.Exclude), MaxSpecBytes)
	}
	var items []parsed
	var errs []error
	for _, src := range []struct {
		name, text string
		exclude    bool
	}{{"targets", spec, false}, {"exclude", opts.Exclude, true}} {
		for _, t := range split(src.text) {
			p, err := parseToken(t.text)
			if err != nil {
				errs = append(errs, &TokenError{Token: t.text, Index: t.index, Col: t.col,
					Spec: src.name, Err: fmt.Errorf("%w: %w; %s", ErrSyntax, err, accepted)})
				continue
			}
			p.tok, p.spec = t, src.name
			p.exclude = p.exclude || src.exclude
			items = append(items, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Set{names: map[netip.Addr][]string{}}
	var inc, exc []interval
	for _, p := range items {
		ivs := []interval{p.iv}
		if p.name != "" {
			var err error
			ivs, err = resolve(ctx, opts.Resolver, p.name)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("resolve %q: %w", p.name, ctx.Err())
				}
				s.errs = append(s.errs, TokenError{Token: p.tok.text, Index: p.tok.index,
					Col: p.tok.col, Spec: p.spec, Err: err})
				continue
			}
			if !p.exclude {
				for _, iv := range ivs {
					s.names[iv.lo] = append(s.names[iv.lo], p.name)
				}
			}
		}
		if p.exclude {
			exc = append(exc, ivs...)
		} else {
			inc = append(inc, ivs...)
		}
	}
	s.ivs = subtract(merge(inc), merge(exc))
	for _, iv := range s.ivs {
		sum, carry := bits.Add64(s.n, size(iv), 0)
		if carry != 0 {
			sum = ^uint64(0)
		}
		s.n = sum
	}
	for a, ns := range s.names {
		if !s.Contains(a) {
			delete(s.names, a)
			continue
		}
		slices.Sort(ns)
		s.names[a] = slices.Compact(ns)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	switch {
	case s.n > HardLimit:
		return nil, fmt.Errorf("%w: %d addresses, more than the %d (a /8) allowed even "+
			"with --force; split the scan", ErrTooLarge, s.n, HardLimit)
	case s.n > limit && !opts.Force:
		return nil, fmt.Errorf("%w: %d addresses, more than %d; pass --force (Force) to "+
			"scan them anyway, or narrow the targets", ErrTooLarge, s.n, limit)
	}
	return s, nil
}

func resolve(ctx context.Context, r Resolver, name string) ([]interval, error) {
	if r == nil {
		return nil, errors.New("host names are not resolved here (no resolver)")
	}
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	var out []interval
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			continue // a resolver returning junk is not the operator's fault; skip it
		}
		ip = ip.Unmap().WithZone("")
		out = append(out, interval{ip, ip})
	}
	if len(out) == 0 {
		return nil, errors.New("resolve: no addresses")
	}
	return out, nil
}

// parseToken parses one token without resolving host names.
func parseToken(t string) (parsed, error) {
	var p parsed
	if strings.HasPrefix(t, "!") {
		p.exclude = true
		t = t[1:]
	}
	if t == "" {
		return p, errors.New("empty")
	}
	if !utf8.ValidString(t) {
		return p, errors.New("not valid UTF-8")
	}
	switch {
	case strings.Contains(t, "/"):
		pfx, err := netip.ParsePrefix(t)
		if err != nil {
			return p, errors.New("not a CIDR prefix")
		}
		pfx = pfx.Masked()
		a := pfx.Addr()
		if a.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
			a = pfx.Addr()
		}
		if a.Is6() && pfx.Bits() < minV6Bits {
			return p, fmt.Errorf("IPv6 prefix /%d is too large, /%d or longer is accepted",
				pfx.Bits(), minV6Bits)
		}
		p.iv = interval{a, last(pfx)}
		return p, nil
	case strings.Contains(t, "-") && looksNumeric(t):
		lo, hi, err := parseRange(t)
		if err != nil {
			return p, err
		}
		p.iv = interval{lo, hi}
		return p, nil
	}
	if a, err := netip.ParseAddr(t); err == nil {
		if a.Zone() != "" {
			return p, errors.New("zoned IPv6 addresses are not accepted")
		}
		a = a.Unmap()
		p.iv = interval{a, a}
		return p, nil
	}
	if looksNumeric(t) || strings.Contains(t, ":") {
		return p, errors.New("not a valid address")
	}
	if err := checkHostname(t); err != nil {
		return p, err
	}
	p.name = strings.ToLower(strings.TrimSuffix(t, "."))
	return p, nil
}

// looksNumeric reports whether t is made of digits, dots and dashes only, so "999.1.1.1" is
// reported as a bad address rather than looked up as a host name.
func looksNumeric(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func parseRange(t string) (netip.Addr, netip.Addr, error) {
	left, right, _ := strings.Cut(t, "-")
	lo, err := netip.ParseAddr(left)
	if err != nil || !lo.Is4() {
		return lo, lo, fmt.Errorf("range start %q is not an IPv4 address", left)
	}
	var hi netip.Addr
	if strings.Contains(right, ".") {
		hi, err = netip.ParseAddr(right)
		if err != nil || !hi.Is4() {
			return lo, lo, fmt.Errorf("range end %q is not an IPv4 address", right)
		}
	} else {
		n, ok := octet(right)
		if !ok {
			return lo, lo, fmt.Errorf("range end %q is not a number 0-255", right)
		}
		b := lo.As4()
		b[3] = n
		hi = netip.AddrFrom4(b)
	}
	if hi.Less(lo) {
		return lo, lo, fmt.Errorf("range is reversed (%s > %s)", lo, hi)
	}
	return lo, hi, nil
}

func octet(s string) (byte, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return byte(n), n <= 255
}

// checkHostname accepts RFC 1123 names in ASCII; an internationalised name must be given in
// punycode (xn--…) so what is resolved is exactly what the operator sees in DNS.
func checkHostname(t string) error {
	name := strings.TrimSuffix(t, ".")
	if len(name) == 0 || len(name) > 253 {
		return errors.New("host name must be 1-253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return errors.New("host name labels must be 1-63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("host name labels cannot start or end with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c == '-' || c == '_' || (c >= '0' && c <= '9') ||
				(c|0x20 >= 'a' && c|0x20 <= 'z')
			if !ok {
				if c >= utf8.RuneSelf {
					return errors.New("non-ASCII host name; give it in punycode (xn--…)")
				}
				return fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
	}
	return nil
}

// last returns the last address of a masked prefix.
func last(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for i := p.Bits() + off; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

// merge sorts intervals and joins overlapping and adjacent ones.
func merge(ivs []interval) []interval {
	slices.SortFunc(ivs, func(a, b interval) int { return a.lo.Compare(b.lo) })
	var out []interval
	for _, iv := range ivs {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			next := prev.hi.Next()
			if prev.hi.BitLen() == iv.lo.BitLen() &&
				(iv.lo.Compare(prev.hi) <= 0 || (next.IsValid() && next == iv.lo)) {
				if iv.hi.Compare(prev.hi) > 0 {
					prev.hi = iv.hi
				}
				continue
			}
		}
		out = append(out, iv)
	}
	return out
}

// subtract removes exc from inc; both are merged lists.
func subtract(inc, exc []interval) []interval {
	var out []interval
	j := 0
	for _, iv := range inc {
		cur := iv
		for j < len(exc) && exc[j].hi.Compare(cur.lo) < 0 {
			j++
		}
		alive := true
		for k := j; k < len(exc) && exc[k].lo.Compare(cur.hi) <= 0; k++ {
			e := exc[k]
			if e.lo.Compare(cur.lo) > 0 {
				out = append(out, interval{cur.lo, e.lo.Prev()})
			}
			if e.hi.Compare(cur.hi) >= 0 {
				alive = false
				break
			}
			cur.lo = e.hi.Next()
		}
		if alive {
			out = append(out, cur)
		}
	}
	return out
}

// size returns the number of addresses in iv. IPv6 intervals are built from /120s and single
// addresses, but merged ones can still exceed 2^64 in theory only if the spec held 2^56
// tokens, which MaxSpecBytes rules out; the result saturates anyway.
func size(iv interval) uint64 {
	a, b := iv.lo.As16(), iv.hi.As16()
	ahi, alo := be64(a[:8]), be64(a[8:])
	bhi, blo := be64(b[:8]), be64(b[8:])
	lo, borrow := bits.Sub64(blo, alo, 0)
	hi, _ := bits.Sub64(bhi, ahi, borrow)
	if hi != 0 || lo == ^uint64(0) {
		return ^uint64(0)
	}
	return lo + 1
}

func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
