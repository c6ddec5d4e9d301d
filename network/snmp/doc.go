// Package snmp owns Tenantra's SNMP collector (ARCHITECTURE §7): it tries a target's
// credential sets in order (v1 and v2c communities, v3 users with SHA/SHA-256 and AES,
// authPriv) until one answers, then reads the system group, ifTable/ifXTable, ARP neighbours
// (ipNetToMediaTable and ipNetToPhysicalTable), the LLDP-MIB remote table, the ENTITY-MIB
// chassis row and HOST-RESOURCES-MIB software and storage, and identifies the vendor, model,
// firmware, serial and HA mode from vendor profiles keyed by sysObjectID prefix.
//
// Profiles and the seed OUI table are data (fixtures/snmp), parsed by ParseProfiles and
// ParseOUI; the package imports nothing of Tenantra above it. Every request has a bounded
// timeout and retry count and every table a row cap, so a slow, hostile or broken agent costs
// bounded time and memory and yields a per-target error instead of a stuck scan.
package snmp
