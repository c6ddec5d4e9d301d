package snmp

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// OUITable maps the first three octets of a MAC (the IEEE OUI) to a vendor name. It is
// immutable after loading and safe for concurrent use.
//
// The embedded table (fixtures/snmp/oui.txt) is a hand-picked seed of a few dozen common
// vendors; the full IEEE MA-L registry comes later. Where Debian's ieee-data package is
// installed, LoadIEEEOUI reads /usr/share/ieee-data/oui.txt into a fuller table.
type OUITable struct {
	m map[[3]byte]string
}

// IEEEOUIPath is where Debian's ieee-data package installs the IEEE registry.
const IEEEOUIPath = "/usr/share/ieee-data/oui.txt"

const maxOUIEntries = 1 << 20

// LoadOUI reads oui.txt from fsys (fixtures.SNMP() in the binary).
func LoadOUI(fsys fs.FS) (*OUITable, error) {
	f, err := fsys.Open("oui.txt")
	if err != nil {
		return nil, fmt.Errorf("open oui table: %w", err)
	}
	defer func() { _ = f.Close() }()
	return ParseOUI(f)
}

// LoadIEEEOUI reads the IEEE registry file at path (normally IEEEOUIPath).
func LoadIEEEOUI(path string) (*OUITable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ieee oui registry: %w", err)
	}
	defer f.Close()
	return ParseOUI(f)
}

// ParseOUI reads either the seed format ("704CA5<tab>Fortinet", # comments) or the IEEE
// registry's "70-4C-A5   (hex)\t\tFortinet, Inc." lines; other lines are ignored.
func ParseOUI(r io.Reader) (*OUITable, error) {
	t := &OUITable{m: map[[3]byte]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var key, vendor string
		if i := strings.Index(line, "(hex)"); i > 0 {
			key, vendor = strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+5:])
		} else if f := strings.SplitN(line, "\t", 2); len(f) == 2 {
			key, vendor = f[0], strings.TrimSpace(f[1])
		} else {
			continue
		}
		b, err := hex.DecodeString(strings.NewReplacer("-", "", ":", "").Replace(key))
		if err != nil || len(b) != 3 || vendor == "" {
			continue
		}
		if len(t.m) >= maxOUIEntries {
			return nil, fmt.Errorf("oui table: more than %d entries", maxOUIEntries)
		}
		t.m[[3]byte(b)] = vendor
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read oui table: %w", err)
	}
	return t, nil
}

// Merge returns a table holding t's entries overlaid with other's.
func (t *OUITable) Merge(other *OUITable) *OUITable {
	out := &OUITable{m: map[[3]byte]string{}}
	for _, src := range []*OUITable{t, other} {
		if src != nil {
			for k, v := range src.m {
				out.m[k] = v
			}
		}
	}
	return out
}

// Len reports how many OUIs the table holds.
func (t *OUITable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.m)
}

// Lookup returns the vendor of a MAC written as aa:bb:cc:…, aa-bb-cc-… or aabbcc…, or "" for
// unknown, malformed or locally administered addresses. A nil table knows nothing.
func (t *OUITable) Lookup(mac string) string {
	if t == nil {
		return ""
	}
	h := strings.NewReplacer(":", "", "-", "", ".", "").Replace(mac)
	if len(h) < 6 {
		return ""
	}
	b, err := hex.DecodeString(h[:6])
	if err != nil || b[0]&0x02 != 0 { // locally administered: no OUI
		return ""
	}
	return t.m[[3]byte(b)]
}
