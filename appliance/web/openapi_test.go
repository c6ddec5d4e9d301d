package web_test

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

const openAPIFile = "../../docs/openapi.yaml"

// loadOpenAPI reads docs/openapi.yaml as plain maps, so that the checks below see exactly what
// is written.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse %s: %v", openAPIFile, err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("%s: openapi = %q, want 3.1.x", openAPIFile, v)
	}
	return doc
}

var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch",
	"trace"}

// routeParamRE matches httprouter's named (:name) and catch-all (*name) parameters.
var routeParamRE = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIPath turns an httprouter pattern into an OpenAPI path: /v1/tenants/:tenant →
// /v1/tenants/{tenant}.
func openAPIPath(route string) string { return routeParamRE.ReplaceAllString(route, "{$1}") }

// TestOpenAPICoversRoutes fails when the server registers a route docs/openapi.yaml does not
// document, or the document lists an operation the server does not serve (ARCHITECTURE §5).
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no paths", openAPIFile)
	}
	documented := map[string]bool{}
	for path, item := range paths {
		ops, ok := item.(map[string]any)
		if !ok {
			t.Errorf("paths[%q] is not an object", path)
			continue
		}
		for key := range ops {
			if slices.Contains(operationKeys, key) {
				documented[strings.ToUpper(key)+" "+path] = true
			}
		}
	}

	// A registry makes the server register /metrics too, so this is every route it has.
	srv := web.New(newMemService(), web.Options{Registry: prometheus.NewRegistry()})
	served := map[string]bool{}
	for _, r := range srv.Routes() {
		served[r.Method+" "+openAPIPath(r.Path)] = true
	}
	if len(served) == 0 {
		t.Fatal("the server registers no routes")
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but missing from %s", op, openAPIFile)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in %s but the server does not serve it", op, openAPIFile)
		}
	}
}

// TestOpenAPIActions fails when an operation's x-tenantra-action differs from the action the
// server registered for its route, and checks that exactly the public routes opt out of the
// global bearerAuth requirement with `security: []`.
func TestOpenAPIActions(t *testing.T) {
	doc := loadOpenAPI(t)
	global := asSlice(doc["security"])
	if len(global) != 1 || dig(global[0], "bearerAuth") == nil {
		t.Errorf("top-level security = %v, want [{bearerAuth: []}]", doc["security"])
	}
	if dig(doc, "components", "securitySchemes", "bearerAuth", "scheme") != "bearer" {
		t.Errorf("components.securitySchemes.bearerAuth is not an HTTP bearer scheme")
	}
	srv := web.New(newMemService(), web.Options{Registry: prometheus.NewRegistry()})
	registered := map[string]authz.Action{}
	for _, r := range srv.Routes() {
		registered[r.Method+" "+openAPIPath(r.Path)] = r.Action
	}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, method := range operationKeys {
			op, ok := ops[method].(map[string]any)
			if !ok {
				continue
			}
			at := strings.ToUpper(method) + " " + path
			got, _ := op["x-tenantra-action"].(string)
			want, served := registered[at]
			switch {
			case got == "":
				t.Errorf("%s has no x-tenantra-action", at)
			case served && got != string(want):
				t.Errorf("%s: x-tenantra-action %q, the server registers %q", at, got, want)
			}
			sec, overrides := op["security"]
			public := served && want == authz.Public
			if empty := overrides && len(asSlice(sec)) == 0; public != empty {
				t.Errorf("%s: security %v; want [] exactly on public routes (action %q)",
					at, sec, want)
			}
		}
	}
}

