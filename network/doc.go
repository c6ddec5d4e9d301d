// Package network owns the agentless collectors, one protocol each in its subpackages:
// targets, sweep, probes, fingerprints, SNMP, LDAP, FortiGate and Omada (ARCHITECTURE §7).
// It imports nothing of Tenantra above it. The discovery issues build it.
package network
