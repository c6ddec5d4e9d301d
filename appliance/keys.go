package appliance

// Key status and rotation (issue #8): `tenantra keys status|rotate`, GET /v1/keys and
// POST /v1/keys/rotate, the automatic rotation policy, the key age metric and the audit
// events of rotations.
//
// Fault points (TENA_FAULTPOINT=<step> kills the process there; crash tests only), in order:
//
//	master key:  master-next-written (master-new-written with TENA_MASTER_KEY),
//	             master-keyring-written, master-renamed
//	tenant DEK:  tenant-pending, tenant-drained, tenant-copy-partial, tenant-copied,
//	             tenant-old-closed, tenant-renamed, tenant-committed,
//	             tenant-resealing (first batch of results re-sealed), tenant-resealed (all
//	             re-sealed, old versions not yet retired)
//
// What recovery does after each is documented at keys.Keyring.RotateMaster,
// keys.FinishMasterRotation and sqlite.Store.RotateTenantKey.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/results"
)

// KeyPolicyDays is the rotation policy: a key older than this is due, and the policy loop
// rotates tenant DEKs that are due.
const KeyPolicyDays = 90

// StepResealed is the fault point after a re-seal pass rewrote every value it could and
// before old key versions are retired.
const StepResealed = "tenant-resealed"

// destroyAfter is how long a key version stays retired (readable, unused) before a re-seal
// pass that again finds no value under it destroys it.
const destroyAfter = 24 * time.Hour

// policyActor is the audit actor of rotations the policy loop makes.
const policyActor = "key-policy"

// keyOps is the appliance's key rotation state; the zero value is ready to use.
type keyOps struct {
	mu sync.Mutex
	// reseal receives tenants whose results the running policy loop should re-seal; nil
	// when no loop runs, and then rotations re-seal before they return.
	reseal chan string
}

var _ web.KeyService = (*Appliance)(nil)

// finishMasterRotation completes or cleans up a master key rotation a crash interrupted;
// Open calls it under the data dir lock, before it loads the master key.
func (a *Appliance) finishMasterRotation() error {
	msg, err := keys.FinishMasterRotation(a.masterSource(),
		filepath.Join(a.cfg.DataDir, KeyringFile), a.cfg.DataDir)
	if msg != "" {
		a.log.Warn(msg)
	}
	return err
}

func (a *Appliance) masterSource() keys.MasterSource {
	return keys.MasterSource{EnvValue: a.cfg.MasterKey, File: a.cfg.MasterKeyFile}
}

// KeyStatus lists every key: the master key, the keyring's keys and each tenant's current
// DEK, with version, creation time, age and the policy's rotation due date.
func (a *Appliance) KeyStatus(ctx context.Context) (web.KeyStatus, error) {
	now := a.now()
	st := web.KeyStatus{PolicyDays: KeyPolicyDays, Keys: []web.KeyInfo{}}
	info := func(kind string, version int, created time.Time, retained int) web.KeyInfo {
		by := created.AddDate(0, 0, KeyPolicyDays)
		return web.KeyInfo{Kind: kind, Version: version, CreatedAt: created.UTC(),
			AgeDays: int(now.Sub(created).Hours() / 24), RotateBy: by.UTC(),
			Due: !now.Before(by), RetainedVersions: retained}
	}
	kek := a.keyring.KEK()
	version, created, err := a.masterRecord(ctx, kek.ID())
	if err != nil {
		return st, err
	}
	m := info("master", version, created, 0)
	m.ID, m.Source = kek.ID(), "file"
	if a.cfg.MasterKey != "" {
		m.Source = "env"
	}
	st.Keys = append(st.Keys, m)
	// The keyring's keys: the known kinds in a fixed order, then any others by name.
	order := map[string]int{"registry": 1, "control": 2, "results": 3, jwtKeyName: 4}
	rank := func(name string) int {
		if r, ok := order[name]; ok {
			return r
		}
		return len(order) + 1
	}
	entries := a.keyring.Entries() // sorted by name
	sort.SliceStable(entries, func(i, j int) bool {
		return rank(entries[i].Name) < rank(entries[j].Name)
	})
	for _, e := range entries {
		st.Keys = append(st.Keys, info(e.Name, e.Version, e.CreatedAt, e.Retained))
	}
	tenants, err := a.store.TenantKeyInfos(ctx)
	if err != nil {
		return st, err
	}
	for _, t := range tenants {
		ki := info("tenant", t.Version, t.CreatedAt, t.Retained)
		ki.Tenant, ki.TenantID = t.Slug, t.TenantID
		st.Keys = append(st.Keys, ki)
	}
	return st, nil
}

