package web

import (
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// LoginRequest is what a user signs in with.
type LoginRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	TOTP      string `json:"totp,omitempty"`
	IP        string `json:"-"`
	UserAgent string `json:"-"`
}

// Tokens are what a successful sign-in or refresh returns.
type Tokens struct {
	AccessToken    string    `json:"access_token"`
	TokenType      string    `json:"token_type"`
	ExpiresIn      int       `json:"expires_in"`
	RefreshToken   string    `json:"-"`
	RefreshExpires time.Time `json:"-"`
}

// Me is what /v1/auth/me answers: the caller, its roles and what they allow.
type Me struct {
	User        store.User                `json:"user"`
	Permissions map[string][]authz.Action `json:"permissions"`
	MFA         bool                      `json:"mfa"`
}

// TOTPEnrolment is what starting TOTP enrolment returns: the secret to type in, the URI to
// scan and a QR code (PNG, base64).
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QRPNG  string `json:"qr_png"`
}

// NewUser is a user to create: platform-wide (PlatformRole) or in one tenant (Tenant, Role).
type NewUser struct {
	Email        string             `json:"email"`
	Password     string             `json:"password"`
	PlatformRole store.PlatformRole `json:"platform_role,omitempty"`
	Tenant       string             `json:"tenant,omitempty"`
	Role         store.TenantRole   `json:"role,omitempty"`
}

// UserUpdate changes a user (platform admins only).
type UserUpdate struct {
	Disabled     *bool               `json:"disabled,omitempty"`
	PlatformRole *store.PlatformRole `json:"platform_role,omitempty"`
}

// NewAPIToken asks for an API token.
type NewAPIToken struct {
	Name      string           `json:"name"`
	Role      store.TenantRole `json:"role"`
	ExpiresIn string           `json:"expires_in,omitempty"` // a duration, default 90 days
}

// CreatedAPIToken is the token's metadata and, this once, its secret.
type CreatedAPIToken struct {
	store.APIToken
	Token string `json:"token"`
}
