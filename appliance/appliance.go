// Package appliance owns the wiring and lifecycle of a Tenantra appliance (Open, Serve, Close)
// and its application services, the one code path behind both the API and the admin CLI. Its
// subpackages own one domain each: config, web, tlsconf, adminsock.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/config"
	"github.com/tenantra/tenantra/appliance/tlsconf"
	"github.com/tenantra/tenantra/network/snmp"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/results"
	"github.com/tenantra/tenantra/store/sqlite"
)

// Names of files in the data dir, beside sqlite.ControlFile and sqlite.TenantsDir.
const (
	KeyringFile = "keyring.json"
	ResultsDir  = "results"
	SocketFile  = "tenantra.sock"
)

// Appliance is an open data dir: the lock, the keys and the stores. It serves the
// application services whether a server runs (Serve) or an admin command runs alone.
type Appliance struct {
	cfg     config.Config
	version string
	log     *slog.Logger
	lock    *dirLock
	store   *sqlite.Store
	results *results.Store
	metrics *prometheus.Registry
	keyring *keys.Keyring
	id      *identity
	keyOps  keyOps     // key rotation state (keys.go)
	jobs    *jobRunner // the scan job queue's runner (jobs.go)

	snmpOnce     sync.Once // embedded SNMP tables, parsed on first use (discovery.go)
	snmpProfiles *snmp.Profiles
	snmpOUI      *snmp.OUITable
	factsMu      sync.Mutex // serialises read-merge-write of asset fact documents (facts.go)
	checks       checkEngine
	// resolver looks host names up in discovery; nil is the system's (sources.go).
	resolver *net.Resolver
	tlsMgr   atomic.Pointer[tlsconf.Manager] // while serving (tlsstatus.go)

	adminPassword string
	passwordCost  int
}

// Options are what Open needs besides the configuration.
type Options struct {
	Version string
	Logger  *slog.Logger
	// Role describes this process in the data dir's lock, e.g. "serve" or "tenant create".
	Role string
	// Now is the clock for tokens, sessions and lockouts; nil means time.Now.
	Now func() time.Time
	// PasswordCost is the bcrypt cost of new password hashes; zero means auth.BcryptCost (12).
	// Only tests lower it, because bcrypt under the race detector is slow.
	PasswordCost int
	// AdminPassword is the first platform admin's password (TENA_ADMIN_PASSWORD); when empty
	// on a data dir without users, serve generates one and prints it once.
	AdminPassword string
}

// Open takes the data dir's exclusive lock, loads the master key and keyring (creating them
// on a fresh data dir), opens the stores and finishes any lifecycle step a crash interrupted.
func Open(ctx context.Context, cfg config.Config, opt Options) (_ *Appliance, err error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Appliance{cfg: cfg, version: opt.Version, log: opt.Logger,
		adminPassword: opt.AdminPassword, passwordCost: opt.PasswordCost}
	a.jobs = newJobRunner(a)
	defer func() {
		if err != nil {
			_ = a.Close() // whatever was opened before the failure, and the lock
		}
	}()
	dir := cfg.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data dir %s: %w; choose a writable --data-dir",
			dir, unwrapPath(err))
	}
	if a.lock, err = lockDir(dir, opt.Role); err != nil {
		return nil, err
	}
	sweepStaging(dir, a.log)
	fresh := !exists(filepath.Join(dir, KeyringFile)) &&
		!exists(filepath.Join(dir, sqlite.ControlFile))
	if err := a.finishMasterRotation(); err != nil { // a rotation a crash interrupted
		return nil, err
	}
	kek, err := keys.LoadMaster(keys.MasterSource{EnvValue: cfg.MasterKey,
		File: cfg.MasterKeyFile}, fresh && cfg.MasterKey == "")
	if err != nil {
		return nil, err
	}
	kr, err := keys.OpenKeyring(filepath.Join(dir, KeyringFile), kek, fresh)
	if err != nil {
		return nil, err
	}
	a.keyring = kr
	controlKey, err := kr.Ensure("control")
	if err != nil {
		return nil, err
	}
	resultsKey, err := kr.Ensure("results")
	if err != nil {
		return nil, err
	}
	// Tenant DEKs are wrapped by the registry key, itself wrapped by the master key in the
	// keyring, so rotating the master key rewrites one small file (ADR 0007).
	registryKey, err := kr.Ensure("registry")
	if err != nil {
		return nil, err
	}
	registry, err := keys.NewKEK(registryKey)
	if err != nil {
		return nil, err
	}
	if a.store, err = sqlite.Open(ctx, sqlite.Options{Dir: dir, KEK: registry,
		ControlKey: controlKey, MaxOpenTenants: cfg.MaxOpenTenants,
		Logger: opt.Logger}); err != nil {
		return nil, err
	}
	if a.results, err = results.Open(results.Options{Dir: filepath.Join(dir, ResultsDir),
		Key: resultsKey, Keys: a.store, Logger: opt.Logger}); err != nil {
		return nil, err
	}
	a.store.AttachResults(a.results)
	if err := a.store.Recover(ctx); err != nil {
		return nil, err
	}
	if err := a.openIdentity(kr, opt.Now); err != nil {
		return nil, err
	}
	a.metrics = a.newMetrics()
	return a, nil
}

