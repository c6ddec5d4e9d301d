package lab

import (
	"net/netip"
	"slices"
)

// HostTruth is what a correct discovery of one lab host reports. It is JSON-encodable and is
// what `tenantra lab up --json` prints.
type HostTruth struct {
	Name string     `json:"name"`
	Kind string     `json:"kind"` // device kind: "linux-server", "router", "tarpit", …
	Addr netip.Addr `json:"address"`
	// OpenPorts lists every TCP port that accepts; every other port of the address refuses.
	OpenPorts []uint16 `json:"open_tcp_ports"`
	// UDPPorts lists UDP ports that answer (the SNMP agents').
	UDPPorts []uint16       `json:"open_udp_ports,omitempty"`
	Services []ServiceTruth `json:"services"`
	// SNMP is set for a host that is a real SNMP agent.
	SNMP *SNMPTruth `json:"snmp,omitempty"`
}

// ServiceTruth is what the fingerprint stage should report for one open port: Service,
// Product, Version and Findings are compared with network/fingerprint's Service record
// (for "https", the HTTP grab over TLS and the TLS grab together).
type ServiceTruth struct {
	Port     uint16      `json:"port"`
	Protocol string      `json:"protocol"` // "tcp" or "udp"
	Kind     ServiceKind `json:"kind"`     // what the lab serves
	Service  string      `json:"service"`  // "ssh", "https", "smb", …; "" when none
	Product  string      `json:"product,omitempty"`
	Version  string      `json:"version,omitempty"`
	Findings []string    `json:"findings,omitempty"` // sorted fingerprint findings hints
	// Behaviour names a hostile peer ("tarpit", "firehose"): the port is open but a
	// fingerprint must fail cleanly, within its limits.
	Behaviour string `json:"behaviour,omitempty"`
}

// SNMPTruth is what an SNMP collector should report for an agent host.
type SNMPTruth struct {
	Community   string `json:"community"`
	SysName     string `json:"sys_name,omitempty"`
	SysObjectID string `json:"sys_object_id"`
	SysDescr    string `json:"sys_descr,omitempty"`
	Vendor      string `json:"vendor,omitempty"`
	Model       string `json:"model,omitempty"`
	Firmware    string `json:"firmware,omitempty"`
	Serial      string `json:"serial,omitempty"`
	OS          string `json:"os,omitempty"`
	Agent       string `json:"agent"` // "snmpd" or "snmpsimd"
}

// Service returns the truth of the service on port, if the host has one.
func (h HostTruth) Service(port uint16) (ServiceTruth, bool) {
	i := slices.IndexFunc(h.Services, func(s ServiceTruth) bool {
		return s.Port == port && s.Protocol == "tcp"
	})
	if i < 0 {
		return ServiceTruth{}, false
	}
	return h.Services[i], true
}