func TestOpenAPIPathMapping(t *testing.T) {
	for in, want := range map[string]string{
		"/health":                        "/health",
		"/v1/tenants/:tenant":            "/v1/tenants/{tenant}",
		"/v1/tenants/:tenant/assets/:id": "/v1/tenants/{tenant}/assets/{id}",
		"/static/*filepath":              "/static/{filepath}",
	} {
		if got := openAPIPath(in); got != want {
			t.Errorf("openAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenAPIDocument checks the document's internal consistency: references resolve,
// operation ids are unique, path parameters are declared, request bodies are closed.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	walk(doc, "", func(at string, m map[string]any) {
		if ref, ok := m["$ref"].(string); ok && resolve(doc, m) == nil {
			t.Errorf("%s: $ref %q does not resolve", at, ref)
		}
	})

	ids := map[string]string{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		declared := paramNames(doc, ops["parameters"])
		for _, method := range operationKeys {
			op, ok := ops[method].(map[string]any)
			if !ok {
				continue
			}
			at := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s has no operationId", at)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("%s and %s share operationId %q", prev, at, id)
			}
			ids[id] = at
			if r, _ := op["responses"].(map[string]any); len(r) == 0 {
				t.Errorf("%s has no responses", at)
			}
			params := append(paramNames(doc, op["parameters"]), declared...)
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path,
				-1) {
				if !slices.Contains(params, "path:"+m[1]) {
					t.Errorf("%s does not declare path parameter %q", at, m[1])
				}
			}
			if body, ok := op["requestBody"].(map[string]any); ok {
				schema := resolve(doc, dig(body, "content", "application/json", "schema"))
				if schema == nil {
					t.Errorf("%s: request body has no application/json schema", at)
				} else if schema["additionalProperties"] != false {
					t.Errorf("%s: request body schema lacks additionalProperties: false", at)
				}
			}
		}
	}
}

