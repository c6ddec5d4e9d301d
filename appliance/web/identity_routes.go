package web

import (
	"encoding/csv"
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// RefreshCookie carries the refresh token: HttpOnly so scripts cannot read it, Secure, and
// SameSite=Strict with a path limited to /v1/auth so it goes nowhere else.
const RefreshCookie = "tenantra_refresh"

func (s *Server) routesIdentity() {
	s.handle(http.MethodPost, "/v1/auth/login", authz.Public, s.login)
	s.handle(http.MethodPost, "/v1/auth/refresh", authz.Public, s.refresh)
	s.handle(http.MethodPost, "/v1/auth/logout", authz.Self, s.logout)
	s.handle(http.MethodGet, "/v1/auth/me", authz.Self, s.me)
	s.handle(http.MethodGet, "/v1/auth/sessions", authz.Self, s.sessions)
	s.handle(http.MethodDelete, "/v1/auth/sessions", authz.Self, s.revokeSessions)
	s.handle(http.MethodDelete, "/v1/auth/sessions/:session", authz.Self, s.revokeSession)
	s.handle(http.MethodPost, "/v1/auth/password", authz.Self, s.changePassword)
	s.handle(http.MethodPost, "/v1/auth/mfa/totp", authz.Self, s.startTOTP)
	s.handle(http.MethodPost, "/v1/auth/mfa/totp/confirm", authz.Self, s.confirmTOTP)
	s.handle(http.MethodDelete, "/v1/auth/mfa/totp", authz.Self, s.disableTOTP)

	s.handle(http.MethodGet, "/v1/users", authz.PlatformUsersRead, s.listUsers)
	s.handle(http.MethodPost, "/v1/users", authz.PlatformUsersManage, s.createUser)
	s.handle(http.MethodGet, "/v1/users/:user", authz.PlatformUsersRead, s.getUser)
	s.handle(http.MethodPatch, "/v1/users/:user", authz.PlatformUsersManage, s.updateUser)
	s.handle(http.MethodPost, "/v1/users/:user/password", authz.PlatformUsersManage,
		s.resetPassword)

	s.handle(http.MethodGet, "/v1/tenants/:tenant/users", authz.TenantUsersRead,
		s.listTenantUsers)
	s.handle(http.MethodPost, "/v1/tenants/:tenant/users", authz.TenantUsersManage,
		s.addTenantUser)
	s.handle(http.MethodPut, "/v1/tenants/:tenant/users/:user", authz.TenantUsersManage,
		s.setTenantUserRole)
	s.handle(http.MethodDelete, "/v1/tenants/:tenant/users/:user", authz.TenantUsersManage,
		s.removeTenantUser)

	s.handle(http.MethodGet, "/v1/tenants/:tenant/tokens", authz.TenantTokensRead,
		s.listTokens)
	s.handle(http.MethodPost, "/v1/tenants/:tenant/tokens", authz.TenantTokensManage,
		s.createToken)
	s.handle(http.MethodDelete, "/v1/tenants/:tenant/tokens/:token", authz.TenantTokensManage,
		s.revokeToken)

	s.handle(http.MethodGet, "/v1/tenants/:tenant/audit", authz.TenantAuditRead,
		s.tenantAudit)
	s.handle(http.MethodGet, "/v1/audit", authz.PlatformAuditRead, s.platformAudit)
	s.handle(http.MethodGet, "/v1/audit/verify", authz.PlatformAuditRead, s.verifyAudit)
}

func (s *Server) setRefreshCookie(w http.ResponseWriter, t Tokens) {
	http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: t.RefreshToken,
		Path: "/v1/auth", Expires: t.RefreshExpires, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode})
}

func clearRefreshCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: "", Path: "/v1/auth",
		MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req LoginRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	req.IP, req.UserAgent = clientIP(r), r.UserAgent()
	t, err := s.svc.Login(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setRefreshCookie(w, t)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	c, err := r.Cookie(RefreshCookie)
	if err != nil {
		s.fail(w, r, store.Errorf(store.ErrUnauthenticated, "sign in again: no refresh "+
			"cookie was sent"))
		return
	}
	t, err := s.svc.Refresh(r.Context(), c.Value)
	if err != nil {
		clearRefreshCookie(w)
		s.fail(w, r, err)
		return
	}
	s.setRefreshCookie(w, t)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := s.svc.Logout(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	clearRefreshCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	me, err := s.svc.Me(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, me)
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ss, err := s.svc.Sessions(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ss})
}

