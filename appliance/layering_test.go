package appliance

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowed lists, for each top-level part of the module, which other parts it may import
// (ARCHITECTURE §2: cmd → appliance → {scanner, store, network, ui}, scanner → network).
var allowed = map[string][]string{
	"cmd":       {"appliance", "store", "scanner", "network", "ui", "fixtures"},
	"appliance": {"store", "scanner", "network", "ui", "fixtures"},
	"scanner":   {"network", "store", "fixtures"},
	"store":     {},
	"network":   {"fixtures", "internal"},
	"ui":        {},
	"fixtures":  {},
	"internal":  {},
}

// TestImportDirection fails when a package imports against the architecture's arrows.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/tenantra/tenantra/"
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	part := func(pkg string) string {
		p, _, _ := strings.Cut(strings.TrimPrefix(pkg, mod), "/")
		return p
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 8 {
		t.Fatalf("go list found only %d packages", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		from := part(fields[0])
		rules, ok := allowed[from]
		if !ok {
			t.Errorf("package %s is in %q, which ARCHITECTURE §2 does not name; add it to "+
				"the table with its allowed imports", fields[0], from)
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			to := part(imp)
			if to == from || slices.Contains(rules, to) {
				continue
			}
			t.Errorf("%s imports %s: %s may not depend on %s", fields[0], imp, from, to)
		}
	}
}
