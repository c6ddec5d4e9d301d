package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/snmp"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/sqlite"
)

// The credential vault: secrets sealed with the tenant's current data key (keys.Sealer; the
// key version rides in the sealed header, so a DEK rotation leaves them readable), inside a
// database file that is itself encrypted. Secrets are unsealed only to be used (a scan, a
// test-connection) and never answered, logged or put in an audit diff.

// credNameRE is what a credential name may look like: it appears in URLs and scan requests.
var credNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// credSecret is the sealed part of a credential.
type credSecret struct {
	Community string `json:"c,omitempty"`
	AuthPass  string `json:"a,omitempty"`
	PrivPass  string `json:"p,omitempty"`
	Password  string `json:"pw,omitempty"` // ldap bind password
	Token     string `json:"t,omitempty"`  // fortigate API token
	Secret    string `json:"s,omitempty"`  // omada client secret
}

// credAAD binds a sealed secret to its tenant and credential: moved to another row or
// tenant, it fails to open.
func credAAD(tenantID, credID string) []byte {
	return []byte("tenantra/credential/" + tenantID + "/" + credID)
}

func (a *Appliance) credSealer(ctx context.Context, tenantID string) (*keys.Sealer, error) {
	current, versions, err := a.store.TenantKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return keys.NewSealer(current, versions)
}

// validateCredential checks a request and splits it into metadata and secret.
func validateCredential(req web.CredentialRequest) (map[string]string, credSecret, error) {
	bad := func(format string, args ...any) error {
		return store.Errorf(store.ErrInvalid, format, args...)
	}
	if !credNameRE.MatchString(req.Name) {
		return nil, credSecret{}, bad("name must be 1-64 letters, digits, '.', '_' or '-', " +
			"starting with a letter or digit")
	}
	meta := map[string]string{}
	var sec credSecret
	switch req.Kind {
	case store.CredSNMPv2c:
		if req.User != "" || req.AuthProto != "" || req.AuthPassword != "" ||
			req.PrivProto != "" || req.PrivPassword != "" {
			return nil, sec, bad("snmp-v2c takes only a community; user, protocols and " +
				"passwords are for snmp-v3")
		}
		if req.Community == "" || len(req.Community) > 255 {
			return nil, sec, bad("snmp-v2c needs a community of 1-255 characters")
		}
		sec.Community = req.Community
	case store.CredSNMPv3:
		if req.Community != "" {
			return nil, sec, bad("snmp-v3 takes no community; use user and passwords")
		}
		if req.User == "" || len(req.User) > 64 {
			return nil, sec, bad("snmp-v3 needs a user of 1-64 characters")
		}
		auth, priv := req.AuthProto, req.PrivProto
		if auth == "" {
			auth = "SHA-256"
		}
		if priv == "" {
			priv = "AES"
		}
		if auth != "SHA" && auth != "SHA-256" {
			return nil, sec, bad("auth_proto %q is not supported; use SHA or SHA-256",
				truncate(auth, 20))
		}
		if priv != "AES" {
			return nil, sec, bad("priv_proto %q is not supported; use AES", truncate(priv, 20))
		}
		// RFC 3414 §11.2: agents reject passphrases shorter than 8 octets.
		if len(req.AuthPassword) < 8 || len(req.PrivPassword) < 8 ||
			len(req.AuthPassword) > 255 || len(req.PrivPassword) > 255 {
			return nil, sec, bad("snmp-v3 needs auth_password and priv_password of 8-255 " +
				"characters")
		}
		meta["user"], meta["auth_proto"], meta["priv_proto"] = req.User, auth, priv
		sec.AuthPass, sec.PrivPass = req.AuthPassword, req.PrivPassword
	case store.CredLDAP, store.CredFortiGate, store.CredOmada:
		if req.Community != "" || req.User != "" || req.AuthPassword != "" ||
			req.PrivPassword != "" || req.AuthProto != "" || req.PrivProto != "" {
			return nil, sec, bad("%s takes no SNMP fields (community, user, protocols, "+
				"SNMP passwords)", req.Kind)
		}
		return validateSource(req)
	case "":
		return nil, sec, bad("kind is required: snmp-v2c, snmp-v3, ldap, fortigate or omada")
	default:
		return nil, sec, bad("kind %q is unknown; use snmp-v2c, snmp-v3, ldap, fortigate "+
			"or omada", truncate(req.Kind, 40))
	}
	if err := snmpCredential(store.Credential{Name: req.Name, Kind: req.Kind,
		Metadata: meta}, sec).Validate(); err != nil {
		return nil, sec, bad("%v", err)
	}
	return meta, sec, nil
}

