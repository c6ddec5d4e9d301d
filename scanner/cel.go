package scanner

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// Subject is the kind of thing a check evaluates, one subject at a time (see facts.go).
type Subject string

// The subject kinds.
const (
	SubjectAsset       Subject = "asset"
	SubjectADUser      Subject = "ad_user"
	SubjectADDomain    Subject = "ad_domain"
	SubjectFWPolicy    Subject = "fw_policy"
	SubjectFWAdmin     Subject = "fw_admin"
	SubjectFWInterface Subject = "fw_interface"
)

// subjects lists every subject kind in a fixed order.
var subjects = []Subject{SubjectAsset, SubjectADUser, SubjectADDomain, SubjectFWPolicy,
	SubjectFWAdmin, SubjectFWInterface}

// subjectVar is one CEL variable of a subject kind and the Go type behind it.
type subjectVar struct {
	name string
	typ  reflect.Type
}

// subjectVars is the table of facts.go: the variables each subject kind binds.
var subjectVars = map[Subject][]subjectVar{
	SubjectAsset:       {{"asset", assetType}},
	SubjectADUser:      {{"user", reflect.TypeFor[ADUser]()}, {"domain", directoryType}},
	SubjectADDomain:    {{"domain", directoryType}},
	SubjectFWPolicy:    {{"policy", reflect.TypeFor[FWPolicy]()}, {"asset", assetType}},
	SubjectFWAdmin:     {{"admin", reflect.TypeFor[FWAdmin]()}, {"asset", assetType}},
	SubjectFWInterface: {{"iface", reflect.TypeFor[FWInterface]()}, {"asset", assetType}},
}

var (
	assetType     = reflect.TypeFor[Asset]()
	directoryType = reflect.TypeFor[Directory]()
)

// Valid reports whether s is a known subject kind.
func (s Subject) Valid() bool { _, ok := subjectVars[s]; return ok }

// celEnvs holds one type-checked CEL environment per subject kind. Environments are
// immutable and safe for concurrent use.
type celEnvs struct {
	bySubject map[Subject]*cel.Env
	costLimit uint64
	// values converts facts and parameters to CEL values for these environments.
	values *factValues
}

// celTypeName is the CEL name of a fact model struct (ext.NativeTypes uses package.Type).
func celTypeName(t reflect.Type) string { return "scanner." + t.Name() }

// newCELEnvs builds the environments; eol backs the os_eol function.
func newCELEnvs(eol EOLTable, costLimit uint64) (*celEnvs, error) {
	epoch := time.Unix(0, 0).UTC()
	eolc := &eolCache{table: eol}
	funcs := []cel.EnvOption{
		cel.Function("version_lt",
			cel.Overload("version_lt_string_string", []*cel.Type{cel.StringType, cel.StringType},
				cel.BoolType, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					x, ok1 := a.(types.String)
					y, ok2 := b.(types.String)
					if !ok1 || !ok2 {
						return types.NewErr("version_lt: want two strings")
					}
					return types.Bool(VersionLess(string(x), string(y)))
				}))),
		cel.Function("os_eol",
			cel.Overload("os_eol_string_string", []*cel.Type{cel.StringType, cel.StringType},
				cel.TimestampType, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					x, ok1 := a.(types.String)
					y, ok2 := b.(types.String)
					if !ok1 || !ok2 {
						return types.NewErr("os_eol: want two strings")
					}
					if d, ok := eolc.lookup(string(x), string(y)); ok {
						return types.Timestamp{Time: d}
					}
					return types.Timestamp{Time: epoch}
				}))),
		cel.Function("cidr_contains",
			cel.Overload("cidr_contains_string_string", []*cel.Type{cel.StringType, cel.StringType},
				cel.BoolType, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					x, ok1 := a.(types.String)
					y, ok2 := b.(types.String)
					if !ok1 || !ok2 {
						return types.NewErr("cidr_contains: want two strings")
					}
					return types.Bool(CIDRContains(string(x), string(y)))
				}))),
	}
	fv := newFactValues(reflect.TypeFor[Asset](), reflect.TypeFor[Directory](),
		reflect.TypeFor[FWPolicy](), reflect.TypeFor[FWAdmin](), reflect.TypeFor[FWInterface]())
	envs := &celEnvs{bySubject: map[Subject]*cel.Env{}, costLimit: costLimit, values: fv}
	for _, s := range subjects {
		opts := []cel.EnvOption{
			ext.NativeTypes(reflect.TypeFor[Asset](), reflect.TypeFor[Directory](),
				reflect.TypeFor[FWPolicy](), reflect.TypeFor[FWAdmin](),
				reflect.TypeFor[FWInterface](), ext.ParseStructTag("json")),
			ext.Strings(), ext.Lists(), ext.Sets(),
			cel.Variable("now", cel.TimestampType),
			cel.Variable("params", cel.MapType(cel.StringType, cel.DynType)),
		}
		for _, v := range subjectVars[s] {
			opts = append(opts, cel.Variable(v.name, cel.ObjectType(celTypeName(v.typ))))
		}
		opts = append(append(opts, funcs...), withFactsProvider(fv),
			// After ext.Strings, so that these replace its estimates.
			cel.CostEstimatorOptions(
				checker.OverloadCostEstimate("list_join", estimateJoin),
				checker.OverloadCostEstimate("list_join_string", estimateJoin)))
		env, err := cel.NewEnv(opts...)
		if err != nil {
			return nil, fmt.Errorf("build CEL environment for %s: %w", s, err)
		}
		envs.bySubject[s] = env
	}
	fv.bind(envs.bySubject[SubjectAsset].CELTypeAdapter())
	return envs, nil
}

