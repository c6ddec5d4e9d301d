package store

import "time"

// Credential kinds the vault holds: SNMP for device discovery, and the sources of the AD and
// firewall collectors.
const (
	CredSNMPv2c   = "snmp-v2c" //nolint:gosec // a kind name, not a secret
	CredSNMPv3    = "snmp-v3"
	CredLDAP      = "ldap"
	CredFortiGate = "fortigate"
	CredOmada     = "omada"
)

// Credential is one entry of a tenant's credential vault as everything outside the vault sees
// it: its name, kind and non-secret metadata. The secret fields are sealed with the tenant's
// data key (the AAD binds tenant and credential id) and travel only as Sealed, which is never
// encoded to JSON.
type Credential struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Metadata holds the non-secret fields (an SNMPv3 user and its protocols).
	Metadata  map[string]string `json:"metadata"`
	HasSecret bool              `json:"has_secret"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
	CreatedBy string            `json:"created_by,omitempty"`
	UpdatedBy string            `json:"updated_by,omitempty"`
	// Sealed is the sealed secret (keys.Sealer format); only the vault reads it.
	Sealed []byte `json:"-"`
}
