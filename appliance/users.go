package appliance

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/appliance/auth"
	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// web.Me describes the caller.
func (a *Appliance) Me(ctx context.Context) (web.Me, error) {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return web.Me{}, store.Errorf(store.ErrInvalid, "only a signed-in user has a profile")
	}
	u, err := a.store.GetUser(ctx, p.UserID)
	if err != nil {
		return web.Me{}, err
	}
	perms := map[string][]authz.Action{}
	if u.PlatformRole == store.PlatformAdmin {
		// The operator may do everything everywhere; "*" stands for every tenant.
		perms["*"] = authz.AllActions()
	}
	for _, m := range u.Memberships {
		perms[m.TenantSlug] = authz.RoleActions(m.Role)
	}
	return web.Me{User: u, Permissions: perms, MFA: p.MFA}, nil
}

// Sessions lists the caller's live sessions, marking the current one.
func (a *Appliance) Sessions(ctx context.Context) ([]store.Session, error) {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, store.Errorf(store.ErrInvalid, "only a signed-in user has sessions")
	}
	ss, err := a.store.ListSessions(ctx, p.UserID)
	for i := range ss {
		ss[i].Current = ss[i].ID == p.SessionID
	}
	return ss, err
}

// RevokeOwnSessions signs the caller out everywhere: every session of the caller ends,
// this one included.
func (a *Appliance) RevokeOwnSessions(ctx context.Context) error {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return store.Errorf(store.ErrInvalid, "only a signed-in user has sessions")
	}
	if err := a.store.RevokeUserSessions(ctx, p.UserID, a.id.now()); err != nil {
		return err
	}
	a.id.invalidate()
	a.audit(ctx, "", "auth.sessions_revoke_all", p.Email, "success", nil)
	return nil
}

// RevokeOwnSession ends one of the caller's sessions.
func (a *Appliance) RevokeOwnSession(ctx context.Context, id string) error {
	p := authz.FromContext(ctx)
	se, err := a.store.GetSession(ctx, id)
	if err != nil || p == nil || se.UserID != p.UserID {
		return store.Errorf(store.ErrNotFound, "session %q does not exist", truncate(id, 60))
	}
	if err := a.store.RevokeSession(ctx, id, a.id.now()); err != nil {
		return err
	}
	a.id.invalidate()
	a.audit(ctx, "", "auth.session_revoke", id, "success", nil)
	return nil
}

// ChangePassword changes the caller's password; the old one is required.
func (a *Appliance) ChangePassword(ctx context.Context, oldPW, newPW string) error {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return store.Errorf(store.ErrInvalid, "only a signed-in user has a password")
	}
	sec, err := a.store.UserSecrets(ctx, p.UserID)
	if err != nil {
		return err
	}
	if !a.id.passwords.Check(sec.PasswordHash, oldPW) {
		a.audit(ctx, "", "user.password_change", p.Email, "failure", nil)
		return store.Errorf(store.ErrInvalid, "the current password is wrong")
	}
	if err := a.setPassword(ctx, p.UserID, p.Email, newPW); err != nil {
		return err
	}
	a.audit(ctx, "", "user.password_change", p.Email, "success", nil)
	return nil
}

func (a *Appliance) setPassword(ctx context.Context, userID, email, pw string) error {
	if err := auth.ValidatePassword(pw, email); err != nil {
		return err
	}
	hash, err := a.id.passwords.Hash(pw)
	if err != nil {
		return err
	}
	return a.store.SetPassword(ctx, userID, hash)
}

// StartTOTP creates a new (not yet enforced) TOTP secret for the caller.
func (a *Appliance) StartTOTP(ctx context.Context) (web.TOTPEnrolment, error) {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return web.TOTPEnrolment{}, store.Errorf(store.ErrInvalid, "only a signed-in user can "+
			"enrol a second factor")
	}
	u, err := a.store.GetUser(ctx, p.UserID)
	if err != nil {
		return web.TOTPEnrolment{}, err
	}
	if u.MFAEnabled {
		// Re-enrolling would switch the second factor off until confirmed: that needs the
		// password, through DELETE /v1/auth/mfa/totp, not just a session.
		return web.TOTPEnrolment{}, store.Errorf(store.ErrConflict, "two-factor sign-in is "+
			"already on; turn it off first with your password (DELETE /v1/auth/mfa/totp)")
	}
	secret, uri, png, err := auth.NewTOTPKey("Tenantra", p.Email)
	if err != nil {
		return web.TOTPEnrolment{}, err
	}
	if err := a.store.SetTOTP(ctx, p.UserID, secret, false); err != nil {
		return web.TOTPEnrolment{}, err
	}
	a.id.invalidate()
	a.audit(ctx, "", "user.mfa_enrol_start", p.Email, "success", nil)
	return web.TOTPEnrolment{Secret: secret, URI: uri,
		QRPNG: base64.StdEncoding.EncodeToString(png)}, nil
}

