// Package sambadc owns the throwaway Active Directory domain controller that the LDAP
// collector's tests (and the appliance's end-to-end tests) run against: Debian's samba,
// provisioned into a temporary directory, serving LDAP and LDAPS on a private loopback
// address, and a seeder that bulk-adds users, computers, groups and risky settings over LDAP
// and returns the ground truth of which flags each seeded object must carry.
//
// Provisioning needs no network: the DNS backend is NONE, the DNS, NetBIOS, WINS, dnsupdate
// and ntp_signd services are off, and the server binds only its loopback address. Samba runs
// in the foreground (-i -M single) in its own process group; it is stopped by PID and also
// exits by itself when the test process dies (its stdin pipe closes).
package sambadc