// trustedOverloads are the functions whose static cost estimate is an upper bound of the
// cost the interpreter tracks, given true input sizes: those the catalog's checks use, as
// TestStaticCostBound verifies on every check. An expression calling any other function is
// always evaluated with cost tracking: a new function could come with an estimate that is
// too low, like ext.Strings' join (replaced here by estimateJoin).
var trustedOverloads = map[string]bool{}

func init() {
	for _, o := range strings.Fields(`logical_not in_list in_map not_strictly_false
		not_equals equals logical_and logical_or conditional modulo_int64 multiply_double
		multiply_int64 add_list add_string add_timestamp_duration add_duration_timestamp
		subtract_timestamp_timestamp subtract_timestamp_duration divide_double divide_int64
		subtract_int64 add_int64 negate_int64
		less_equals_duration less_equals_int64 less_equals_timestamp less_duration less_int64
		less_timestamp greater_equals_double greater_equals_int64 greater_equals_timestamp
		greater_duration greater_int64 greater_timestamp less_double greater_double
		less_equals_double greater_equals_duration
		index_list index_map size_list list_size size_string string_size size_map map_size
		contains_string ends_with_string starts_with_string matches_string
		string_lower_ascii string_upper_ascii string_split_string string_substring_int
		string_substring_int_int string_trim list_join list_join_string
		double_to_double int64_to_double string_to_double uint64_to_double
		string_to_duration double_to_int64 duration_to_int64 int64_to_int64 string_to_int64
		timestamp_to_int64 uint64_to_int64 bool_to_string int64_to_string string_to_string
		timestamp_to_string uint64_to_string int64_to_timestamp string_to_timestamp
		cidr_contains_string_string os_eol_string_string version_lt_string_string`) {
		trustedOverloads[o] = true
	}
}

// trustedEstimates reports whether every function a checked expression calls is trusted.
func trustedEstimates(a *celast.AST) bool {
	ok := true
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() != celast.CallKind {
			return
		}
		ids := a.GetOverloadIDs(x.ID())
		if len(ids) == 0 {
			ok = false
		}
		for _, id := range ids {
			ok = ok && trustedOverloads[id]
		}
	}))
	return ok
}

// estimateJoin bounds list.join(sep): ext.Strings' estimate sizes the result as if every
// element had one character, too low for the concatenation that follows, for example
// "(" + asset.addresses.join(", ") + ")". Here the result is at most n × (element + sep)
// characters, with the elements' size from their path (asset.addresses.@items); the cost
// is what the interpreter tracks for join: 1 + ⌈(n + 1) × 0.1⌉ + the result's size. Without
// a bound on the elements (a computed list), the cost is unbounded.
func estimateJoin(est checker.CostEstimator, target *checker.AstNode,
	args []checker.AstNode) *checker.CallEstimate {
	unbounded := &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 1,
		Max: math.MaxUint64}}
	if target == nil || len(args) > 1 {
		return unbounded
	}
	n := sizeOf(est, *target)
	path := (*target).Path()
	if n == nil || len(path) == 0 {
		return unbounded
	}
	elem := est.EstimateSize(pathNode{path: append(append([]string(nil), path...), "@items")})
	if elem == nil {
		return unbounded
	}
	sep := &checker.SizeEstimate{}
	if len(args) == 1 {
		if sep = sizeOf(est, args[0]); sep == nil {
			return unbounded
		}
	}
	result := checker.SizeEstimate{Min: 0, Max: satMul(n.Max, satAdd(elem.Max, sep.Max))}
	cost := satAdd(satAdd(1, (satAdd(n.Max, 1)+9)/10), result.Max)
	return &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 1, Max: cost},
		ResultSize: &result}
}