// masterRecord returns the master key's version and creation time as its rotation recorded
// them. A key with no record is the data dir's first (version 1), made with the keyring or
// written to its file then (a rotation killed before recording its key shows the same way).
func (a *Appliance) masterRecord(ctx context.Context, id string) (int, time.Time, error) {
	v, created, ok, err := a.store.MasterKey(ctx, id)
	if err != nil || ok {
		return v, created, err
	}
	if fi, err := os.Stat(a.cfg.MasterKeyFile); err == nil && a.cfg.MasterKey == "" {
		return 1, fi.ModTime().UTC(), nil
	}
	return 1, a.keyring.Created(), nil
}

// RotateKeys rotates what req names: the master key (with the JWT signing key), then the
// named tenants' DEKs or every tenant's. Named tenants stop at the first failure; --all goes
// on and lists the failures.
func (a *Appliance) RotateKeys(ctx context.Context, req web.KeyRotateRequest) (
	web.KeyRotateResult, error) {
	res := web.KeyRotateResult{Tenants: []web.TenantKeyRotation{}}
	switch {
	case !req.Master && !req.All && len(req.Tenants) == 0:
		return res, store.Errorf(store.ErrInvalid, "say which keys to rotate: the master "+
			"key (--master), tenants (--tenant T) or every tenant (--all)")
	case req.All && len(req.Tenants) > 0:
		return res, store.Errorf(store.ErrInvalid, "name tenants or ask for all of them, "+
			"not both")
	}
	actor := authz.FromContext(ctx).Name()
	if req.Master {
		m, err := a.rotateMaster(ctx, actor)
		if err != nil {
			return res, err
		}
		res.Master = &m
	}
	refs := req.Tenants
	if req.All {
		infos, err := a.store.TenantKeyInfos(ctx)
		if err != nil {
			return res, err
		}
		refs = make([]string, 0, len(infos))
		for _, t := range infos {
			refs = append(refs, t.TenantID)
		}
	}
	for _, ref := range refs {
		tr, err := a.rotateTenant(ctx, ref, actor, false)
		if err != nil && req.All && !errors.Is(err, store.ErrNotFound) {
			res.Failed = append(res.Failed, web.KeyRotationFailure{Tenant: ref,
				Error: err.Error()})
			continue
		}
		if errors.Is(err, store.ErrNotFound) && req.All {
			continue // deleted meanwhile
		}
		if err != nil {
			return res, err
		}
		res.Tenants = append(res.Tenants, tr)
	}
	return res, nil
}

// rotateMaster replaces the master key and the JWT signing key, records the new master key
// and audits the rotation in the platform chain. This process signs with the new JWT key at
// once; tokens signed with the previous one keep verifying until they expire.
func (a *Appliance) rotateMaster(ctx context.Context, actor string) (web.MasterKeyRotation,
	error) {
	_, prevCreated, err := a.masterRecord(ctx, a.keyring.KEK().ID())
	if err != nil {
		return web.MasterKeyRotation{}, err
	}
	mr, err := a.keyring.RotateMaster(a.masterSource(), a.cfg.DataDir, jwtKeyName)
	if err != nil {
		a.auditAs(ctx, actor, "", "key.rotate_master", "master", "failure",
			map[string]string{"old_id": mr.OldID})
		return web.MasterKeyRotation{}, err
	}
	if err := a.reloadSigningKeys(); err != nil {
		a.log.WarnContext(ctx, "new JWT signing key not loaded; restart to use it", "error", err)
	}
	out := web.MasterKeyRotation{OldID: mr.OldID, NewID: mr.NewID,
		JWTVersion: mr.Rotated[jwtKeyName], PendingFile: mr.PendingFile}
	if out.Version, err = a.store.RecordMasterKey(ctx, mr.NewID, mr.CreatedAt, mr.OldID,
		prevCreated); err != nil {
		a.log.WarnContext(ctx, "master key rotated but not recorded; its age will show "+
			"from the data dir's creation", "error", err)
	}
	a.log.InfoContext(ctx, "master key rotated", "old_id", mr.OldID, "new_id", mr.NewID)
	a.auditAs(ctx, actor, "", "key.rotate_master", "master", "success", map[string]any{
		"old_id": mr.OldID, "new_id": mr.NewID, "jwt_version": out.JWTVersion,
		"env": mr.PendingFile != ""})
	return out, nil
}

