package fortigate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// maxNesting bounds how deep a skipped value may nest: json.Decoder.Token keeps a stack
// entry per open bracket, so a body of nothing but '[' would otherwise cost memory in
// proportion to the body.
const maxNesting = 64

// maxSizeHint caps how many rows an announced table size may reserve up front (~16 MiB of
// Policy values); larger tables still decode, growing as they go.
const maxSizeHint = 65536

// envelope is the FortiOS REST API v2 response wrapper around "results" (FortiOS 7.x REST
// API reference, "Response format"): the request echo, the outcome and the device identity.
type envelope struct {
	HTTPMethod string
	HTTPStatus int
	Status     string // "success" or "error"
	Error      int    // FortiOS internal error code on failures, e.g. -3 (not found)
	Serial     string
	Version    string // "v7.2.8"
	Build      int
	VDOM       string
	Path       string
	Name       string
	Size       int // rows announced by "size" or "matched_count", 0 when absent
	hasResults bool
}

// err describes a FortiOS error answer.
func (e envelope) err(table, path string, code int) error {
	status := e.HTTPStatus
	if status == 0 {
		status = code
	}
	msg := fmt.Sprintf("%s: %s answered HTTP %d", table, path, status)
	if e.Error != 0 {
		msg += fmt.Sprintf(" (FortiOS error %d)", e.Error)
	}
	switch status {
	case 404:
		msg += " — the table does not exist on this model, firmware or VDOM"
	case 424:
		msg += " — a dependency failed; check the VDOM name"
	}
	return fmt.Errorf("%w: %s", ErrAPI, msg)
}

// resultsFunc consumes the "results" value at dec; size is the row count the response
// announced before it (0 when it did not).
type resultsFunc func(dec *json.Decoder, size int) error

// decodeInto is a resultsFunc that decodes the whole results value into v.
func decodeInto(v any) resultsFunc {
	return func(dec *json.Decoder, _ int) error { return dec.Decode(v) }
}

// decodeEnvelope reads one FortiOS response object from r token by token. When results is
// not nil it is called with dec positioned before the "results" value and must consume
// exactly that value; nil skips it. Only the scalars of the envelope are kept, so the cost
// beyond what results keeps is one value at a time.
func decodeEnvelope(r io.Reader, results resultsFunc) (envelope, error) {
	env, err := decodeEnvelopeEOF(r, results)
	// The token reader reports a body that stops between two tokens as a plain EOF; inside
	// an object that is a truncated body, and callers tell those apart by ErrUnexpectedEOF.
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w (the body ended inside the response)", io.ErrUnexpectedEOF)
	}
	return env, err
}

func decodeEnvelopeEOF(r io.Reader, results resultsFunc) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if tok, err := dec.Token(); errors.Is(err, io.EOF) {
		return env, errors.New("empty response")
	} else if err != nil {
		return env, err
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return env, fmt.Errorf("response: want an object, found %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return env, err
		}
		key, _ := tok.(string)
		switch key {
		case "results":
			env.hasResults = true
			if results == nil {
				err = skipValue(dec)
			} else {
				err = results(dec, env.Size)
			}
			if err != nil {
				return env, fmt.Errorf("results: %w", err)
			}
		case "http_method":
			env.HTTPMethod, err = scalarString(dec)
		case "status":
			env.Status, err = scalarString(dec)
		case "serial":
			env.Serial, err = scalarString(dec)
		case "version":
			env.Version, err = scalarString(dec)
		case "vdom":
			env.VDOM, err = scalarString(dec)
		case "path":
			env.Path, err = scalarString(dec)
		case "name":
			env.Name, err = scalarString(dec)
		case "size", "matched_count":
			// cmdb tables announce their row count before the rows: a capacity hint.
			var n int
			n, err = scalarInt(dec)
			env.Size = max(env.Size, n)
		case "http_status":
			env.HTTPStatus, err = scalarInt(dec)
		case "build":
			env.Build, err = scalarInt(dec)
		case "error":
			env.Error, err = scalarInt(dec)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return env, fmt.Errorf("field %q: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}', "response"); err != nil {
		return env, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return env, err
		}
		return env, errors.New("data after the response object")
	}
	return env, nil
}

// check reports an envelope that says the request failed, or lacks the results it needs.
func (e envelope) check(table, path string, needResults bool) error {
	if e.Status != "" && e.Status != "success" {
		return e.err(table, path, 200)
	}
	if e.HTTPStatus != 0 && e.HTTPStatus != 200 {
		return e.err(table, path, 200)
	}
	if needResults && !e.hasResults {
		return fmt.Errorf("%w: %s: %s answered without results", ErrAPI, table, path)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%s: want %v, found %v", what, want, tok)
	}
	return nil
}

