package fortigate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"sort"

	"github.com/tenantra/tenantra/network/internal/restapi"
)

// The endpoints, as the FortiOS 7.x REST API reference names them.
const (
	pathStatus     = "/api/v2/monitor/system/status"
	pathHA         = "/api/v2/cmdb/system/ha"
	pathInterfaces = "/api/v2/cmdb/system/interface"
	pathAdmins     = "/api/v2/cmdb/system/admin"
	pathPolicies   = "/api/v2/cmdb/firewall/policy"
	pathARP        = "/api/v2/monitor/network/arp"
	pathDHCP       = "/api/v2/monitor/system/dhcp"
)

// ErrPartial is wrapped by Collect's error when some tables failed and the returned Config
// holds the others (Config.Partial, Config.PartialReasons).
var ErrPartial = errors.New("fortigate: partial collection")

// Status is what GET /api/v2/monitor/system/status tells about the device.
type Status struct {
	Hostname string `json:"hostname"`
	Model    string `json:"model"`   // "FortiGate-60F"
	Version  string `json:"version"` // "7.2.8"
	Build    int    `json:"build"`
	Serial   string `json:"serial"`
	VDOM     string `json:"vdom"`
}

// Config is a FortiGate's configuration as the REST API returned it. Its fields up to
// Partial mirror scanner.Firewall one to one (same meanings and json names); Addresses,
// BelowBaseline, VDOM and PartialReasons are extra.
type Config struct {
	Hostname   string      `json:"hostname"`
	Model      string      `json:"model"`
	Version    string      `json:"version"`
	Build      int         `json:"build"`
	Serial     string      `json:"serial"`
	HAMode     string      `json:"ha_mode"` // "standalone", "a-p", "a-a"
	Interfaces []Interface `json:"interfaces"`
	Admins     []Admin     `json:"admins"`
	Policies   []Policy    `json:"policies"`
	// BaselineVersion is Options.BaselineVersion, the minimum firmware expected.
	BaselineVersion string `json:"baseline_version"`
	// Partial is true when a table could not be read completely; PartialReasons says why,
	// by table ("ha", "interfaces", "admins", "policies", "arp", "dhcp").
	Partial        bool              `json:"partial"`
	PartialReasons map[string]string `json:"partial_reasons,omitempty"`

	// Addresses are the hosts the FortiGate knows from its ARP table and DHCP leases, one
	// per (IP, MAC), sorted by IP: discovery input for reconciliation.
	Addresses []Address `json:"addresses"`
	// BelowBaseline is true when Version is older than BaselineVersion.
	BelowBaseline bool   `json:"below_baseline"`
	VDOM          string `json:"vdom"`
}

// Interface is one FortiGate interface (scanner.FWInterface).
type Interface struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"` // "wan", "lan", "dmz", "undefined"
	IP          string   `json:"ip"`   // prefix notation, "" when unset
	Status      string   `json:"status"`
	AllowAccess []string `json:"allowaccess"` // "https", "ssh", "ping", "http", "telnet", …
}

// Admin is one administrator account (scanner.FWAdmin).
type Admin struct {
	Name         string   `json:"name"`
	Profile      string   `json:"profile"`
	TrustedHosts []string `json:"trusted_hosts"` // empty = anywhere
	TwoFactor    bool     `json:"two_factor"`
}

// Policy is one firewall policy (scanner.FWPolicy).
type Policy struct {
	ID         int      `json:"id"`
	Name       string   `json:"name"`
	Status     string   `json:"status"` // "enable", "disable"
	Action     string   `json:"action"` // "accept", "deny"
	SrcIntf    []string `json:"srcintf"`
	DstIntf    []string `json:"dstintf"`
	SrcAddr    []string `json:"srcaddr"` // "all" = any
	DstAddr    []string `json:"dstaddr"`
	Service    []string `json:"service"` // "ALL" = any
	Schedule   string   `json:"schedule"`
	LogTraffic string   `json:"logtraffic"` // "all", "utm", "disable"
	UTMStatus  string   `json:"utm_status"`
}

// Address is a host the FortiGate has seen: from its ARP table, its DHCP leases or both.
type Address struct {
	IP        string   `json:"ip"`
	MAC       string   `json:"mac"`
	Hostname  string   `json:"hostname"`
	Interface string   `json:"interface"`
	Sources   []string `json:"sources"` // "arp", "dhcp"
}

// Client reads one FortiGate. It is safe for concurrent use; Close releases idle
// connections.
type Client struct {
	opts Options
	api  *restapi.Client
}

