package omada

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantra/tenantra/network/internal/restapi"
)

// The endpoints, as the Omada OpenAPI documents them.
const (
	pathToken = "/openapi/authorize/token"
)

func pathSites(omadacID string) string { return "/openapi/v1/" + omadacID + "/sites" }

func pathDevices(omadacID, siteID string) string {
	return "/openapi/v1/" + omadacID + "/sites/" + siteID + "/devices"
}

func pathClients(omadacID, siteID string) string {
	return "/openapi/v1/" + omadacID + "/sites/" + siteID + "/clients"
}

// ErrPartial is wrapped by Collect's error when some tables failed and the returned
// Inventory holds the others (Inventory.Partial, Inventory.PartialReasons).
var ErrPartial = errors.New("omada: partial collection")

// Inventory is what one Omada controller knows.
type Inventory struct {
	Sites   []Site   `json:"sites"`
	Devices []Device `json:"devices"`
	Clients []Client `json:"clients"`
	// Partial is true when a table could not be read completely; PartialReasons says why,
	// keyed "devices/<site name>" or "clients/<site name>".
	Partial        bool              `json:"partial"`
	PartialReasons map[string]string `json:"partial_reasons,omitempty"`
}

// Site is one Omada site.
type Site struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Region   string `json:"region"`
	TimeZone string `json:"time_zone"`
	Scenario string `json:"scenario"`
}

// Device is one managed device. Site, Model, Firmware, Status and Type mirror
// scanner.OmadaDevice one to one; the rest identifies the device for reconciliation.
type Device struct {
	Site     string `json:"site"` // site name
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	// Status is "connected", "disconnected", "pending", "heartbeat-missed" or "isolated".
	Status string `json:"status"`
	Type   string `json:"type"` // "ap", "switch", "gateway"
	SiteID string `json:"site_id"`
	Name   string `json:"name"`
	MAC    string `json:"mac"` // lower case, colon separated
	IP     string `json:"ip"`
	Serial string `json:"serial"`
}

// Client is one network client a site sees.
type Client struct {
	Site     string `json:"site"`
	SiteID   string `json:"site_id"`
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	Name     string `json:"name"` // the alias when set, else the host name
	HostName string `json:"host_name"`
	Vendor   string `json:"vendor"`
	Wireless bool   `json:"wireless"`
}

// Controller reads one Omada controller. It is safe for concurrent use; Close releases
// idle connections.
type Controller struct {
	opts Options
	api  *restapi.Client

	mu      sync.Mutex
	token   Secret
	expires time.Time
	issued  []Secret // recent tokens, so scrub can cut one that was already replaced
}

// New validates o and builds a Controller; it reads the CA file but does not connect.
func New(o Options) (*Controller, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	api, err := newAPI(o)
	if err != nil {
		return nil, err
	}
	return &Controller{opts: o, api: api}, nil
}

// Close releases idle connections.
func (c *Controller) Close() { c.api.Close() }

// Test is the credential test-connection action: it obtains an access token and reads the
// first page of sites, proving reachability, certificate trust, the credentials and the
// application's view rights. It returns how many sites the application can see.
func (c *Controller) Test(ctx context.Context) (int, error) {
	var pg page[json.RawMessage]
	q := url.Values{"page": {"1"}, "pageSize": {"1"}}
	if err := c.call(ctx, "sites", pathSites(c.opts.OmadacID), q, &pg); err != nil {
		return 0, err
	}
	return int(min(pg.TotalRows, 1<<31-1)), nil
}

// siteRow is one element of "Get site list" (GET /openapi/v1/{omadacId}/sites).
type siteRow struct {
	SiteID   string `json:"siteId"`
	Name     string `json:"name"`
	Region   string `json:"region"`
	TimeZone string `json:"timeZone"`
	Scenario string `json:"scenario"`
}

// deviceRow is one element of "Get device list"
// (GET /openapi/v1/{omadacId}/sites/{siteId}/devices).
type deviceRow struct {
	MAC             string          `json:"mac"`
	Name            string          `json:"name"`
	Type            string          `json:"type"`
	Model           string          `json:"model"`
	ShowModel       string          `json:"showModel"`
	IP              string          `json:"ip"`
	Status          json.RawMessage `json:"status"` // 0 disconnected, 1 connected, …
	SN              string          `json:"sn"`
	FirmwareVersion string          `json:"firmwareVersion"`
}

