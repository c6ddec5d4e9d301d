package store

import "time"

// AssetIdentifier is one identifying value an asset was seen with.
type AssetIdentifier struct {
	Kind, Value string
	LastSeen    time.Time
}

// IdentifiedAsset is an asset id with every identifier it holds, as reconciliation needs it.
type IdentifiedAsset struct {
	AssetID     string
	Identifiers []AssetIdentifier
}

// Service is a network service found on an asset.
type Service struct {
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"` // tcp or udp
	Service  string `json:"service"`
	Product  string `json:"product"`
	Version  string `json:"version"`
}

// ObservationRecord is a reconciled observation to store: which asset it belongs to (empty
// for a new one), which assets fold into it, its identifiers, facts and services, and why.
type ObservationRecord struct {
	Target      string
	Merge       []string
	Source      string
	At          time.Time
	Confidence  float64
	Reason      string
	Identifiers []AssetIdentifier // Kind and Value; LastSeen is At
	// Facts overwrite the asset's fields when not empty: name, type, vendor, model, os,
	// firmware, serial.
	Facts    Asset
	Services []Service
}
