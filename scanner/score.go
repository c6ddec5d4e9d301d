package scanner

import (
	"math"
	"sort"
	"time"
)

// Control statuses in scores and benchmarks.
const (
	StatusPass          = "pass"
	StatusFail          = "fail"
	StatusNotApplicable = "not_applicable"
)

// Waiver accepts a risk: failures it matches no longer fail controls nor count in scores,
// but stay listed as waived. Set FindingID to waive one finding, or Check and/or AssetID to
// waive a check everywhere, a check on an asset, or everything on an asset.
type Waiver struct {
	FindingID string    `json:"finding_id,omitempty"`
	Check     string    `json:"check,omitempty"`
	AssetID   string    `json:"asset_id,omitempty"`
	Expires   time.Time `json:"expires,omitzero"` // zero = never
	Reason    string    `json:"reason,omitempty"`
}

// active reports whether the waiver applies at now and matches the finding.
func (w Waiver) matches(f *Finding, now time.Time) bool {
	if w.FindingID == "" && w.Check == "" && w.AssetID == "" {
		return false // an empty waiver waives nothing rather than everything
	}
	if !w.Expires.IsZero() && !now.Before(w.Expires) {
		return false
	}
	return (w.FindingID == "" || w.FindingID == f.ID) &&
		(w.Check == "" || w.Check == f.Check) &&
		(w.AssetID == "" || w.AssetID == f.AssetID)
}

// Scores is a run scored against frameworks and waivers (ADR 0009).
type Scores struct {
	// Tenant covers every applicable evaluation of the run.
	Tenant ScoreLine `json:"tenant"`
	// Assets has one line per asset with applicable evaluations, sorted by asset id.
	Assets []AssetScore `json:"assets"`
	// Frameworks has one entry per framework, sorted by id.
	Frameworks []FrameworkScore `json:"frameworks"`
	// Waived lists the failures active waivers matched, in the order of Result.Findings.
	Waived []Finding `json:"waived"`
}

// ScoreLine is a weighted score with its counts; Score is nil when nothing applicable
// carried weight.
type ScoreLine struct {
	Score  *float64 `json:"score"`
	Passed int      `json:"passed"`
	Failed int      `json:"failed"`
	Waived int      `json:"waived"`
}

// AssetScore is one asset's score over its subjects' evaluations.
type AssetScore struct {
	AssetID string `json:"asset_id"`
	Name    string `json:"name"`
	ScoreLine
}

// FrameworkScore is a framework's weighted score and its controls' statuses.
type FrameworkScore struct {
	Framework string `json:"framework"`
	Name      string `json:"name"`
	ScoreLine
	ControlsPassed int            `json:"controls_passed"`
	ControlsFailed int            `json:"controls_failed"`
	Controls       []ControlScore `json:"controls"`
}

// ControlScore is one control's status and the evaluations of the checks mapped to it.
type ControlScore struct {
	Control string `json:"control"`
	Title   string `json:"title"`
	Status  string `json:"status"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Waived  int    `json:"waived"`
}

// Score scores a run. Weights: critical 10, high 5, medium 3, low 1, info 0; score =
// 100 × Σw(passed) / Σw(applicable), rounded to two decimals. A framework weighs each
// evaluation of a mapped check by severity × the control's weight, once per control it is
// mapped to. A control passes when a mapped check applied and none failed, fails when a
// mapped check failed on a subject without an active waiver, and is not applicable
// otherwise. A waived failure counts neither as failed nor as applicable.
func Score(res *Result, frameworks []Framework, waivers []Waiver) Scores {
	out := Scores{Assets: []AssetScore{}, Frameworks: []FrameworkScore{}, Waived: []Finding{}}
	// waived failures per check and per asset, with their weights
	waivedByCheck := map[string]int{}
	waivedAssetW := map[string]float64{}
	waivedAsset := map[string]int{}
	waivedW := 0.0
	for i := range res.Findings {
		f := &res.Findings[i]
		for _, w := range waivers {
			if w.matches(f, res.Now) {
				wf := *f
				wf.Waived = true
				out.Waived = append(out.Waived, wf)
				waivedByCheck[f.Check]++
				if f.Subject != SubjectADUser && f.Subject != SubjectADDomain {
					k := assetTallyKey(f)
					waivedAsset[k]++
					waivedAssetW[k] += f.Severity.Weight()
				}
				waivedW += f.Severity.Weight()
				break
			}
		}
	}

	var passW, applW float64
	for _, t := range res.Checks {
		w := t.Severity.Weight()
		passW += w * float64(t.Passed)
		applW += w * float64(t.Passed+t.Failed)
	}
	out.Tenant = ScoreLine{Passed: res.Summary.Passed, Failed: res.Summary.Failed - len(out.Waived),
		Waived: len(out.Waived), Score: ratio(passW, applW-waivedW)}

	for _, a := range res.Assets {
		k := a.AssetID
		out.Assets = append(out.Assets, AssetScore{AssetID: a.AssetID, Name: a.Name,
			ScoreLine: ScoreLine{Passed: a.Passed, Failed: a.Failed - waivedAsset[k],
				Waived: waivedAsset[k],
				Score:  ratio(a.PassedWeight, a.ApplicableWeight-waivedAssetW[k])}})
	}

	fws := append([]Framework(nil), frameworks...)
	sort.Slice(fws, func(i, j int) bool { return fws[i].ID < fws[j].ID })
	for _, fw := range fws {
		fs := FrameworkScore{Framework: fw.ID, Name: fw.Name, Controls: []ControlScore{}}
		var fPassW, fApplW, fWaivedW float64
		for _, ctl := range fw.Controls {
			cs := ControlScore{Control: ctl.ID, Title: ctl.Title}
			cw := ctl.Weight
			if cw == 0 {
				cw = 1
			}
			for _, t := range res.Checks {
				if !contains(t.Mappings[fw.ID], ctl.ID) {
					continue
				}
				sw := t.Severity.Weight()
				wv := waivedByCheck[t.Check]
				cs.Passed += t.Passed
				cs.Failed += t.Failed - wv
				cs.Waived += wv
				fPassW += cw * sw * float64(t.Passed)
				fApplW += cw * sw * float64(t.Passed+t.Failed)
				fWaivedW += cw * sw * float64(wv)
			}
			switch {
			case cs.Failed > 0:
				cs.Status = StatusFail
				fs.ControlsFailed++
			case cs.Passed+cs.Waived > 0:
				cs.Status = StatusPass
				fs.ControlsPassed++
			default:
				cs.Status = StatusNotApplicable
			}
			fs.Passed += cs.Passed
			fs.Failed += cs.Failed
			fs.Waived += cs.Waived
			fs.Controls = append(fs.Controls, cs)
		}
		fs.Score = ratio(fPassW, fApplW-fWaivedW)
		out.Frameworks = append(out.Frameworks, fs)
	}
	return out
}

// assetTallyKey is the AssetTally.AssetID a finding counts under.
func assetTallyKey(f *Finding) string {
	if f.AssetID != "" {
		return f.AssetID
	}
	k := f.Key
	for i := 0; i < len(k); i++ { // strip "/policy/…", "/admin/…", "/iface/…"
		if k[i] == '/' {
			return k[:i]
		}
	}
	return k
}

// ratio is 100 × passed / applicable rounded to two decimals, nil when applicable is 0.
func ratio(passed, applicable float64) *float64 {
	if applicable <= 1e-9 {
		return nil
	}
	s := math.Round(10000*passed/applicable) / 100
	if s > 100 {
		s = 100
	}
	return &s
}
