// Package authz owns who may do what: the principal making a request, the actions routes
// declare, and the one table that maps roles to actions. Handlers ask Allow before they touch
// a tenant, and a tenant a caller is not a member of is reported as not found, so slugs of
// other tenants do not leak.
package authz

import (
	"context"

	"github.com/tenantra/tenantra/store"
)

// Action is something a route does. Every route declares exactly one.
type Action string

// Actions. Platform actions need the platform admin role; tenant actions need a membership
// (or platform admin) in the tenant named by the route; self actions need only a signed-in
// user; public actions need nothing.
const (
	Public Action = "public"
	Self   Action = "self"

	PlatformTenantsCreate Action = "platform.tenants.create"
	PlatformTenantsDelete Action = "platform.tenants.delete"
	PlatformTenantsStatus Action = "platform.tenants.status"
	PlatformUsersRead     Action = "platform.users.read"
	PlatformUsersManage   Action = "platform.users.manage"
	PlatformAuditRead     Action = "platform.audit.read"
	PlatformBackup        Action = "platform.backup"
	PlatformKeys          Action = "platform.keys"
	// PlatformModules moves catalog module versions between states (draft, qa, released,
	// deprecated, retired); the catalog itself is readable by every signed-in user.
	PlatformModules Action = "platform.modules"

	TenantsList Action = "tenants.list" // filtered to the caller's memberships

	TenantRead         Action = "tenant.read"
	TenantUpdate       Action = "tenant.update"
	TenantUsersRead    Action = "tenant.users.read"
	TenantUsersManage  Action = "tenant.users.manage"
	TenantTokensRead   Action = "tenant.tokens.read" //nolint:gosec // an action name
	TenantTokensManage Action = "tenant.tokens.manage"
	TenantAuditRead    Action = "tenant.audit.read"
	TenantExport       Action = "tenant.export"
	TenantWrite        Action = "tenant.write" // assets, scans, findings: the later issues
	// TenantCredentialsRead lists the credential vault (metadata only) and
	// TenantCredentialsManage adds, removes and tests credentials. Only tenant admins manage
	// them: a test sends the secret to a target the caller chooses. Auditors read the list;
	// standard users name credentials in scans without seeing the vault.
	TenantCredentialsRead   Action = "tenant.credentials.read"   //nolint:gosec // an action name
	TenantCredentialsManage Action = "tenant.credentials.manage" //nolint:gosec // an action name
	// TenantModulesManage switches modules on and off for the tenant and sets their
	// parameters; TenantWaive accepts a finding's risk (the waiver names its approver).
	TenantModulesManage Action = "tenant.modules.manage"
	TenantWaive         Action = "tenant.findings.waive"
)

// IsTenant reports whether the action is checked against a tenant membership.
func (a Action) IsTenant() bool { return tenantActions[a] }

// IsPlatform reports whether the action needs the platform admin role.
func (a Action) IsPlatform() bool { return platformActions[a] }

var platformActions = map[Action]bool{
	PlatformTenantsCreate: true, PlatformTenantsDelete: true, PlatformTenantsStatus: true,
	PlatformUsersRead: true, PlatformUsersManage: true, PlatformAuditRead: true,
	PlatformBackup: true, PlatformKeys: true, PlatformModules: true,
}

var tenantActions = map[Action]bool{
	TenantRead: true, TenantUpdate: true, TenantUsersRead: true, TenantUsersManage: true,
	TenantTokensRead: true, TenantTokensManage: true, TenantAuditRead: true, TenantWrite: true,
	TenantExport: true, TenantCredentialsRead: true, TenantCredentialsManage: true,
	TenantModulesManage: true, TenantWaive: true,
}

// roleActions is the permission table: what each tenant role may do in its tenant. Auditors
// read everything of their tenant, including the audit trail, and change nothing.
var roleActions = map[store.TenantRole]map[Action]bool{
	store.RoleAdmin: {TenantRead: true, TenantUpdate: true, TenantUsersRead: true,
		TenantUsersManage: true, TenantTokensRead: true, TenantTokensManage: true,
		TenantAuditRead: true, TenantWrite: true, TenantExport: true,
		TenantCredentialsRead: true, TenantCredentialsManage: true, TenantModulesManage: true,
		TenantWaive: true},
	store.RoleStandard: {TenantRead: true, TenantWrite: true},
	store.RoleAuditor: {TenantRead: true, TenantUsersRead: true, TenantTokensRead: true,
		TenantAuditRead: true, TenantExport: true, TenantCredentialsRead: true},
}

// RoleActions lists what a tenant role may do (for /v1/auth/me and the console).
func RoleActions(r store.TenantRole) []Action {
	var out []Action
	for _, a := range AllActions() {
		if roleActions[r][a] {
			out = append(out, a)
		}
	}
	return out
}

// AllActions lists every action in a stable order.
func AllActions() []Action {
	return []Action{Public, Self, PlatformTenantsCreate, PlatformTenantsDelete,
		PlatformTenantsStatus, PlatformUsersRead, PlatformUsersManage, PlatformAuditRead,
		PlatformBackup, PlatformKeys, PlatformModules, TenantsList, TenantRead, TenantUpdate,
		TenantUsersRead,
		TenantUsersManage, TenantTokensRead, TenantTokensManage, TenantAuditRead, TenantExport,
		TenantWrite, TenantCredentialsRead, TenantCredentialsManage, TenantModulesManage,
		TenantWaive}
}

// Principal is the caller of a request, established by authentication.
type Principal struct {
	UserID       string
	Email        string
	PlatformRole store.PlatformRole
	// Roles maps tenant id to the caller's role there.
	Roles     map[string]store.TenantRole
	SessionID string
	// TokenID is set when an API token authenticated the call; Roles then holds exactly the
	// token's tenant and role, and PlatformRole is empty.
	TokenID string
	// MFA tells whether the session was established with a second factor.
	MFA bool
	// Local marks the admin socket and direct CLI access: the data dir's owner, who may do
	// everything.
	Local bool
}

// Name identifies the principal in audit entries.
func (p *Principal) Name() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.Local:
		return "local-admin"
	case p.TokenID != "":
		return "token:" + p.TokenID
	default:
		return p.Email
	}
}

// Allow reports whether p may perform action; tenantID is the route's tenant for tenant
// actions and ignored otherwise.
func Allow(p *Principal, action Action, tenantID string) bool {
	switch {
	case action == Public:
		return true
	case p == nil:
		return false
	case p.Local:
		return true
	case action == Self || action == TenantsList:
		return true
	case action.IsPlatform():
		return p.PlatformRole == store.PlatformAdmin
	case action.IsTenant():
		if p.TokenID != "" && (action == TenantTokensManage || action == TenantUsersManage) {
			return false // a token never mints credentials or people: that needs a person
		}
		if p.PlatformRole == store.PlatformAdmin {
			return true
		}
		role, ok := p.Roles[tenantID]
		return ok && roleActions[role][action]
	}
	return false
}

// IsMember reports whether p may see the tenant at all (any role, or platform admin).
func IsMember(p *Principal, tenantID string) bool {
	if p == nil {
		return false
	}
	if p.Local || p.PlatformRole == store.PlatformAdmin {
		return true
	}
	_, ok := p.Roles[tenantID]
	return ok
}

type principalKey struct{}

// WithPrincipal carries the caller in a context.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, or nil for an anonymous request.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// LocalAdmin is the principal of the admin socket and of direct CLI access.
func LocalAdmin() *Principal {
	return &Principal{Local: true, PlatformRole: store.PlatformAdmin}
}