// ConfirmTOTP enables TOTP once the user proves the authenticator works, and returns fresh
// recovery codes, shown once.
func (a *Appliance) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, store.Errorf(store.ErrInvalid, "only a signed-in user can enrol")
	}
	sec, err := a.store.UserSecrets(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if sec.TOTPSecret == "" {
		return nil, store.Errorf(store.ErrInvalid, "start enrolment first (POST "+
			"/v1/auth/mfa/totp)")
	}
	step, err := a.id.totp.Verify(sec.TOTPSecret, code, sec.TOTPLastStep)
	if err != nil {
		return nil, store.Errorf(store.ErrInvalid, "the code does not match; check the "+
			"authenticator's clock and try the next code")
	}
	plain, hashes, err := auth.NewRecoveryCodes(10)
	if err != nil {
		return nil, err
	}
	if err := a.store.SetTOTP(ctx, p.UserID, sec.TOTPSecret, true); err != nil {
		return nil, err
	}
	if err := a.store.UseTOTPStep(ctx, p.UserID, step); err != nil {
		return nil, err
	}
	if err := a.store.SetRecoveryCodes(ctx, p.UserID, hashes); err != nil {
		return nil, err
	}
	a.id.invalidate()
	a.audit(ctx, "", "user.mfa_enable", p.Email, "success", nil)
	return plain, nil
}

// DisableTOTP turns the second factor off; the password is required.
func (a *Appliance) DisableTOTP(ctx context.Context, password string) error {
	p := authz.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return store.Errorf(store.ErrInvalid, "only a signed-in user has a second factor")
	}
	sec, err := a.store.UserSecrets(ctx, p.UserID)
	if err != nil {
		return err
	}
	if !a.id.passwords.Check(sec.PasswordHash, password) {
		a.audit(ctx, "", "user.mfa_disable", p.Email, "failure", nil)
		return store.Errorf(store.ErrInvalid, "the password is wrong")
	}
	if err := a.store.SetTOTP(ctx, p.UserID, "", false); err != nil {
		return err
	}
	if err := a.store.SetRecoveryCodes(ctx, p.UserID, nil); err != nil {
		return err
	}
	a.id.invalidate()
	a.audit(ctx, "", "user.mfa_disable", p.Email, "success", nil)
	return nil
}

// CreateUser creates a user, and its membership when a tenant is named.
func (a *Appliance) CreateUser(ctx context.Context, nu web.NewUser) (store.User, error) {
	email, err := store.NormalizeEmail(nu.Email)
	if err != nil {
		return store.User{}, err
	}
	var tenant store.Tenant
	if nu.Tenant != "" {
		if !nu.Role.Valid() {
			return store.User{}, store.Errorf(store.ErrInvalid, "role %q is unknown; use "+
				"admin, standard or auditor", nu.Role)
		}
		if tenant, err = a.store.GetTenant(ctx, nu.Tenant); err != nil {
			return store.User{}, err
		}
	} else if nu.Role != "" {
		return store.User{}, store.Errorf(store.ErrInvalid, "a tenant role needs a tenant")
	}
	if err := auth.ValidatePassword(nu.Password, email); err != nil {
		return store.User{}, err
	}
	hash, err := a.id.passwords.Hash(nu.Password)
	if err != nil {
		return store.User{}, err
	}
	u, err := a.store.CreateUser(ctx, email, hash, nu.PlatformRole)
	if err != nil {
		return store.User{}, err
	}
	if nu.Tenant != "" {
		if err := a.store.SetMembership(ctx, u.ID, tenant.ID, nu.Role); err != nil {
			return store.User{}, err
		}
	}
	a.audit(ctx, tenant.ID, "user.create", email, "success",
		map[string]any{"platform_role": nu.PlatformRole, "role": nu.Role})
	u, err = a.store.GetUser(ctx, u.ID)
	if nu.Tenant != "" {
		u = onlyTenant(u, tenant.ID)
	}
	return u, err
}

// GetUser returns a user by id or email.
func (a *Appliance) GetUser(ctx context.Context, ref string) (store.User, error) {
	return a.store.GetUser(ctx, ref)
}

// ListUsers lists users: all, or the members of a tenant. Listed in a tenant, a user shows
// only that tenant's membership, so tenant admins never learn other tenants' slugs.
func (a *Appliance) ListUsers(ctx context.Context, tenantID string, p store.Page) (
	[]store.User, int, error) {
	us, total, err := a.store.ListUsers(ctx, tenantID, p)
	if tenantID != "" {
		for i := range us {
			us[i] = onlyTenant(us[i], tenantID)
		}
	}
	return us, total, err
}

func onlyTenant(u store.User, tenantID string) store.User {
	ms := []store.Membership{}
	for _, m := range u.Memberships {
		if m.TenantID == tenantID {
			ms = append(ms, m)
		}
	}
	u.Memberships = ms
	return u
}