// sizeOf is a node's size as the checker sees it: computed, else estimated; nil if unknown.
func sizeOf(est checker.CostEstimator, n checker.AstNode) *checker.SizeEstimate {
	if sz := n.ComputedSize(); sz != nil {
		return sz
	}
	return est.EstimateSize(n)
}

// pathNode asks the estimator for the size at a path (the elements of a list).
type pathNode struct{ path []string }

func (p pathNode) Path() []string { return p.path }

func (pathNode) Type() *types.Type { return types.DynType }

func (pathNode) Expr() celast.Expr { return celast.NewExprFactory().NewUnspecifiedExpr(0) }

func (pathNode) ComputedSize() *checker.SizeEstimate { return nil }

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}

// eolCache memoizes EOLTable.Lookup for os_eol: the table is a list of regexps tried in
// order, and a run asks the same few operating systems for every asset, several times.
type eolCache struct {
	table EOLTable
	m     sync.Map // os + "\x00" + version → eolAnswer
	n     atomic.Int64
}

type eolAnswer struct {
	date time.Time
	ok   bool
}

// maxEOLCache bounds the memo; lookups beyond it are computed each time.
const maxEOLCache = 4096

func (c *eolCache) lookup(os, version string) (time.Time, bool) {
	key := os + "\x00" + version
	if a, ok := c.m.Load(key); ok {
		return a.(eolAnswer).date, a.(eolAnswer).ok
	}
	d, ok := c.table.Lookup(os, version)
	if c.n.Load() < maxEOLCache {
		if _, loaded := c.m.LoadOrStore(key, eolAnswer{d, ok}); !loaded {
			c.n.Add(1)
		}
	}
	return d, ok
}

// compiledExpr is one compiled expression in two programs: prg tracks the cost of every
// step against the cost limit; fast does not, and is used when the checker's static cost
// estimate proves the limit cannot be reached for the inputs at hand. Cost tracking
// observes every step of the interpreter (a quarter of the CPU of a run), and for almost
// every check and subject the bound holds, so the limit costs nothing where it cannot
// trigger and is still enforced, with the same error, where it can.
//
// Only comprehensions (exists, all, map, filter, …) can run long enough to need the time
// budget, and only they check for interrupts, so an expression without one is evaluated
// without a context: that saves a context, a timer check and a lock per evaluation,
// millions of times per run. Likewise a fast evaluation whose worst-case cost is so small
// that it cannot come near the budget (watchdog.quickCost) runs without one.
type compiledExpr struct {
	prg           cel.Program
	fast          cel.Program
	interruptible bool
	// refs are the places (a variable and a slot under it) whose sizes the checker's cost
	// estimate depends on, and bounds[i] the worst-case cost of the expression when each
	// of them has at most sizeClasses[i] elements; only the classes within the cost limit
	// are listed.
	refs   []sizeRef
	bounds []uint64
}

// sizeRef is a slot under a variable: params has one slot (0), subject variables the
// slots of their struct type (factValues).
type sizeRef struct {
	name string
	slot int
}

// sizeClasses are the input sizes the static cost is estimated for.
var sizeClasses = []int64{0, 1, 4, 16, 64, 256, 1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18,
	1 << 20, 1 << 22, 1 << 24}

// program picks the program for inputs whose largest size is n: fast, with its worst-case
// cost, when the static estimate for n is within the cost limit, else the tracked one.
func (e *compiledExpr) program(n int64) (cel.Program, uint64, bool) {
	for i, b := range e.bounds {
		if n <= sizeClasses[i] {
			return e.fast, b, true
		}
	}
	return e.prg, 0, false
}

