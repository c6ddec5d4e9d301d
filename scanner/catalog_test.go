package scanner

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/fixtures"
)

// loadEmbedded loads the real catalog once per test and splits its error into lines.
func loadEmbedded(t *testing.T) (*Catalog, []string) {
	t.Helper()
	c, err := LoadEmbedded()
	if c == nil {
		t.Fatalf("LoadEmbedded: %v", err)
	}
	var lines []string
	if err != nil {
		lines = strings.Split(err.Error(), "\n")
	}
	return c, lines
}

// TestChecksGolden runs every module file's own tests (ADR 0009): each tests.pass subject
// must produce no finding and each tests.fail subject must produce one. A file that does
// not load fails its subtest with the loader's messages.
func TestChecksGolden(t *testing.T) {
	c, errLines := loadEmbedded(t)
	var files []string
	err := fs.WalkDir(fixtures.Modules(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*Module{}
	for _, m := range c.Modules {
		byPath[m.Path] = m
	}
	for _, p := range files {
		path := "fixtures/modules/" + p
		t.Run(p, func(t *testing.T) {
			m := byPath[path]
			if m == nil {
				for _, l := range errLines {
					if strings.HasPrefix(l, path+":") {
						t.Error(l)
					}
				}
				t.Fatalf("%s did not load", path)
			}
			if err := c.RunTests(context.Background(), m); err != nil {
				for _, l := range strings.Split(err.Error(), "\n") {
					t.Error(l)
				}
			}
		})
	}
}

// TestCatalogLoads loads the real embedded catalog, frameworks and EOL table: zero errors.
func TestCatalogLoads(t *testing.T) {
	c, errLines := loadEmbedded(t)
	for _, l := range errLines {
		t.Error(l)
	}
	if len(c.Modules) == 0 {
		t.Fatal("the embedded catalog has no modules")
	}
	ids := map[string]bool{}
	for _, f := range c.Frameworks {
		ids[f.ID] = true
	}
	for _, id := range frameworkIDs {
		if !ids[id] {
			t.Errorf("framework %s is missing from fixtures/frameworks", id)
		}
	}
	var checks, collectors int
	for _, m := range c.Modules {
		switch m.Kind {
		case KindCheck:
			checks++
		case KindCollector:
			collectors++
		}
	}
	t.Logf("%d modules (%d checks, %d collectors), %d frameworks", len(c.Modules), checks,
		collectors, len(c.Frameworks))
}