// snmpCredential turns a vault entry and its opened secret into a credential set for the
// SNMP client.
func snmpCredential(c store.Credential, sec credSecret) snmp.Credential {
	sc := snmp.Credential{Name: "vault:" + c.Name}
	switch c.Kind {
	case store.CredSNMPv2c:
		sc.Version, sc.Community = "v2c", sec.Community
	case store.CredSNMPv3:
		sc.Version, sc.User = "v3", c.Metadata["user"]
		sc.AuthProto, sc.AuthPass = c.Metadata["auth_proto"], sec.AuthPass
		sc.PrivProto, sc.PrivPass = c.Metadata["priv_proto"], sec.PrivPass
	}
	return sc
}

// CreateCredential validates a credential, seals its secret with the tenant's current data
// key and stores it. The answer carries metadata only.
func (a *Appliance) CreateCredential(ctx context.Context, tenantRef string,
	req web.CredentialRequest) (store.Credential, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return store.Credential{}, err
	}
	meta, sec, err := validateCredential(req)
	if err != nil {
		return store.Credential{}, err
	}
	sl, err := a.credSealer(ctx, t.ID)
	if err != nil {
		return store.Credential{}, err
	}
	id := uuid.NewString()
	plain, _ := json.Marshal(sec) //nolint:gosec // sealed on the next line, never stored plain
	sealed, err := sl.Seal(plain, credAAD(t.ID, id))
	clear(plain)
	if err != nil {
		return store.Credential{}, err
	}
	by := authz.FromContext(ctx).Name()
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return store.Credential{}, err
	}
	defer release()
	c, err := tdb.CreateCredential(ctx, store.Credential{ID: id, Name: req.Name,
		Kind: req.Kind, Metadata: meta, Sealed: sealed, CreatedBy: by, UpdatedBy: by})
	if err != nil {
		return store.Credential{}, err
	}
	a.audit(ctx, t.ID, "credential.create", c.Name, "success", map[string]any{
		"id": c.ID, "kind": c.Kind, "metadata": c.Metadata})
	c.Sealed = nil
	return c, nil
}

// ListCredentials lists the vault's metadata in name order.
func (a *Appliance) ListCredentials(ctx context.Context, tenantRef string) (
	[]store.Credential, error) {
	return inTenant(ctx, a, tenantRef, func(_ store.Tenant, tdb *sqlite.TenantDB) (
		[]store.Credential, error) {
		items, err := tdb.ListCredentials(ctx)
		for i := range items {
			items[i].Sealed = nil
		}
		return items, err
	})
}

// DeleteCredential removes a credential by name or id.
func (a *Appliance) DeleteCredential(ctx context.Context, tenantRef, ref string) error {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return err
	}
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return err
	}
	defer release()
	c, err := tdb.DeleteCredential(ctx, ref)
	if err != nil {
		return err
	}
	a.audit(ctx, t.ID, "credential.delete", c.Name, "success", map[string]any{
		"id": c.ID, "kind": c.Kind})
	return nil
}

