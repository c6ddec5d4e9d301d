package scanner

import (
	"context"
	"strings"
	"testing"
)

// TestParseRejects feeds the loader bad module files; each must be refused with a message
// naming the file and, where the problem has one, the line.
func TestParseRejects(t *testing.T) {
	const name = "checks/x/telnet@1.0.0.yaml"
	tests := []struct {
		name string
		file string
		want string
	}{
		{"unknown field", testModule("telnet", "1.0.0", "foo: bar"),
			`mods/checks/x/telnet@1.0.0.yaml:24: unknown field "foo"`},
		{"unknown nested field", testModule("telnet", "1.0.0", "  colour: red"),
			`mods/checks/x/telnet@1.0.0.yaml:24: unknown field "colour"`},
		{"invalid CEL", testModule("telnet", "1.0.0",
			"  pass: 'asset.services.exists(s, s.port ==)'"),
			"telnet@1.0.0.yaml:14: check.pass: expr 1:35: Syntax error: mismatched input ')'"},
		{"unknown fact field", testModule("telnet", "1.0.0", "  pass: 'asset.colour == \"red\"'"),
			"telnet@1.0.0.yaml:14: check.pass: expr 1:6: undefined field 'colour'"},
		{"pass not bool", testModule("telnet", "1.0.0",
			"  pass: 'asset.name'"),
			"telnet@1.0.0.yaml:14: check.pass: expression has type string, want bool"},
		{"evidence not string", testModule("telnet", "1.0.0",
			"  evidence: 'asset.services.size()'"),
			"telnet@1.0.0.yaml:15: check.evidence: expression has type int, want string"},
		{"schema does not compile", testModule("telnet", "1.0.0",
			"parameters: {type: object, additionalProperties: false, properties: {n: {type: 5}}}"),
			"telnet@1.0.0.yaml:24: parameters schema does not compile"},
		{"schema allows additional properties", testModule("telnet", "1.0.0",
			"parameters: {type: object, properties: {n: {type: integer}}}"),
			"telnet@1.0.0.yaml:24: parameters must be a JSON Schema with type: object and " +
				"additionalProperties: false"},
		{"schema with external ref", testModule("telnet", "1.0.0",
			"parameters: {type: object, additionalProperties: false, properties: "+
				"{n: {$ref: 'file:///etc/passwd'}}}"),
			"parameters schema does not compile"},
		{"file name mismatch", testModule("telnet", "1.0.1"),
			`file name "telnet@1.0.0.yaml" does not match slug and version ` +
				`(want "telnet@1.0.1.yaml")`},
		{"slug not kebab", testModule("Telnet_Open", "1.0.0"),
			`slug "Telnet_Open" is not kebab-case`},
		{"version not semver", testModule("telnet", "1.0"), `:2: version "1.0" is not semver`},
		{"unknown kind", testModule("telnet", "1.0.0", "kind: rule"), `:3: kind "rule" is unknown`},
		{"unknown state", testModule("telnet", "1.0.0", "state: live"),
			`:7: state "live" is unknown`},
		{"deprecated without sunset", testModule("telnet", "1.0.0", "state: deprecated"),
			":7: a deprecated module needs a sunset date"},
		{"unknown category", testModule("telnet", "1.0.0", "category: misc"),
			`:6: category "misc"`},
		{"unknown profile", testModule("telnet", "1.0.0", "profile: quick"), `:9: profile "quick"`},
		{"unknown subject", testModule("telnet", "1.0.0", "  subject: printer"),
			`:11: check.subject "printer" is unknown`},
		{"unknown severity", testModule("telnet", "1.0.0", "  severity: urgent"),
			`:12: check.severity "urgent" is unknown`},
		{"unknown framework", strings.Replace(testModule("telnet", "1.0.0"), "NIST-800-53:",
			"SOC2:", 1),
			`mapping names unknown framework "SOC2"`},
		{"unknown control", testModule("telnet", "1.0.0", `    CIS: ["99.9"]`),
			`:19: mapping CIS names control "99.9" that is not in the framework catalog`},
		{"no fail test", testModule("telnet", "1.0.0", "@tests  fail: []"),
			"a check needs at least one tests.pass and one tests.fail subject"},
		{"test subject unknown field", testModule("telnet", "1.0.0",
			"@tests  fail: [{asset: {name: b, colour: red}}]"),
			`:23: tests.fail[0].asset: does not fit the fact model: unknown field "colour"`},
		{"test binds wrong variable", testModule("telnet", "1.0.0",
			"@tests  fail: [{user: {sam_account_name: x}}]"),
			`tests.fail[0]: variable "user" is not bound for subject asset`},
		{"syntax error", "slug: [unclosed\n", "mods/checks/x/telnet@1.0.0.yaml:1:"},
		{"collector with check", strings.Replace(testModule("telnet", "1.0.0",
			"category: collector"), "kind: check", "kind: collector", 1),
			"a collector has no check or tests section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadCatalog(mapFS(map[string]string{name: tt.file}), testConfig(t))
			if err == nil {
				t.Fatalf("loaded without error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "mods/checks/x/telnet@1.0.0.yaml") {
				t.Errorf("error %q does not start with the file name", err)
			}
			if len(c.Modules) != 0 {
				t.Errorf("catalog holds %d modules, want none", len(c.Modules))
			}
		})
	}
}

