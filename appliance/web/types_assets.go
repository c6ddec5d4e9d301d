package web

import (
	"time"

	"github.com/tenantra/tenantra/store"
)

// AssetFilter is what GET /v1/tenants/{tenant}/assets filters and orders by; see
// store.AssetQuery for what each field matches.
type AssetFilter struct {
	Q, Type, OS, Vendor string
	Port                uint16
	// Subnet is a CIDR, already checked; empty does not filter.
	Subnet string
	Sort   store.AssetSort
	Desc   bool
}

// AssetBody is an asset as the API lists it (issue 4 part 7): its addresses, MACs and host
// names, what it is, when it was seen, and its services.
type AssetBody struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Addresses []string        `json:"addresses"`
	MACs      []string        `json:"macs"`
	Hostnames []string        `json:"hostnames"`
	Type      string          `json:"type"`
	Vendor    string          `json:"vendor"`
	Model     string          `json:"model"`
	OS        string          `json:"os"`
	Firmware  string          `json:"firmware"`
	Serial    string          `json:"serial"`
	FirstSeen time.Time       `json:"first_seen"`
	LastSeen  time.Time       `json:"last_seen"`
	Services  []store.Service `json:"services"`
}

// AssetDetail is one asset with everything known about it: its other identifiers, the
// evidence of how observations were matched to it, and (as they are collected) its
// interfaces, neighbours and history.
type AssetDetail struct {
	AssetBody
	// ADObjects are Active Directory objectGUIDs; MachineIDs are agent machine ids.
	ADObjects  []string `json:"ad_objects"`
	MachineIDs []string `json:"machine_ids"`
	// Evidence is the merge log, newest first.
	Evidence []AssetEvidence `json:"evidence"`
	// Interfaces and Neighbours come from SNMP (ifTable, ARP and LLDP tables); History lists
	// changed fields, newest first; Classification says what decided the type and OS.
	Interfaces     []AssetInterface `json:"interfaces"`
	Neighbours     []AssetNeighbour `json:"neighbours"`
	History        []AssetChange    `json:"history"`
	Classification []AssetReason    `json:"classification"`
	// Facts is the evidence discovery kept: full service fingerprints (banners, TLS
	// certificates, hints), the SNMP view, and what AD, FortiGate or Omada reported.
	Facts any `json:"facts"`
}

// AssetReason is one piece of evidence behind a classified field (type, OS, vendor).
type AssetReason struct {
	Field  string `json:"field"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// AssetEvidence is one reconciliation decision about an asset.
type AssetEvidence struct {
	At         time.Time `json:"at"`
	Source     string    `json:"source"`
	Confidence float64   `json:"confidence"`
	Reason     string    `json:"reason"`
	// MergedFrom lists the ids of assets folded into this one by the decision.
	MergedFrom []string `json:"merged_from"`
}

// AssetInterface is a network interface of an asset (SNMP ifTable).
type AssetInterface struct {
	Index     int      `json:"index"`
	Name      string   `json:"name"`
	MAC       string   `json:"mac"`
	Addresses []string `json:"addresses"`
}

// AssetNeighbour is a device an asset sees on its links (ARP, LLDP).
type AssetNeighbour struct {
	Address string `json:"address"`
	MAC     string `json:"mac"`
	Via     string `json:"via"`
}

// AssetChange is a changed field of an asset.
type AssetChange struct {
	At    time.Time `json:"at"`
	Field string    `json:"field"`
	Old   string    `json:"old"`
	New   string    `json:"new"`
}
