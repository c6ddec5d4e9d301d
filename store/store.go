// Package store owns Tenantra's domain types, the repository interfaces every storage backend
// implements (SQLite files now, PostgreSQL later) and the sentinel errors they return. It
// imports nothing of Tenantra above it.
package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Backends wrap them with context; the HTTP layer maps them to statuses in
// one place, so callers test with errors.Is and never compare messages.
var (
	// ErrNotFound means the named object does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request collides with existing state, such as a duplicate slug.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input is malformed; the wrapping error says which field and why.
	ErrInvalid = errors.New("invalid input")
	// ErrWrongKey means data could not be decrypted with the key supplied: another master
	// key, another tenant's key, or a corrupt key file.
	ErrWrongKey = errors.New("wrong key")
	// ErrLocked means another process holds the data directory.
	ErrLocked = errors.New("data directory locked")
	// ErrCorrupt means a file the store needs exists but cannot be parsed.
	ErrCorrupt = errors.New("corrupt data")
	// ErrUnauthenticated means the caller is not signed in, or its credentials are not valid.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrSecondFactorRequired is ErrUnauthenticated for a right password on an account with
	// a second factor when no code came with it: the client asks for the code.
	ErrSecondFactorRequired = fmt.Errorf("%w: second factor required", ErrUnauthenticated)
	// ErrForbidden means the caller is signed in but its role does not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrRateLimited means too many attempts; RetryAfter says how long to wait.
	ErrRateLimited = errors.New("rate limited")
)

// RateLimitError is ErrRateLimited with the time until the next attempt may succeed.
type RateLimitError struct {
	RetryAfter time.Duration
	Msg        string
}

func (e *RateLimitError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// TenantStatus is the lifecycle state of a tenant as users see it.
type TenantStatus string

// Tenant states. "creating" and "deleting" are internal and never returned to users: a tenant
// in them is rolled back or finished by recovery when the store opens.
const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
	TenantCreating  TenantStatus = "creating"
	TenantDeleting  TenantStatus = "deleting"
)

// Tenant is one client or business unit; its data lives in its own encrypted database.
type Tenant struct {
	ID         string       `json:"id"`
	Slug       string       `json:"slug"`
	Name       string       `json:"name"`
	Status     TenantStatus `json:"status"`
	KeyVersion int          `json:"key_version"`
	RequireMFA bool         `json:"require_mfa"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
}

// TenantUpdate changes a tenant; nil fields stay as they are.
type TenantUpdate struct {
	Name       *string       `json:"name,omitempty"`
	Status     *TenantStatus `json:"status,omitempty"`
	RequireMFA *bool         `json:"require_mfa,omitempty"`
}

// Page selects a slice of a list: Page is 1-based, Size is at most MaxPageSize.
type Page struct {
	Page int
	Size int
}

// Default and maximum page sizes of every list (ARCHITECTURE §5).
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// Offset returns the number of rows before this page.
func (p Page) Offset() int { return (p.Page - 1) * p.Size }

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidateSlug checks a tenant slug: lowercase kebab-case, 3–40 characters.
func ValidateSlug(slug string) error {
	if len(slug) < 3 || len(slug) > 40 || !slugRE.MatchString(slug) {
		return Errorf(ErrInvalid, "tenant slug %q must be 3-40 characters of lowercase letters, "+
			"digits and single hyphens (e.g. acme-corp)", Truncate(slug, 60))
	}
	return nil
}

// ValidateTenantName checks a tenant's display name: 1–200 characters of valid UTF-8 with no
// control characters, so that a name can never forge lines or colours in a terminal listing.
func ValidateTenantName(name string) error {
	if !utf8.ValidString(name) {
		return Errorf(ErrInvalid, "tenant name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n == 0 || n > 200 {
		return Errorf(ErrInvalid, "tenant name must be 1-200 characters, got %d", n)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return Errorf(ErrInvalid, "tenant name must not contain control characters "+
			"(newlines, tabs, escape sequences)")
	}
	return nil
}

// Truncate shortens s to n bytes plus "..." for error messages, so that a hostile value
// (a megabyte slug, say) cannot blow up a message or a log line.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Tenants is the tenant registry with the lifecycle that keeps files and keys in step.
//
// Implementations are safe for concurrent use. Every method takes a context and returns
// errors wrapping ErrNotFound, ErrConflict or ErrInvalid where those apply. Create either
// leaves a complete tenant (row, key, database) or nothing, even when the process dies; Delete
// destroys the tenant's keys before anything else (crypto-shredding).
type Tenants interface {
	CreateTenant(ctx context.Context, slug, name string) (Tenant, error)
	// GetTenant finds a tenant by slug or id.
	GetTenant(ctx context.Context, ref string) (Tenant, error)
	ListTenants(ctx context.Context, p Page) ([]Tenant, int, error)
	UpdateTenant(ctx context.Context, ref string, u TenantUpdate) (Tenant, error)
	DeleteTenant(ctx context.Context, ref string) error
}

// Asset is a device in a tenant's inventory. The discovery issue grows it; the foundation
// stores it so that encryption and performance can be proven on realistic rows.
type Asset struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	MAC       string    `json:"mac"`
	Vendor    string    `json:"vendor"`
	OS        string    `json:"os"`
	Type      string    `json:"type"`
	Model     string    `json:"model"`
	Firmware  string    `json:"firmware"`
	Serial    string    `json:"serial"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Results is the store of raw module results and history, keyed per tenant. Values are sealed
// with the tenant's current data key; a header records the key version so that old values stay
// readable after rotation. Implementations are safe for concurrent use.
type Results interface {
	// Put stores value under key for the tenant, replacing any earlier value.
	Put(ctx context.Context, tenantID, key string, value []byte) error
	// PutBatch stores many values for one tenant in as few writes as possible.
	PutBatch(ctx context.Context, tenantID string, kvs []KV) error
	// Get returns the opened value, ErrNotFound, or ErrWrongKey when its key was destroyed.
	Get(ctx context.Context, tenantID, key string) ([]byte, error)
	// List returns the tenant's values whose keys start with prefix, in key order (keys
	// without the tenant part), at most limit of them (all when limit <= 0).
	List(ctx context.Context, tenantID, prefix string, limit int) ([]KV, error)
	// DropTenant removes every key of the tenant.
	DropTenant(ctx context.Context, tenantID string) error
	// Ping checks that the store can serve requests.
	Ping(ctx context.Context) error
	Close() error
}

// KV is one key and value for Results.PutBatch.
type KV struct {
	Key   string
	Value []byte
}

// Errorf returns an error of a kind (one of the sentinels above) whose text is only the
// formatted message, which is written for the user: it names the problem and what to do.
// errors.Is(err, kind) holds, and the API shows the message as it is.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