func (a *Appliance) newMetrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tenantra_open_tenant_dbs",
			Help: "Tenant databases open now (bounded by max_open_tenants while idle).",
		}, func() float64 { return float64(a.store.OpenTenantDBs()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "tenantra_build_info",
			Help:        "Always 1; the version label names the running build.",
			ConstLabels: prometheus.Labels{"version": a.version},
		}, func() float64 { return 1 }),
	)
	return reg
}

// Close closes the stores and releases the lock. It is safe on a partly opened appliance.
func (a *Appliance) Close() error {
	var errs []error
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	if a.results != nil {
		errs = append(errs, a.results.Close())
	}
	if a.lock != nil {
		errs = append(errs, a.lock.release())
	}
	return errors.Join(errs...)
}

// Store returns the storage backend (tests and benchmarks).
func (a *Appliance) Store() *sqlite.Store { return a.store }

// Results returns the results store (tests and benchmarks).
func (a *Appliance) Results() *results.Store { return a.results }

// CreateTenant creates a tenant; an empty name defaults to the slug.
func (a *Appliance) CreateTenant(ctx context.Context, slug, name string) (store.Tenant, error) {
	if name == "" {
		name = slug
	}
	t, err := a.store.CreateTenant(ctx, slug, name)
	if err != nil {
		return t, err
	}
	a.log.InfoContext(ctx, "tenant created", "tenant_id", t.ID, "slug", t.Slug)
	a.audit(ctx, "", "tenant.create", t.Slug, "success", map[string]any{"id": t.ID,
		"name": t.Name})
	return t, nil
}

// GetTenant finds a tenant by slug or id.
func (a *Appliance) GetTenant(ctx context.Context, ref string) (store.Tenant, error) {
	return a.store.GetTenant(ctx, ref)
}

// ListTenants lists tenants a page at a time: every tenant for the operator, the caller's own
// tenants for everyone else.
func (a *Appliance) ListTenants(ctx context.Context, p store.Page) ([]store.Tenant, int, error) {
	pr := authz.FromContext(ctx)
	if pr == nil || pr.Local || pr.PlatformRole == store.PlatformAdmin {
		return a.store.ListTenants(ctx, p)
	}
	ids := make([]string, 0, len(pr.Roles))
	for id := range pr.Roles {
		ids = append(ids, id)
	}
	return a.store.ListTenantsIn(ctx, ids, p)
}

// UpdateTenant renames, suspends or resumes a tenant.
func (a *Appliance) UpdateTenant(ctx context.Context, ref string,
	u store.TenantUpdate) (store.Tenant, error) {
	t, err := a.store.UpdateTenant(ctx, ref, u)
	if err != nil {
		return t, err
	}
	a.log.InfoContext(ctx, "tenant updated", "tenant_id", t.ID, "status", t.Status)
	a.audit(ctx, t.ID, "tenant.update", t.Slug, "success", u)
	if u.Status != nil {
		a.audit(ctx, "", "tenant.update", t.Slug, "success", u)
	}
	return t, nil
}

// DeleteTenant crypto-shreds a tenant.
func (a *Appliance) DeleteTenant(ctx context.Context, ref string) error {
	t, err := a.store.GetTenant(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.store.DeleteTenant(ctx, t.ID); err != nil {
		return err
	}
	a.id.invalidate() // memberships of the tenant are gone
	a.log.InfoContext(ctx, "tenant deleted", "tenant_id", t.ID, "slug", t.Slug)
	a.audit(ctx, "", "tenant.delete", t.Slug, "success", map[string]any{"id": t.ID})
	return nil
}

// Ready reports whether storage answers.
func (a *Appliance) Ready(ctx context.Context) error {
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("control database: %w", err)
	}
	if err := a.results.Ping(ctx); err != nil {
		return fmt.Errorf("results store: %w", err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// unwrapPath drops the *PathError wrapper whose text repeats the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sweepStaging removes what a killed backup or export left in the data dir: snapshots and
// export files (plaintext CSV, a copy of the master key) that must not outlive the command.
// It runs under the data dir lock, so no live command owns them.
func sweepStaging(dir string, log *slog.Logger) {
	for _, pattern := range []string{".backup-*", ".export-*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				log.Warn("cannot remove a leftover staging dir", "dir", m, "error", err)
			}
		}
	}
}
