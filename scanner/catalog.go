package scanner

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tenantra/tenantra/fixtures"
)

// Config configures loading and evaluation; the zero value takes the defaults.
type Config struct {
	// Frameworks are the framework catalogs mappings are checked against and scored on.
	Frameworks []Framework
	// EOL is the end-of-life table behind the CEL function os_eol.
	EOL EOLTable
	// Root prefixes file paths in messages, e.g. "fixtures/modules".
	Root string
	// CostLimit bounds the CEL cost of one evaluation (default 1,000,000); beyond it the
	// check errors for that subject.
	CostLimit uint64
}

// DefaultCostLimit is Config.CostLimit when unset.
const DefaultCostLimit = 1_000_000

// Catalog is a validated, compiled set of module versions with the frameworks they map to.
// It is immutable after loading and safe for concurrent use.
type Catalog struct {
	// Modules are sorted by slug, then by version (semver order).
	Modules    []*Module
	Frameworks []Framework

	frameworks map[string]*Framework
	eol        EOLTable
	parser     *parser
	root       string
}

// LoadCatalog reads every **/<slug>@<version>.yaml of fsys (fixtures/modules), validates and
// compiles each one. A bad file never stops the others: the catalog holds every good module
// and the error joins one line per problem, each naming the file and line. Files that are
// not .yaml are ignored. A duplicate slug@version keeps neither copy.
func LoadCatalog(fsys fs.FS, cfg Config) (*Catalog, error) {
	c, err := NewCatalog(cfg)
	if err != nil {
		return nil, err
	}
	var errs []error
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.display(p), err))
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk module files: %w", err)
	}
	sort.Strings(files)
	byRef := map[string][]*Module{}
	for _, p := range files {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.display(p), err))
			continue
		}
		m, err := c.Parse(c.display(p), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		byRef[m.Ref()] = append(byRef[m.Ref()], m)
	}
	for ref, ms := range byRef {
		if len(ms) > 1 {
			paths := make([]string, len(ms))
			for i, m := range ms {
				paths[i] = m.Path
			}
			errs = append(errs, fmt.Errorf("%s: module %s is defined twice (%s): keep one",
				paths[0], ref, strings.Join(paths, ", ")))
			continue
		}
		c.Modules = append(c.Modules, ms[0])
	}
	c.sortModules()
	return c, errors.Join(errs...)
}

// NewCatalog returns an empty catalog for cfg, to which Parse and Add feed modules, for
// example from the database.
func NewCatalog(cfg Config) (*Catalog, error) {
	if cfg.CostLimit == 0 {
		cfg.CostLimit = DefaultCostLimit
	}
	envs, err := newCELEnvs(cfg.EOL, cfg.CostLimit)
	if err != nil {
		return nil, err
	}
	c := &Catalog{Frameworks: append([]Framework(nil), cfg.Frameworks...),
		frameworks: map[string]*Framework{}, eol: cfg.EOL}
	sort.Slice(c.Frameworks, func(i, j int) bool { return c.Frameworks[i].ID < c.Frameworks[j].ID })
	for i := range c.Frameworks {
		c.frameworks[c.Frameworks[i].ID] = &c.Frameworks[i]
	}
	c.parser = &parser{envs: envs, frameworks: c.frameworks}
	c.root = cfg.Root
	return c, nil
}

// display joins the configured root and a path inside the module tree.
func (c *Catalog) display(p string) string {
	if c.root == "" {
		return p
	}
	return path.Join(c.root, p)
}

// Parse validates and compiles one module file without adding it to the catalog; name is
// the path used in messages and must end in <slug>@<version>.yaml. Use it to vet a module
// uploaded through the API before storing it.
func (c *Catalog) Parse(name string, data []byte) (*Module, error) {
	return c.parser.parse(name, data)
}

// Add puts a parsed module into the catalog, refusing a second copy of a slug@version.
func (c *Catalog) Add(m *Module) error {
	if c.Module(m.Slug, m.Version) != nil {
		return fmt.Errorf("module %s is already in the catalog", m.Ref())
	}
	c.Modules = append(c.Modules, m)
	c.sortModules()
	return nil
}

func (c *Catalog) sortModules() {
	sort.Slice(c.Modules, func(i, j int) bool {
		a, b := c.Modules[i], c.Modules[j]
		if a.Slug != b.Slug {
			return a.Slug < b.Slug
		}
		return CompareSemver(a.Version, b.Version) < 0
	})
}

// Module returns slug@version, or nil.
func (c *Catalog) Module(slug, version string) *Module {
	for _, m := range c.Modules {
		if m.Slug == slug && m.Version == version {
			return m
		}
	}
	return nil
}

// Versions returns every version of slug in the catalog, oldest first.
func (c *Catalog) Versions(slug string) []*Module {
	var out []*Module
	for _, m := range c.Modules {
		if m.Slug == slug {
			out = append(out, m)
		}
	}
	return out
}

// Newest returns the newest released version of slug (the first of Schedulable), or nil.
func (c *Catalog) Newest(slug string, now time.Time) *Module {
	vs := c.Versions(slug)
	states := make([]VersionState, len(vs))
	for i, m := range vs {
		states[i] = VersionState{Version: m.Version, State: m.State, Sunset: m.Sunset}
	}
	if s := Schedulable(states, 0, now); len(s) > 0 {
		return c.Module(slug, s[0])
	}
	return nil
}

// Framework returns the framework with the given id, or nil.
func (c *Catalog) Framework(id string) *Framework { return c.frameworks[id] }

// LoadEmbedded loads the catalog compiled into the binary: fixtures/frameworks,
// fixtures/eol and fixtures/modules. Errors of single files are joined as LoadCatalog does;
// the catalog is returned whenever it could be built.
func LoadEmbedded() (*Catalog, error) {
	fws, fwErr := LoadFrameworks(fixtures.Frameworks())
	if fwErr != nil {
		fwErr = prefixLines("fixtures/frameworks/", fwErr)
	}
	eol, eolErr := LoadEOL(fixtures.EOL())
	if eolErr != nil {
		eolErr = prefixLines("fixtures/eol/", eolErr)
	}
	c, err := LoadCatalog(fixtures.Modules(), Config{Frameworks: fws, EOL: eol,
		Root: "fixtures/modules"})
	return c, errors.Join(fwErr, eolErr, err)
}

// prefixLines prefixes every line of a joined error with a directory.
func prefixLines(prefix string, err error) error {
	var errs []error
	for _, l := range strings.Split(err.Error(), "\n") {
		errs = append(errs, errors.New(prefix+l))
	}
	return errors.Join(errs...)
}
