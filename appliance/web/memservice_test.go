package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// memService is an in-memory web.Service for the handler tests. Only the HTTP edge is under
// test here; the real store has its own contract suite (store/storetest). The fake therefore
// mirrors exactly what the edge depends on: the store's validation, its user-facing messages
// and its sentinel error kinds.
type memService struct {
	identityFake
	mu      sync.Mutex
	tenants map[string]store.Tenant // by slug
	seq     int

	// before, when set, runs first in every tenant method with the method's name and the
	// slug or ref; it may panic or return an error, which the method then returns.
	before func(op, ref string) error
	// readyErr is what Ready returns.
	readyErr error
}

// testTime is the fake's clock: every tenant is created and updated at this instant.
var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var _ web.Service = (*memService)(nil)

func newMemService(slugs ...string) *memService {
	m := &memService{tenants: map[string]store.Tenant{}}
	for _, s := range slugs {
		if _, err := m.CreateTenant(context.Background(), s, "Tenant "+s); err != nil {
			panic(err)
		}
	}
	return m
}

func (m *memService) hook(op, ref string) error {
	if m.before == nil {
		return nil
	}
	return m.before(op, ref)
}

func (m *memService) CreateTenant(_ context.Context, slug, name string) (store.Tenant, error) {
	if err := m.hook("CreateTenant", slug); err != nil {
		return store.Tenant{}, err
	}
	if err := store.ValidateSlug(slug); err != nil {
		return store.Tenant{}, err
	}
	if err := store.ValidateTenantName(name); err != nil {
		return store.Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tenants[slug]; ok {
		return store.Tenant{}, store.Errorf(store.ErrConflict,
			"tenant slug %q is already taken; choose another", slug)
	}
	m.seq++
	t := store.Tenant{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", m.seq), Slug: slug,
		Name: name, Status: store.TenantActive, KeyVersion: 1, CreatedAt: testTime,
		UpdatedAt: testTime}
	m.tenants[slug] = t
	return t, nil
}

// find returns the tenant with this slug or id; m.mu must be held.
func (m *memService) find(ref string) (store.Tenant, error) {
	if t, ok := m.tenants[ref]; ok {
		return t, nil
	}
	for _, t := range m.tenants {
		if t.ID == ref {
			return t, nil
		}
	}
	return store.Tenant{}, store.Errorf(store.ErrNotFound, "tenant %q does not exist", ref)
}

func (m *memService) GetTenant(_ context.Context, ref string) (store.Tenant, error) {
	if err := m.hook("GetTenant", ref); err != nil {
		return store.Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.find(ref)
}

// ListTenants returns a nil slice for an empty page, which the handler must still render as
// an empty JSON array.
func (m *memService) ListTenants(_ context.Context, p store.Page) ([]store.Tenant, int,
	error) {
	if err := m.hook("ListTenants", ""); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	all := make([]store.Tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b store.Tenant) int { return strings.Compare(a.Slug, b.Slug) })
	if p.Offset() >= len(all) {
		return nil, len(all), nil
	}
	return all[p.Offset():min(p.Offset()+p.Size, len(all))], len(all), nil
}

func (m *memService) UpdateTenant(_ context.Context, ref string,
	u store.TenantUpdate) (store.Tenant, error) {
	if err := m.hook("UpdateTenant", ref); err != nil {
		return store.Tenant{}, err
	}
	if u.Name != nil {
		if err := store.ValidateTenantName(*u.Name); err != nil {
			return store.Tenant{}, err
		}
	}
	if u.Status != nil && *u.Status != store.TenantActive && *u.Status != store.TenantSuspended {
		return store.Tenant{}, store.Errorf(store.ErrInvalid, "status must be %q or %q",
			store.TenantActive, store.TenantSuspended)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.find(ref)
	if err != nil {
		return store.Tenant{}, err
	}
	if u.Name != nil {
		t.Name = *u.Name
	}
	if u.Status != nil {
		t.Status = *u.Status
	}
	m.tenants[t.Slug] = t
	return t, nil
}

func (m *memService) DeleteTenant(_ context.Context, ref string) error {
	if err := m.hook("DeleteTenant", ref); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.find(ref)
	if err != nil {
		return err
	}
	delete(m.tenants, t.Slug)
	return nil
}

func (m *memService) Ready(context.Context) error { return m.readyErr }

// ListAssets and GetAsset make the fake an inventory with no assets, so that the asset
// routes are registered; their behaviour is tested against the real store in package
// appliance.
func (m *memService) ListAssets(context.Context, string, web.AssetFilter, store.Page) (
	[]web.AssetBody, int, error) {
	return nil, 0, nil
}

func (m *memService) GetAsset(_ context.Context, _, id string) (web.AssetDetail, error) {
	return web.AssetDetail{}, store.Errorf(store.ErrNotFound, "asset %q does not exist", id)
}

// loopbackAddr is the RemoteAddr of test requests unless a test says otherwise.
const loopbackAddr = "127.0.0.1:40000"

// testAdminToken is the bearer token the fake accepts, as a platform admin.
const testAdminToken = "test-admin"

// newRequest builds a request signed in as the fake's admin, with a JSON content type when it
// has a body.
func newRequest(method, target, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.RemoteAddr = loopbackAddr
	r.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

var traceIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkEnvelope checks that body is exactly the error envelope of ARCHITECTURE §5 and that its
// trace id is the one in the X-Trace-Id header, and returns its contents.
func checkEnvelope(t testing.TB, header http.Header, body []byte) web.ErrorDetail {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil || len(outer) != 1 ||
		outer["error"] == nil {
		t.Fatalf("body is not an envelope {\"error\": {...}}: %q (%v)", body, err)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Fatalf("error is not an object: %q", body)
	}
	for k := range inner {
		if !slices.Contains([]string{"code", "message", "details", "trace_id"}, k) {
			t.Errorf("envelope has unexpected key %q: %s", k, body)
		}
	}
	var eb web.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("decode envelope %q: %v", body, err)
	}
	e := eb.Error
	if e.Code == "" || e.Message == "" {
		t.Errorf("envelope lacks code or message: %s", body)
	}
	if !traceIDRE.MatchString(e.TraceID) {
		t.Errorf("trace_id = %q, want 32 hex digits", e.TraceID)
	}
	if h := header.Get("X-Trace-Id"); e.TraceID != h {
		t.Errorf("trace_id = %q, X-Trace-Id header = %q; want equal", e.TraceID, h)
	}
	return e
}

// decodeStrict decodes one JSON value into v, failing on unknown fields or trailing data.
func decodeStrict(t testing.TB, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, body, err)
	}
	if dec.More() {
		t.Fatalf("trailing data after %T in %q", v, body)
	}
}

