package scanner

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// semverRE is the Semantic Versioning 2.0.0 grammar (semver.org), without a leading "v".
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-(` + semverPre + `(?:\.` + semverPre + `)*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// semverPre is one pre-release identifier: a number without leading zeros or an
// alphanumeric identifier.
const semverPre = `(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)`

// ValidSemver reports whether v is a semantic version such as "1.0.0" or "2.1.0-rc.1".
func ValidSemver(v string) bool { return len(v) <= 64 && semverRE.MatchString(v) }

// CompareSemver orders two semantic versions as semver.org §11 does: -1 when a < b, 0 when
// they have the same precedence (build metadata is ignored), +1 when a > b. An invalid
// version sorts before every valid one so that sorting never fails; validate first.
func CompareSemver(a, b string) int {
	ma, mb := semverRE.FindStringSubmatch(a), semverRE.FindStringSubmatch(b)
	switch {
	case ma == nil && mb == nil:
		return strings.Compare(a, b)
	case ma == nil:
		return -1
	case mb == nil:
		return 1
	}
	for i := 1; i <= 3; i++ {
		if c := compareNumeric(ma[i], mb[i]); c != 0 {
			return c
		}
	}
	pa, pb := ma[4], mb[4]
	switch {
	case pa == pb:
		return 0
	case pa == "": // a release has higher precedence than its pre-releases
		return 1
	case pb == "":
		return -1
	}
	ia, ib := strings.Split(pa, "."), strings.Split(pb, ".")
	for i := 0; i < len(ia) && i < len(ib); i++ {
		na, erra := strconv.ParseUint(ia[i], 10, 64)
		nb, errb := strconv.ParseUint(ib[i], 10, 64)
		switch {
		case erra == nil && errb == nil:
			if na != nb {
				return cmpInt(na, nb)
			}
		case erra == nil: // numeric identifiers sort before alphanumeric ones
			return -1
		case errb == nil:
			return 1
		default:
			if c := strings.Compare(ia[i], ib[i]); c != 0 {
				return c
			}
		}
	}
	return cmpInt(len(ia), len(ib))
}

// compareNumeric compares two decimal digit strings without overflow (no leading zeros).
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func cmpInt[T int | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// VersionLess is the lenient dotted numeric comparison behind the CEL function version_lt:
// it compares the runs of digits of a and b in order ("7.2.5" < "7.2.10", "v6.4" <
// "6.4.1", "10.0.17763" < "10.0.20348"), a missing run counting as 0. A version without any
// digit is unknown, and an unknown version is never less nor greater: the result is false.
func VersionLess(a, b string) bool {
	na, nb := digitRuns(a), digitRuns(b)
	if len(na) == 0 || len(nb) == 0 {
		return false
	}
	for i := 0; i < len(na) || i < len(nb); i++ {
		x, y := "0", "0"
		if i < len(na) {
			x = na[i]
		}
		if i < len(nb) {
			y = nb[i]
		}
		if c := compareNumeric(x, y); c != 0 {
			return c < 0
		}
	}
	return false
}

// digitRuns returns the runs of ASCII digits of s with leading zeros removed.
func digitRuns(s string) []string {
	var runs []string
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		run := strings.TrimLeft(s[i:j], "0")
		if run == "" {
			run = "0"
		}
		runs = append(runs, run)
		i = j
	}
	return runs
}

// State is the life-cycle state of a module version.
type State string

// The life-cycle states, in order (ARCHITECTURE §6).
const (
	StateDraft      State = "draft"
	StateQA         State = "qa"
	StateReleased   State = "released"
	StateDeprecated State = "deprecated"
	StateRetired    State = "retired"
)

// transitions lists the allowed state changes of one module version.
var transitions = map[State][]State{
	StateDraft:      {StateQA},
	StateQA:         {StateDraft, StateReleased},
	StateReleased:   {StateDeprecated},
	StateDeprecated: {StateRetired},
}

// Valid reports whether s is one of the life-cycle states.
func (s State) Valid() bool {
	switch s {
	case StateDraft, StateQA, StateReleased, StateDeprecated, StateRetired:
		return true
	}
	return false
}

// CheckTransition returns nil when a module version may move from one state to another:
// draft → qa → released → deprecated → retired, and qa back to draft. Staying in the same
// state is not a transition and is refused too, so a caller notices a no-op update.
func CheckTransition(from, to State) error {
	if !from.Valid() || !to.Valid() {
		return fmt.Errorf("module state %q → %q: unknown state (want draft, qa, released, "+
			"deprecated or retired)", from, to)
	}
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("module state %q → %q is not allowed: states go draft → qa → released → "+
		"deprecated → retired (and qa → draft)", from, to)
}

// CheckImmutable refuses a change to a version that has left draft and qa: released,
// deprecated and retired versions are immutable, so a new checksum for the same slug and
// version means the file was edited and the fix must be a new version.
func CheckImmutable(slug, version string, state State, oldChecksum, newChecksum string) error {
	if state == StateDraft || state == StateQA || oldChecksum == newChecksum {
		return nil
	}
	return fmt.Errorf("module %s@%s is %s and immutable but its content changed (checksum %.12s "+
		"→ %.12s): publish the change as a new version", slug, version, state, oldChecksum,
		newChecksum)
}

// CheckNewVersion refuses a version downgrade: a new version of a slug must be greater than
// the newest version that exists (existing lists the versions of the same slug).
func CheckNewVersion(slug, version string, existing []string) error {
	if !ValidSemver(version) {
		return fmt.Errorf("module %s: version %q is not semver (want MAJOR.MINOR.PATCH)", slug,
			version)
	}
	newest := ""
	for _, v := range existing {
		if newest == "" || CompareSemver(v, newest) > 0 {
			newest = v
		}
	}
	if newest != "" && CompareSemver(version, newest) <= 0 {
		return fmt.Errorf("module %s: version %s is not greater than the newest version %s "+
			"(version downgrade): pick a higher version", slug, version, newest)
	}
	return nil
}

// VersionState is one version of a module with what scheduling needs to know.
type VersionState struct {
	Version string
	State   State
	// Sunset ends a deprecated version's schedulability; zero means no sunset.
	Sunset time.Time
}

// Schedulable returns the versions of one slug that may run at now, newest first: the newest
// released version plus the keepN released or deprecated (before their sunset) versions
// just below it. Draft, qa and retired versions never run; neither does a deprecated
// version newer than the newest released one.
func Schedulable(versions []VersionState, keepN int, now time.Time) []string {
	vs := append([]VersionState(nil), versions...)
	sort.SliceStable(vs, func(i, j int) bool {
		return CompareSemver(vs[i].Version, vs[j].Version) > 0
	})
	var out []string
	for _, v := range vs {
		if len(out) == 0 {
			if v.State == StateReleased {
				out = append(out, v.Version)
			}
			continue
		}
		if len(out) > keepN {
			break
		}
		live := v.State == StateDeprecated && (v.Sunset.IsZero() || now.Before(v.Sunset))
		if v.State == StateReleased || live {
			out = append(out, v.Version)
		}
	}
	return out
}
