package scanner

import (
	"math"
	"reflect"
	"sort"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Fact values. ext.NativeTypes declares the fact model for type checking, but at run time it
// wraps Go structs in values that find, read and re-adapt every field through reflection on
// each access; comprehensions over services or policies did that millions of times per run
// (issue #6 profile: half of the CPU). Instead each subject's facts are converted once into
// a tree of CEL values (objVal for structs, lists and maps of converted values) and a
// provider wrapping the NativeTypes registry reads fields of an objVal by a precomputed index.
// Declared types, and so type checking, stay those of ext.NativeTypes; field values are
// those the reflective path gives (the equivalence is tested over every check).

// objType is a fact model struct with its CEL-visible fields (json names, as NativeTypes).
type objType struct {
	name   string // CEL type name, "scanner.Asset"
	rt     reflect.Type
	celTyp ref.Type // the NativeTypes type, so that type() and conversions see the same type
	fields []objField
	index  map[string]int
}

type objField struct {
	name string
	idx  []int
	typ  reflect.Type
	slot *slotNode
}

// slotNode is a place in the fact model where a sized value (a string, list or map) can
// be: a struct field, and inside it list items, map keys and values. A struct type's slots
// are shared by all its instances, so a subject's sizes (the largest size at each slot)
// are one small vector. The checker's cost estimator names the same places by paths
// (asset.services.@items.hints), which resolve to slots (factValues.resolve).
type slotNode struct {
	id     int
	obj    *objType // a struct (or pointer to one) here: paths go on with its fields
	items  *slotNode
	keys   *slotNode
	values *slotNode
}

// objVal is a converted struct: one CEL value per field and a bit per field that is set
// (not the Go zero value), which is what has() tests.
type objVal struct {
	t    *objType
	vals []ref.Val
	set  uint64
	src  reflect.Value // the Go struct, for ConvertToNative
}

var (
	_ traits.Indexer     = (*objVal)(nil)
	_ traits.FieldTester = (*objVal)(nil)
	_ traits.Zeroer      = (*objVal)(nil)
)

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	bytesType    = reflect.TypeFor[byte]()
	refValType   = reflect.TypeFor[ref.Val]()
)

// factValues converts fact model values for one set of CEL environments.
type factValues struct {
	adapter types.Adapter
	byType  map[reflect.Type]*objType
	byName  map[string]*objType
	nSlots  int
	// zero holds the converted zero struct of each type: a nil pointer field reads as one,
	// as with NativeTypes.
	zero      map[*objType]*objVal
	emptyList ref.Val
}

// newFactValues indexes the structs reachable from roots. Field tables follow
// ext.NativeTypes with ext.ParseStructTag("json"): exported fields of supported kinds, named
// by the first part of their json tag (the Go name without one), "-" and "" skipped.
func newFactValues(roots ...reflect.Type) *factValues {
	fv := &factValues{byType: map[reflect.Type]*objType{}, byName: map[string]*objType{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			if t.Kind() == reflect.Map {
				walk(t.Key())
			}
			walk(t.Elem())
			return
		case reflect.Struct:
		default:
			return
		}
		if t == timeType || t.Implements(refValType) || fv.byType[t] != nil {
			return
		}
		ot := &objType{name: celTypeName(t), rt: t, index: map[string]int{}}
		fv.byType[t], fv.byName[ot.name] = ot, ot
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() || !supportedKind(f.Type) {
				continue
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				name, _, _ = cutComma(tag)
			}
			if name == "" || name == "-" {
				continue
			}
			if _, dup := ot.index[name]; dup {
				continue // NativeTypes refuses the type; the environment fails to build
			}
			ot.index[name] = len(ot.fields)
			ot.fields = append(ot.fields, objField{name: name, idx: f.Index, typ: f.Type})
			walk(f.Type)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	// Number the slots in a fixed order (types by name, fields in order).
	names := make([]string, 0, len(fv.byName))
	for n := range fv.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ot := fv.byName[n]
		for i := range ot.fields {
			ot.fields[i].slot = fv.slotFor(ot.fields[i].typ)
		}
	}
	return fv
}

