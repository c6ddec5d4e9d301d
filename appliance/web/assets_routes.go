package web

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

// Inventory is the asset half of the service: the tenant's inventory, read-only.
type Inventory interface {
	// ListAssets returns one page of the tenant's assets matching f and their total.
	ListAssets(ctx context.Context, tenantID string, f AssetFilter, p store.Page) (
		[]AssetBody, int, error)
	// GetAsset returns one asset, or an error wrapping store.ErrNotFound.
	GetAsset(ctx context.Context, tenantID, id string) (AssetDetail, error)
}

// maxFilterLen caps each text filter, in bytes: a search box, not a payload.
const maxFilterLen = 200

func (s *Server) routesAssets() {
	inv, ok := s.svc.(Inventory)
	if !ok {
		return
	}
	s.handle(http.MethodGet, "/v1/tenants/:tenant/assets", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
			p, err := parsePage(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			f, err := parseAssetFilter(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			items, total, err := inv.ListAssets(r.Context(), tenantFrom(r.Context()).ID, f, p)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeList(w, r, items, total, p)
		})
	s.handle(http.MethodGet, "/v1/tenants/:tenant/assets/:id", authz.TenantRead,
		func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			id := ps.ByName("id")
			if len(id) > 100 || !utf8.ValidString(id) {
				s.fail(w, r, store.Errorf(store.ErrNotFound, "asset %q does not exist",
					store.Truncate(strings.ToValidUTF8(id, "?"), 60)))
				return
			}
			a, err := inv.GetAsset(r.Context(), tenantFrom(r.Context()).ID, id)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, a)
		})
}

// parseAssetFilter reads the asset list's query parameters.
func parseAssetFilter(r *http.Request) (AssetFilter, error) {
	q := r.URL.Query()
	var f AssetFilter
	for _, tf := range []struct {
		name string
		dst  *string
	}{{"q", &f.Q}, {"type", &f.Type}, {"os", &f.OS}, {"vendor", &f.Vendor}} {
		v := strings.TrimSpace(q.Get(tf.name))
		switch {
		case len(v) > maxFilterLen:
			return f, invalidParam("%s must be at most %d bytes, got %d", tf.name,
				maxFilterLen, len(v))
		case !utf8.ValidString(v):
			return f, invalidParam("%s is not valid UTF-8", tf.name)
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			return f, invalidParam("%s must not contain control characters", tf.name)
		}
		*tf.dst = v
	}
	if v := q.Get("port"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return f, invalidParam("port must be a whole number from 1 to 65535, got %q",
				store.Truncate(v, 20))
		}
		f.Port = uint16(n)
	}
	if v := q.Get("subnet"); v != "" {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			return f, invalidParam("subnet must be a CIDR such as 10.1.0.0/16 or "+
				"2001:db8::/64, got %q", store.Truncate(strings.ToValidUTF8(v, "?"), 60))
		}
		f.Subnet = pfx.Masked().String()
	}
	if v := q.Get("sort"); v != "" {
		name, desc := strings.CutPrefix(v, "-")
		if !slices.Contains(store.AssetSorts, store.AssetSort(name)) {
			names := make([]string, len(store.AssetSorts))
			for i, s := range store.AssetSorts {
				names[i] = string(s)
			}
			return f, invalidParam("sort must be one of %s, with - for descending "+
				"(e.g. -last_seen); got %q", strings.Join(names, ", "),
				store.Truncate(strings.ToValidUTF8(v, "?"), 40))
		}
		f.Sort, f.Desc = store.AssetSort(name), desc
	}
	return f, nil
}

func invalidParam(format string, args ...any) error {
	return errorf(http.StatusBadRequest, "invalid", format, args...)
}
