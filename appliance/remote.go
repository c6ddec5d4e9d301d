package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tenantra/tenantra/appliance/config"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// Admin is what admin commands use: the same methods whether the command talks to a running
// server through its admin socket or opens the data dir itself.
type Admin interface {
	store.Tenants
	CreateUser(ctx context.Context, nu web.NewUser) (store.User, error)
	GetUser(ctx context.Context, ref string) (store.User, error)
	ListUsers(ctx context.Context, tenantID string, p store.Page) ([]store.User, int, error)
	UpdateUser(ctx context.Context, ref string, up web.UserUpdate) (store.User, error)
	ResetPassword(ctx context.Context, ref, password string) error
	VerifyAudit(ctx context.Context, tenant string) (int, error)
	SubmitScan(ctx context.Context, tenantRef string, req web.ScanRequest) (store.ScanJob,
		error)
	GetScan(ctx context.Context, tenantRef, id string) (store.ScanJob, error)
	CancelScan(ctx context.Context, tenantRef, id string) (store.ScanJob, error)
	WatchScan(ctx context.Context, tenantRef, id string) (<-chan store.ScanJob, error)
	BackupTo(ctx context.Context, passphrase []byte, w io.Writer, size func(int64)) error
	Export(ctx context.Context, tenantRef, format string, passphrase []byte,
		w io.Writer) error
	KeyStatus(ctx context.Context) (web.KeyStatus, error)
	RotateKeys(ctx context.Context, req web.KeyRotateRequest) (web.KeyRotateResult, error)
	CreateCredential(ctx context.Context, tenantRef string, req web.CredentialRequest) (
		store.Credential, error)
	ListCredentials(ctx context.Context, tenantRef string) ([]store.Credential, error)
	DeleteCredential(ctx context.Context, tenantRef, ref string) error
	TestCredential(ctx context.Context, tenantRef, ref string,
		req web.CredentialTestRequest) (web.CredentialTestResult, error)
	ListModules(ctx context.Context, f store.ModuleFilter, p store.Page) ([]web.ModuleBody,
		int, error)
	CheckModules(ctx context.Context) (web.CatalogDrift, error)
	ListFindings(ctx context.Context, tenantRef string, f store.FindingFilter, p store.Page) (
		[]store.Finding, int, error)
	ComplianceSummary(ctx context.Context, tenantRef string) (web.ComplianceSummary, error)
	ComplianceFramework(ctx context.Context, tenantRef, framework string) (
		web.ComplianceFramework, error)
	ComplianceReport(ctx context.Context, tenantRef, format string, w io.Writer) error
}

var (
	_ Admin       = (*Appliance)(nil)
	_ Admin       = (*remote)(nil)
	_ web.Service = (*Appliance)(nil)
)

// Connect returns the tenant service for an admin command: through the admin socket of a
// running server, or else by opening the data dir under its lock. Either way the same
// Appliance methods do the work. Call the returned close function when done.
func Connect(ctx context.Context, cfg config.Config, opt Options) (Admin, func() error,
	error) {
	sock := filepath.Join(cfg.DataDir, SocketFile)
	d := net.Dialer{Timeout: 2 * time.Second}
	if c, err := d.DialContext(ctx, "unix", sock); err == nil {
		c.Close()
		r := &remote{hc: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", sock)
			},
		}}}
		return r, func() error { r.hc.CloseIdleConnections(); return nil }, nil
	}
	a, err := Open(ctx, cfg, opt)
	if err != nil {
		return nil, nil, err
	}
	return a, a.Close, nil
}

// remote calls a running server's API over its admin socket and turns error envelopes back
// into the store's error kinds, so commands behave the same either way.
type remote struct{ hc *http.Client }

func (r *remote) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := r.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// send makes one request over the socket; an error status comes back as the store's error
// kind, so the caller gets a successful response or an error, never both.
func (r *remote) send(ctx context.Context, method, path string, body any) (*http.Response,
	error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://tenantra"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func (r *remote) CreateTenant(ctx context.Context, slug, name string) (store.Tenant, error) {
	var t store.Tenant
	err := r.do(ctx, http.MethodPost, "/v1/tenants", web.TenantCreate{Slug: slug, Name: name}, &t)
	return t, err
}