// compile type-checks one expression and requires its output type.
func (e *celEnvs) compile(s Subject, expr string, want *cel.Type) (*compiledExpr, error) {
	env := e.bySubject[s]
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%s", oneLine(iss.Err().Error()))
	}
	if !ast.OutputType().IsExactType(want) {
		return nil, fmt.Errorf("expression has type %s, want %s", ast.OutputType(), want)
	}
	prg, err := env.Program(ast,
		cel.EvalOptions(cel.OptOptimize),
		cel.CostLimit(e.costLimit),
		cel.InterruptCheckFrequency(64))
	if err != nil {
		return nil, err
	}
	ce := &compiledExpr{prg: prg}
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		ce.interruptible = ce.interruptible || x.Kind() == celast.ComprehensionKind
	}))
	est := &sizeEstimator{ast: ast.NativeRep(), fv: e.values, roots: map[string]*objType{},
		refs: map[sizeRef]bool{}}
	for _, v := range subjectVars[s] {
		est.roots[v.name] = e.values.byType[v.typ]
	}
	if trustedEstimates(ast.NativeRep()) {
		ce.bounds = staticCostBounds(env, ast, est, e.costLimit)
	}
	for r := range est.refs {
		ce.refs = append(ce.refs, r)
	}
	sort.Slice(ce.refs, func(i, j int) bool {
		a, b := ce.refs[i], ce.refs[j]
		return a.name < b.name || a.name == b.name && a.slot < b.slot
	})
	if len(ce.bounds) > 0 {
		ce.fast, err = env.Program(ast,
			cel.EvalOptions(cel.OptOptimize),
			cel.InterruptCheckFrequency(64))
		if err != nil {
			return nil, err
		}
	}
	return ce, nil
}

// costMargin divides the cost limit for the static bound: the checker's estimate is
// meant to bound the tracked cost, and TestStaticCostBound checks it does for every check
// of the catalog, but a small mismatch in cel-go between the two must not let an
// evaluation past the limit untracked.
const costMargin = 2

// staticCostBounds estimates the worst-case cost of ast for each size class, up to the
// first one over limit. The cost grows with the sizes, so an expression whose cost at the
// largest class equals its cost at 0 does not depend on them. Costs are unbounded (and no
// class is listed) when the expression reads a size the checker cannot bound, for example
// that of the result of split, substring or join.
func staticCostBounds(env *cel.Env, ast *cel.Ast, se *sizeEstimator, limit uint64) []uint64 {
	cost := func(n int64) (uint64, bool) {
		se.max = uint64(n)
		est, err := env.EstimateCost(ast, se)
		return est.Max, err == nil && est.Max <= limit/costMargin
	}
	c0, ok := cost(0)
	if !ok {
		return nil
	}
	out := make([]uint64, 0, len(sizeClasses))
	if cmax, ok := cost(sizeClasses[len(sizeClasses)-1]); ok && cmax == c0 {
		for range sizeClasses {
			out = append(out, c0)
		}
		return out
	}
	out = append(out, c0)
	for _, n := range sizeClasses[1:] {
		c, ok := cost(n)
		if !ok {
			break
		}
		out = append(out, c)
	}
	return out
}

// sizeEstimator bounds the size at each slot of the subject variables and params by max,
// and records the slots asked for; string(int) is at most 20 characters; other sizes
// (results of functions the checker cannot size) stay unknown. Each size given must be a
// true upper bound of the size at run time: the runtime cost is computed from the actual
// sizes.
type sizeEstimator struct {
	ast   *celast.AST
	fv    *factValues
	roots map[string]*objType
	refs  map[sizeRef]bool
	max   uint64
}

// Longest string(x) results: a decimal int64 or uint64 ("-9223372036854775808"), a bool,
// and an RFC 3339 timestamp (with a year of up to 12 digits, as Go's time.Time allows).
const (
	intStringSize       = 20
	boolStringSize      = 5
	timestampStringSize = 48
)

