package probe

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePorts parses a port list such as "22,80,8000-8100" (commas or spaces between items,
// inclusive ranges). Ports keep the order first given, without repeats, because callers list
// the likeliest ports first. Errors name the bad item, its 1-based position and the accepted
// forms. Profile names ("top100") are resolved by the caller through fixtures.Ports.
func ParsePorts(spec string) ([]uint16, error) {
	var out []uint16
	var seen [65536 / 64]uint64 // bitmap: a 1-65535 range must not allocate a map
	items := strings.FieldsFunc(spec, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	})
	if len(items) == 0 {
		return nil, fmt.Errorf("empty port list; accepted: ports 1-65535 and ranges, " +
			"e.g. 22,80,8000-8100")
	}
	for i, item := range items {
		lo, hi, err := parsePortItem(item)
		if err != nil {
			return nil, fmt.Errorf("port item %d %q: %v; accepted: ports 1-65535 and "+
				"ranges lo-hi, e.g. 22,80,8000-8100", i+1, item, err)
		}
		for p := uint32(lo); p <= uint32(hi); p++ {
			if seen[p/64]&(1<<(p%64)) == 0 {
				seen[p/64] |= 1 << (p % 64)
				out = append(out, uint16(p))
			}
		}
	}
	return out, nil
}

func parsePortItem(item string) (uint16, uint16, error) {
	l, h, isRange := strings.Cut(item, "-")
	lo, err := parsePort(l)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := parsePort(h)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range is reversed")
	}
	return lo, hi, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || s[0] == '+' {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number 1-65535", s)
	}
	return uint16(n), nil
}
