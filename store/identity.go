package store

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// PlatformRole is a user's role across the whole appliance: "admin" (the operator, MSP
// staff, every tenant) or none.
type PlatformRole string

// Platform roles.
const (
	PlatformNone  PlatformRole = ""
	PlatformAdmin PlatformRole = "admin"
)

// TenantRole is a user's (or API token's) role inside one tenant.
type TenantRole string

// Tenant roles, from most to least privileged.
const (
	RoleAdmin    TenantRole = "admin"
	RoleStandard TenantRole = "standard"
	RoleAuditor  TenantRole = "auditor"
)

// Valid reports whether r is a known tenant role.
func (r TenantRole) Valid() bool {
	return r == RoleAdmin || r == RoleStandard || r == RoleAuditor
}

// User is a person who signs in. Secrets (password hash, TOTP secret) are never part of it.
type User struct {
	ID           string       `json:"id"`
	Email        string       `json:"email"`
	PlatformRole PlatformRole `json:"platform_role"`
	Disabled     bool         `json:"disabled"`
	MFAEnabled   bool         `json:"mfa_enabled"`
	Memberships  []Membership `json:"memberships"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// Membership is a user's role in one tenant.
type Membership struct {
	TenantID   string     `json:"tenant_id"`
	TenantSlug string     `json:"tenant"`
	Role       TenantRole `json:"role"`
}

// UserSecrets are what login needs and nothing else may see.
type UserSecrets struct {
	PasswordHash string
	TOTPSecret   string
	TOTPLastStep int64
}

// Session is one sign-in of a user; its refresh tokens rotate on use.
type Session struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	IP        string     `json:"ip"`
	UserAgent string     `json:"user_agent"`
	CreatedAt time.Time  `json:"created_at"`
	LastSeen  time.Time  `json:"last_seen"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// MFA tells whether the sign-in used a second factor (tenants may require it).
	MFA     bool `json:"mfa"`
	Current bool `json:"current,omitempty"`
}

// APIToken is an automation credential scoped to one tenant and role. Its secret is shown
// once at creation and stored only as a hash.
type APIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	TenantID  string     `json:"tenant_id"`
	Role      TenantRole `json:"role"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// ErrReplay means a single-use secret (refresh token, TOTP code, recovery code) was used again.
var ErrReplay = Errorf(ErrConflict, "credential already used")

// NormalizeEmail trims and lowercases an email address and checks its form.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>") {
		return "", Errorf(ErrInvalid, "email %q is not a valid address", Truncate(email, 60))
	}
	// admin@localhost is the bootstrap account; mail.ParseAddress accepts it too.
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e, "@") {
		return "", Errorf(ErrInvalid, "email %q is not a valid address", Truncate(email, 60))
	}
	return e, nil
}

// Identity stores users, memberships, sessions, refresh tokens and API tokens.
//
// Implementations are safe for concurrent use and return errors wrapping ErrNotFound,
// ErrConflict, ErrInvalid or ErrReplay. Single-use operations (RotateRefresh, UseTOTPStep,
// UseRecoveryCode) are atomic: of two concurrent uses exactly one succeeds.
type Identity interface {
	CreateUser(ctx context.Context, email, passwordHash string, role PlatformRole) (User, error)
	// GetUser finds a user by id or email.
	GetUser(ctx context.Context, ref string) (User, error)
	UserSecrets(ctx context.Context, userID string) (UserSecrets, error)
	ListUsers(ctx context.Context, tenantID string, p Page) ([]User, int, error)
	CountUsers(ctx context.Context) (int, error)
	SetUserDisabled(ctx context.Context, userID string, disabled bool) error
	SetPassword(ctx context.Context, userID, passwordHash string) error
	SetMembership(ctx context.Context, userID, tenantID string, role TenantRole) error
	RemoveMembership(ctx context.Context, userID, tenantID string) error

	SetTOTP(ctx context.Context, userID, secret string, enabled bool) error
	// UseTOTPStep records step as used if it is newer than the last one, else ErrReplay.
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error
	// UseRecoveryCode spends a code by hash, or gives ErrNotFound.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) error

	CreateSession(ctx context.Context, s Session, refreshHash []byte) error
	// RotateRefresh spends a refresh token and records its successor. A token already spent
	// revokes its whole session and gives ErrReplay.
	RotateRefresh(ctx context.Context, oldHash, newHash []byte, now time.Time) (Session, error)
	GetSession(ctx context.Context, id string) (Session, error)
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	RevokeSession(ctx context.Context, id string, now time.Time) error
	RevokeUserSessions(ctx context.Context, userID string, now time.Time) error

	CreateAPIToken(ctx context.Context, t APIToken, hash []byte) error
	// LookupAPIToken finds a live (not revoked, not expired) token by hash.
	LookupAPIToken(ctx context.Context, hash []byte, now time.Time) (APIToken, error)
	ListAPITokens(ctx context.Context, tenantID string) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, tenantID, id string, now time.Time) error
}