// clientRow is one element of "Get client list"
// (GET /openapi/v1/{omadacId}/sites/{siteId}/clients).
type clientRow struct {
	MAC      string `json:"mac"`
	Name     string `json:"name"`
	HostName string `json:"hostName"`
	Vendor   string `json:"vendor"`
	IP       string `json:"ip"`
	Wireless bool   `json:"wireless"`
}

// Collect reads the sites, then each site's devices and clients. The site list is
// required: without it Collect returns nil and its error. A site table that fails is left
// out and named in Inventory.PartialReasons, and the error wraps ErrPartial; the Inventory
// is returned either way.
func (c *Controller) Collect(ctx context.Context) (*Inventory, error) {
	rows, err := listAll[siteRow](ctx, c, "sites", pathSites(c.opts.OmadacID))
	if err != nil {
		return nil, err
	}
	inv := &Inventory{}
	var failed []error
	fail := func(key string, err error) {
		if inv.PartialReasons == nil {
			inv.PartialReasons = map[string]string{}
		}
		inv.PartialReasons[key] = err.Error()
		failed = append(failed, fmt.Errorf("%s: %w", key, err))
	}
	for _, s := range rows {
		site := Site{ID: s.SiteID, Name: s.Name, Region: s.Region, TimeZone: s.TimeZone,
			Scenario: s.Scenario}
		inv.Sites = append(inv.Sites, site)
		label := cmp.Or(s.Name, s.SiteID)
		if !validID(s.SiteID) {
			// The ID goes into a URL path; one that could walk it is not followed.
			err := fmt.Errorf("%w: site %q has an unusable id %q", ErrAPI, s.Name, s.SiteID)
			fail("devices/"+label, err)
			fail("clients/"+label, err)
			continue
		}
		devs, err := listAll[deviceRow](ctx, c, "devices of site "+label,
			pathDevices(c.opts.OmadacID, s.SiteID))
		if err == nil {
			for _, d := range devs {
				inv.Devices = append(inv.Devices, Device{
					Site: s.Name, SiteID: s.SiteID, Name: d.Name,
					Model:    cmp.Or(d.Model, d.ShowModel),
					Firmware: d.FirmwareVersion, Status: deviceStatus(d.Status),
					Type: strings.ToLower(d.Type), MAC: normalMAC(d.MAC), IP: d.IP,
					Serial: d.SN,
				})
			}
		} else if ctx.Err() != nil {
			return nil, fmt.Errorf("omada: collection stopped: %w", ctx.Err())
		} else {
			fail("devices/"+label, err)
		}
		clients, err := listAll[clientRow](ctx, c, "clients of site "+label,
			pathClients(c.opts.OmadacID, s.SiteID))
		if err == nil {
			for _, cl := range clients {
				inv.Clients = append(inv.Clients, Client{
					Site: s.Name, SiteID: s.SiteID, MAC: normalMAC(cl.MAC), IP: cl.IP,
					Name: cmp.Or(cl.Name, cl.HostName), HostName: cl.HostName,
					Vendor: cl.Vendor, Wireless: cl.Wireless,
				})
			}
		} else if ctx.Err() != nil {
			return nil, fmt.Errorf("omada: collection stopped: %w", ctx.Err())
		} else {
			fail("clients/"+label, err)
		}
	}
	if len(failed) > 0 {
		inv.Partial = true
		return inv, restapi.Partial(ErrPartial, failed)
	}
	return inv, nil
}

// deviceStatus names the OpenAPI's numeric device status; a string passes through.
func deviceStatus(raw json.RawMessage) string {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return ""
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		switch n {
		case 0:
			return "disconnected"
		case 1:
			return "connected"
		case 2:
			return "pending"
		case 3:
			return "heartbeat-missed"
		case 4:
			return "isolated"
		}
		return "status-" + strconv.Itoa(n)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.ToLower(s)
	}
	return ""
}

// normalMAC turns Omada's "AA-BB-CC-DD-EE-FF" into "aa:bb:cc:dd:ee:ff".
func normalMAC(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", ":")
}