// TestOpenAPISchemasMatchTypes fails when a Go type the API sends or receives gains, loses or
// renames a JSON field without the schema following.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas, _ := dig(doc, "components", "schemas").(map[string]any)
	// Some bodies are map literals in the handlers ({"items": ...}, {"recovery_codes": ...});
	// these structs mirror them.
	type sessionList struct {
		Items []store.Session `json:"items"`
	}
	type tokenList struct {
		Items []store.APIToken `json:"items"`
	}
	type recoveryCodes struct {
		Codes []string `json:"recovery_codes"`
	}
	hash := make([]byte, 32)
	for i := range hash {
		hash[i] = byte(i * 7)
	}
	tests := []struct {
		schema string
		typ    any
		// required lists the fields that must be required: all of them unless the Go type
		// may leave some out.
		required []string
		// sample is a fully populated value, needed for types with their own MarshalJSON:
		// its encoding, not the struct tags, is what clients see.
		sample any
	}{
		{"Tenant", store.Tenant{}, nil, nil},
		{"TenantCreate", web.TenantCreate{}, nil, nil},
		{"TenantUpdate", store.TenantUpdate{}, []string{}, nil},
		{"TenantList", web.ListBody[store.Tenant]{}, nil, nil},
		{"Error", web.ErrorBody{}, nil, nil},
		{"LoginRequest", web.LoginRequest{}, nil, nil},
		{"Tokens", web.Tokens{}, nil, nil},
		{"Me", web.Me{}, nil, nil},
		{"TOTPEnrolment", web.TOTPEnrolment{}, nil, nil},
		{"TOTPCode", web.TOTPCode{}, nil, nil},
		{"RecoveryCodes", recoveryCodes{}, nil, nil},
		{"PasswordChange", web.PasswordChange{}, nil, nil},
		{"PasswordBody", web.PasswordBody{}, nil, nil},
		{"NewUser", web.NewUser{}, nil, nil},
		{"UserUpdate", web.UserUpdate{}, []string{}, nil},
		{"User", store.User{}, nil, nil},
		{"Membership", store.Membership{}, nil, nil},
		{"UserList", web.ListBody[store.User]{}, nil, nil},
		{"TenantUserAdd", web.TenantUserAdd{}, nil, nil},
		{"RoleBody", web.RoleBody{}, nil, nil},
		{"Session", store.Session{}, nil, nil},
		{"SessionList", sessionList{}, nil, nil},
		{"APIToken", store.APIToken{}, nil, nil},
		{"APITokenList", tokenList{}, nil, nil},
		{"NewAPIToken", web.NewAPIToken{}, nil, nil},
		// Embeds store.APIToken: its fields are flattened into the object, as encoding/json
		// does.
		{"CreatedAPIToken", web.CreatedAPIToken{}, nil, nil},
		// Custom MarshalJSON (hashes as hex): the sample's encoding is checked as well.
		{"AuditEvent", store.AuditEvent{}, nil, store.AuditEvent{Seq: 1, Actor: "a",
			ActorIP: "192.0.2.1", Tenant: "acme", Action: "x", Target: "y",
			Outcome: store.AuditSuccess, Diff: json.RawMessage(`{"k":1}`), TraceID: "t",
			PrevHash: make([]byte, 32), Hash: hash}},
		{"AuditList", web.ListBody[store.AuditEvent]{}, nil, nil},
		{"AuditVerification", web.AuditVerification{}, nil, nil},
		{"BackupRequest", web.BackupRequest{}, nil, nil},
		{"ExportRequest", web.ExportRequest{}, nil, nil},
		{"KeyStatus", web.KeyStatus{}, nil, nil},
		{"TLSStatus", web.TLSStatus{}, nil, nil},
		{"KeyInfo", web.KeyInfo{}, nil, nil},
		{"KeyRotateRequest", web.KeyRotateRequest{}, nil, nil},
		{"KeyRotateResult", web.KeyRotateResult{}, nil, nil},
		{"MasterKeyRotation", web.MasterKeyRotation{}, nil, nil},
		{"TenantKeyRotation", web.TenantKeyRotation{}, nil, nil},
		{"KeyRotationFailure", web.KeyRotationFailure{}, nil, nil},
		{"Asset", web.AssetBody{}, nil, nil},
		{"AssetList", web.ListBody[web.AssetBody]{}, nil, nil},
		// Embeds AssetBody: its fields are flattened into the object.
		{"AssetDetail", web.AssetDetail{}, nil, nil},
		{"AssetService", store.Service{}, nil, nil},
		{"AssetEvidence", web.AssetEvidence{}, nil, nil},
		{"ScanRequest", web.ScanRequest{}, nil, nil},
		{"ScanJob", store.ScanJob{}, nil, nil},
		{"ScanJobList", web.ListBody[store.ScanJob]{}, nil, nil},
		{"ScanScheduleRequest", web.ScanScheduleRequest{}, []string{"cron", "targets"}, nil},
		{"ScanSchedule", store.ScanSchedule{}, nil, nil},
		{"ScanScheduleList", web.ListBody[store.ScanSchedule]{}, nil, nil},
		{"Credential", store.Credential{}, nil, nil},
		{"CredentialList", web.ListBody[store.Credential]{}, nil, nil},
		{"CredentialRequest", web.CredentialRequest{}, nil, nil},
		{"CredentialTestRequest", web.CredentialTestRequest{}, nil, nil},
		{"CredentialTestResult", web.CredentialTestResult{}, nil, nil},
		{"Module", web.ModuleBody{}, nil, nil},
		{"ModuleList", web.ListBody[web.ModuleBody]{}, nil, nil},
		{"CatalogDrift", web.CatalogDrift{}, nil, nil},
		{"ModuleStateRequest", web.ModuleStateRequest{}, nil, nil},
		{"TenantModule", web.TenantModule{}, nil, nil},
		{"TenantModuleList", web.ListBody[web.TenantModule]{}, nil, nil},
		{"TenantModulesRequest", web.TenantModulesRequest{}, nil, nil},
		{"Finding", store.Finding{}, nil, nil},
		{"Waiver", store.Waiver{}, nil, nil},
		{"FindingList", web.ListBody[store.Finding]{}, nil, nil},
		{"WaiverRequest", web.WaiverRequest{}, nil, nil},
		{"FrameworkSummary", web.FrameworkSummary{}, nil, nil},
		{"ComplianceSummary", web.ComplianceSummary{}, nil, nil},
		{"AssetRef", web.AssetRef{}, nil, nil},
		{"ComplianceControl", web.ControlBody{}, nil, nil},
		{"ComplianceFramework", web.ComplianceFramework{}, nil, nil},
		{"ComplianceSnapshot", store.ComplianceSnapshot{}, nil, nil},
		{"ComplianceTrend", web.ListBody[store.ComplianceSnapshot]{}, nil, nil},
		{"OverviewTenant", web.AssetRefTenant{}, nil, nil},
		{"OverviewItem", web.OverviewItem{}, nil, nil},
		{"OverviewList", web.ListBody[web.OverviewItem]{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			s, _ := schemas[tt.schema].(map[string]any)
			if s == nil {
				t.Fatalf("components.schemas.%s is missing", tt.schema)
			}
			typ := reflect.TypeOf(tt.typ)
			checkSchemaFields(t, doc, tt.schema, s, typ, tt.required)
			marshaler := reflect.TypeFor[json.Marshaler]()
			custom := typ.Implements(marshaler) || reflect.PointerTo(typ).Implements(marshaler)
			switch {
			case tt.sample != nil:
				checkEncoding(t, doc, tt.schema, s, tt.sample)
			case custom:
				t.Errorf("%s: %s has its own MarshalJSON; give the test a sample", tt.schema,
					typ)
			}
		})
	}
}

