package store

import (
	"encoding/hex"
	"strconv"
	"time"
)

// CSVSafe defuses spreadsheet formulas in exported text: a cell starting with =, +, - or @
// gets a leading quote, so that opening an export cannot run what an attacker typed.
func CSVSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') {
		return "'" + v
	}
	return v
}

// AuditCSVHeader is the header row of audit exports.
var AuditCSVHeader = []string{"seq", "ts", "actor", "actor_ip", "tenant", "action", "target",
	"outcome", "diff", "trace_id", "prev_hash", "hash"}

// CSVRecord is the event as a row under AuditCSVHeader.
func (e AuditEvent) CSVRecord() []string {
	return []string{strconv.FormatInt(e.Seq, 10), e.TS.UTC().Format(time.RFC3339Nano),
		CSVSafe(e.Actor), e.ActorIP, CSVSafe(e.Tenant), CSVSafe(e.Action), CSVSafe(e.Target),
		e.Outcome, CSVSafe(string(e.Diff)), e.TraceID, hex.EncodeToString(e.PrevHash),
		hex.EncodeToString(e.Hash)}
}

// AssetCSVHeader is the header row of asset exports.
var AssetCSVHeader = []string{"id", "name", "address", "mac", "vendor", "os", "type", "model",
	"firmware", "serial", "first_seen", "last_seen"}

// CSVRecord is the asset as a row under AssetCSVHeader.
func (a Asset) CSVRecord() []string {
	return []string{a.ID, CSVSafe(a.Name), a.Address, a.MAC, CSVSafe(a.Vendor), CSVSafe(a.OS),
		CSVSafe(a.Type), CSVSafe(a.Model), CSVSafe(a.Firmware), CSVSafe(a.Serial),
		a.FirstSeen.UTC().Format(time.RFC3339), a.LastSeen.UTC().Format(time.RFC3339)}
}

// ServiceCSVHeader is the header row of service exports.
var ServiceCSVHeader = []string{"asset_id", "port", "protocol", "service", "product",
	"version"}

// CSVRecord is the service of an asset as a row under ServiceCSVHeader.
func (s Service) CSVRecord(assetID string) []string {
	return []string{assetID, strconv.Itoa(int(s.Port)), s.Protocol, CSVSafe(s.Service),
		CSVSafe(s.Product), CSVSafe(s.Version)}
}