// slotFor numbers the slots of a field of type t.
func (fv *factValues) slotFor(t reflect.Type) *slotNode {
	n := &slotNode{id: fv.nSlots}
	fv.nSlots++
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		n.obj = fv.byType[t]
	case reflect.Slice, reflect.Array:
		if t.Elem() != bytesType {
			n.items = fv.slotFor(t.Elem())
		}
	case reflect.Map:
		n.keys, n.values = fv.slotFor(t.Key()), fv.slotFor(t.Elem())
	}
	return n
}

// resolve finds the slot of a cost estimator path below a root struct type: field names,
// then @items, @keys and @values into containers, field names again into structs. It fails
// for anything else (@indices, unknown fields, a path that ends on a struct).
func (fv *factValues) resolve(root *objType, path []string) (*slotNode, bool) {
	ot := root
	var cur *slotNode
	for _, p := range path {
		switch {
		case ot != nil:
			i, ok := ot.index[p]
			if !ok {
				return nil, false
			}
			cur, ot = ot.fields[i].slot, nil
		case p == "@items" && cur.items != nil:
			cur = cur.items
		case p == "@keys" && cur.keys != nil:
			cur = cur.keys
		case p == "@values" && cur.values != nil:
			cur = cur.values
		default:
			return nil, false
		}
		if cur.obj != nil {
			ot = cur.obj
		}
	}
	if cur == nil || ot != nil {
		return nil, false
	}
	return cur, true
}

func cutComma(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// supportedKind mirrors NativeTypes: fields of these kinds are not visible to CEL.
func supportedKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Chan, reflect.Complex64, reflect.Complex128, reflect.Func,
		reflect.UnsafePointer, reflect.Uintptr:
		return false
	case reflect.Array, reflect.Slice:
		return supportedKind(t.Elem())
	case reflect.Map:
		return supportedKind(t.Key()) && supportedKind(t.Elem())
	}
	return true
}

// bind completes the tables with an environment's adapter; the environments of one
// catalog share their type registrations, so one adapter serves them all.
func (fv *factValues) bind(adapter types.Adapter) {
	fv.adapter = adapter
	fv.emptyList = types.NewRefValList(adapter, []ref.Val{})
	for _, ot := range fv.byType {
		ot.celTyp = adapter.NativeToValue(reflect.New(ot.rt).Interface()).Type()
	}
	fv.zero = map[*objType]*objVal{}
	for _, ot := range fv.byType {
		fv.zeroOf(ot)
	}
}

// zeroOf converts the zero struct of a type once; bind fills them all before any run, so
// that runs only read the table.
func (fv *factValues) zeroOf(ot *objType) ref.Val {
	if z, ok := fv.zero[ot]; ok {
		if z == nil { // a type that contains itself: the model has none
			return types.NullValue
		}
		return z
	}
	fv.zero[ot] = nil
	z := fv.object(ot, reflect.New(ot.rt).Elem())
	fv.zero[ot] = z
	return z
}

// value converts a Go fact value (a struct, usually a pointer to one) to CEL, and gives the
// sizes under it: for each slot, the largest string length (in bytes, at least its size()
// in code points), list length or map length found there. nil sizes mean unknown.
func (fv *factValues) value(v any) (ref.Val, []int32) {
	c := converter{fv: fv, sizes: make([]int32, fv.nSlots)}
	val := c.convert(reflect.ValueOf(v), false, nil)
	if c.unknown {
		return val, nil
	}
	return val, c.sizes
}

// converter converts one value and tracks the sizes in it.
type converter struct {
	fv      *factValues
	sizes   []int32
	unknown bool
}

// size records a size at a slot. Sizes beyond int32 (or without a slot, which the fact
// model does not have) make the value's sizes unknown, and so its checks tracked.
func (c *converter) size(sl *slotNode, n int) {
	if sl == nil || n > math.MaxInt32 {
		c.unknown = true
		return
	}
	if int32(n) > c.sizes[sl.id] {
		c.sizes[sl.id] = int32(n)
	}
}

// object converts a struct value.
func (fv *factValues) object(ot *objType, v reflect.Value) *objVal {
	c := converter{fv: fv, sizes: make([]int32, fv.nSlots)}
	return c.object(ot, v)
}

func (c *converter) object(ot *objType, v reflect.Value) *objVal {
	o := &objVal{t: ot, vals: make([]ref.Val, len(ot.fields)), src: v}
	for i := range ot.fields {
		f := v.FieldByIndex(ot.fields[i].idx)
		if i < 64 && !f.IsZero() {
			o.set |= 1 << i
		}
		o.vals[i] = c.convert(f, true, ot.fields[i].slot)
	}
	return o
}

