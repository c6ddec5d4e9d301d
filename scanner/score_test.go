package scanner

import (
	"fmt"
	"strings"
	"testing"
)

func fmtScore(s *float64) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("%.2f", *s)
}

func fmtLine(l ScoreLine) string {
	return fmt.Sprintf("%s p%d f%d w%d", fmtScore(l.Score), l.Passed, l.Failed, l.Waived)
}

// TestScore checks hand-computed scores of scoreFacts (weights critical 10, high 5,
// medium 3, low 1, info 0; testdata CIS 4.8 has weight 2, the other controls 1).
//
// Evaluations: telnet (high) a1 fail, a2 pass, a3 pass; tls-old (medium) a2 fail, a3 pass;
// weak-pw (critical) domain fail; named (info) a1-a3 pass, a4 fail. The AD user, firewall
// checks have no subjects.
//
//	tenant: passed 6, failed 4; 100 × (5·2 + 3·1) / (5·3 + 3·2 + 10) = 1300/31 = 41.94
//	a1 0/5 = 0; a2 5/8 = 62.5; a3 8/8 = 100; a4 info only = nil
//	CIS: 4.8 2·5·2/2·5·3, 3.10 3/6, 5.2 0/10, 18.1 0/0 → 23/46 = 50
//	NIST: CM-7 10/15, IA-5 0/10 → 10/25 = 40
//
// Waiving telnet on a1 (by finding id) and tls-old on a2 (by check and asset) removes
// 5 and 3 from the applicable weights: tenant 13/23 = 56.52, a1 nil, a2 5/5 = 100,
// CIS (20+3)/(20+3+10) = 69.70 with 4.8 and 3.10 passing, NIST 10/20 = 50. The waiver of
// weak-pw expires at the run's time, so it is not active.
func TestScore(t *testing.T) {
	cfg := testConfig(t)
	c := runCatalog(t, cfg, nil)
	res := mustRun(t, c, scoreFacts(), RunOptions{})
	var a1Telnet string
	for _, f := range res.Findings {
		if f.Check == "telnet" && f.AssetID == "a1" {
			a1Telnet = f.ID
		}
	}
	tests := []struct {
		name    string
		waivers []Waiver
		tenant  string
		assets  string
		fws     string
		waived  string
	}{
		{
			name:   "no waivers",
			tenant: "41.94 p6 f4 w0",
			assets: "a1 0.00 p1 f1 w0; a2 62.50 p2 f1 w0; a3 100.00 p3 f0 w0; a4 nil p0 f1 w0",
			fws: "CIS 50.00 p6 f4 w0 [4.8 fail, 3.10 fail, 5.2 fail, 18.1 fail] 0/4; " +
				"NIST-800-53 40.00 p2 f2 w0 [CM-7 fail, IA-5 fail] 0/2",
		},
		{
			name: "waivers",
			waivers: []Waiver{
				{FindingID: a1Telnet, Reason: "decommissioning"},
				{Check: "tls-old", AssetID: "a2", Expires: testNow.AddDate(0, 1, 0)},
				{Check: "weak-pw", Expires: testNow},
				{}, // waives nothing
			},
			tenant: "56.52 p6 f2 w2",
			assets: "a1 nil p1 f0 w1; a2 100.00 p2 f0 w1; a3 100.00 p3 f0 w0; a4 nil p0 f1 w0",
			fws: "CIS 69.70 p6 f2 w2 [4.8 pass, 3.10 pass, 5.2 fail, 18.1 fail] 2/2; " +
				"NIST-800-53 50.00 p2 f1 w1 [CM-7 pass, IA-5 fail] 1/1",
			waived: "telnet a1, tls-old a2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := Score(res, cfg.Frameworks, tt.waivers)
			if got := fmtLine(sc.Tenant); got != tt.tenant {
				t.Errorf("tenant %s, want %s", got, tt.tenant)
			}
			var as []string
			for _, a := range sc.Assets {
				as = append(as, a.AssetID+" "+fmtLine(a.ScoreLine))
			}
			if got := strings.Join(as, "; "); got != tt.assets {
				t.Errorf("assets %s\nwant   %s", got, tt.assets)
			}
			var fs []string
			for _, f := range sc.Frameworks {
				var cs []string
				for _, ctl := range f.Controls {
					cs = append(cs, ctl.Control+" "+ctl.Status)
				}
				fs = append(fs, fmt.Sprintf("%s %s [%s] %d/%d", f.Framework, fmtLine(f.ScoreLine),
					strings.Join(cs, ", "), f.ControlsPassed, f.ControlsFailed))
			}
			if got := strings.Join(fs, "; "); got != tt.fws {
				t.Errorf("frameworks %s\nwant       %s", got, tt.fws)
			}
			var ws []string
			for _, f := range sc.Waived {
				if !f.Waived {
					t.Error("waived finding not marked")
				}
				ws = append(ws, f.Check+" "+f.AssetID)
			}
			if got := strings.Join(ws, ", "); got != tt.waived {
				t.Errorf("waived %q, want %q", got, tt.waived)
			}
		})
	}
	// The run's own envelope carries the unwaived tenant score and control statuses.
	if s := res.Summary; fmtScore(s.Score) != "41.94" || s.Passed != 6 || s.Failed != 4 {
		t.Errorf("summary %+v", res.Summary)
	}
	var bs []string
	for _, b := range res.Benchmarks {
		bs = append(bs, b.Framework+":"+b.Control+":"+b.Status)
	}
	want := "CIS:4.8:fail CIS:3.10:fail CIS:5.2:fail CIS:18.1:fail NIST-800-53:CM-7:fail " +
		"NIST-800-53:IA-5:fail"
	if got := strings.Join(bs, " "); got != want {
		t.Errorf("benchmarks %s\nwant       %s", got, want)
	}
}
