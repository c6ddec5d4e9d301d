package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// ModuleBody is one catalog module version in GET /v1/modules.
type ModuleBody struct {
	Slug          string    `json:"slug"`
	Version       string    `json:"version"`
	Kind          string    `json:"kind"`
	Name          string    `json:"name"`
	Category      string    `json:"category"`
	State         string    `json:"state"`
	Sunset        string    `json:"sunset,omitempty"`
	Profile       string    `json:"profile"`
	Platforms     []string  `json:"platforms"`
	RequiresAdmin bool      `json:"requires_admin"`
	Severity      string    `json:"severity,omitempty"`
	Frameworks    []string  `json:"frameworks"`
	Checksum      string    `json:"checksum"`
	Changelog     string    `json:"changelog"`
	Updated       time.Time `json:"updated"`
	// Parameters is the version's parameters JSON Schema: what PUT …/modules accepts.
	Parameters json.RawMessage `json:"parameters"`
}

// ModuleStateRequest is the body of PATCH /v1/modules/{slug}/versions/{version}: the new
// state, and for "deprecated" the sunset date (YYYY-MM-DD) after which it stops running.
type ModuleStateRequest struct {
	State  string `json:"state"`
	Sunset string `json:"sunset,omitempty"`
}

// TenantModule is a tenant's switch for one module with its parameters.
type TenantModule struct {
	Slug    string `json:"slug"`
	Enabled bool   `json:"enabled"`
	// Version pins one of the module's schedulable versions (the newest released one and the
	// two released before it); empty follows the newest.
	Version string          `json:"version,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	// Schedulable lists the versions a tenant may pin, newest first (answers only).
	Schedulable []string `json:"schedulable,omitempty"`
}

// TenantModulesRequest is the body of PUT /v1/tenants/{tenant}/modules: the switches to
// change; modules not named keep theirs.
type TenantModulesRequest struct {
	Items []TenantModule `json:"items"`
}

// WaiverRequest is the body of POST …/findings/{id}/waiver.
type WaiverRequest struct {
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
}

// FrameworkSummary is a framework's score and control counts for a tenant.
type FrameworkSummary struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Score         *float64 `json:"score"`
	Passed        int      `json:"passed"`
	Failed        int      `json:"failed"`
	NotApplicable int      `json:"not_applicable"`
}

// ComplianceSummary is GET …/compliance: the tenant's score and each framework's.
type ComplianceSummary struct {
	Score      *float64           `json:"score"`
	LastRun    *time.Time         `json:"last_run"`
	Frameworks []FrameworkSummary `json:"frameworks"`
}

// AssetRef names an asset.
type AssetRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ControlBody is one control of a framework with its status and why.
type ControlBody struct {
	ID            string     `json:"id"`
	Title         string     `json:"title"`
	Status        string     `json:"status"` // pass, fail, not_applicable
	FailingAssets []AssetRef `json:"failing_assets"`
	Checks        []string   `json:"checks"`
}

// ComplianceFramework is GET …/compliance?framework=ID: one framework, control by control.
type ComplianceFramework struct {
	Framework FrameworkSummary `json:"framework"`
	Controls  []ControlBody    `json:"controls"`
}

// OverviewItem is one tenant in the MSP overview.
type OverviewItem struct {
	Tenant           AssetRefTenant `json:"tenant"`
	Assets           int            `json:"assets"`
	Score            *float64       `json:"score"`
	CriticalFindings int            `json:"critical_findings"`
	LastScan         *time.Time     `json:"last_scan"`
}

// AssetRefTenant names a tenant.
type AssetRefTenant struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// CatalogDrift is GET /v1/modules/drift (`tenantra modules check`): module versions in the
// fixtures compiled into the binary but not in the database, in the database but not the
// fixtures, with different checksums, and fixture files that do not load.
type CatalogDrift struct {
	Fixtures int      `json:"fixtures"`
	Database int      `json:"database"`
	Missing  []string `json:"missing"`
	Extra    []string `json:"extra"`
	Changed  []string `json:"changed"`
	Invalid  []string `json:"invalid"`
}

// Drifted reports whether the catalog and the fixtures disagree.
func (d CatalogDrift) Drifted() bool {
	return len(d.Missing)+len(d.Extra)+len(d.Changed)+len(d.Invalid) > 0
}

// Checks is the module engine's side of the API: the catalog, tenant enablement, findings,
// waivers, compliance and reports. Tenant methods take the id of a tenant whose membership
// the guard checked.
type Checks interface {
	ListModules(ctx context.Context, f store.ModuleFilter, p store.Page) ([]ModuleBody, int,
		error)
	CheckModules(ctx context.Context) (CatalogDrift, error)
	SetModuleState(ctx context.Context, slug, version string, req ModuleStateRequest) (
		ModuleBody, error)
	TenantModules(ctx context.Context, tenantID string) ([]TenantModule, error)
	SetTenantModules(ctx context.Context, tenantID string, req TenantModulesRequest) (
		[]TenantModule, error)
	ListFindings(ctx context.Context, tenantID string, f store.FindingFilter, p store.Page) (
		[]store.Finding, int, error)
	GetFinding(ctx context.Context, tenantID, id string) (store.Finding, error)
	WaiveFinding(ctx context.Context, tenantID, id string, req WaiverRequest) (store.Finding,
		error)
	ComplianceSummary(ctx context.Context, tenantID string) (ComplianceSummary, error)
	ComplianceFramework(ctx context.Context, tenantID, framework string) (ComplianceFramework,
		error)
	ComplianceTrend(ctx context.Context, tenantID string, days int) (
		[]store.ComplianceSnapshot, error)
	// ComplianceReport writes the report as "csv" or "pdf".
	ComplianceReport(ctx context.Context, tenantID, format string, w io.Writer) error
	// Overview lists the caller's tenants with their headline numbers.
	Overview(ctx context.Context) ([]OverviewItem, error)
}

func (s *Server) routesChecks() {
	cs, ok := s.svc.(Checks)
	if !ok {
		return
	}
	tid := func(r *http.Request) string { return tenantFrom(r.Context()).ID }
	s.handle(http.MethodGet, "/v1/modules", authz.Self,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			q := r.URL.Query()
			p, err := parsePage(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			items, total, err := cs.ListModules(r.Context(), store.ModuleFilter{
				Kind: q.Get("kind"), Category: q.Get("category"), State: q.Get("state"),
				Framework: q.Get("framework"), Q: q.Get("q")}, p)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, total, p)
		})
	s.handle(http.MethodGet, "/v1/modules/drift", authz.PlatformModules,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			d, err := cs.CheckModules(r.Context())
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, d)
		})
	s.handle(http.MethodPatch, "/v1/modules/:slug/versions/:version", authz.PlatformModules,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			var body ModuleStateRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			m, err := cs.SetModuleState(r.Context(), ps.ByName("slug"), ps.ByName("version"),
				body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, m)
		})
	s.handle(http.MethodGet, "/v1/overview", authz.TenantsList,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			items, err := cs.Overview(r.Context())
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, len(items), store.Page{Page: 1, Size: len(items)})
		})
	base := "/v1/tenants/:tenant"
	s.handle(http.MethodGet, base+"/modules", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			items, err := cs.TenantModules(r.Context(), tid(r))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, len(items), store.Page{Page: 1, Size: len(items)})
		})
	s.handle(http.MethodPut, base+"/modules", authz.TenantModulesManage,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			var body TenantModulesRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			items, err := cs.SetTenantModules(r.Context(), tid(r), body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			// Not writeList: a change is never answered 304 Not Modified.
			writeJSON(w, http.StatusOK, ListBody[TenantModule]{Items: items, Total: len(items),
				Page: 1, PageSize: len(items)})
		})
	s.handle(http.MethodGet, base+"/findings", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			q := r.URL.Query()
			p, err := parsePage(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			items, total, err := cs.ListFindings(r.Context(), tid(r), store.FindingFilter{
				Severity: q.Get("severity"), Status: q.Get("status"), Check: q.Get("check"),
				AssetID: q.Get("asset_id"), Q: q.Get("q")}, p)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, total, p)
		})
	s.handle(http.MethodGet, base+"/findings/:finding", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			f, err := cs.GetFinding(r.Context(), tid(r), ps.ByName("finding"))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, f)
		})
	s.handle(http.MethodPost, base+"/findings/:finding/waiver", authz.TenantWaive,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			var body WaiverRequest
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
			f, err := cs.WaiveFinding(r.Context(), tid(r), ps.ByName("finding"), body)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, f)
		})
	s.handle(http.MethodGet, base+"/compliance", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			if fw := r.URL.Query().Get("framework"); fw != "" {
				c, err := cs.ComplianceFramework(r.Context(), tid(r), fw)
				if err != nil {
					s.fail(w, r, err)
					return
				}
				writeJSON(w, http.StatusOK, c)
				return
			}
			c, err := cs.ComplianceSummary(r.Context(), tid(r))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, c)
		})
	s.handle(http.MethodGet, base+"/compliance/trend", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			days := 90
			if v := r.URL.Query().Get("days"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 3660 {
					s.fail(w, r, store.Errorf(store.ErrInvalid,
						"days must be a whole number from 1 to 3660, got %q",
						store.Truncate(v, 20)))
					return
				}
				days = n
			}
			items, err := cs.ComplianceTrend(r.Context(), tid(r), days)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, len(items), store.Page{Page: 1, Size: len(items)})
		})
	for _, format := range []string{"csv", "pdf"} {
		ctype := map[string]string{"csv": "text/csv; charset=utf-8",
			"pdf": "application/pdf"}[format]
		s.handle(http.MethodGet, base+"/reports/compliance."+format, authz.TenantExport,
			func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
				// Rendered into memory first, so a failure is still an error envelope.
				var buf bytes.Buffer
				if err := cs.ComplianceReport(r.Context(), tid(r), format, &buf); err != nil {
					s.fail(w, r, err)
					return
				}
				w.Header().Set("Content-Type", ctype)
				// Slugs are kebab-case already, as the export route relies on too.
				w.Header().Set("Content-Disposition", `attachment; filename="`+
					tenantFrom(r.Context()).Slug+`-compliance.`+format+`"`)
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(buf.Bytes())
			})
	}
}
