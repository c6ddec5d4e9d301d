package web

import (
	"time"
)

// ScanRequest is one discovery run for a tenant.
type ScanRequest struct {
	Targets []string `json:"targets"`
	Exclude []string `json:"exclude,omitempty"`
	// Ports is a profile ("top100", "top1000") or a list ("22,80,8000-8100").
	Ports string `json:"ports,omitempty"`
	// SNMPCommunities are ad-hoc v2c communities. They are never stored: the job keeps
	// them in the memory of the process that accepted it, so a job re-queued after a
	// restart runs without them (Credentials names stored ones).
	SNMPCommunities []string `json:"snmp_communities,omitempty"`
	// Credentials names credentials of the tenant's vault, tried in order before the
	// ad-hoc communities. Only the names are stored with the job; the secrets are unsealed
	// when it runs.
	Credentials []string `json:"credentials,omitempty"`
	// Sources names discovery sources from the vault as kind:name — "ldap:corp",
	// "fortigate:hq-fw", "omada:branch" — collected after the network stage; a scan may name
	// sources only, without targets.
	Sources []string `json:"sources,omitempty"`
	// Force allows more than a /16 of addresses.
	Force bool `json:"force,omitempty"`
	// Rate caps probes per second for this scan; 0 means the appliance's limit only.
	Rate int `json:"rate,omitempty"`
}

// ScanProgress is what a running scan reports.
type ScanProgress struct {
	Stage string `json:"stage"` // discovery, ports, services, snmp, inventory, done
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// ScanReport is what a scan found.
type ScanReport struct {
	Hosts     int `json:"hosts"`
	OpenPorts int `json:"open_ports"`
	// Neighbours counts assets that SNMP agents' ARP tables added beyond the live hosts.
	Neighbours int `json:"neighbours"`
	// Findings and Score are the check run that followed the scan: failed checks over the
	// whole inventory and the tenant's weighted score (null when nothing applied).
	Findings int               `json:"findings"`
	Score    *float64          `json:"score"`
	Assets   []ScannedAsset    `json:"assets"`
	Errors   []ScanTargetError `json:"errors,omitempty"`
	// Notes are conditions that slowed or limited the scan without failing a target, each
	// with what to do about it.
	Notes    []string  `json:"notes,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// ScannedAsset is an asset as a scan reports it.
type ScannedAsset struct {
	AssetBody
	New bool `json:"new"`
}

// ScanTargetError is a per-target problem that did not stop the scan.
type ScanTargetError struct {
	Target string `json:"target"`
	Error  string `json:"error"`
}

// ScanScheduleRequest is the body of POST /v1/tenants/{tenant}/scan-schedules: a cron
// expression (five fields, or @hourly, @daily, @every 30m …, in UTC) and the scan to queue.
// Schedules take no SNMP communities, which would have to be stored.
type ScanScheduleRequest struct {
	Cron    string   `json:"cron"`
	Targets []string `json:"targets"`
	Exclude []string `json:"exclude,omitempty"`
	Ports   string   `json:"ports,omitempty"`
	Force   bool     `json:"force,omitempty"`
	Rate    int      `json:"rate,omitempty"`
}

// Scan is the request the schedule queues.
func (s ScanScheduleRequest) Scan() ScanRequest {
	return ScanRequest{Targets: s.Targets, Exclude: s.Exclude, Ports: s.Ports, Force: s.Force,
		Rate: s.Rate}
}
