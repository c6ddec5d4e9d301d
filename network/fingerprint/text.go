package fingerprint

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxEvidence bounds every string copied from the peer into a result, so that a hostile
// banner cannot bloat stored evidence.
const maxEvidence = 256

// CleanText is clean for callers outside the package (an unidentified service's banner).
func CleanText(b []byte) string { return clean(b) }

// clean makes peer text safe to store and show: valid UTF-8, no control characters, single
// spaces, bounded length.
func clean(b []byte) string {
	var sb strings.Builder
	space := false
	for len(b) > 0 && sb.Len() < maxEvidence {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size <= 1 {
			r = '?'
		}
		if r < 0x20 || r == 0x7f || r == ' ' || (r >= 0x80 && r < 0xa0) {
			space = sb.Len() > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// productRule recognises a product in a greeting; the first submatch, when the pattern has
// one, is the version.
type productRule struct {
	product string
	re      *regexp.Regexp
}

func matchProduct(text string, rules []productRule) (product, version string) {
	for _, r := range rules {
		m := r.re.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		if len(m) > 1 {
			version = m[1]
		}
		return r.product, version
	}
	return "", ""
}

// osHint maps distribution markers that servers put in greetings to an OS family. The
// order matters: "Raspbian" before "Debian"-like markers it contains.
var osHints = []struct{ marker, os string }{
	{"raspbian", "raspbian"}, {"ubuntu", "ubuntu"}, {"debian", "debian"},
	{"deb1", "debian"}, {"el9", "rhel"}, {"el8", "rhel"}, {"el7", "rhel"},
	{"red hat", "rhel"}, {"centos", "centos"}, {"fedora", "fedora"}, {"freebsd", "freebsd"},
	{"openbsd", "openbsd"}, {"netbsd", "netbsd"}, {"windows", "windows"},
	{"microsoft", "windows"}, {"suse", "suse"}, {"alpine", "alpine"},
}

func osHint(text string) string {
	t := strings.ToLower(text)
	for _, h := range osHints {
		if strings.Contains(t, h.marker) {
			return h.os
		}
	}
	return ""
}