func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := s.svc.RevokeOwnSessions(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	clearRefreshCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if err := s.svc.RevokeOwnSession(r.Context(), ps.ByName("session")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// PasswordChange is the body of POST /v1/auth/password.
type PasswordChange struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body PasswordChange
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.svc.ChangePassword(r.Context(), body.OldPassword, body.NewPassword); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) startTOTP(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	e, err := s.svc.StartTOTP(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, e)
}

// TOTPCode is the body of POST /v1/auth/mfa/totp/confirm.
type TOTPCode struct {
	Code string `json:"code"`
}

func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body TOTPCode
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	codes, err := s.svc.ConfirmTOTP(r.Context(), body.Code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

// PasswordBody carries one password, to confirm a sensitive change or set a new one.
type PasswordBody struct {
	Password string `json:"password"`
}

func (s *Server) disableTOTP(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body PasswordBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.svc.DisableTOTP(r.Context(), body.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.writeUsers(w, r, "")
}

func (s *Server) writeUsers(w http.ResponseWriter, r *http.Request, tenantID string) {
	p, err := parsePage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, total, err := s.svc.ListUsers(r.Context(), tenantID, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, items, total, p)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body NewUser
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.svc.CreateUser(r.Context(), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	u, err := s.svc.GetUser(r.Context(), ps.ByName("user"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var body UserUpdate
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.svc.UpdateUser(r.Context(), ps.ByName("user"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var body PasswordBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.svc.ResetPassword(r.Context(), ps.ByName("user"), body.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTenantUsers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.writeUsers(w, r, tenantFrom(r.Context()).ID)
}

// TenantUserAdd is the body of POST /v1/tenants/{tenant}/users: an existing user by email
// gets the role; a new one is created with the password.
type TenantUserAdd struct {
	Email    string           `json:"email"`
	Role     store.TenantRole `json:"role"`
	Password string           `json:"password,omitempty"`
}

func (s *Server) addTenantUser(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body TenantUserAdd
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Email == "" || !body.Role.Valid() {
		s.fail(w, r, store.Errorf(store.ErrInvalid, "email and role (admin, standard or "+
			"auditor) are required"))
		return
	}
	t := tenantFrom(r.Context())
	if body.Password != "" {
		u, err := s.svc.CreateUser(r.Context(), NewUser{Email: body.Email,
			Password: body.Password, Tenant: t.ID, Role: body.Role})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, u)
		return
	}
	u, err := s.svc.SetTenantRole(r.Context(), t.ID, body.Email, body.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// RoleBody is the body of PUT /v1/tenants/{tenant}/users/{user}.
type RoleBody struct {
	Role store.TenantRole `json:"role"`
}

func (s *Server) setTenantUserRole(w http.ResponseWriter, r *http.Request,
	ps httprouter.Params) {
	var body RoleBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.svc.SetTenantRole(r.Context(), tenantFrom(r.Context()).ID, ps.ByName("user"),
		body.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) removeTenantUser(w http.ResponseWriter, r *http.Request,
	ps httprouter.Params) {
	err := s.svc.RemoveTenantUser(r.Context(), tenantFrom(r.Context()).ID, ps.ByName("user"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ts, err := s.svc.ListAPITokens(r.Context(), tenantFrom(r.Context()).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ts})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body NewAPIToken
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.svc.CreateAPIToken(r.Context(), tenantFrom(r.Context()).ID, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	err := s.svc.RevokeAPIToken(r.Context(), tenantFrom(r.Context()).ID, ps.ByName("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AuditVerification is the answer of GET /v1/audit/verify.
type AuditVerification struct {
	Status string `json:"status"`
	Chains int    `json:"chains"`
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	n, err := s.svc.VerifyAudit(r.Context(), r.URL.Query().Get("tenant"))
	var ce *store.ChainError
	if errors.As(err, &ce) {
		s.fail(w, r, errorf(http.StatusConflict, "audit_chain_broken", "%s", err.Error()))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AuditVerification{Status: "ok", Chains: n})
}

func (s *Server) tenantAudit(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.writeAudit(w, r, tenantFrom(r.Context()).ID)
}

func (s *Server) platformAudit(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.writeAudit(w, r, "")
}

// writeAudit lists audit entries with filters (actor, action, since, until as RFC 3339), as
// JSON pages or, with format=csv, as a CSV export of every matching entry.
func (s *Server) writeAudit(w http.ResponseWriter, r *http.Request, tenantID string) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(w, r, errorf(http.StatusBadRequest, "invalid", "%s must be an RFC 3339 "+
					"time such as 2026-01-02T15:04:05Z", name))
				return
			}
			*dst = t
		}
	}
	format := q.Get("format")
	if format == "csv" {
		s.writeAuditCSV(w, r, tenantID, f)
		return
	}
	if format != "" && format != "json" {
		s.fail(w, r, errorf(http.StatusBadRequest, "invalid", "format must be json or csv"))
		return
	}
	p, err := parsePage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, total, err := s.svc.ListAudit(r.Context(), tenantID, f, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, items, total, p)
}

func (s *Server) writeAuditCSV(w http.ResponseWriter, r *http.Request, tenantID string,
	f store.AuditFilter) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(store.AuditCSVHeader)
	for page := 1; ; page++ {
		items, total, err := s.svc.ListAudit(r.Context(), tenantID, f,
			store.Page{Page: page, Size: store.MaxPageSize})
		if err != nil {
			s.log.ErrorContext(r.Context(), "audit export", "error", err)
			return // the header is out; a truncated CSV is all that is left to say
		}
		for _, e := range items {
			_ = cw.Write(e.CSVRecord())
		}
		if len(items) == 0 || page*store.MaxPageSize >= total {
			break
		}
	}
	cw.Flush()
}