// New validates o and builds a Client; it reads the CA file but does not connect.
func New(o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	api, err := newAPI(o)
	if err != nil {
		return nil, err
	}
	return &Client{opts: o, api: api}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.api.Close() }

// Test reads the system status only: the credential test-connection action. It proves
// reachability, certificate trust and that the token is accepted.
func (c *Client) Test(ctx context.Context) (Status, error) {
	var st Status
	err := c.get(ctx, "status", pathStatus, nil, func(r io.Reader) (err error) {
		st, err = decodeStatus(r)
		return err
	})
	return st, err
}

// Collect reads every table. The system status is required: without it Collect returns
// nil and its error. Any other table that fails is left empty and named in
// Config.PartialReasons, and the error wraps ErrPartial; the Config is returned either way.
func (c *Client) Collect(ctx context.Context) (*Config, error) {
	st, err := c.Test(ctx)
	if err != nil {
		return nil, err
	}
	cfg := &Config{
		Hostname:        st.Hostname,
		Model:           st.Model,
		Version:         st.Version,
		Build:           st.Build,
		Serial:          st.Serial,
		VDOM:            cmp.Or(c.opts.VDOM, st.VDOM),
		BaselineVersion: c.opts.BaselineVersion,
		BelowBaseline:   versionBelow(st.Version, c.opts.BaselineVersion),
	}
	var arp, dhcp []Address
	// FortiOS's cmdb "format" parameter limits the fields sent per row: for 50,000 policies
	// that is the difference between tens and hundreds of megabytes.
	policyFields := "policyid|name|status|action|srcintf|dstintf|srcaddr|dstaddr|service|" +
		"schedule|logtraffic|utm-status"
	tables := []struct {
		name, path string
		query      url.Values
		decode     func(io.Reader) error
	}{
		{"ha", pathHA, nil, func(r io.Reader) (err error) {
			cfg.HAMode, err = decodeHA(r)
			return err
		}},
		{"interfaces", pathInterfaces, nil, func(r io.Reader) (err error) {
			cfg.Interfaces, err = decodeInterfaces(r)
			return err
		}},
		{"admins", pathAdmins, nil, func(r io.Reader) (err error) {
			cfg.Admins, err = decodeAdmins(r)
			return err
		}},
		{"policies", pathPolicies, url.Values{"format": {policyFields}},
			func(r io.Reader) (err error) {
				cfg.Policies, err = decodePolicies(r)
				return err
			}},
		{"arp", pathARP, nil, func(r io.Reader) (err error) {
			arp, err = decodeNeighbours(r, "arp", pathARP)
			return err
		}},
		{"dhcp", pathDHCP, nil, func(r io.Reader) (err error) {
			dhcp, err = decodeNeighbours(r, "dhcp", pathDHCP)
			return err
		}},
	}
	var failed []error
	for _, t := range tables {
		if err := c.get(ctx, t.name, t.path, t.query, t.decode); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("fortigate: collection stopped at %s: %w", t.name,
					ctx.Err())
			}
			if cfg.PartialReasons == nil {
				cfg.PartialReasons = map[string]string{}
			}
			cfg.PartialReasons[t.name] = err.Error()
			failed = append(failed, err)
		}
	}
	for i := range cfg.Interfaces {
		if cfg.Interfaces[i].IP == "0.0.0.0/0" {
			cfg.Interfaces[i].IP = ""
		}
	}
	cfg.Addresses = mergeAddresses(arp, dhcp)
	if len(failed) > 0 {
		cfg.Partial = true
		return cfg, restapi.Partial(ErrPartial, failed)
	}
	return cfg, nil
}

// mergeAddresses joins ARP entries and DHCP leases of the same (IP, MAC); a lease lends its
// hostname. The result is sorted by IP, then MAC.
func mergeAddresses(lists ...[]Address) []Address {
	byKey := map[string]int{}
	var out []Address
	for _, list := range lists {
		for _, a := range list {
			k := a.IP + "|" + a.MAC
			i, ok := byKey[k]
			if !ok {
				byKey[k] = len(out)
				out = append(out, a)
				continue
			}
			m := &out[i]
			m.Hostname = cmp.Or(m.Hostname, a.Hostname)
			m.Interface = cmp.Or(m.Interface, a.Interface)
			for _, s := range a.Sources {
				if !slices.Contains(m.Sources, s) {
					m.Sources = append(m.Sources, s)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := netip.ParseAddr(out[i].IP)
		b, _ := netip.ParseAddr(out[j].IP)
		if c := a.Compare(b); c != 0 {
			return c < 0
		}
		return out[i].MAC < out[j].MAC
	})
	return out
}