// checkEncoding compares the keys of a sample's JSON encoding with the schema's properties
// and its string values with their patterns.
func checkEncoding(t *testing.T, doc map[string]any, at string, s map[string]any,
	sample any) {
	t.Helper()
	b, err := json.Marshal(sample)
	if err != nil {
		t.Fatalf("%s: marshal sample: %v", at, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatalf("%s: sample does not encode as an object: %v", at, err)
	}
	props, _ := s["properties"].(map[string]any)
	for k, v := range obj {
		p := resolve(doc, props[k])
		if p == nil {
			t.Errorf("%s: sample encodes %q, which the schema lacks", at, k)
			continue
		}
		pat, _ := p["pattern"].(string)
		if str, ok := v.(string); ok && pat != "" && !regexp.MustCompile(pat).MatchString(str) {
			t.Errorf("%s.%s: sample encodes %q, which does not match %s", at, k, str, pat)
		}
	}
	for k := range props {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: schema has %q, which the populated sample does not encode", at, k)
		}
	}
}

func checkSchemaFields(t *testing.T, doc map[string]any, at string, s map[string]any,
	typ reflect.Type, required []string) {
	t.Helper()
	fields, optional := jsonFields(typ)
	if required == nil {
		required = slices.DeleteFunc(slices.Clone(fields), func(f string) bool {
			return slices.Contains(optional, f)
		})
	}
	props, _ := s["properties"].(map[string]any)
	var names []string
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, fields) {
		t.Errorf("%s: schema properties %v, Go type %s has %v", at, names, typ, fields)
	}
	var req []string
	for _, r := range asSlice(s["required"]) {
		req = append(req, r.(string))
	}
	slices.Sort(req)
	slices.Sort(required)
	if !slices.Equal(req, required) {
		t.Errorf("%s: schema requires %v, want %v", at, req, required)
	}
	if s["additionalProperties"] != false {
		t.Errorf("%s: schema lacks additionalProperties: false", at)
	}
	// Nested objects (the error envelope's inside, Me's user) and arrays of objects (list
	// items, a user's memberships).
	for _, f := range jsonStructFields(typ) {
		ft, schema := f.typ, props[f.name]
		if ft.Kind() == reflect.Slice {
			ft, schema = ft.Elem(), dig(resolve(doc, schema), "items")
		}
		if ft.Kind() != reflect.Struct || ft.PkgPath() == "time" {
			continue
		}
		if inner := resolve(doc, schema); inner != nil {
			checkSchemaFields(t, doc, at+"."+f.name, inner, ft, nil)
		}
	}
}

type jsonField struct {
	name     string
	optional bool
	typ      reflect.Type
}

// jsonStructFields lists the fields encoding/json writes for a struct type. The fields of an
// embedded struct without a JSON name are promoted into the outer object, as encoding/json
// does (CreatedAPIToken embeds store.APIToken); name conflicts between levels are not
// resolved, since no API type has them.
func jsonStructFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonStructFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		out = append(out, jsonField{name: name, optional: optional, typ: f.Type})
	}
	return out
}

// jsonFields lists a struct type's JSON field names, sorted, and those marked omitempty.
func jsonFields(typ reflect.Type) (fields, optional []string) {
	for _, f := range jsonStructFields(typ) {
		fields = append(fields, f.name)
		if f.optional {
			optional = append(optional, f.name)
		}
	}
	slices.Sort(fields)
	return fields, optional
}

// walk calls fn for every object in the document, with its location.
func walk(v any, at string, fn func(at string, m map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(at, v)
		for k, c := range v {
			walk(c, at+"/"+k, fn)
		}
	case []any:
		for _, c := range v {
			walk(c, at+"[]", fn)
		}
	}
}

// resolve follows a local $ref (possibly several) and returns the object it names; a non-ref
// object is returned as it is.
func resolve(doc map[string]any, v any) map[string]any {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		rest, ok := strings.CutPrefix(ref, "#/")
		if !ok {
			return nil
		}
		v = dig(doc, strings.Split(rest, "/")...)
	}
	return nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// paramNames lists parameters as "in:name", following references.
func paramNames(doc map[string]any, v any) []string {
	var out []string
	for _, p := range asSlice(v) {
		if m := resolve(doc, p); m != nil {
			out = append(out, m["in"].(string)+":"+m["name"].(string))
		}
	}
	return out
}
