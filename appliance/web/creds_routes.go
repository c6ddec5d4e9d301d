package web

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// CredentialRequest is the body of POST /v1/tenants/{tenant}/credentials. Which fields apply
// depends on the kind: snmp-v2c takes community; snmp-v3 takes user, auth_proto ("SHA" or
// "SHA-256", default SHA-256), auth_password, priv_proto ("AES", the default) and
// priv_password, both passwords 8 characters or more. The secret fields are sealed on
// arrival and never answered again.
type CredentialRequest struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Community    string `json:"community,omitempty"`
	User         string `json:"user,omitempty"`
	AuthProto    string `json:"auth_proto,omitempty"`
	AuthPassword string `json:"auth_password,omitempty"`
	PrivProto    string `json:"priv_proto,omitempty"`
	PrivPassword string `json:"priv_password,omitempty"`
}

// CredentialTestRequest is the body of POST …/credentials/{credential}/test: the SNMP agent
// to ask ("host" or "host:port"; default 127.0.0.1:161).
type CredentialTestRequest struct {
	Target string `json:"target,omitempty"`
}

// CredentialTestResult says whether the agent answered a GET of sysDescr with the stored
// credential.
type CredentialTestResult struct {
	OK       bool   `json:"ok"`
	Target   string `json:"target"`
	SysDescr string `json:"sys_descr,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Credentials is the tenant's credential vault. Every method takes the id of a tenant whose
// membership the guard has checked. Secrets go in and never come out: credentials are
// answered with their metadata and has_secret only. Errors: ErrInvalid for a bad request,
// ErrNotFound for an unknown credential, ErrConflict for a name in use.
type Credentials interface {
	CreateCredential(ctx context.Context, tenantID string, req CredentialRequest) (
		store.Credential, error)
	ListCredentials(ctx context.Context, tenantID string) ([]store.Credential, error)
	DeleteCredential(ctx context.Context, tenantID, ref string) error
	// TestCredential reports a failed connection in the result, not as an error.
	TestCredential(ctx context.Context, tenantID, ref string, req CredentialTestRequest) (
		CredentialTestResult, error)
}

func (s *Server) routesCredentials() {
	cs, ok := s.svc.(Credentials)
	if !ok {
		return
	}
	tid := func(r *http.Request) string { return tenantFrom(r.Context()).ID }
	base := "/v1/tenants/:tenant/credentials"
	s.handle(http.MethodGet, base, authz.TenantCredentialsRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			items, err := cs.ListCredentials(r.Context(), tid(r))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, len(items), store.Page{Page: 1, Size: len(items)})
		})
	s.handle(http.MethodPost, base, authz.TenantCredentialsManage,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			var body CredentialRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			c, err := cs.CreateCredential(r.Context(), tid(r), body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusCreated, c)
		})
	s.handle(http.MethodDelete, base+"/:credential", authz.TenantCredentialsManage,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			if err := cs.DeleteCredential(r.Context(), tid(r),
				ps.ByName("credential")); err != nil {
				s.fail(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	s.handle(http.MethodPost, base+"/:credential/test", authz.TenantCredentialsManage,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			var body CredentialTestRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			res, err := cs.TestCredential(r.Context(), tid(r), ps.ByName("credential"), body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		})
}
