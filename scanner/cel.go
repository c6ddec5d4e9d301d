package scanner

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
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
}

// celTypeName is the CEL name of a fact model struct (ext.NativeTypes uses package.Type).
func celTypeName(t reflect.Type) string { return "scanner." + t.Name() }

// newCELEnvs builds the environments; eol backs the os_eol function.
func newCELEnvs(eol EOLTable, costLimit uint64) (*celEnvs, error) {
	epoch := time.Unix(0, 0).UTC()
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
					if d, ok := eol.Lookup(string(x), string(y)); ok {
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
	envs := &celEnvs{bySubject: map[Subject]*cel.Env{}, costLimit: costLimit}
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
		env, err := cel.NewEnv(append(opts, funcs...)...)
		if err != nil {
			return nil, fmt.Errorf("build CEL environment for %s: %w", s, err)
		}
		envs.bySubject[s] = env
	}
	return envs, nil
}

// compiledExpr is one compiled expression. Only comprehensions (exists, all, map, filter,
// …) can run long enough to need the time budget, and only they check for interrupts, so
// an expression without one is evaluated without a context: that saves a context, a timer
// check and a lock per evaluation, millions of times per run.
type compiledExpr struct {
	prg           cel.Program
	interruptible bool
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
	loops := false
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		loops = loops || x.Kind() == celast.ComprehensionKind
	}))
	return &compiledExpr{prg: prg, interruptible: loops}, nil
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

// activation binds one subject's variables for evaluation. The values are adapted to CEL
// once per subject and reused by every check of the subject kind.
type activation struct {
	names  [4]string
	values [4]any
	n      int
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) set(name string, v any) {
	for i := 0; i < a.n; i++ {
		if a.names[i] == name {
			a.values[i] = v
			return
		}
	}
	a.names[a.n], a.values[a.n] = name, v
	a.n++
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