// rotateTenant gives one tenant a new DEK, audits it in the tenant's chain, and re-seals the
// tenant's results now (inline, or when no policy loop runs) or queues that for the loop.
func (a *Appliance) rotateTenant(ctx context.Context, ref, actor string, inline bool) (
	web.TenantKeyRotation, error) {
	r, err := a.store.RotateTenantKey(ctx, ref)
	if err != nil {
		if r.TenantID != "" {
			a.auditAs(ctx, actor, r.TenantID, "key.rotate", r.Slug, "failure",
				map[string]int{"from_version": r.From})
		}
		return web.TenantKeyRotation{}, err
	}
	a.results.Forget(r.TenantID)
	a.log.InfoContext(ctx, "tenant key rotated", "tenant_id", r.TenantID, "from", r.From,
		"to", r.To, "took", r.Took.String())
	a.auditAs(ctx, actor, r.TenantID, "key.rotate", r.Slug, "success",
		map[string]int{"from_version": r.From, "to_version": r.To})
	out := web.TenantKeyRotation{Tenant: r.Slug, TenantID: r.TenantID, From: r.From, To: r.To,
		Seconds: math.Round(r.Took.Seconds()*1000) / 1000}
	if !inline && a.queueReseal(r.TenantID) {
		out.ResealQueued = true
		return out, nil
	}
	st, err := a.resealTenant(ctx, r.TenantID, actor)
	if err != nil {
		// The rotation stands; the old key stays live until a later pass re-seals.
		a.log.WarnContext(ctx, "re-seal after key rotation failed; old results stay "+
			"readable under the old key", "tenant_id", r.TenantID, "error", err)
	}
	out.Resealed = st.Resealed
	return out, nil
}

func (a *Appliance) queueReseal(tenantID string) bool {
	a.keyOps.mu.Lock()
	defer a.keyOps.mu.Unlock()
	if a.keyOps.reseal == nil {
		return false
	}
	select {
	case a.keyOps.reseal <- tenantID:
	default: // full: the next daily pass re-seals it
	}
	return true
}

// resealTenant re-seals a tenant's results under its current key, then retires old versions
// no value is sealed under any more, and destroys versions retired for over a day that a
// pass again finds unused.
func (a *Appliance) resealTenant(ctx context.Context, tenantID, actor string) (
	results.ResealStats, error) {
	st, err := a.results.Reseal(ctx, tenantID)
	if err != nil {
		return st, err
	}
	keys.Faultpoint(StepResealed)
	vs, err := a.store.KeyVersions(ctx, tenantID)
	if err != nil {
		return st, err
	}
	now := a.now()
	for _, v := range vs {
		if v.Current || !v.Live || v.State == "pending" || st.Remaining[v.Version] > 0 ||
			v.Version == st.Current {
			continue
		}
		if v.State == "retired" && now.Sub(v.RetiredAt) >= destroyAfter {
			if err := a.store.DestroyKeyVersion(ctx, tenantID, v.Version); err != nil {
				return st, err
			}
			a.auditAs(ctx, actor, tenantID, "key.destroy", fmt.Sprintf("v%d", v.Version),
				"success", nil)
			continue
		}
		if v.State == "active" {
			if err := a.store.RetireKeyVersion(ctx, tenantID, v.Version); err != nil {
				return st, err
			}
			a.auditAs(ctx, actor, tenantID, "key.retire", fmt.Sprintf("v%d", v.Version),
				"success", map[string]int{"resealed": st.Resealed})
		}
	}
	return st, nil
}

