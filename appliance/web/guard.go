package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

type tenantKey struct{}

// tenantFrom returns the tenant that guard resolved for a tenant route.
func tenantFrom(ctx context.Context) store.Tenant {
	t, _ := ctx.Value(tenantKey{}).(store.Tenant)
	return t
}

// guard authenticates the caller and checks the route's action. For tenant routes it
// resolves the tenant first and answers "not found" to callers who are not members, exactly
// as for a tenant that does not exist, so that slugs of other tenants do not leak. Only then
// is the tenant handed to the handler.
func (s *Server) guard(r *http.Request, action authz.Action, tenantRef string) (*http.Request,
	error) {
	ctx := r.Context()
	var p *authz.Principal
	switch {
	case s.opt.Trusted:
		p = authz.LocalAdmin()
	case action != authz.Public:
		h := r.Header.Get("Authorization")
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || bearer == "" {
			return r, store.Errorf(store.ErrUnauthenticated, "sign in first: send "+
				"Authorization: Bearer <access token or API token>")
		}
		var err error
		if p, err = s.svc.Authenticate(ctx, strings.TrimSpace(bearer)); err != nil {
			return r, err
		}
	}
	ctx = authz.WithPrincipal(ctx, p)
	r = r.WithContext(ctx)
	if action.IsTenant() {
		t, err := s.svc.GetTenant(ctx, tenantRef)
		if errors.Is(err, store.ErrNotFound) || err == nil && !authz.IsMember(p, t.ID) {
			return r, store.Errorf(store.ErrNotFound, "tenant %q does not exist",
				store.Truncate(tenantRef, 60))
		}
		if err != nil {
			return r, err
		}
		if !authz.Allow(p, action, t.ID) {
			s.svc.AuditDenied(ctx, t.ID, string(action), r.URL.Path, "role")
			return r, store.Errorf(store.ErrForbidden, "your role in tenant %s does not "+
				"allow this", t.Slug)
		}
		if t.RequireMFA && !p.Local && p.TokenID == "" && !p.MFA {
			s.svc.AuditDenied(ctx, t.ID, string(action), r.URL.Path, "mfa required")
			return r, store.Errorf(store.ErrForbidden, "tenant %s requires two-factor "+
				"sign-in; enrol an authenticator (POST /v1/auth/mfa/totp) and sign in again",
				t.Slug)
		}
		return r.WithContext(context.WithValue(ctx, tenantKey{}, t)), nil
	}
	if !authz.Allow(p, action, "") {
		s.svc.AuditDenied(ctx, "", string(action), r.URL.Path, "role")
		return r, store.Errorf(store.ErrForbidden, "this needs the platform admin role")
	}
	return r, nil
}

// deny answers a request that guard refused.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, err error) {
	s.fail(w, r, err)
}

// clientIP is the peer address; proxies are not trusted to say otherwise.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
