package scanner

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// testConfig loads the frameworks and EOL table of testdata.
func testConfig(t testing.TB) Config {
	t.Helper()
	fws, err := LoadFrameworks(os.DirFS("testdata/frameworks"))
	if err != nil {
		t.Fatalf("LoadFrameworks: %v", err)
	}
	eol, err := LoadEOL(os.DirFS("testdata/eol"))
	if err != nil {
		t.Fatalf("LoadEOL: %v", err)
	}
	return Config{Frameworks: fws, EOL: eol, Root: "mods"}
}

// mapFS builds a module tree from path → content.
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for p, s := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return fsys
}

// testModule renders a small valid asset check; edit replaces one line prefix.
func testModule(slug, version string, edits ...string) string {
	lines := []string{
		"slug: " + slug,
		"version: " + version,
		"kind: check",
		"name: Test check",
		"description: A check for tests.",
		"category: network-exposure",
		"state: released",
		"platforms: [any]",
		"profile: baseline_fast",
		"check:",
		"  subject: asset",
		"  severity: high",
		"  applies_to: 'asset.services.size() > 0'",
		"  pass: '!asset.services.exists(s, s.port == 23)'",
		"  evidence: '\"telnet on \" + asset.name'",
		"  title: Telnet is enabled",
		"  remediation: Disable it.",
		"  mappings:",
		"    CIS: [\"4.8\"]",
		"    NIST-800-53: [\"CM-7\"]",
		"tests:",
		"  pass: [{asset: {name: a, services: [{port: 22}]}}]",
		"  fail: [{asset: {name: b, services: [{port: 23}]}}]",
	}
	for _, e := range edits {
		// "@tests  key: …" edits the tests section rather than the first "key" found.
		from := 0
		if rest, ok := strings.CutPrefix(e, "@tests"); ok {
			e, from = rest, len(lines)-2
		}
		key, _, _ := strings.Cut(strings.TrimSpace(e), ":")
		done := false
		for i := from; i < len(lines); i++ {
			l := lines[i]
			if k, _, _ := strings.Cut(strings.TrimSpace(l), ":"); k == key &&
				indent(l) == indent(e) {
				lines[i], done = e, true
				break
			}
		}
		if !done {
			lines = append(lines, e)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
