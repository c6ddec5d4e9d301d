package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/tenantra/tenantra/network/lab/snmpagent"
)

// SNMPKind marks the UDP service of an SNMP agent host in the truth.
const SNMPKind ServiceKind = "snmp"

// snmpHostCount is how many addresses the SNMP agents take after the hosts.
const snmpHostCount = 3

// snmpRole is one agent the lab can start.
type snmpRole struct {
	name, kind, recording string // recording empty: snmpd
}

func snmpRoles() []snmpRole {
	return []snmpRole{
		{"fortigate-snmp", "firewall", "fortigate-60f"},
		{"tplink-snmp", "switch", "tplink-t2600g"},
		{"linux-snmp", "linux-server", ""},
	}
}

// startSNMP starts the agents whose program is given, each on its own address after the
// hosts (a role's address is fixed even when another role is left out).
func (l *Lab) startSNMP(ctx context.Context, first int) error {
	s := l.spec.SNMP
	port := s.Port
	if port == 0 {
		port = 161
	}
	for i, r := range snmpRoles() {
		program := s.Snmpsimd
		if r.recording == "" {
			program = s.Snmpd
		}
		if program == "" {
			continue
		}
		addr, err := hostAddr(l.spec.Base, first+i)
		if err != nil {
			return err
		}
		if err := l.checkRefuses(addr, nil); err != nil {
			return err
		}
		o := snmpagent.Options{Addr: netip.AddrPortFrom(addr, port).String(), Program: program}
		var a *snmpagent.Agent
		if r.recording != "" {
			o.Recording = r.recording
			a, err = snmpagent.RunSnmpsim(ctx, o)
		} else {
			o.SysName = r.name
			o.SysDescr = "Linux " + r.name + " 6.1.0-lab #1 SMP x86_64"
			a, err = snmpagent.RunSnmpd(ctx, o)
		}
		if err != nil {
			return fmt.Errorf("lab: snmp agent %s on %v: %w", r.name, addr, err)
		}
		l.mu.Lock()
		l.agents = append(l.agents, a)
		l.mu.Unlock()
		l.truth = append(l.truth, snmpTruth(r, addr, port, a))
	}
	return nil
}

// checkRefuses binds and releases every lab port on addr except the open ones: a failure
// means another program would answer there.
func (l *Lab) checkRefuses(addr netip.Addr, open []uint16) error {
	for _, p := range l.ports {
		if containsPort(open, p) {
			continue
		}
		ap := netip.AddrPortFrom(addr, p)
		ln, err := net.Listen("tcp4", ap.String())
		if err != nil {
			return bindError(ap, err)
		}
		_ = ln.Close()
	}
	return nil
}

func containsPort(ports []uint16, p uint16) bool {
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

func snmpTruth(r snmpRole, addr netip.Addr, port uint16, a *snmpagent.Agent) HostTruth {
	t := a.Truth
	agent := "snmpsimd"
	if r.recording == "" {
		agent = "snmpd"
	}
	name := t.SysName
	if name == "" {
		name = r.name
	}
	return HostTruth{
		Name: name, Kind: r.kind, Addr: addr, OpenPorts: []uint16{}, UDPPorts: []uint16{port},
		Services: []ServiceTruth{{Port: port, Protocol: "udp", Kind: SNMPKind, Service: "snmp",
			Product: strings.TrimSpace(t.Vendor + " " + t.Model), Version: t.Firmware}},
		SNMP: &SNMPTruth{Community: a.Community, SysName: t.SysName,
			SysObjectID: t.SysObjectID, SysDescr: t.SysDescr, Vendor: t.Vendor, Model: t.Model,
			Firmware: t.Firmware, Serial: t.Serial, OS: t.OS, Agent: agent},
	}
}