func (r *remote) GetTenant(ctx context.Context, ref string) (store.Tenant, error) {
	var t store.Tenant
	err := r.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(ref), nil, &t)
	return t, err
}

func (r *remote) ListTenants(ctx context.Context, p store.Page) ([]store.Tenant, int, error) {
	var l web.ListBody[store.Tenant]
	q := url.Values{"page": {strconv.Itoa(p.Page)}, "page_size": {strconv.Itoa(p.Size)}}
	err := r.do(ctx, http.MethodGet, "/v1/tenants?"+q.Encode(), nil, &l)
	return l.Items, l.Total, err
}

func (r *remote) UpdateTenant(ctx context.Context, ref string,
	u store.TenantUpdate) (store.Tenant, error) {
	var t store.Tenant
	err := r.do(ctx, http.MethodPatch, "/v1/tenants/"+url.PathEscape(ref), u, &t)
	return t, err
}

func (r *remote) DeleteTenant(ctx context.Context, ref string) error {
	return r.do(ctx, http.MethodDelete, "/v1/tenants/"+url.PathEscape(ref), nil, nil)
}

func (r *remote) CreateUser(ctx context.Context, nu web.NewUser) (store.User, error) {
	var u store.User
	err := r.do(ctx, http.MethodPost, "/v1/users", nu, &u)
	return u, err
}

func (r *remote) GetUser(ctx context.Context, ref string) (store.User, error) {
	var u store.User
	err := r.do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(ref), nil, &u)
	return u, err
}

func (r *remote) ListUsers(ctx context.Context, tenantID string, p store.Page) ([]store.User,
	int, error) {
	var l web.ListBody[store.User]
	q := url.Values{"page": {strconv.Itoa(p.Page)}, "page_size": {strconv.Itoa(p.Size)}}
	path := "/v1/users?"
	if tenantID != "" {
		path = "/v1/tenants/" + url.PathEscape(tenantID) + "/users?"
	}
	err := r.do(ctx, http.MethodGet, path+q.Encode(), nil, &l)
	return l.Items, l.Total, err
}

func (r *remote) UpdateUser(ctx context.Context, ref string, up web.UserUpdate) (store.User,
	error) {
	var u store.User
	err := r.do(ctx, http.MethodPatch, "/v1/users/"+url.PathEscape(ref), up, &u)
	return u, err
}

func (r *remote) ResetPassword(ctx context.Context, ref, password string) error {
	return r.do(ctx, http.MethodPost, "/v1/users/"+url.PathEscape(ref)+"/password",
		web.PasswordBody{Password: password}, nil)
}

func (r *remote) VerifyAudit(ctx context.Context, tenant string) (int, error) {
	var v web.AuditVerification
	err := r.do(ctx, http.MethodGet, "/v1/audit/verify?"+url.Values{"tenant": {tenant}}.Encode(),
		nil, &v)
	return v.Chains, err
}