// openCredential reads a credential and unseals its secret.
func (a *Appliance) openCredential(ctx context.Context, tenantID, ref string) (
	store.Credential, credSecret, error) {
	tdb, release, err := a.store.TenantDB(ctx, tenantID)
	if err != nil {
		return store.Credential{}, credSecret{}, err
	}
	c, err := tdb.Credential(ctx, ref)
	release()
	if err != nil {
		return c, credSecret{}, err
	}
	sl, err := a.credSealer(ctx, tenantID)
	if err != nil {
		return c, credSecret{}, err
	}
	plain, err := sl.Open(c.Sealed, credAAD(tenantID, c.ID))
	if err != nil {
		return c, credSecret{}, fmt.Errorf("open credential %q: %w", c.Name, err)
	}
	var sec credSecret
	err = json.Unmarshal(plain, &sec)
	clear(plain)
	if err != nil {
		return c, credSecret{}, store.Errorf(store.ErrCorrupt, "credential %q is unreadable",
			c.Name)
	}
	return c, sec, nil
}

// vaultSNMP resolves the named vault credentials of a scan, in order, to SNMP credential
// sets. A name that is not in the vault, or not an SNMP credential, is a bad request.
func (a *Appliance) vaultSNMP(ctx context.Context, tenantID string, names []string) (
	[]snmp.Credential, error) {
	var out []snmp.Credential
	for _, n := range names {
		c, sec, err := a.openCredential(ctx, tenantID, n)
		if errors.Is(err, store.ErrNotFound) {
			return nil, store.Errorf(store.ErrInvalid, "credential %q is not in the "+
				"tenant's vault", truncate(n, 64))
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(c.Kind, "snmp-") {
			return nil, store.Errorf(store.ErrInvalid, "credential %q is a %s credential, "+
				"not SNMP", c.Name, c.Kind)
		}
		out = append(out, snmpCredential(c, sec))
	}
	return out, nil
}

// credTestTimeout bounds one test-connection.
const credTestTimeout = 2 * time.Second

// TestCredential asks the SNMP agent at req.Target (default 127.0.0.1:161) for sysDescr
// with a stored credential. A failed connection is reported in the result.
func (a *Appliance) TestCredential(ctx context.Context, tenantRef, ref string,
	req web.CredentialTestRequest) (web.CredentialTestResult, error) {
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return web.CredentialTestResult{}, err
	}
	c, sec, err := a.openCredential(ctx, t.ID, ref)
	if err != nil {
		return web.CredentialTestResult{}, err
	}
	if !strings.HasPrefix(c.Kind, "snmp-") {
		if req.Target != "" {
			return web.CredentialTestResult{}, store.Errorf(store.ErrInvalid, "a %s "+
				"credential tests against its own URL; leave target out", c.Kind)
		}
		res, err := testSource(ctx, c, sec)
		if err != nil {
			return res, err
		}
		outcome := map[bool]string{true: "success", false: "failure"}[res.OK]
		a.audit(ctx, t.ID, "credential.test", c.Name, outcome, map[string]any{
			"target": res.Target, "ok": res.OK})
		return res, nil
	}
	target := strings.TrimSpace(req.Target)
	if target == "" {
		target = "127.0.0.1:161"
	}
	if len(target) > 255 || strings.ContainsAny(target, "/ \t\r\n") {
		return web.CredentialTestResult{}, store.Errorf(store.ErrInvalid,
			"target must be a host or host:port")
	}
	res := web.CredentialTestResult{Target: target}
	client := snmp.NewClient(snmp.Config{Timeout: credTestTimeout, Retries: -1,
		Deadline: 3 * credTestTimeout}, nil, nil)
	_, err = client.Walk(ctx, target, snmpCredential(c, sec), "1.3.6.1.2.1.1.1", 1,
		func(_ string, v any) error {
			switch v := v.(type) {
			case []byte:
				res.SysDescr = string(v)
			case string:
				res.SysDescr = v
			}
			return nil
		})
	outcome := "success"
	switch {
	case err != nil:
		res.Error, outcome = err.Error(), "failure"
	case res.SysDescr == "":
		res.Error, outcome = "the agent answered without a sysDescr", "failure"
	default:
		res.OK = true
	}
	a.audit(ctx, t.ID, "credential.test", c.Name, outcome, map[string]any{
		"target": target, "ok": res.OK})
	return res, nil
}
