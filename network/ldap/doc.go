// Package ldap owns the LDAP/Active Directory collector: it binds to a domain controller
// (simple or NTLM bind, over ldap://, StartTLS or ldaps:// with a CA or a pinned key), reads
// the domain's policy, users, computers and privileged groups with paged searches, and returns
// a typed Directory with the flags checks consume already derived (enabled, delegation,
// roastable, stale, privileged through nested groups, …).
//
// It never chases referrals (they name DNS hosts the appliance must not be steered to): they
// are reported in the Directory. A search cut short keeps what it read, marks the Directory
// Partial with a reason per table and returns an error wrapping ErrPartial.
package ldap