func (e *sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	switch n.Type().Kind() {
	case types.BoolKind, types.DoubleKind, types.DurationKind, types.IntKind,
		types.TimestampKind, types.UintKind:
		return nil // size 1 by definition: the checker knows
	}
	// A dyn value (in params) may be a scalar, of size 1.
	size := &checker.SizeEstimate{Min: 0, Max: max(e.max, 1)}
	if p := n.Path(); len(p) > 0 {
		if p[0] == "params" {
			e.refs[sizeRef{"params", 0}] = true
			return size
		}
		if root := e.roots[p[0]]; root != nil {
			if sl, ok := e.fv.resolve(root, p[1:]); ok {
				e.refs[sizeRef{p[0], sl.id}] = true
				return size
			}
		}
	}
	if x := n.Expr(); x.Kind() == celast.CallKind {
		c := x.AsCall()
		if c.FunctionName() == "string" && !c.IsMemberFunction() && len(c.Args()) == 1 {
			switch e.ast.GetType(c.Args()[0].ID()).Kind() {
			case types.IntKind, types.UintKind:
				return &checker.SizeEstimate{Min: 0, Max: intStringSize}
			case types.BoolKind:
				return &checker.SizeEstimate{Min: 0, Max: boolStringSize}
			case types.TimestampKind:
				return &checker.SizeEstimate{Min: 0, Max: timestampStringSize}
			}
		}
	}
	return nil
}

func (*sizeEstimator) EstimateCallCost(string, string, *checker.AstNode,
	[]checker.AstNode) *checker.CallEstimate {
	return nil
}

// oneLine folds CEL's multi-line issue report (message, source line, caret) into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "|") {
			continue
		}
		l = strings.TrimPrefix(l, "ERROR: ")
		if rest, ok := strings.CutPrefix(l, "<input>:"); ok {
			l = "expr " + rest // line:column inside the expression
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, "; ")
}

// CIDRContains reports whether ip lies in cidr, the function behind the CEL cidr_contains.
// cidr is "10.0.0.0/8", a bare address (a /32 or /128) or FortiGate's "10.0.0.0 255.0.0.0";
// anything unparsable is false.
func CIDRContains(cidr, ip string) bool {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return false
	}
	p, ok := parsePrefix(cidr)
	return ok && p.Contains(addr.Unmap())
}

func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	addr, mask, ok := strings.Cut(s, " ")
	if !ok {
		return netip.Prefix{}, false
	}
	a, err1 := netip.ParseAddr(strings.TrimSpace(addr))
	m, err2 := netip.ParseAddr(strings.TrimSpace(mask))
	if err1 != nil || err2 != nil || !a.Is4() || !m.Is4() {
		return netip.Prefix{}, false
	}
	mb := m.As4()
	bits := 0
	v := uint32(mb[0])<<24 | uint32(mb[1])<<16 | uint32(mb[2])<<8 | uint32(mb[3])
	for v&0x80000000 != 0 {
		bits++
		v <<= 1
	}
	if v != 0 { // not a contiguous netmask
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

// activation binds one subject's variables for evaluation. The values are converted to CEL
// once per subject and reused by every check of the subject kind. Each value carries its
// sizes (factValues.value), which pick the program that skips cost tracking
// (compiledExpr).
type activation struct {
	names  [4]string
	values [4]any
	sizes  [4][]int32
	n      int
}

var _ interpreter.Activation = (*activation)(nil)

// unknownSize is the size of what is bound without sizes: it always takes the tracked
// program.
const unknownSize = math.MaxInt64

// set binds a value of unknown sizes.
func (a *activation) set(name string, v any) { a.setSized(name, v, nil) }

// setSized binds a value with its sizes by slot (nil: unknown).
func (a *activation) setSized(name string, v any, sizes []int32) {
	for i := 0; i < a.n; i++ {
		if a.names[i] == name {
			a.values[i], a.sizes[i] = v, sizes
			return
		}
	}
	a.names[a.n], a.values[a.n], a.sizes[a.n] = name, v, sizes
	a.n++
}

// maxSize is the largest size at the given places; unknown sizes are unknownSize.
func (a *activation) maxSize(refs []sizeRef) int64 {
	var m int64
	for _, r := range refs {
		found := false
		for i := 0; i < a.n; i++ {
			if a.names[i] == r.name {
				if r.slot >= len(a.sizes[i]) {
					return unknownSize
				}
				m, found = max(m, int64(a.sizes[i][r.slot])), true
				break
			}
		}
		if !found {
			return unknownSize
		}
	}
	return m
}

// ResolveName returns the bound value of a variable.
func (a *activation) ResolveName(name string) (any, bool) {
	for i := 0; i < a.n; i++ {
		if a.names[i] == name {
			return a.values[i], true
		}
	}
	return nil, false
}

// Parent returns nil: activations are flat.
func (a *activation) Parent() interpreter.Activation { return nil }
