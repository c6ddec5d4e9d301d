// Package report owns rendering compliance reports: the CSV export of every framework
// control and the branded PDF a tenant hands to an auditor. It takes its own input types
// (Data and what it holds), so that it depends on neither the scanner nor the store's
// schema: the appliance maps its compliance state into Data and picks a writer.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tenantra/tenantra/store"
)

// Control statuses.
const (
	StatusPass          = "pass"
	StatusFail          = "fail"
	StatusNotApplicable = "not_applicable"
)

// Finding statuses.
const (
	FindingOpen   = "open"
	FindingWaived = "waived"
)

// Data is everything one report shows about one tenant. Frameworks, their controls, the
// trend and the findings are rendered in the order given: the caller passes catalog order
// (controls) and its own ranking (findings), which a sort here would destroy.
type Data struct {
	TenantName  string
	TenantSlug  string
	Logo        []byte // PNG or JPEG; optional
	GeneratedAt time.Time
	Score       float64 // the tenant's overall score, 0–100
	Frameworks  []Framework
	Trend       []TrendPoint
	Findings    []Finding
}

// Framework is one compliance framework's state for the tenant.
type Framework struct {
	ID            string
	Name          string
	Score         float64 // 0–100
	Passed        int
	Failed        int
	NotApplicable int
	Controls      []Control
}

// Control is one control of a framework and what decided its status.
type Control struct {
	ID            string
	Title         string
	Status        string // StatusPass, StatusFail or StatusNotApplicable
	FailingAssets []string
	Checks        []string
}

// TrendPoint is one framework's score on one day.
type TrendPoint struct {
	Date      time.Time
	Framework string // a Framework's ID (or, failing that, its name)
	Score     float64
}

// Finding is one finding on one asset.
type Finding struct {
	ID        string
	Check     string
	Severity  string
	Title     string
	Resource  string
	AssetName string
	Status    string // FindingOpen or FindingWaived
	Waiver    string // why it is waived, when it is
	FirstSeen time.Time
	LastSeen  time.Time
}

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"framework_id", "framework", "control_id", "title", "status",
	"failing_assets", "checks"}

// WriteCSV writes one row per framework control under CSVHeader, as RFC 4180 CSV (CRLF line
// ends, quoted where needed). Failing assets and checks are sets, so they are sorted and
// joined with ";" to keep the output the same for the same data. Every text cell is
// defused against spreadsheet formula injection.
func WriteCSV(w io.Writer, d Data) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write report csv header: %w", err)
	}
	for _, fw := range d.Frameworks {
		for _, c := range fw.Controls {
			rec := []string{cellSafe(fw.ID), cellSafe(fw.Name), cellSafe(c.ID),
				cellSafe(c.Title), cellSafe(c.Status), cellSafe(joinSorted(c.FailingAssets)),
				cellSafe(joinSorted(c.Checks))}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write report csv row %s/%s: %w", fw.ID, c.ID, err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	return nil
}

// cellSafe extends store.CSVSafe (=, +, - and @) with a leading tab or carriage return,
// which spreadsheets also strip before evaluating a formula.
func cellSafe(v string) string {
	if v != "" && (v[0] == '\t' || v[0] == '\r') {
		return "'" + v
	}
	return store.CSVSafe(v)
}

func joinSorted(vs []string) string {
	s := slices.Clone(vs)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ";")
}
