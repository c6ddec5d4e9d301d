package web

import (
	"context"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
)

// KeyService is what the key routes need from the application. It is kept apart from Service
// so that a Service without key management still builds a server; those routes then answer
// 501.
type KeyService interface {
	// KeyStatus lists every key with its version, age and rotation due date.
	KeyStatus(ctx context.Context) (KeyStatus, error)
	// RotateKeys rotates the master key and/or tenant DEKs; see KeyRotateRequest.
	RotateKeys(ctx context.Context, req KeyRotateRequest) (KeyRotateResult, error)
}

// KeyInfo is one key in GET /v1/keys.
type KeyInfo struct {
	// Kind is master, registry, control, results, jwt or tenant.
	Kind     string `json:"kind"`
	Tenant   string `json:"tenant,omitempty"` // the tenant's slug, for kind tenant
	TenantID string `json:"tenant_id,omitempty"`
	// ID is the master key's public id (a hash); Source says where it comes from: file or
	// env.
	ID        string    `json:"id,omitempty"`
	Source    string    `json:"source,omitempty"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	AgeDays   int       `json:"age_days"`
	// RotateBy is when the rotation policy wants the key rotated; Due is true from then on.
	RotateBy time.Time `json:"rotate_by"`
	Due      bool      `json:"due"`
	// RetainedVersions counts older versions still kept: for tenants, versions that results
	// may be sealed under until a re-seal pass retires them; for the JWT key, the one that
	// still verifies tokens.
	RetainedVersions int `json:"retained_versions"`
}

// KeyStatus is the answer of GET /v1/keys.
type KeyStatus struct {
	PolicyDays int       `json:"policy_days"`
	Keys       []KeyInfo `json:"keys"`
}

// KeyRotateRequest is the body of POST /v1/keys/rotate: the master key (which rotates the
// JWT signing key with it), named tenants, or all tenants.
type KeyRotateRequest struct {
	Master  bool     `json:"master,omitempty"`
	Tenants []string `json:"tenants,omitempty"`
	All     bool     `json:"all,omitempty"`
}

// MasterKeyRotation reports a master key rotation.
type MasterKeyRotation struct {
	OldID      string `json:"old_id"`
	NewID      string `json:"new_id"`
	Version    int    `json:"version"`
	JWTVersion int    `json:"jwt_version"`
	// PendingFile is set when the master key comes from TENA_MASTER_KEY: the new key waits
	// in this file; set TENA_MASTER_KEY to its contents before the next start, then delete it.
	PendingFile string `json:"pending_file,omitempty"`
}

// TenantKeyRotation reports one tenant's DEK rotation.
type TenantKeyRotation struct {
	Tenant   string  `json:"tenant"`
	TenantID string  `json:"tenant_id"`
	From     int     `json:"from_version"`
	To       int     `json:"to_version"`
	Seconds  float64 `json:"seconds"`
	// Resealed counts results re-sealed under the new key; ResealQueued says the running
	// server re-seals them in the background instead.
	Resealed     int  `json:"resealed"`
	ResealQueued bool `json:"reseal_queued,omitempty"`
}

// KeyRotationFailure is a tenant whose rotation failed during an --all rotation.
type KeyRotationFailure struct {
	Tenant string `json:"tenant"`
	Error  string `json:"error"`
}

// KeyRotateResult is the answer of POST /v1/keys/rotate.
type KeyRotateResult struct {
	Master  *MasterKeyRotation   `json:"master,omitempty"`
	Tenants []TenantKeyRotation  `json:"tenants"`
	Failed  []KeyRotationFailure `json:"failed,omitempty"`
}

func (s *Server) routesKeys() {
	s.handle(http.MethodGet, "/v1/keys", authz.PlatformKeys, s.keyStatus)
	s.handle(http.MethodPost, "/v1/keys/rotate", authz.PlatformKeys, s.rotateKeys)
}

func (s *Server) keyService(w http.ResponseWriter, r *http.Request) (KeyService, bool) {
	ks, ok := s.svc.(KeyService)
	if !ok {
		s.fail(w, r, errorf(http.StatusNotImplemented, "not_implemented",
			"this server does not manage keys"))
	}
	return ks, ok
}

func (s *Server) keyStatus(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ks, ok := s.keyService(w, r)
	if !ok {
		return
	}
	st, err := ks.KeyStatus(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body KeyRotateRequest
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	ks, ok := s.keyService(w, r)
	if !ok {
		return
	}
	res, err := ks.RotateKeys(r.Context(), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
