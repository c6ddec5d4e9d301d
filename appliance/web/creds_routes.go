package web

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// CredentialRequest is the body of POST /v1/tenants/{tenant}/credentials. Which fields apply
// depends on the kind:
//   - snmp-v2c: community;
//   - snmp-v3: user, auth_proto ("SHA" or "SHA-256", default SHA-256), auth_password,
//     priv_proto ("AES", the default) and priv_password, both 8 characters or more;
//   - ldap: url (ldap:// or ldaps://), bind_dn (a DN, UPN or DOMAIN\user), password,
//     base_dn (optional), starttls, ca_pem or pin, stale_days (default 90);
//   - fortigate: url (https://), token, ca_pem or pin, vdom, baseline_version;
//   - omada: url (https://), omadac_id, client_id, client_secret, ca_pem or pin.
//
// The secret fields (community, passwords, token, client_secret) are sealed on arrival and
// never answered again.
type CredentialRequest struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Community    string `json:"community,omitempty"`
	User         string `json:"user,omitempty"`
	AuthProto    string `json:"auth_proto,omitempty"`
	AuthPassword string `json:"auth_password,omitempty"`
	PrivProto    string `json:"priv_proto,omitempty"`
	PrivPassword string `json:"priv_password,omitempty"`

	URL             string `json:"url,omitempty"`
	BindDN          string `json:"bind_dn,omitempty"`
	NTLMDomain      string `json:"ntlm_domain,omitempty"`
	Password        string `json:"password,omitempty"`
	BaseDN          string `json:"base_dn,omitempty"`
	StartTLS        bool   `json:"starttls,omitempty"`
	CAPEM           string `json:"ca_pem,omitempty"`
	Pin             string `json:"pin,omitempty"`
	StaleDays       int    `json:"stale_days,omitempty"`
	Token           string `json:"token,omitempty"`
	VDOM            string `json:"vdom,omitempty"`
	BaselineVersion string `json:"baseline_version,omitempty"`
	OmadacID        string `json:"omadac_id,omitempty"`
	ClientID        string `json:"client_id,omitempty"`
	ClientSecret    string `json:"client_secret,omitempty"`
}

// CredentialTestRequest is the body of POST …/credentials/{credential}/test: for SNMP, the
// agent to ask ("host" or "host:port"; default 127.0.0.1:161). LDAP, FortiGate and Omada
// credentials test against their own URL and take no target.
type CredentialTestRequest struct {
	Target string `json:"target,omitempty"`
}

// CredentialTestResult says whether the peer accepted the stored credential: an SNMP agent's
// sysDescr, or for the other kinds a one-line description of what answered (Detail).
type CredentialTestResult struct {
	OK       bool   `json:"ok"`
	Target   string `json:"target"`
	SysDescr string `json:"sys_descr,omitempty"`
	Detail   string `json:"detail,omitempty"`
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