// StartKeyPolicy starts the rotation policy loop: a minute after the start and then daily it
// rotates tenant DEKs older than KeyPolicyDays and re-seals the results of tenants that keep
// old versions; in between it re-seals tenants rotated through the API. It also registers
// the tenantra_key_age_days gauge. Serve calls it; the returned function stops the loop and
// waits for it, and must run before Close.
func (a *Appliance) StartKeyPolicy(ctx context.Context) (stop func()) {
	return a.startKeyPolicy(ctx, time.Minute, 24*time.Hour)
}

func (a *Appliance) startKeyPolicy(ctx context.Context, first, every time.Duration) func() {
	if a.metrics != nil {
		if err := a.metrics.Register(a.keyAgeCollector()); err != nil &&
			!errors.As(err, &prometheus.AlreadyRegisteredError{}) {
			a.log.Warn("register the key age metric", "error", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan string, 64)
	a.keyOps.mu.Lock()
	a.keyOps.reseal = ch
	a.keyOps.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-ch:
				if _, err := a.resealTenant(ctx, id, policyActor); err != nil &&
					ctx.Err() == nil {
					a.log.Warn("re-seal after key rotation failed; the daily pass retries",
						"tenant_id", id, "error", err)
				}
			case <-t.C:
				a.keyPolicyPass(ctx)
				t.Reset(every)
			}
		}
	}()
	return func() {
		a.keyOps.mu.Lock()
		a.keyOps.reseal = nil
		a.keyOps.mu.Unlock()
		cancel()
		<-done
	}
}

// keyPolicyPass rotates every tenant DEK that is due and re-seals tenants keeping old
// versions. Failures are logged and retried on the next pass.
func (a *Appliance) keyPolicyPass(ctx context.Context) {
	infos, err := a.store.TenantKeyInfos(ctx)
	if err != nil {
		a.log.Warn("key policy: list tenant keys", "error", err)
		return
	}
	now := a.now()
	for _, t := range infos {
		if ctx.Err() != nil {
			return
		}
		if !now.Before(t.CreatedAt.AddDate(0, 0, KeyPolicyDays)) {
			if _, err := a.rotateTenant(ctx, t.TenantID, policyActor, true); err != nil &&
				ctx.Err() == nil {
				a.log.Warn("key policy: rotate tenant key", "tenant_id", t.TenantID,
					"error", err)
			}
			continue
		}
		if t.Retained > 0 {
			if _, err := a.resealTenant(ctx, t.TenantID, policyActor); err != nil &&
				ctx.Err() == nil {
				a.log.Warn("key policy: re-seal", "tenant_id", t.TenantID, "error", err)
			}
		}
	}
}

// keyAgeCollector exports tenantra_key_age_days{key="…"}: master, registry, control,
// results, jwt, and tenant/<tenant id> for each tenant's current DEK. Tenant ids, not slugs,
// label the series, so customer names never reach the metrics.
func (a *Appliance) keyAgeCollector() prometheus.Collector {
	return &keyAges{a: a, desc: prometheus.NewDesc("tenantra_key_age_days",
		"Age in days of each key's current version; the rotation policy is "+
			fmt.Sprint(KeyPolicyDays)+" days.", []string{"key"}, nil)}
}

type keyAges struct {
	a    *Appliance
	desc *prometheus.Desc
}

func (k *keyAges) Describe(ch chan<- *prometheus.Desc) { ch <- k.desc }

func (k *keyAges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := k.a.KeyStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(k.desc, err)
		return
	}
	now := k.a.now()
	for _, ki := range st.Keys {
		name := ki.Kind
		if ki.Kind == "tenant" {
			name = "tenant/" + ki.TenantID
		}
		ch <- prometheus.MustNewConstMetric(k.desc, prometheus.GaugeValue,
			now.Sub(ki.CreatedAt).Hours()/24, name)
	}
}
