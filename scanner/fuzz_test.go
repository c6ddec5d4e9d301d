package scanner

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/fixtures"
)

// FuzzParseModule feeds arbitrary bytes to the module file parser (uploads are untrusted):
// it must never panic, and what it accepts must be a consistent, runnable module. Seeds are
// the embedded catalog's files plus the corpus in testdata/fuzz/FuzzParseModule.
func FuzzParseModule(f *testing.F) {
	_ = fs.WalkDir(fixtures.Modules(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			if data, err := fs.ReadFile(fixtures.Modules(), p); err == nil {
				f.Add(string(data))
			}
		}
		return nil
	})
	f.Add(testModule("telnet", "1.0.0"))
	f.Add("slug: telnet\nversion: 1.0.0\nkind: check\ncheck: {pass: '&a'}\n")
	f.Add("a: &a [*a, *a]\n")
	cfg := testConfig(f)
	c, err := NewCatalog(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data string) {
		m, err := c.Parse("x/telnet@1.0.0.yaml", []byte(data))
		if err != nil {
			if m != nil {
				t.Fatal("module returned with an error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "x/telnet@1.0.0.yaml") {
				t.Fatalf("error does not name the file: %q", msg)
			}
			return
		}
		if m.Ref() != "telnet@1.0.0" || len(m.Checksum) != 64 || m.schema == nil {
			t.Fatalf("accepted module is inconsistent: %+v", m)
		}
		if m.Kind == KindCheck && (m.prog == nil || m.prog.pass == nil || len(m.tests) < 2) {
			t.Fatal("accepted check without program or tests")
		}
		_ = c.RunTests(context.Background(), m)
		if _, err := ValidateParams(m, nil); err != nil && !strings.Contains(err.Error(),
			"telnet@1.0.0") {
			t.Fatalf("params error does not name the module: %v", err)
		}
	})
}
