package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// apiError is an error with its HTTP status and public code; its message is safe to show.
type apiError struct {
	status  int
	code    string
	message string
	details any
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the error envelope every failed request gets.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
	TraceID string `json:"trace_id"`
}

// publicError maps an error to what a client may see. Sentinel kinds carry messages written
// for users; anything else is internal and its text stays in the log.
func publicError(err error) (*apiError, bool) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusBadRequest, "invalid", "%s", err.Error()), true
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "%s", err.Error()), true
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "conflict", "%s", err.Error()), true
	case errors.Is(err, store.ErrSecondFactorRequired):
		return errorf(http.StatusUnauthorized, "totp_required", "%s", err.Error()), true
	case errors.Is(err, store.ErrUnauthenticated):
		return errorf(http.StatusUnauthorized, "unauthenticated", "%s", err.Error()), true
	case errors.Is(err, store.ErrForbidden):
		return errorf(http.StatusForbidden, "forbidden", "%s", err.Error()), true
	case errors.Is(err, store.ErrRateLimited):
		return errorf(http.StatusTooManyRequests, "rate_limited", "%s", err.Error()), true
	}
	return errorf(http.StatusInternalServerError, "internal",
		"internal error; the server log has details under this trace_id"), false
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, _ := publicError(err)
	var rl *store.RateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter.Seconds())+1))
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tenantra"`)
	}
	writeJSON(w, ae.status, ErrorBody{Error: ErrorDetail{Code: ae.code, Message: ae.message,
		Details: ae.details, TraceID: TraceID(r.Context())}})
}

// fail writes the error envelope and logs what the client does not see.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if _, public := publicError(err); !public {
		s.log.ErrorContext(r.Context(), "request failed", "trace_id", TraceID(r.Context()),
			"route", r.URL.Path, "error", err)
	}
	writeError(w, r, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// decode reads a JSON body strictly: exactly one JSON object, sent as application/json, no
// unknown, duplicate or wrongly-cased fields, within MaxBodyBytes. v must point to a flat
// struct whose fields carry json tags. encoding/json alone is lenient on several of these: it
// matches keys case-insensitively, lets the last of duplicate keys win, accepts null and
// ignores a stray '}' after the value.
func decode(r *http.Request, v any) error {
	// A body without this content type is a "simple" cross-origin request that browsers send
	// without a CORS preflight, so requiring it also keeps other sites from posting here.
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"request body must be sent as Content-Type: application/json, not %q",
			store.Truncate(ct, 60))
	}
	body, err := io.ReadAll(r.Body)
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"request body is larger than %d bytes", MaxBodyBytes)
	case err != nil:
		return errorf(http.StatusBadRequest, "invalid_json", "request body could not be read")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return errorf(http.StatusBadRequest, "invalid_json", "request body is empty; send a "+
			"JSON object")
	}
	if trimmed[0] != '{' {
		return errorf(http.StatusBadRequest, "invalid_json",
			"request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON")
	case errors.As(err, &typ):
		return errorf(http.StatusBadRequest, "invalid_json",
			"field %q must be a JSON %s", typ.Field, jsonKind(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// checkKeys names the field, shortened: the key may be megabytes long.
		if err := checkKeys(body, v); err != nil {
			return err
		}
		return errorf(http.StatusBadRequest, "unknown_field", "request body has an unknown field")
	default:
		return errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "invalid_json",
			"request body must hold one JSON object")
	}
	return checkKeys(body, v)
}

// checkKeys rejects the keys encoding/json lets through: a key that matches a field only when
// case is ignored, and a key given twice. body is already known to be one valid JSON object.
func checkKeys(body []byte, v any) error {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	known := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if f.IsExported() && name != "-" {
			known[name] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace
		return errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return errorf(http.StatusBadRequest, "invalid_json",
				"request body is not valid JSON")
		}
		switch {
		case !known[key]:
			return errorf(http.StatusBadRequest, "unknown_field",
				"request body has unknown field %q", store.Truncate(key, 60))
		case seen[key]:
			return errorf(http.StatusBadRequest, "invalid_json",
				"field %q appears more than once", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errorf(http.StatusBadRequest, "invalid_json",
				"request body is not valid JSON")
		}
	}
	return nil
}

// jsonKind names the JSON type a Go type is decoded from, for error messages.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value"
}

// ListBody is the shape of every list response.
type ListBody[T any] struct {
	Items    []T `json:"items"`
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"page_size"`
}

// parsePage reads ?page= and ?page_size=.
func parsePage(r *http.Request) (store.Page, error) {
	p := store.Page{Page: 1, Size: store.DefaultPageSize}
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return p, errorf(http.StatusBadRequest, "invalid",
				"page must be a whole number from 1, got %q", store.Truncate(v, 20))
		}
		p.Page = n
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPageSize {
			return p, errorf(http.StatusBadRequest, "invalid",
				"page_size must be a whole number from 1 to %d, got %q", store.MaxPageSize,
				store.Truncate(v, 20))
		}
		p.Size = n
	}
	return p, nil
}

// writeList answers a list with an ETag, or 304 when the client's copy is current.
func writeList[T any](w http.ResponseWriter, r *http.Request, items []T, total int,
	p store.Page) {
	if items == nil {
		items = []T{}
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(ListBody[T]{Items: items, Total: total, Page: p.Page,
		PageSize: p.Size})
	sum := sha256.Sum256(buf.Bytes())
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" {
		for _, m := range strings.Split(match, ",") {
			if m = strings.TrimSpace(m); m == etag || m == "W/"+etag || m == "*" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) routesV1() {
	s.handle(http.MethodGet, "/v1/tenants", authz.TenantsList, s.listTenants)
	s.handle(http.MethodPost, "/v1/tenants", authz.PlatformTenantsCreate, s.createTenant)
	s.handle(http.MethodGet, "/v1/tenants/:tenant", authz.TenantRead, s.getTenant)
	s.handle(http.MethodPatch, "/v1/tenants/:tenant", authz.TenantUpdate, s.updateTenant)
	s.handle(http.MethodDelete, "/v1/tenants/:tenant", authz.PlatformTenantsDelete,
		s.deleteTenant)
	s.routesIdentity()
	s.routesArchive()
	s.routesScan()
	s.routesAssets()
	s.routesKeys()
	s.routesCredentials()
	s.routesChecks()
	s.routesTLS()
}

// TenantCreate is the body of POST /v1/tenants.
type TenantCreate struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	p, err := parsePage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, total, err := s.svc.ListTenants(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, items, total, p)
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body TenantCreate
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.svc.CreateTenant(r.Context(), body.Slug, body.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/tenants/"+t.Slug)
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, tenantFrom(r.Context()))
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var body store.TenantUpdate
	if err := decode(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	// Suspending and resuming belong to the operator; tenant admins may rename and set MFA.
	if body.Status != nil && !authz.Allow(authz.FromContext(r.Context()),
		authz.PlatformTenantsStatus, "") {
		s.svc.AuditDenied(r.Context(), tenantFrom(r.Context()).ID, "tenant.status",
			r.URL.Path, "role")
		s.fail(w, r, store.Errorf(store.ErrForbidden, "only a platform admin can suspend or "+
			"resume a tenant"))
		return
	}
	t, err := s.svc.UpdateTenant(r.Context(), tenantFrom(r.Context()).ID, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if err := s.svc.DeleteTenant(r.Context(), ps.ByName("tenant")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