// stream posts body and copies a successful response to w; errors come back as envelopes.
func (r *remote) stream(ctx context.Context, path string, body any, w io.Writer,
	size func(int64)) error {
	resp, err := r.send(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if size != nil {
		n, _ := strconv.ParseInt(resp.Header.Get("X-Tenantra-Backup-Size"), 10, 64)
		size(n)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("the server stopped sending (the output is incomplete): %w", err)
	}
	return nil
}

func (r *remote) BackupTo(ctx context.Context, passphrase []byte, w io.Writer,
	size func(int64)) error {
	return r.stream(ctx, "/v1/backup", web.BackupRequest{Passphrase: string(passphrase)}, w,
		size)
}

func (r *remote) Export(ctx context.Context, tenantRef, format string, passphrase []byte,
	w io.Writer) error {
	return r.stream(ctx, "/v1/tenants/"+url.PathEscape(tenantRef)+"/export",
		web.ExportRequest{Format: format, Passphrase: string(passphrase)}, w, nil)
}

// decodeError turns an error envelope back into the store's error kinds, so commands behave
// the same through the socket as on the data dir.
func decodeError(resp *http.Response) error {
	var eb web.ErrorBody
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&eb); err != nil {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	kind := map[string]error{"invalid": store.ErrInvalid, "not_found": store.ErrNotFound,
		"conflict": store.ErrConflict}[eb.Error.Code]
	if eb.Error.Code == "audit_chain_broken" {
		return errors.New(eb.Error.Message)
	}
	if kind == nil { // the server logged the cause under the trace id
		return fmt.Errorf("%s (trace_id %s)", eb.Error.Message, eb.Error.TraceID)
	}
	return store.Errorf(kind, "%s", eb.Error.Message)
}

func (r *remote) KeyStatus(ctx context.Context) (web.KeyStatus, error) {
	var st web.KeyStatus
	err := r.do(ctx, http.MethodGet, "/v1/keys", nil, &st)
	return st, err
}

func (r *remote) RotateKeys(ctx context.Context, req web.KeyRotateRequest) (
	web.KeyRotateResult, error) {
	var res web.KeyRotateResult
	err := r.do(ctx, http.MethodPost, "/v1/keys/rotate", req, &res)
	return res, err
}

// remoteWatchPoll is how often a command following a job through the socket asks for it.
const remoteWatchPoll = 500 * time.Millisecond

func scanPath(tenantRef string, rest ...string) string {
	p := "/v1/tenants/" + url.PathEscape(tenantRef) + "/scans"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// SubmitScan queues a scan in the server.
func (r *remote) SubmitScan(ctx context.Context, tenantRef string, req web.ScanRequest) (
	store.ScanJob, error) {
	var j store.ScanJob
	err := r.do(ctx, http.MethodPost, scanPath(tenantRef), req, &j)
	return j, err
}

// GetScan reads one job.
func (r *remote) GetScan(ctx context.Context, tenantRef, id string) (store.ScanJob, error) {
	var j store.ScanJob
	err := r.do(ctx, http.MethodGet, scanPath(tenantRef, id), nil, &j)
	return j, err
}

// CancelScan cancels a job.
func (r *remote) CancelScan(ctx context.Context, tenantRef, id string) (store.ScanJob,
	error) {
	var j store.ScanJob
	err := r.do(ctx, http.MethodDelete, scanPath(tenantRef, id), nil, &j)
	return j, err
}

// WatchScan follows a job by asking for it every half second until it ends.
func (r *remote) WatchScan(ctx context.Context, tenantRef, id string) (<-chan store.ScanJob,
	error) {
	j, err := r.GetScan(ctx, tenantRef, id)
	if err != nil {
		return nil, err
	}
	out := make(chan store.ScanJob)
	go func() {
		defer close(out)
		tick := time.NewTicker(remoteWatchPoll)
		defer tick.Stop()
		for {
			select {
			case out <- j:
			case <-ctx.Done():
				return
			}
			if j.State.Final() {
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			if j, err = r.GetScan(ctx, tenantRef, id); err != nil {
				return
			}
		}
	}()
	return out, nil
}

func credPath(tenantRef string, rest ...string) string {
	p := "/v1/tenants/" + url.PathEscape(tenantRef) + "/credentials"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// CreateCredential stores a credential in the server's vault.
func (r *remote) CreateCredential(ctx context.Context, tenantRef string,
	req web.CredentialRequest) (store.Credential, error) {
	var c store.Credential
	err := r.do(ctx, http.MethodPost, credPath(tenantRef), req, &c)
	return c, err
}

// ListCredentials lists the vault's metadata.
func (r *remote) ListCredentials(ctx context.Context, tenantRef string) ([]store.Credential,
	error) {
	var body web.ListBody[store.Credential]
	err := r.do(ctx, http.MethodGet, credPath(tenantRef), nil, &body)
	return body.Items, err
}

// DeleteCredential removes a credential.
func (r *remote) DeleteCredential(ctx context.Context, tenantRef, ref string) error {
	return r.do(ctx, http.MethodDelete, credPath(tenantRef, ref), nil, nil)
}

// TestCredential runs a test-connection in the server.
func (r *remote) TestCredential(ctx context.Context, tenantRef, ref string,
	req web.CredentialTestRequest) (web.CredentialTestResult, error) {
	var res web.CredentialTestResult
	err := r.do(ctx, http.MethodPost, credPath(tenantRef, ref, "test"), req, &res)
	return res, err
}

// ListModules lists the catalog, a page of at most 100 at a time (the API's maximum).
func (r *remote) ListModules(ctx context.Context, f store.ModuleFilter, p store.Page) (
	[]web.ModuleBody, int, error) {
	return pages(p, func(p store.Page) ([]web.ModuleBody, int, error) {
		return r.listModules(ctx, f, p)
	})
}

// pages fetches a large page as several API pages of 100.
func pages[T any](p store.Page, get func(store.Page) ([]T, int, error)) ([]T, int, error) {
	if p.Size <= store.MaxPageSize {
		return get(p)
	}
	var out []T
	first := (max(p.Page, 1) - 1) * p.Size
	for n := first / store.MaxPageSize; ; n++ {
		items, total, err := get(store.Page{Page: n + 1, Size: store.MaxPageSize})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, items...)
		if len(items) < store.MaxPageSize || len(out) >= p.Size ||
			(n+1)*store.MaxPageSize >= total {
			return out[:min(len(out), p.Size)], total, nil
		}
	}
}

func (r *remote) listModules(ctx context.Context, f store.ModuleFilter, p store.Page) (
	[]web.ModuleBody, int, error) {
	q := url.Values{}
	for k, v := range map[string]string{"kind": f.Kind, "category": f.Category,
		"state": f.State, "framework": f.Framework, "q": f.Q} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("page", strconv.Itoa(max(p.Page, 1)))
	q.Set("page_size", strconv.Itoa(p.Size))
	var body web.ListBody[web.ModuleBody]
	err := r.do(ctx, http.MethodGet, "/v1/modules?"+q.Encode(), nil, &body)
	return body.Items, body.Total, err
}

// CheckModules compares the server's catalog with the fixtures compiled into it.
func (r *remote) CheckModules(ctx context.Context) (web.CatalogDrift, error) {
	var d web.CatalogDrift
	err := r.do(ctx, http.MethodGet, "/v1/modules/drift", nil, &d)
	return d, err
}

// ListFindings lists a tenant's findings.
func (r *remote) ListFindings(ctx context.Context, tenantRef string, f store.FindingFilter,
	p store.Page) ([]store.Finding, int, error) {
	return pages(p, func(p store.Page) ([]store.Finding, int, error) {
		return r.listFindings(ctx, tenantRef, f, p)
	})
}

func (r *remote) listFindings(ctx context.Context, tenantRef string, f store.FindingFilter,
	p store.Page) ([]store.Finding, int, error) {
	q := url.Values{}
	for k, v := range map[string]string{"severity": f.Severity, "status": f.Status,
		"check": f.Check, "asset_id": f.AssetID, "q": f.Q} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("page", strconv.Itoa(max(p.Page, 1)))
	q.Set("page_size", strconv.Itoa(p.Size))
	var body web.ListBody[store.Finding]
	err := r.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(tenantRef)+"/findings?"+
		q.Encode(), nil, &body)
	return body.Items, body.Total, err
}

// ComplianceSummary reads a tenant's scores.
func (r *remote) ComplianceSummary(ctx context.Context, tenantRef string) (
	web.ComplianceSummary, error) {
	var c web.ComplianceSummary
	err := r.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(tenantRef)+"/compliance",
		nil, &c)
	return c, err
}

// ComplianceFramework reads one framework's controls.
func (r *remote) ComplianceFramework(ctx context.Context, tenantRef, framework string) (
	web.ComplianceFramework, error) {
	var c web.ComplianceFramework
	err := r.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(tenantRef)+
		"/compliance?framework="+url.QueryEscape(framework), nil, &c)
	return c, err
}

// ComplianceReport downloads a report.
func (r *remote) ComplianceReport(ctx context.Context, tenantRef, format string,
	w io.Writer) error {
	if format != "csv" && format != "pdf" {
		return store.Errorf(store.ErrInvalid, "report format %q is unknown; use csv or pdf",
			store.Truncate(format, 20))
	}
	resp, err := r.send(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(tenantRef)+
		"/reports/compliance."+format, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}