// convert turns one Go value into CEL as NativeTypes would read it, recording sizes at
// slot. A struct field (field) reads a nil pointer as the zero struct and a zero time as
// the Unix epoch, as NativeTypes' field access does; elsewhere nil is null.
func (c *converter) convert(v reflect.Value, field bool, slot *slotNode) ref.Val {
	fv := c.fv
	if !v.IsValid() {
		return types.NullValue
	}
	t := v.Type()
	if t.Implements(refValType) && v.CanInterface() {
		if r, ok := v.Interface().(ref.Val); ok && r != nil {
			c.unknown = true
			return r
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return types.Bool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == durationType {
			return types.Duration{Duration: time.Duration(v.Int())}
		}
		return types.Int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return types.Uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return types.Double(v.Float())
	case reflect.String:
		c.size(slot, v.Len())
		return types.String(v.String())
	case reflect.Pointer:
		if ot := fv.byType[t.Elem()]; ot != nil {
			if v.IsNil() {
				if field {
					return fv.zeroOf(ot)
				}
				return types.NullValue
			}
			return c.object(ot, v.Elem())
		}
	case reflect.Struct:
		if t == timeType {
			tm := v.Interface().(time.Time)
			if field && tm.IsZero() {
				tm = time.Unix(0, 0)
			}
			return types.Timestamp{Time: tm}
		}
		if ot := fv.byType[t]; ot != nil {
			return c.object(ot, v)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem() == bytesType {
			break
		}
		n := v.Len()
		c.size(slot, n)
		if n == 0 {
			return fv.emptyList
		}
		var items *slotNode
		if slot != nil {
			items = slot.items
		}
		elems := make([]ref.Val, n)
		for i := range elems {
			elems[i] = c.convert(v.Index(i), false, items)
		}
		return types.NewRefValList(fv.adapter, elems)
	case reflect.Map:
		c.size(slot, v.Len())
		var keys, values *slotNode
		if slot != nil {
			keys, values = slot.keys, slot.values
		}
		m := make(map[ref.Val]ref.Val, v.Len())
		it := v.MapRange()
		for it.Next() {
			m[c.convert(it.Key(), false, keys)] = c.convert(it.Value(), false, values)
		}
		return types.NewRefValMap(fv.adapter, m)
	}
	c.unknown = true // bytes, interfaces …: not sized here
	if !v.CanInterface() {
		return types.NullValue
	}
	return fv.adapter.NativeToValue(v.Interface())
}

// params converts a module's decoded JSON parameters once, rather than adapting the map's
// elements on every access, and gives the largest size in them (one slot: the estimator
// sees params as a map of dyn).
func (fv *factValues) params(p map[string]any) (ref.Val, []int32) {
	c := converter{fv: fv, sizes: make([]int32, 1)}
	v := c.json(p)
	if c.unknown {
		return v, nil
	}
	return v, c.sizes
}

func (c *converter) json(v any) ref.Val {
	switch x := v.(type) {
	case map[string]any:
		c.size(paramsSlot, len(x))
		m := make(map[ref.Val]ref.Val, len(x))
		for k, e := range x {
			c.size(paramsSlot, len(k))
			m[types.String(k)] = c.json(e)
		}
		return types.NewRefValMap(c.fv.adapter, m)
	case []any:
		c.size(paramsSlot, len(x))
		elems := make([]ref.Val, len(x))
		for i, e := range x {
			elems[i] = c.json(e)
		}
		return types.NewRefValList(c.fv.adapter, elems)
	case string:
		c.size(paramsSlot, len(x))
	case nil, bool, int64, float64, int, uint64:
	default:
		c.unknown = true
	}
	return c.fv.adapter.NativeToValue(v)
}

// paramsSlot is the one slot of params' sizes.
var paramsSlot = &slotNode{id: 0}

// ConvertToNative gives the Go struct (or a pointer to it) back.
func (o *objVal) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch {
	case typeDesc == o.t.rt:
		return o.src.Interface(), nil
	case typeDesc.Kind() == reflect.Pointer && typeDesc.Elem() == o.t.rt:
		if o.src.CanAddr() {
			return o.src.Addr().Interface(), nil
		}
		p := reflect.New(o.t.rt)
		p.Elem().Set(o.src)
		return p.Interface(), nil
	}
	return nil, errConvert(o.t.name, typeDesc.String())
}

// ConvertToType converts to the object's own type or to its type value.
func (o *objVal) ConvertToType(typeVal ref.Type) ref.Val {
	switch {
	case typeVal == types.TypeType:
		return o.t.celTyp.(ref.Val)
	case typeVal.TypeName() == o.t.name:
		return o
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.t.name, typeVal)
}

// Equal compares two objects of the same type field by field.
func (o *objVal) Equal(other ref.Val) ref.Val {
	p, ok := other.(*objVal)
	if !ok || p.t.rt != o.t.rt {
		return types.False
	}
	if p == o {
		return types.True
	}
	for i := range o.vals {
		if o.vals[i].Equal(p.vals[i]) != types.True {
			return types.False
		}
	}
	return types.True
}

// Type is the NativeTypes type of the struct.
func (o *objVal) Type() ref.Type { return o.t.celTyp }

// Value returns the object itself: field access through factsProvider recognizes it.
func (o *objVal) Value() any { return o }

// IsZeroValue reports whether no field is set.
func (o *objVal) IsZeroValue() bool { return o.set == 0 }

// Get returns a field by name.
func (o *objVal) Get(field ref.Val) ref.Val {
	i, err := o.field(field)
	if err != nil {
		return err
	}
	return o.vals[i]
}

// IsSet reports whether a field is set (not its Go zero value).
func (o *objVal) IsSet(field ref.Val) ref.Val {
	i, err := o.field(field)
	if err != nil {
		return err
	}
	return types.Bool(o.isSet(i))
}

// isSet reads the set bit of field i; fields beyond the 64 bits (no fact struct has that
// many) are tested on the Go value.
func (o *objVal) isSet(i int) bool {
	if i < 64 {
		return o.set&(1<<i) != 0
	}
	return !o.src.FieldByIndex(o.t.fields[i].idx).IsZero()
}

func (o *objVal) field(field ref.Val) (int, ref.Val) {
	name, ok := field.(types.String)
	if !ok {
		return 0, types.MaybeNoSuchOverloadErr(field)
	}
	i, ok := o.t.index[string(name)]
	if !ok {
		return 0, types.NewErr("no such field: %s", name)
	}
	return i, nil
}

func errConvert(from, to string) error {
	return &convertError{from: from, to: to}
}

type convertError struct{ from, to string }

func (e *convertError) Error() string {
	return "type conversion error from '" + e.from + "' to '" + e.to + "'"
}

// factsProvider is the NativeTypes registry with field access that reads converted objects
// by index; other values (tests that adapt Go structs directly) take the reflective path.
type factsProvider struct {
	types.Provider
	fv *factValues
}

// FindStructFieldType wraps the registry's field accessors.
func (p *factsProvider) FindStructFieldType(structType, fieldName string) (*types.FieldType,
	bool) {
	ft, ok := p.Provider.FindStructFieldType(structType, fieldName)
	if !ok || ft == nil {
		return ft, ok
	}
	ot := p.fv.byName[structType]
	if ot == nil {
		return ft, ok
	}
	i, found := ot.index[fieldName]
	if !found || ft.IsSet == nil || ft.GetFrom == nil {
		return ft, ok
	}
	isSet, getFrom := ft.IsSet, ft.GetFrom
	return &types.FieldType{
		Type:        ft.Type,
		IsJSONField: ft.IsJSONField,
		IsSet: func(obj any) bool {
			if o, ok := obj.(*objVal); ok && o.t == ot {
				return o.isSet(i)
			}
			return isSet(obj)
		},
		GetFrom: func(obj any) (any, error) {
			if o, ok := obj.(*objVal); ok && o.t == ot {
				return o.vals[i], nil
			}
			return getFrom(obj)
		},
	}, true
}

// withFactsProvider installs factsProvider over the environment's provider; it comes after
// ext.NativeTypes.
func withFactsProvider(fv *factValues) cel.EnvOption {
	return func(e *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(&factsProvider{Provider: e.CELTypeProvider(), fv: fv})(e)
	}
}
