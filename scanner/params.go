package scanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// printer renders schema validation messages; it is read-only after creation.
var printer = message.NewPrinter(language.English)

// noLoader refuses every external $ref: a module's schema is self-contained, and loading
// files or URLs named by an uploaded module would read the appliance's disk or network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema %q is not allowed: keep parameters self-contained",
		url)
}

// compileSchema compiles a parameters schema (JSON) under draft 2020-12 unless it says
// otherwise.
func compileSchema(ref string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	url := "urn:tenantra:module:" + ref + ":parameters"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// ValidateParams validates parameters for a module version against its schema after
// applying the schema's defaults, and returns the resulting JSON object. Empty or null
// input means no parameters given. Messages name the module and the field.
func ValidateParams(m *Module, params json.RawMessage) (json.RawMessage, error) {
	v, err := paramsValue(m, params)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("parameters of %s: %w", m.Ref(), err)
	}
	return out, nil
}

// paramsValue is ValidateParams returning the decoded object CEL sees as params.
func paramsValue(m *Module, params json.RawMessage) (map[string]any, error) {
	if m.schema == nil {
		return nil, fmt.Errorf("module %s has no compiled parameters schema", m.Ref())
	}
	var inst any = map[string]any{}
	if len(bytes.TrimSpace(params)) > 0 && string(bytes.TrimSpace(params)) != "null" {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(params))
		if err != nil {
			return nil, fmt.Errorf("parameters of %s are not JSON: %w", m.Ref(), err)
		}
		inst = v
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parameters of %s must be a JSON object", m.Ref())
	}
	applyDefaults(m.defaults, obj)
	if err := m.schema.Validate(obj); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("parameters of %s: %s", m.Ref(), describeValidation(ve))
		}
		return nil, fmt.Errorf("parameters of %s: %w", m.Ref(), err)
	}
	return normalizeNumbers(obj).(map[string]any), nil
}

// applyDefaults fills missing properties from the schema's `default`s, recursing into
// object properties that are present or get an object default.
func applyDefaults(schema map[string]any, obj map[string]any) {
	props, _ := schema["properties"].(map[string]any)
	for name, ps := range props {
		sub, _ := ps.(map[string]any)
		if sub == nil {
			continue
		}
		if _, ok := obj[name]; !ok {
			if d, ok := sub["default"]; ok {
				obj[name] = deepCopy(d)
			}
		}
		if child, ok := obj[name].(map[string]any); ok {
			applyDefaults(sub, child)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// normalizeNumbers turns json.Number (what jsonschema.UnmarshalJSON yields) and other
// numbers into int64 when integral and float64 otherwise, so CEL compares params.x > 3.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case int:
		return int64(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	return v
}

// describeValidation folds a jsonschema validation error into one line naming each failing
// field: `field "rate": must be <= 10000; field "": additional properties 'x' not allowed`.
func describeValidation(ve *jsonschema.ValidationError) string {
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			field := strings.Join(e.InstanceLocation, ".")
			msg := e.ErrorKind.LocalizedString(printer)
			if field == "" {
				msgs = append(msgs, msg)
			} else {
				msgs = append(msgs, fmt.Sprintf("field %q: %s", field, msg))
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(msgs)
	return strings.Join(msgs, "; ")
}

// maxNodes bounds the values one YAML subtree may expand to (aliases can multiply them).
const maxNodes = 100000

// nodeToValue converts a YAML subtree into JSON-shaped Go values (map[string]any, []any,
// string, int64, float64, bool, nil). Timestamps become RFC 3339 strings, so that a plain
// `2024-01-01` decodes into a time.Time field.
func nodeToValue(n *yaml.Node) (any, error) {
	budget := maxNodes
	return nodeValue(n, &budget, 0)
}

func nodeValue(n *yaml.Node, budget *int, depth int) (any, error) {
	*budget--
	if *budget < 0 || depth > 64 {
		return nil, errors.New("value is too large or too deeply nested")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0], budget, depth+1)
	case yaml.AliasNode:
		return nodeValue(n.Alias, budget, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be strings", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			v, err := nodeValue(n.Content[i+1], budget, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int":
			i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
			if err != nil {
				var f float64
				if n.Decode(&f) == nil {
					return f, nil
				}
				return nil, fmt.Errorf("line %d: integer %q is out of range", n.Line, n.Value)
			}
			return i, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("line %d: number %q is not finite", n.Line, n.Value)
			}
			return f, nil
		case "!!timestamp":
			t, err := parseYAMLTime(n.Value)
			if err != nil {
				return n.Value, nil
			}
			return t.Format(time.RFC3339Nano), nil
		default:
			return n.Value, nil
		}
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// parseYAMLTime parses the YAML 1.1 timestamp forms yaml.v3 recognises.
func parseYAMLTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-1-2t15:4:5.999999999Z07:00",
		"2006-1-2 15:4:5.999999999", "2006-1-2"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q", s)
}

// decodeFact decodes a YAML subtree into the fact model type of a variable, strictly: an
// unknown field is an error. It returns a pointer to the value.
func decodeFact(n *yaml.Node, v *subjectVar) (any, error) {
	val, err := nodeToValue(n)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(val)
	if err != nil {
		return nil, err
	}
	ptr := reflect.New(v.typ)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ptr.Interface()); err != nil {
		return nil, fmt.Errorf("does not fit the fact model: %s",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	return ptr.Interface(), nil
}

func newZero(v subjectVar) any { return reflect.New(v.typ).Interface() }
