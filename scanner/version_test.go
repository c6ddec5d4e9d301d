package scanner

import (
	"strings"
	"testing"
	"time"
)

func TestCompareSemver(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"1.0.0", "1.0.1", -1},
		{"1.10.0", "1.9.9", 1},
		{"2.0.0", "10.0.0", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-rc.1", "1.0.0-beta.11", 1},
		{"1.0.0+build.5", "1.0.0+build.1", 0},
		{"99999999999999999999.0.0", "1.0.0", 1},
		{"not-semver", "0.0.1", -1},
	}
	for _, tt := range tests {
		if got := CompareSemver(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareSemver(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := CompareSemver(tt.b, tt.a); got != -tt.want {
			t.Errorf("CompareSemver(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
	for _, bad := range []string{"1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "", "1.0.0 ",
		"1.0.0\x00", strings.Repeat("1", 70) + ".0.0"} {
		if ValidSemver(bad) {
			t.Errorf("ValidSemver(%q) = true", bad)
		}
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"7.2.5", "7.2.10", true},
		{"7.2.10", "7.2.5", false},
		{"7.2.5", "7.2.5", false},
		{"v6.4", "6.4.1", true},
		{"6.4.0", "6.4", false},
		{"10.0.17763", "10.0.20348", true},
		{"v7.0.12,build0523", "7.2.0", true},
		{"007.2", "7.10", true},
		{"", "1.0", false},
		{"1.0", "", false},
		{"unknown", "1.0", false},
		{"99999999999999999999999", "100000000000000000000000", true},
	}
	for _, tt := range tests {
		if got := VersionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("VersionLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCheckTransition(t *testing.T) {
	ok := [][2]State{{"draft", "qa"}, {"qa", "draft"}, {"qa", "released"},
		{"released", "deprecated"}, {"deprecated", "retired"}}
	for _, tr := range ok {
		if err := CheckTransition(tr[0], tr[1]); err != nil {
			t.Errorf("%s → %s: %v", tr[0], tr[1], err)
		}
	}
	bad := [][2]State{{"draft", "released"}, {"released", "draft"}, {"released", "qa"},
		{"retired", "released"}, {"deprecated", "released"}, {"released", "released"},
		{"draft", "live"}, {"", "draft"}}
	for _, tr := range bad {
		if err := CheckTransition(tr[0], tr[1]); err == nil {
			t.Errorf("%s → %s allowed", tr[0], tr[1])
		}
	}
}

func TestSchedulable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.AddDate(0, -1, 0), now.AddDate(0, 1, 0)
	vs := []VersionState{
		{"1.0.0", StateRetired, time.Time{}},
		{"1.1.0", StateDeprecated, past},
		{"1.2.0", StateDeprecated, future},
		{"1.3.0", StateReleased, time.Time{}},
		{"1.10.0", StateReleased, time.Time{}},
		{"2.0.0", StateQA, time.Time{}},
		{"2.1.0", StateDraft, time.Time{}},
	}
	tests := []struct {
		keep int
		want string
	}{
		{0, "1.10.0"},
		{1, "1.10.0 1.3.0"},
		{2, "1.10.0 1.3.0 1.2.0"},
		{5, "1.10.0 1.3.0 1.2.0"},
	}
	for _, tt := range tests {
		if got := strings.Join(Schedulable(vs, tt.keep, now), " "); got != tt.want {
			t.Errorf("Schedulable(keep %d) = %q, want %q", tt.keep, got, tt.want)
		}
	}
	if got := Schedulable(vs[5:], 3, now); len(got) != 0 {
		t.Errorf("draft and qa only: %v", got)
	}
}
