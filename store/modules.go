package store

import "time"

// ModuleVersion is one version of a catalog module as control.db keeps it.
type ModuleVersion struct {
	ModuleID      string    `json:"module_id"`
	Slug          string    `json:"slug"`
	Kind          string    `json:"kind"`
	Name          string    `json:"name"`
	Category      string    `json:"category"`
	Version       string    `json:"version"`
	Checksum      string    `json:"checksum"`
	State         string    `json:"state"`
	Sunset        string    `json:"sunset,omitempty"`
	Profile       string    `json:"profile"`
	Platforms     []string  `json:"platforms"`
	RequiresAdmin bool      `json:"requires_admin"`
	ParamsSchema  string    `json:"-"`
	Changelog     string    `json:"changelog"`
	Severity      string    `json:"severity,omitempty"`
	Frameworks    []string  `json:"frameworks"`
	Source        []byte    `json:"-"`
	Created       time.Time `json:"created"`
	Updated       time.Time `json:"updated"`
}

// ModuleFilter narrows the catalog listing. Zero fields do not filter.
type ModuleFilter struct {
	Kind, Category, State, Framework, Q string
}

// TenantModule is a tenant's switch for one module, with its parameters (a JSON object).
type TenantModule struct {
	Slug    string    `json:"slug"`
	Enabled bool      `json:"enabled"`
	Version string    `json:"version"` // pinned version; "" follows the newest released
	Params  string    `json:"-"`
	Updated time.Time `json:"updated"`
}

// Finding statuses.
const (
	FindingOpen     = "open"
	FindingResolved = "resolved"
	FindingWaived   = "waived" // shown, never stored: an open finding with an active waiver
)

// Finding is a failed check on one resource, kept open while runs keep failing it.
type Finding struct {
	ID          string              `json:"id"`
	Check       string              `json:"check"`
	Version     string              `json:"version"`
	Severity    string              `json:"severity"`
	Title       string              `json:"title"`
	Resource    string              `json:"resource"`
	AssetID     string              `json:"asset_id"`
	Evidence    string              `json:"evidence"`
	Remediation string              `json:"remediation"`
	Mappings    map[string][]string `json:"mappings"`
	Status      string              `json:"status"`
	FirstSeen   time.Time           `json:"first_seen"`
	LastSeen    time.Time           `json:"last_seen"`
	Resolved    time.Time           `json:"resolved,omitzero"`
	Waiver      *Waiver             `json:"waiver,omitempty"`
}

// Waiver accepts the risk of a finding until it expires.
type Waiver struct {
	FindingID string    `json:"-"`
	Reason    string    `json:"reason"`
	Approver  string    `json:"approver"`
	Expires   time.Time `json:"expires_at"`
	Created   time.Time `json:"created"`
}

// FindingFilter narrows the findings list. Status "waived" means open with an active waiver;
// "open" excludes those. Zero fields do not filter.
type FindingFilter struct {
	Severity, Status, Check, AssetID, Q string
	Now                                 time.Time
}

// ModuleRun is one run of the checks over a tenant's facts.
type ModuleRun struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Trigger  string    `json:"trigger"`
	Summary  string    `json:"-"` // JSON
	Errors   string    `json:"-"` // JSON
}

// ComplianceSnapshot is a day's score for a framework ("" is the tenant overall).
type ComplianceSnapshot struct {
	Day       string  `json:"date"`
	Framework string  `json:"framework"`
	Score     float64 `json:"score"`
	Passed    int     `json:"passed"`
	Failed    int     `json:"failed"`
	NA        int     `json:"not_applicable"`
}