// identityFake gives the fake the identity half of web.Service: one admin token, and no
// users, sessions or audit trail (those run against the real store in the appliance's tests).
type identityFake struct{}

var errNotInFake = store.Errorf(store.ErrInvalid, "not supported by the test fake")

func (identityFake) Authenticate(_ context.Context, bearer string) (*authz.Principal, error) {
	if bearer == testAdminToken {
		return &authz.Principal{UserID: "u1", Email: "admin@test",
			PlatformRole: store.PlatformAdmin}, nil
	}
	return nil, store.Errorf(store.ErrUnauthenticated, "the access token is not valid")
}
func (identityFake) Login(context.Context, web.LoginRequest) (web.Tokens, error) {
	return web.Tokens{}, errNotInFake
}
func (identityFake) Refresh(context.Context, string) (web.Tokens, error) {
	return web.Tokens{}, errNotInFake
}
func (identityFake) Logout(context.Context) error { return errNotInFake }
func (identityFake) Me(context.Context) (web.Me, error) {
	return web.Me{}, errNotInFake
}
func (identityFake) RevokeOwnSession(context.Context, string) error { return errNotInFake }
func (identityFake) RevokeOwnSessions(context.Context) error        { return errNotInFake }
func (identityFake) Sessions(context.Context) ([]store.Session, error) {
	return nil, errNotInFake
}
func (identityFake) ChangePassword(context.Context, string, string) error { return errNotInFake }
func (identityFake) StartTOTP(context.Context) (web.TOTPEnrolment, error) {
	return web.TOTPEnrolment{}, errNotInFake
}
func (identityFake) ConfirmTOTP(context.Context, string) ([]string, error) {
	return nil, errNotInFake
}
func (identityFake) DisableTOTP(context.Context, string) error { return errNotInFake }
func (identityFake) CreateUser(context.Context, web.NewUser) (store.User, error) {
	return store.User{}, errNotInFake
}
func (identityFake) GetUser(context.Context, string) (store.User, error) {
	return store.User{}, errNotInFake
}
func (identityFake) ListUsers(context.Context, string, store.Page) ([]store.User, int, error) {
	return nil, 0, errNotInFake
}
func (identityFake) UpdateUser(context.Context, string, web.UserUpdate) (store.User, error) {
	return store.User{}, errNotInFake
}
func (identityFake) ResetPassword(context.Context, string, string) error { return errNotInFake }
func (identityFake) SetTenantRole(context.Context, string, string, store.TenantRole) (
	store.User, error) {
	return store.User{}, errNotInFake
}
func (identityFake) RemoveTenantUser(context.Context, string, string) error {
	return errNotInFake
}
func (identityFake) CreateAPIToken(context.Context, string, web.NewAPIToken) (
	web.CreatedAPIToken, error) {
	return web.CreatedAPIToken{}, errNotInFake
}
func (identityFake) ListAPITokens(context.Context, string) ([]store.APIToken, error) {
	return nil, errNotInFake
}
func (identityFake) RevokeAPIToken(context.Context, string, string) error { return errNotInFake }
func (identityFake) ListAudit(context.Context, string, store.AuditFilter, store.Page) (
	[]store.AuditEvent, int, error) {
	return nil, 0, errNotInFake
}
func (identityFake) VerifyAudit(context.Context, string) (int, error) {
	return 0, errNotInFake
}
func (identityFake) AuditDenied(context.Context, string, string, string, string) {}
func (identityFake) BackupTo(context.Context, []byte, io.Writer, func(int64)) error {
	return errNotInFake
}
func (identityFake) Export(context.Context, string, string, []byte, io.Writer) error {
	return errNotInFake
}
func (identityFake) SubmitScan(context.Context, string, web.ScanRequest) (store.ScanJob,
	error) {
	return store.ScanJob{}, errNotInFake
}
func (identityFake) ListScans(context.Context, string, store.Page) ([]store.ScanJob, int,
	error) {
	return nil, 0, errNotInFake
}
func (identityFake) GetScan(context.Context, string, string) (store.ScanJob, error) {
	return store.ScanJob{}, errNotInFake
}
func (identityFake) CancelScan(context.Context, string, string) (store.ScanJob, error) {
	return store.ScanJob{}, errNotInFake
}
func (identityFake) WatchScan(context.Context, string, string) (<-chan store.ScanJob,
	error) {
	return nil, errNotInFake
}
func (identityFake) CreateScanSchedule(context.Context, string, web.ScanScheduleRequest) (
	store.ScanSchedule, error) {
	return store.ScanSchedule{}, errNotInFake
}
func (identityFake) ListScanSchedules(context.Context, string) ([]store.ScanSchedule,
	error) {
	return nil, errNotInFake
}
func (identityFake) DeleteScanSchedule(context.Context, string, string) error {
	return errNotInFake
}
func (identityFake) CreateCredential(context.Context, string, web.CredentialRequest) (
	store.Credential, error) {
	return store.Credential{}, errNotInFake
}
func (identityFake) ListCredentials(context.Context, string) ([]store.Credential, error) {
	return nil, errNotInFake
}
func (identityFake) DeleteCredential(context.Context, string, string) error {
	return errNotInFake
}
func (identityFake) TestCredential(context.Context, string, string,
	web.CredentialTestRequest) (web.CredentialTestResult, error) {
	return web.CredentialTestResult{}, errNotInFake
}
