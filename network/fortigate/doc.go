// Package fortigate owns Tenantra's FortiGate collector (ARCHITECTURE §7): it reads a
// FortiGate's configuration and neighbour tables through the FortiOS REST API v2 with an API
// token — system status, HA mode, interfaces, administrators, firewall policies, the ARP
// table and DHCP leases — into a typed Config whose firewall parts map one to one onto the
// check fact model (scanner.Firewall and its FW* types), without importing it.
//
// The collector is built for appliances that are slow, rate-limited, self-signed or hostile:
// the certificate is verified against a configured CA file or a SHA-256 pin, every response
// body is capped, large tables are decoded as a stream (50,000 policies cost the result and
// one policy at a time, not the body), 429 answers are retried a bounded number of times
// honouring a capped Retry-After, and a table that fails leaves the others: Collect returns
// the partial Config together with an error wrapping ErrPartial. The API token is sent only
// in the Authorization header; it is never logged, formatted or put into an error.
//
// The package imports nothing of Tenantra above it.
package fortigate
