package store

import (
	"net/netip"
	"time"
)

// AssetSort names an order of the asset list.
type AssetSort string

// Asset list orders. SortAddress orders IPv4 addresses numerically (10.0.0.9 before
// 10.0.0.10), then other addresses as text; assets without an address come last.
const (
	SortName      AssetSort = "name"
	SortAddress   AssetSort = "address"
	SortLastSeen  AssetSort = "last_seen"
	SortFirstSeen AssetSort = "first_seen"
	SortVendor    AssetSort = "vendor"
	SortType      AssetSort = "type"
)

// AssetSorts lists the orders the asset list accepts.
var AssetSorts = []AssetSort{SortName, SortAddress, SortLastSeen, SortFirstSeen, SortVendor,
	SortType}

// AssetQuery filters and orders the asset list. Zero fields do not filter.
type AssetQuery struct {
	// Q is a case-insensitive substring of the name, an address, a host name, the vendor,
	// model, OS or serial.
	Q string
	// Type matches the device type exactly, ignoring case.
	Type string
	// OS and Vendor are case-insensitive substrings.
	OS, Vendor string
	// Port keeps assets with a service (TCP or UDP) on this port.
	Port uint16
	// Subnet keeps assets with any address inside the prefix.
	Subnet netip.Prefix
	// Sort is the order (SortName when empty); Desc reverses it.
	Sort AssetSort
	Desc bool
}

// AssetRecord is an asset with every identifier it holds and its services.
type AssetRecord struct {
	Asset
	Identifiers []AssetIdentifier
	Services    []Service
}

// AssetMerge is one entry of an asset's merge log: how an observation was matched to the
// asset, and which assets were folded into it.
type AssetMerge struct {
	At         time.Time
	MergedFrom []string
	Source     string
	Confidence float64
	Reason     string
}