// UpdateUser disables, enables or changes the platform role of a user. Disabling ends every
// session of the user at once.
func (a *Appliance) UpdateUser(ctx context.Context, ref string, up web.UserUpdate) (store.User,
	error) {
	u, err := a.store.GetUser(ctx, ref)
	if err != nil {
		return store.User{}, err
	}
	if up.PlatformRole != nil {
		return store.User{}, store.Errorf(store.ErrInvalid, "changing a platform role is "+
			"not supported yet; create a new user")
	}
	if up.Disabled != nil {
		if err := a.store.SetUserDisabled(ctx, u.ID, *up.Disabled); err != nil {
			return store.User{}, err
		}
		if *up.Disabled {
			if err := a.store.RevokeUserSessions(ctx, u.ID, a.id.now()); err != nil {
				return store.User{}, err
			}
		}
		a.id.invalidate()
		a.audit(ctx, "", "user.update", u.Email, "success",
			map[string]any{"disabled": *up.Disabled})
	}
	return a.store.GetUser(ctx, u.ID)
}

// ResetPassword sets a new password for a user (platform admins, or the CLI) and ends the
// user's sessions.
func (a *Appliance) ResetPassword(ctx context.Context, ref, pw string) error {
	u, err := a.store.GetUser(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.setPassword(ctx, u.ID, u.Email, pw); err != nil {
		return err
	}
	if err := a.store.RevokeUserSessions(ctx, u.ID, a.id.now()); err != nil {
		return err
	}
	a.id.invalidate()
	a.audit(ctx, "", "user.password_reset", u.Email, "success", nil)
	return nil
}

// SetTenantRole gives an existing user (by email or id) a role in a tenant.
func (a *Appliance) SetTenantRole(ctx context.Context, tenantID, userRef string,
	role store.TenantRole) (store.User, error) {
	u, err := a.store.GetUser(ctx, userRef)
	if err != nil {
		return store.User{}, err
	}
	if err := a.store.SetMembership(ctx, u.ID, tenantID, role); err != nil {
		return store.User{}, err
	}
	a.id.invalidate()
	a.audit(ctx, tenantID, "membership.set", u.Email, "success", map[string]any{"role": role})
	u, err = a.store.GetUser(ctx, u.ID)
	return onlyTenant(u, tenantID), err
}

// RemoveTenantUser takes a user out of a tenant.
func (a *Appliance) RemoveTenantUser(ctx context.Context, tenantID, userRef string) error {
	u, err := a.store.GetUser(ctx, userRef)
	if err != nil {
		return err
	}
	if err := a.store.RemoveMembership(ctx, u.ID, tenantID); err != nil {
		return err
	}
	a.id.invalidate()
	a.audit(ctx, tenantID, "membership.remove", u.Email, "success", nil)
	return nil
}

// CreateAPIToken makes an API token for a tenant; the secret is returned once.
func (a *Appliance) CreateAPIToken(ctx context.Context, tenantID string,
	req web.NewAPIToken) (web.CreatedAPIToken, error) {
	if req.Name == "" || len(req.Name) > 100 {
		return web.CreatedAPIToken{}, store.Errorf(store.ErrInvalid, "token name must be 1-100 "+
			"characters")
	}
	if !req.Role.Valid() {
		return web.CreatedAPIToken{}, store.Errorf(store.ErrInvalid, "role %q is unknown; use "+
			"admin, standard or auditor", req.Role)
	}
	ttl := 90 * 24 * time.Hour
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d < time.Minute || d > 2*365*24*time.Hour {
			return web.CreatedAPIToken{}, store.Errorf(store.ErrInvalid, "expires_in must be a "+
				"duration from 1m to 17520h, such as 720h")
		}
		ttl = d
	}
	p := authz.FromContext(ctx)
	// An API token never grants more than its creator has in the tenant.
	if p != nil && !p.Local && p.PlatformRole != store.PlatformAdmin &&
		rank(req.Role) > rank(p.Roles[tenantID]) {
		return web.CreatedAPIToken{}, store.Errorf(store.ErrForbidden, "a token cannot have a "+
			"higher role than its creator")
	}
	secret, hash, err := auth.NewOpaqueToken(apiTokenPrefix)
	if err != nil {
		return web.CreatedAPIToken{}, err
	}
	now := a.id.now()
	t := store.APIToken{ID: uuid.NewString(), Name: req.Name, TenantID: tenantID,
		Role: req.Role, CreatedBy: p.Name(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := a.store.CreateAPIToken(ctx, t, hash); err != nil {
		return web.CreatedAPIToken{}, err
	}
	a.audit(ctx, tenantID, "token.create", t.ID, "success",
		map[string]any{"name": t.Name, "role": t.Role})
	return web.CreatedAPIToken{APIToken: t, Token: secret}, nil
}

func rank(r store.TenantRole) int {
	return map[store.TenantRole]int{store.RoleAuditor: 1, store.RoleStandard: 2,
		store.RoleAdmin: 3}[r]
}

// ListAPITokens lists a tenant's API tokens (never their secrets).
func (a *Appliance) ListAPITokens(ctx context.Context, tenantID string) ([]store.APIToken,
	error) {
	return a.store.ListAPITokens(ctx, tenantID)
}

// RevokeAPIToken revokes a tenant's API token.
func (a *Appliance) RevokeAPIToken(ctx context.Context, tenantID, id string) error {
	if err := a.store.RevokeAPIToken(ctx, tenantID, id, a.id.now()); err != nil {
		return err
	}
	a.audit(ctx, tenantID, "token.revoke", id, "success", nil)
	return nil
}