// TestLoadKeepsGoodModules: one bad file never stops the others; duplicates keep neither.
func TestLoadKeepsGoodModules(t *testing.T) {
	files := map[string]string{
		"a/telnet@1.0.0.yaml":   testModule("telnet", "1.0.0"),
		"a/telnet@1.1.0.yaml":   testModule("telnet", "1.1.0", "  pass: 'broken('"),
		"a/ftp@1.0.0.yaml":      testModule("ftp", "1.0.0"),
		"b/ftp@1.0.0.yaml":      testModule("ftp", "1.0.0"),
		"b/smb@2.0.0.yaml":      testModule("smb", "2.0.0"),
		"b/README.md":           "not a module",
		"b/unrelated@1.0.0.yml": "ignored: not .yaml",
	}
	c, err := LoadCatalog(mapFS(files), testConfig(t))
	if err == nil {
		t.Fatal("want errors for the broken and duplicated modules")
	}
	var refs []string
	for _, m := range c.Modules {
		refs = append(refs, m.Ref())
	}
	if got := strings.Join(refs, " "); got != "smb@2.0.0 telnet@1.0.0" {
		t.Errorf("loaded %q, want the two good modules", got)
	}
	msg := err.Error()
	for _, want := range []string{"mods/a/telnet@1.1.0.yaml:14: check.pass:",
		"module ftp@1.0.0 is defined twice (mods/a/ftp@1.0.0.yaml, mods/b/ftp@1.0.0.yaml)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	m := c.Module("telnet", "1.0.0")
	if len(m.Checksum) != 64 || m.Path != "mods/a/telnet@1.0.0.yaml" {
		t.Errorf("checksum %q path %q", m.Checksum, m.Path)
	}
	if err := c.RunTests(context.Background(), m); err != nil {
		t.Errorf("RunTests: %v", err)
	}
}

// TestRunTestsDetectsWrongExpectations: a check whose tests disagree with its expression is
// reported with the file, line and test.
func TestRunTestsDetectsWrongExpectations(t *testing.T) {
	file := testModule("telnet", "1.0.0",
		"@tests  pass: [{asset: {name: a, services: [{port: 23}]}}]",
		"@tests  fail: [{asset: {name: b}}]")
	c, err := LoadCatalog(mapFS(map[string]string{"telnet@1.0.0.yaml": file}), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	err = c.RunTests(context.Background(), c.Modules[0])
	want := []string{
		"mods/telnet@1.0.0.yaml:22: telnet@1.0.0 tests.pass[0]: expected no finding, but the " +
			"check failed",
		"mods/telnet@1.0.0.yaml:23: telnet@1.0.0 tests.fail[0]: expected a finding, but " +
			"applies_to is false",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("RunTests = %v\nwant %s", err, strings.Join(want, "\n"))
	}
}

// TestVersionRules covers downgrade and edit-of-released detection with slug and versions
// in the messages.
func TestVersionRules(t *testing.T) {
	err := CheckNewVersion("telnet", "1.2.0", []string{"1.0.0", "1.10.0", "1.9.9"})
	if err == nil || !strings.Contains(err.Error(),
		"module telnet: version 1.2.0 is not greater than the newest version 1.10.0") {
		t.Errorf("downgrade: %v", err)
	}
	if err := CheckNewVersion("telnet", "1.10.1", []string{"1.0.0", "1.10.0"}); err != nil {
		t.Errorf("upgrade refused: %v", err)
	}
	if err := CheckNewVersion("telnet", "1.10.0", []string{"1.10.0"}); err == nil {
		t.Error("same version accepted as new")
	}
	old := testModule("telnet", "1.0.0")
	c, err := LoadCatalog(mapFS(map[string]string{"telnet@1.0.0.yaml": old}), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	edited, err := c.Parse("telnet@1.0.0.yaml", []byte(old+"changelog: sneaky edit\n"))
	if err != nil {
		t.Fatal(err)
	}
	orig := c.Modules[0]
	err = CheckImmutable("telnet", "1.0.0", orig.State, orig.Checksum, edited.Checksum)
	if err == nil || !strings.Contains(err.Error(), "module telnet@1.0.0 is released and "+
		"immutable but its content changed") {
		t.Errorf("edit of released: %v", err)
	}
	if err := CheckImmutable("telnet", "1.0.0", StateDraft, "a", "b"); err != nil {
		t.Errorf("edit of draft refused: %v", err)
	}
	if err := c.Add(edited); err == nil {
		t.Error("Add accepted a second telnet@1.0.0")
	}
}

// TestFrameworkAndEOLErrors: strict decoding with lines, bad rows reported, good ones kept.
func TestFrameworkAndEOLErrors(t *testing.T) {
	_, err := LoadFrameworks(mapFS(map[string]string{
		"cis.yaml": "id: CIS\nname: x\nversion: '8'\ncontrols:\n  - {id: '1.1', titel: x}\n",
	}))
	if err == nil || !strings.Contains(err.Error(), `cis.yaml:5: unknown field "titel"`) {
		t.Errorf("frameworks: %v", err)
	}
	tab, err := ParseEOL("os.yaml", []byte(
		"- {product: A, match: '^a', eol: '2020-01-01'}\n"+
			"- {product: B, match: '(', eol: '2020-01-01'}\n"+
			"- {product: C, match: '^c', eol: 'soon'}\n"))
	if err == nil || len(tab.Entries()) != 1 {
		t.Fatalf("eol: %v, %d rows", err, len(tab.Entries()))
	}
	if d, ok := tab.Lookup("a", "1"); !ok || d.Format("2006-01-02") != "2020-01-01" {
		t.Errorf("Lookup = %v %v", d, ok)
	}
	if _, ok := tab.Lookup("", ""); ok {
		t.Error("empty OS matched")
	}
}