// skipValue consumes one value of any kind without keeping it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
				if depth > maxNesting {
					return fmt.Errorf("nested deeper than %d levels", maxNesting)
				}
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// scalarString reads a string, number, bool or null as a string; anything else is an error.
func scalarString(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch v := tok.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want a scalar, found %v", tok)
}

// scalarInt reads a number (or a numeric string) as an int.
func scalarInt(dec *json.Decoder) (int, error) {
	s, err := scalarString(dec)
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("want an integer, found %q", s)
	}
	return n, nil
}

// eachElement calls fn once per element of the JSON array at dec (null is an empty array);
// fn must consume exactly one value, normally with dec.Decode.
func eachElement(dec *json.Decoder, fn func() error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("want a list, found %v", tok)
	}
	for dec.More() {
		if err := fn(); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// decodeStatus reads GET /api/v2/monitor/system/status.
func decodeStatus(r io.Reader) (Status, error) {
	var res struct {
		ModelName   string `json:"model_name"`   // "FortiGate"
		ModelNumber string `json:"model_number"` // "60F"
		Model       string `json:"model"`        // "FGT60F"
		Hostname    string `json:"hostname"`
	}
	env, err := decodeEnvelope(r, decodeInto(&res))
	if err != nil {
		return Status{}, err
	}
	if err := env.check("status", pathStatus, true); err != nil {
		return Status{}, err
	}
	model := res.Model
	if res.ModelName != "" && res.ModelNumber != "" {
		model = res.ModelName + "-" + res.ModelNumber
	}
	return Status{
		Hostname: res.Hostname,
		Model:    model,
		Version:  strings.TrimPrefix(env.Version, "v"),
		Build:    env.Build,
		Serial:   env.Serial,
		VDOM:     env.VDOM,
	}, nil
}

// decodeHA reads GET /api/v2/cmdb/system/ha: a singleton table whose results FortiOS gives
// as an object (7.x) or, on some builds, as a one-element list.
func decodeHA(r io.Reader) (string, error) {
	var raw json.RawMessage
	env, err := decodeEnvelope(r, decodeInto(&raw))
	if err != nil {
		return "", err
	}
	if err := env.check("ha", pathHA, true); err != nil {
		return "", err
	}
	type ha struct {
		Mode string `json:"mode"`
	}
	raw = bytes.TrimSpace(raw)
	var h ha
	if len(raw) > 0 && raw[0] == '[' {
		var list []ha
		if err := json.Unmarshal(raw, &list); err != nil {
			return "", fmt.Errorf("results: %w", err)
		}
		if len(list) > 0 {
			h = list[0]
		}
	} else if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	return h.Mode, nil
}

// decodeInterfaces reads GET /api/v2/cmdb/system/interface.
func decodeInterfaces(r io.Reader) ([]Interface, error) {
	var out []Interface
	env, err := decodeEnvelope(r, func(dec *json.Decoder, _ int) error {
		return eachElement(dec, func() error {
			var v struct {
				Name        string `json:"name"`
				Role        string `json:"role"`
				IP          string `json:"ip"` // "192.168.1.99 255.255.255.0"
				Status      string `json:"status"`
				Type        string `json:"type"`
				AllowAccess string `json:"allowaccess"` // "ping https ssh"
			}
			if err := dec.Decode(&v); err != nil {
				return err
			}
			out = append(out, Interface{
				Name:        v.Name,
				Role:        v.Role,
				IP:          prefixOf(v.IP),
				Status:      v.Status,
				AllowAccess: fields(v.AllowAccess),
			})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, env.check("interfaces", pathInterfaces, true)
}

// decodeAdmins reads GET /api/v2/cmdb/system/admin. Trusted hosts come as ten fixed
// attributes trusthost1..10 (and ip6-trusthost1..10); unset ones read "0.0.0.0 0.0.0.0"
// ("::/0"), and only set ones restrict logins, so only those are listed: an empty list
// means the admin may log in from anywhere.
func decodeAdmins(r io.Reader) ([]Admin, error) {
	var out []Admin
	env, err := decodeEnvelope(r, func(dec *json.Decoder, _ int) error {
		return eachElement(dec, func() error {
			var v map[string]json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return err
			}
			a := Admin{
				Name:    rawString(v["name"]),
				Profile: rawString(v["accprofile"]),
			}
			tf := rawString(v["two-factor"])
			a.TwoFactor = tf != "" && tf != "disable"
			for _, prefix := range []string{"trusthost", "ip6-trusthost"} {
				for i := 1; i <= 10; i++ {
					h := prefixOf(rawString(v[prefix+strconv.Itoa(i)]))
					if h != "" && h != "0.0.0.0/0" && h != "::/0" {
						a.TrustedHosts = append(a.TrustedHosts, h)
					}
				}
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, env.check("admins", pathAdmins, true)
}

// nameRef is how FortiOS lists references to other tables: [{"name": "port1",
// "q_origin_key": "port1"}].
type nameRef struct {
	Name string `json:"name"`
}

func names(refs []nameRef) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}

// policyRow is one element of GET /api/v2/cmdb/firewall/policy with the fields Policy
// keeps; FortiOS sends well over a hundred more per policy, which the decoder skips.
type policyRow struct {
	PolicyID   int       `json:"policyid"`
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	Action     string    `json:"action"`
	SrcIntf    []nameRef `json:"srcintf"`
	DstIntf    []nameRef `json:"dstintf"`
	SrcAddr    []nameRef `json:"srcaddr"`
	DstAddr    []nameRef `json:"dstaddr"`
	Service    []nameRef `json:"service"`
	Schedule   string    `json:"schedule"`
	LogTraffic string    `json:"logtraffic"`
	UTMStatus  string    `json:"utm-status"`
}

// decodePolicies streams GET /api/v2/cmdb/firewall/policy: one row is decoded at a time and
// converted, so memory is the result plus one row, whatever the table's size.
func decodePolicies(r io.Reader) ([]Policy, error) {
	var out []Policy
	env, err := decodeEnvelope(r, func(dec *json.Decoder, size int) error {
		// Sizing the result once saves the copies and the slack of growing it; the hint is
		// capped so that a device announcing absurd sizes cannot make us reserve memory.
		out = make([]Policy, 0, min(max(size, 0), maxSizeHint))
		return eachElement(dec, func() error {
			var v policyRow
			if err := dec.Decode(&v); err != nil {
				return err
			}
			out = append(out, Policy{
				ID:         v.PolicyID,
				Name:       v.Name,
				Status:     v.Status,
				Action:     v.Action,
				SrcIntf:    names(v.SrcIntf),
				DstIntf:    names(v.DstIntf),
				SrcAddr:    names(v.SrcAddr),
				DstAddr:    names(v.DstAddr),
				Service:    names(v.Service),
				Schedule:   v.Schedule,
				LogTraffic: v.LogTraffic,
				UTMStatus:  v.UTMStatus,
			})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, env.check("policies", pathPolicies, true)
}

// decodeNeighbours reads the ARP table (GET /api/v2/monitor/network/arp) or the DHCP
// leases (GET /api/v2/monitor/system/dhcp); both list ip, mac and interface, leases also
// hostname.
func decodeNeighbours(r io.Reader, table, path string) ([]Address, error) {
	var out []Address
	env, err := decodeEnvelope(r, func(dec *json.Decoder, _ int) error {
		return eachElement(dec, func() error {
			var v struct {
				IP        string `json:"ip"`
				MAC       string `json:"mac"`
				Hostname  string `json:"hostname"`
				Interface string `json:"interface"`
			}
			if err := dec.Decode(&v); err != nil {
				return err
			}
			ip, err := netip.ParseAddr(strings.TrimSpace(v.IP))
			if err != nil {
				return nil // an incomplete entry (no address yet) names nothing to discover
			}
			out = append(out, Address{
				IP:        ip.Unmap().String(),
				MAC:       normalMAC(v.MAC),
				Hostname:  v.Hostname,
				Interface: v.Interface,
				Sources:   []string{table},
			})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, env.check(table, path, true)
}

// fields splits a space-separated FortiOS list; nil when empty, like an absent list.
func fields(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}

// rawString is the string value of a raw JSON field, "" when absent or not a string.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// prefixOf turns FortiOS's "address mask" pairs ("10.0.0.1 255.255.255.0") into prefix
// notation ("10.0.0.1/24"); "0.0.0.0 0.0.0.0" (unset) becomes "", prefixes pass through,
// and anything else is kept as given so that evidence is not lost.
func prefixOf(s string) string {
	s = strings.TrimSpace(s)
	f := strings.Fields(s)
	switch len(f) {
	case 0:
		return ""
	case 1:
		if p, err := netip.ParsePrefix(f[0]); err == nil {
			return p.String()
		}
		if a, err := netip.ParseAddr(f[0]); err == nil {
			return a.String()
		}
		return s
	case 2:
		addr, err1 := netip.ParseAddr(f[0])
		mask, err2 := netip.ParseAddr(f[1])
		if err1 != nil || err2 != nil || !addr.Is4() || !mask.Is4() {
			return s
		}
		m := mask.As4()
		bits, ok := maskBits(m)
		if !ok {
			return s
		}
		if addr.IsUnspecified() && bits == 0 {
			return "0.0.0.0/0"
		}
		return netip.PrefixFrom(addr, bits).String()
	}
	return s
}

// maskBits counts the ones of a contiguous IPv4 netmask.
func maskBits(m [4]byte) (int, bool) {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	bits := 0
	for v&0x80000000 != 0 {
		bits++
		v <<= 1
	}
	return bits, v == 0
}

// normalMAC lowercases a MAC and uses colons; anything that is not six octets is kept.
func normalMAC(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.ReplaceAll(s, "-", ":")
	return s
}
