package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Kind is what a module is: Go code gathering facts, or a declarative rule over them.
type Kind string

// The module kinds.
const (
	KindCheck     Kind = "check"
	KindCollector Kind = "collector"
)

// Severity grades a check's findings.
type Severity string

// The severities, lowest first.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Weight is the severity's weight in scores (ADR 0009): critical 10, high 5, medium 3,
// low 1, info 0.
func (s Severity) Weight() float64 {
	switch s {
	case SeverityCritical:
		return 10
	case SeverityHigh:
		return 5
	case SeverityMedium:
		return 3
	case SeverityLow:
		return 1
	}
	return 0
}

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	categories = []string{"network-exposure", "tls", "device-posture", "identity", "firewall",
		"inventory-hygiene", "collector"}
	platforms   = []string{"any", "linux", "windows", "network-device", "fortigate", "tplink", "ad"}
	profiles    = []string{"baseline_fast", "baseline_full", "deep_scan"}
	severities  = []string{"info", "low", "medium", "high", "critical"}
	maxFileSize = 256 << 10
)

// Module is one version of a module as its file defines it, validated and compiled.
type Module struct {
	Slug          string    `json:"slug"`
	Version       string    `json:"version"`
	Kind          Kind      `json:"kind"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	Category      string    `json:"category"`
	State         State     `json:"state"`
	Sunset        time.Time `json:"sunset,omitzero"`
	Changelog     string    `json:"changelog"`
	Platforms     []string  `json:"platforms"`
	RequiresAdmin bool      `json:"requires_admin"`
	Profile       string    `json:"profile"`
	// Parameters is the JSON Schema of the parameters, as JSON.
	Parameters json.RawMessage `json:"parameters"`
	Check      *Check          `json:"check,omitempty"`

	// Path is the file's path (as given to the loader), Checksum the hex SHA-256 of its
	// bytes and Source the bytes themselves, for seeding and drift detection.
	Path     string `json:"path"`
	Checksum string `json:"checksum"`
	Source   []byte `json:"-"`

	schema   *jsonschema.Schema
	defaults map[string]any // the parameters schema as a Go value, for defaults
	prog     *checkProgram
	tests    []moduleTest
}

// Ref is slug@version, how messages name a module version.
func (m *Module) Ref() string { return m.Slug + "@" + m.Version }

// Check is the declarative part of a check module.
type Check struct {
	Subject     Subject             `json:"subject"`
	Severity    Severity            `json:"severity"`
	AppliesTo   string              `json:"applies_to,omitempty"`
	Pass        string              `json:"pass"`
	Evidence    string              `json:"evidence,omitempty"`
	Title       string              `json:"title"`
	Remediation string              `json:"remediation"`
	Mappings    map[string][]string `json:"mappings"`
}

// checkProgram is a check's compiled expressions; appliesTo is nil when always true.
type checkProgram struct {
	appliesTo, pass, evidence *compiledExpr
}

// moduleTest is one subject of a check's tests section, decoded into the fact model.
type moduleTest struct {
	name   string // "tests.pass[0]"
	line   int
	pass   bool // expected outcome: true = no finding
	vars   map[string]any
	now    time.Time
	params json.RawMessage
}

// moduleFile is the file format of ADR 0009, decoded strictly.
type moduleFile struct {
	Slug          string     `yaml:"slug"`
	Version       string     `yaml:"version"`
	Kind          string     `yaml:"kind"`
	Name          string     `yaml:"name"`
	Description   string     `yaml:"description"`
	Category      string     `yaml:"category"`
	State         string     `yaml:"state"`
	Sunset        string     `yaml:"sunset"`
	Changelog     string     `yaml:"changelog"`
	Platforms     []string   `yaml:"platforms"`
	RequiresAdmin bool       `yaml:"requires_admin"`
	Profile       string     `yaml:"profile"`
	Parameters    yaml.Node  `yaml:"parameters"`
	Check         *checkFile `yaml:"check"`
	Tests         *testsFile `yaml:"tests"`
}

type checkFile struct {
	Subject     string              `yaml:"subject"`
	Severity    string              `yaml:"severity"`
	AppliesTo   string              `yaml:"applies_to"`
	Pass        string              `yaml:"pass"`
	Evidence    string              `yaml:"evidence"`
	Title       string              `yaml:"title"`
	Remediation string              `yaml:"remediation"`
	Mappings    map[string][]string `yaml:"mappings"`
}

type testsFile struct {
	Pass []yaml.Node `yaml:"pass"`
	Fail []yaml.Node `yaml:"fail"`
}

// DefaultTestNow is `now` for a module's tests unless a test subject sets its own.
var DefaultTestNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// parser validates module files against frameworks and compiles them in CEL environments.
type parser struct {
	envs       *celEnvs
	frameworks map[string]*Framework
}

// fileErrors collects "path:line: message" errors of one file.
type fileErrors struct {
	path string
	errs []error
}

func (fe *fileErrors) add(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		fe.errs = append(fe.errs, fmt.Errorf("%s:%d: %s", fe.path, line, msg))
	} else {
		fe.errs = append(fe.errs, fmt.Errorf("%s: %s", fe.path, msg))
	}
}

// parse decodes and validates one module file. name is the path used in messages and in
// the file-name check (the base name must be <slug>@<version>.yaml).
func (p *parser) parse(name string, data []byte) (*Module, error) {
	fe := &fileErrors{path: name}
	if len(data) > maxFileSize {
		fe.add(0, "file is %d bytes, more than the %d allowed", len(data), maxFileSize)
		return nil, errors.Join(fe.errs...)
	}
	var f moduleFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, prefixYAMLError(name, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil { // unreachable after decodeStrict
		return nil, prefixYAMLError(name, err)
	}
	line := func(keys ...string) int { return keyLine(&root, keys...) }
	sum := sha256.Sum256(data)
	m := &Module{
		Slug: f.Slug, Version: f.Version, Kind: Kind(f.Kind), Name: f.Name,
		Description: f.Description, Category: f.Category, State: State(f.State),
		Changelog: f.Changelog, Platforms: f.Platforms, RequiresAdmin: f.RequiresAdmin,
		Profile: f.Profile, Path: name, Checksum: hex.EncodeToString(sum[:]),
		Source: append([]byte(nil), data...),
	}

	if !slugRE.MatchString(f.Slug) || len(f.Slug) > 64 {
		fe.add(line("slug"), "slug %q is not kebab-case (want lowercase words joined by -)", f.Slug)
	}
	if !ValidSemver(f.Version) {
		fe.add(line("version"), "version %q is not semver (want MAJOR.MINOR.PATCH)", f.Version)
	}
	if want := f.Slug + "@" + f.Version + ".yaml"; path.Base(name) != want {
		fe.add(0, "file name %q does not match slug and version (want %q)", path.Base(name), want)
	}
	if m.Kind != KindCheck && m.Kind != KindCollector {
		fe.add(line("kind"), "kind %q is unknown (want check or collector)", f.Kind)
	}
	if strings.TrimSpace(f.Name) == "" || strings.TrimSpace(f.Description) == "" {
		fe.add(0, "name and description are required")
	}
	if !contains(categories, f.Category) {
		fe.add(line("category"), "category %q is unknown (want one of %s)", f.Category,
			strings.Join(categories, ", "))
	} else if (f.Category == "collector") != (m.Kind == KindCollector) {
		fe.add(line("category"), "category collector is for kind collector only, and a "+
			"collector's category is collector")
	}
	if !m.State.Valid() {
		fe.add(line("state"), "state %q is unknown (want draft, qa, released, deprecated or "+
			"retired)", f.State)
	}
	if f.Sunset != "" {
		t, err := parseDate(f.Sunset)
		if err != nil {
			fe.add(line("sunset"), "sunset %q is not an RFC 3339 date (want YYYY-MM-DD)", f.Sunset)
		}
		m.Sunset = t
	} else if m.State == StateDeprecated {
		fe.add(line("state"), "a deprecated module needs a sunset date (sunset: YYYY-MM-DD)")
	}
	if len(f.Platforms) == 0 {
		fe.add(0, "platforms is required (for example [any])")
	}
	for _, pl := range f.Platforms {
		if !contains(platforms, pl) {
			fe.add(line("platforms"), "platform %q is unknown (want one of %s)", pl,
				strings.Join(platforms, ", "))
		}
	}
	if !contains(profiles, f.Profile) {
		fe.add(line("profile"), "profile %q is unknown (want one of %s)", f.Profile,
			strings.Join(profiles, ", "))
	}
	p.parseParameters(m, &f, fe)

	switch m.Kind {
	case KindCollector:
		if f.Check != nil || f.Tests != nil {
			fe.add(line("check"), "a collector has no check or tests section")
		}
	case KindCheck:
		if f.Check == nil {
			fe.add(0, "a check needs a check section")
			break
		}
		p.parseCheck(m, &f, fe, line)
	}
	if len(fe.errs) > 0 {
		return nil, errors.Join(fe.errs...)
	}
	return m, nil
}

// parseParameters validates the parameters schema and compiles it.
func (p *parser) parseParameters(m *Module, f *moduleFile, fe *fileErrors) {
	var schema any = map[string]any{"type": "object", "additionalProperties": false}
	ln := f.Parameters.Line
	if f.Parameters.Kind != 0 {
		v, err := nodeToValue(&f.Parameters)
		if err != nil {
			fe.add(ln, "parameters: %v", err)
			return
		}
		schema = v
	}
	obj, ok := schema.(map[string]any)
	if !ok || obj["type"] != "object" || obj["additionalProperties"] != false {
		fe.add(ln, "parameters must be a JSON Schema with type: object and "+
			"additionalProperties: false")
		return
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		fe.add(ln, "parameters: %v", err)
		return
	}
	sch, err := compileSchema(m.Slug+"@"+m.Version, raw)
	if err != nil {
		fe.add(ln, "parameters schema does not compile: %s", oneLine(err.Error()))
		return
	}
	m.Parameters, m.schema, m.defaults = raw, sch, obj
}

// parseCheck validates and compiles the check section and decodes its tests.
func (p *parser) parseCheck(m *Module, f *moduleFile, fe *fileErrors, line func(...string) int) {
	c := f.Check
	m.Check = &Check{
		Subject: Subject(c.Subject), Severity: Severity(c.Severity), AppliesTo: c.AppliesTo,
		Pass: c.Pass, Evidence: c.Evidence, Title: c.Title, Remediation: c.Remediation,
		Mappings: c.Mappings,
	}
	if !m.Check.Subject.Valid() {
		fe.add(line("check", "subject"), "check.subject %q is unknown (want asset, ad_user, "+
			"ad_domain, fw_policy, fw_admin or fw_interface)", c.Subject)
	}
	if !contains(severities, c.Severity) {
		fe.add(line("check", "severity"), "check.severity %q is unknown (want one of %s)",
			c.Severity, strings.Join(severities, ", "))
	}
	if strings.TrimSpace(c.Title) == "" || strings.TrimSpace(c.Remediation) == "" {
		fe.add(line("check"), "check.title and check.remediation are required")
	}
	for fw, ids := range c.Mappings {
		framework, ok := p.frameworks[fw]
		if !ok {
			fe.add(line("check", "mappings", fw), "mapping names unknown framework %q (want "+
				"one of %s)", fw, strings.Join(frameworkIDs, ", "))
			continue
		}
		if len(ids) == 0 {
			fe.add(line("check", "mappings", fw), "mapping %s lists no control", fw)
		}
		for _, id := range ids {
			if _, ok := framework.Control(id); !ok {
				fe.add(line("check", "mappings", fw), "mapping %s names control %q that is not "+
					"in the framework catalog", fw, id)
			}
		}
	}
	if f.Tests == nil || len(f.Tests.Pass) == 0 || len(f.Tests.Fail) == 0 {
		fe.add(line("tests"), "a check needs at least one tests.pass and one tests.fail subject")
	}
	if !m.Check.Subject.Valid() {
		return
	}
	prog := &checkProgram{}
	compile := func(key, expr string, want *cel.Type) *compiledExpr {
		if strings.TrimSpace(expr) == "" {
			return nil
		}
		pr, err := p.envs.compile(m.Check.Subject, expr, want)
		if err != nil {
			fe.add(line("check", key), "check.%s: %v", key, err)
		}
		return pr
	}
	prog.appliesTo = compile("applies_to", c.AppliesTo, cel.BoolType)
	prog.pass = compile("pass", c.Pass, cel.BoolType)
	prog.evidence = compile("evidence", c.Evidence, cel.StringType)
	if strings.TrimSpace(c.Pass) == "" {
		fe.add(line("check"), "check.pass is required")
	}
	m.prog = prog
	if f.Tests == nil {
		return
	}
	for i := range f.Tests.Pass {
		m.tests = append(m.tests, p.decodeTest(m, &f.Tests.Pass[i], "tests.pass", i, true, fe))
	}
	for i := range f.Tests.Fail {
		m.tests = append(m.tests, p.decodeTest(m, &f.Tests.Fail[i], "tests.fail", i, false, fe))
	}
}

// decodeTest turns one test subject into CEL variables of the module's subject kind.
// Besides the subject's variables, a test may set now (RFC 3339) and params.
func (p *parser) decodeTest(m *Module, n *yaml.Node, list string, i int, pass bool,
	fe *fileErrors) moduleTest {
	t := moduleTest{name: fmt.Sprintf("%s[%d]", list, i), line: n.Line, pass: pass,
		vars: map[string]any{}, now: DefaultTestNow, params: json.RawMessage("{}")}
	if n.Kind != yaml.MappingNode {
		fe.add(n.Line, "%s must be a mapping of variable names to values", t.name)
		return t
	}
	vars := subjectVars[m.Check.Subject]
	for j := 0; j+1 < len(n.Content); j += 2 {
		key, val := n.Content[j].Value, n.Content[j+1]
		switch key {
		case "now":
			ts, err := parseDate(val.Value)
			if err != nil {
				fe.add(val.Line, "%s.now %q is not an RFC 3339 timestamp", t.name, val.Value)
			}
			t.now = ts
			continue
		case "params":
			v, err := nodeToValue(val)
			if err == nil {
				t.params, err = json.Marshal(v)
			}
			if err != nil {
				fe.add(val.Line, "%s.params: %v", t.name, err)
			}
			continue
		}
		var typ *subjectVar
		for k := range vars {
			if vars[k].name == key {
				typ = &vars[k]
			}
		}
		if typ == nil {
			fe.add(n.Content[j].Line, "%s: variable %q is not bound for subject %s (want %s, "+
				"now or params)", t.name, key, m.Check.Subject, varNames(vars))
			continue
		}
		v, err := decodeFact(val, typ)
		if err != nil {
			fe.add(val.Line, "%s.%s: %v", t.name, key, err)
			continue
		}
		t.vars[key] = v
	}
	for _, v := range vars {
		if _, ok := t.vars[v.name]; !ok {
			t.vars[v.name] = newZero(v)
		}
	}
	return t
}

func varNames(vars []subjectVar) string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.name
	}
	return strings.Join(names, ", ")
}

// parseDate accepts an RFC 3339 timestamp or a bare date (midnight UTC).
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.DateOnly, s)
}

// keyLine returns the line of the value under keys in a YAML document, or of the deepest key
// found; 0 when the document is empty.
func keyLine(root *yaml.Node, keys ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	ln := n.Line
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return ln
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				ln, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return ln
		}
	}
	return ln
}
