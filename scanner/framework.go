package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Framework is a compliance framework catalog (fixtures/frameworks/<id>.yaml, ADR 0009).
type Framework struct {
	ID       string    `yaml:"id" json:"id"` // CIS | NIST-800-53 | ISO-27001 | HIPAA
	Name     string    `yaml:"name" json:"name"`
	Version  string    `yaml:"version" json:"version"`
	Controls []Control `yaml:"controls" json:"controls"`
}

// Control is one control (CIS safeguard, NIST control, ISO Annex A control, HIPAA section).
type Control struct {
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Weight multiplies the control's evaluations in the framework score (ADR 0009); 0 in
	// the file means 1.
	Weight float64 `yaml:"weight" json:"weight"`
}

// Control returns the control with the given id.
func (f *Framework) Control(id string) (Control, bool) {
	for _, c := range f.Controls {
		if c.ID == id {
			return c, true
		}
	}
	return Control{}, false
}

// FrameworkIDs are the framework ids mappings may name.
var frameworkIDs = []string{"CIS", "HIPAA", "ISO-27001", "NIST-800-53"}

// LoadFrameworks reads every <id>.yaml at the root of fsys (fixtures/frameworks), strictly.
// Files with errors are skipped and their errors joined; the good frameworks are returned,
// sorted by id.
func LoadFrameworks(fsys fs.FS) ([]Framework, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read frameworks: %w", err)
	}
	var out []Framework
	var errs []error
	seen := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name(), err))
			continue
		}
		f, err := ParseFramework(e.Name(), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[f.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: framework %s is also defined in %s", e.Name(),
				f.ID, prev))
			continue
		}
		seen[f.ID] = e.Name()
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errors.Join(errs...)
}

// ParseFramework decodes and validates one framework file; name is used in messages.
func ParseFramework(name string, data []byte) (Framework, error) {
	var f Framework
	if err := decodeStrict(data, &f); err != nil {
		return Framework{}, prefixYAMLError(name, err)
	}
	var errs []error
	if !contains(frameworkIDs, f.ID) {
		errs = append(errs, fmt.Errorf("%s: framework id %q is unknown (want one of %s)", name,
			f.ID, strings.Join(frameworkIDs, ", ")))
	}
	if f.Name == "" || len(f.Controls) == 0 {
		errs = append(errs, fmt.Errorf("%s: framework needs a name and at least one control",
			name))
	}
	ids := map[string]bool{}
	for i, c := range f.Controls {
		switch {
		case c.ID == "" || c.Title == "":
			errs = append(errs, fmt.Errorf("%s: controls[%d] needs an id and a title", name, i))
		case ids[c.ID]:
			errs = append(errs, fmt.Errorf("%s: control %q is listed twice", name, c.ID))
		case c.Weight < 0 || c.Weight > 100:
			errs = append(errs, fmt.Errorf("%s: control %q has weight %v (want 0 to 100)", name,
				c.ID, c.Weight))
		}
		if c.Weight == 0 {
			f.Controls[i].Weight = 1
		}
		ids[c.ID] = true
	}
	if len(errs) > 0 {
		return Framework{}, errors.Join(errs...)
	}
	return f, nil
}

// EOLEntry is one row of the end-of-life table (fixtures/eol/os.yaml).
type EOLEntry struct {
	Product string `yaml:"product" json:"product"`
	// Match is a Go regular expression over os + " " + os_version.
	Match string `yaml:"match" json:"match"`
	EOL   string `yaml:"eol" json:"eol"` // YYYY-MM-DD

	re   *regexp.Regexp
	date time.Time
}

// EOLTable maps operating systems to their end-of-life dates; the first matching row wins.
type EOLTable struct {
	entries []EOLEntry
}

// Entries returns the table's rows in file order.
func (t EOLTable) Entries() []EOLEntry { return append([]EOLEntry(nil), t.entries...) }

// Lookup returns the end-of-life date of an operating system, or false when no row matches.
func (t EOLTable) Lookup(os, osVersion string) (time.Time, bool) {
	if os == "" {
		return time.Time{}, false
	}
	s := os + " " + osVersion
	for _, e := range t.entries {
		if e.re.MatchString(s) {
			return e.date, true
		}
	}
	return time.Time{}, false
}

// LoadEOL reads os.yaml at the root of fsys (fixtures/eol). A missing file is an empty
// table, so the catalog loads before the table exists; bad rows are reported and skipped.
func LoadEOL(fsys fs.FS) (EOLTable, error) {
	data, err := fs.ReadFile(fsys, "os.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return EOLTable{}, nil
	}
	if err != nil {
		return EOLTable{}, fmt.Errorf("read eol table: %w", err)
	}
	return ParseEOL("os.yaml", data)
}

// ParseEOL decodes the end-of-life table; name is used in messages. Good rows are kept
// when others are wrong.
func ParseEOL(name string, data []byte) (EOLTable, error) {
	var rows []EOLEntry
	if err := decodeStrict(data, &rows); err != nil {
		return EOLTable{}, prefixYAMLError(name, err)
	}
	var t EOLTable
	var errs []error
	for i, r := range rows {
		re, err := regexp.Compile(r.Match)
		if err != nil || r.Match == "" || r.Product == "" {
			errs = append(errs, fmt.Errorf("%s: row %d (%s): needs a product and a valid match "+
				"regexp: %v", name, i, r.Product, err))
			continue
		}
		d, err := time.Parse(time.DateOnly, r.EOL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: row %d (%s): eol %q is not YYYY-MM-DD", name, i,
				r.Product, r.EOL))
			continue
		}
		r.re, r.date = re, d
		t.entries = append(t.entries, r)
	}
	return t, errors.Join(errs...)
}

// decodeStrict decodes one YAML document refusing unknown fields and trailing documents.
func decodeStrict(data []byte, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return errors.New("yaml: more than one document in the file")
	}
	return nil
}

var (
	yamlLineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// prefixYAMLError rewrites yaml.v3 errors to "name:line: message" lines, one per problem, so
// an editor jumps to the spot: `x.yaml:12: unknown field "foo"`.
func prefixYAMLError(name string, err error) error {
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{err.Error()}
	}
	errs := make([]error, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimSpace(l)
		m := yamlLineRE.FindStringSubmatch(l)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", name, strings.TrimPrefix(l, "yaml: ")))
			continue
		}
		msg := m[2]
		if u := yamlUnknownRE.FindStringSubmatch(msg); u != nil {
			msg = fmt.Sprintf("unknown field %q", u[1])
		}
		errs = append(errs, fmt.Errorf("%s:%s: %s", name, m[1], msg))
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
