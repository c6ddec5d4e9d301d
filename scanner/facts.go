package scanner

import "time"

// The fact model: what checks see. Each check names the kind of subject it evaluates
// (Check.Kind); the engine binds that subject and its context to CEL variables:
//
//	kind          variables                 one subject per
//	asset         asset                     asset
//	ad_user       user, domain              AD user account
//	ad_domain     domain                    AD domain (directory)
//	fw_policy     policy, asset             firewall policy of a firewall asset
//	fw_admin      admin, asset              administrator of a firewall asset
//	fw_interface  iface, asset              interface of a firewall asset
//
// Every check also sees `now` (timestamp of the run, so results are deterministic for a given
// run time) and `params` (the module's validated parameters, a map). Field names in CEL are
// the json names below. Optional parts are pointers: test them with has(), for example
// `has(asset.snmp) && asset.snmp.version != "v3"`.
//
// Producers fill these from discovery (appliance builds them from the inventory and the
// per-asset fact documents in the results store); the model only grows, and a rename is a
// breaking change for the catalog.

// Facts is everything one run evaluates: a tenant's assets and, when an AD source ran, its
// directory.
type Facts struct {
	Assets    []Asset    `json:"assets"`
	Directory *Directory `json:"directory,omitempty"`
}

// Asset is one device of the inventory with the evidence discovery kept about it.
type Asset struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"` // server, workstation, firewall, switch, router, printer, …
	Vendor    string    `json:"vendor"`
	Model     string    `json:"model"`
	OS        string    `json:"os"`         // "Windows Server 2012 R2", "Linux", "FortiOS", …
	OSVersion string    `json:"os_version"` // "6.3", "7.2.5", … when known
	Firmware  string    `json:"firmware"`
	Serial    string    `json:"serial"`
	Addresses []string  `json:"addresses"`
	MACs      []string  `json:"macs"`
	Hostnames []string  `json:"hostnames"`
	Sources   []string  `json:"sources"` // "scan", "snmp", "ldap", "fortigate", "omada"
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`

	Services []Service    `json:"services"`
	SNMP     *SNMP        `json:"snmp,omitempty"`
	AD       *ADComputer  `json:"ad,omitempty"`
	Firewall *Firewall    `json:"firewall,omitempty"` // FortiGate configuration
	Software []Software   `json:"software,omitempty"`
	Omada    *OmadaDevice `json:"omada,omitempty"`
}

// Service is one open port with what its fingerprint read.
type Service struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // "tcp" or "udp"
	Name     string `json:"name"`     // "ssh", "http", "https", "telnet", "smb", "snmp", …
	Product  string `json:"product"`
	Version  string `json:"version"`
	// Evidence is the fingerprint's raw evidence (banner, server, title, auth, …).
	Evidence map[string]string `json:"evidence"`
	// Hints are the fingerprint's stable finding hints (network/fingerprint Finding*
	// constants: "tls1.0-accepted", "smbv1-enabled", "redis-no-auth", …).
	Hints []string `json:"hints"`
	TLS   *TLS     `json:"tls,omitempty"`
}

// TLS is what a TLS handshake showed.
type TLS struct {
	Versions     []string  `json:"versions"` // accepted: "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"
	CipherSuite  string    `json:"cipher_suite"`
	CertSubject  string    `json:"cert_subject"`
	CertIssuer   string    `json:"cert_issuer"`
	CertSANs     []string  `json:"cert_sans"`
	CertNotAfter time.Time `json:"cert_not_after"`
	SelfSigned   bool      `json:"self_signed"`
	KeyType      string    `json:"key_type"` // "RSA", "ECDSA", "Ed25519"
	KeyBits      int       `json:"key_bits"`
	SigAlgorithm string    `json:"sig_algorithm"`
}

// SNMP is what the device's agent answered, and how.
type SNMP struct {
	Version string `json:"version"` // "v1", "v2c", "v3"
	// DefaultCommunity is true when a v1/v2c agent answered a well-known community
	// ("public", "private", …).
	DefaultCommunity bool        `json:"default_community"`
	SysName          string      `json:"sys_name"`
	SysDescr         string      `json:"sys_descr"`
	SysObjectID      string      `json:"sys_object_id"`
	SysContact       string      `json:"sys_contact"`
	SysLocation      string      `json:"sys_location"`
	Profile          string      `json:"profile"` // vendor profile that matched
	HAMode           string      `json:"ha_mode"`
	Interfaces       []Interface `json:"interfaces"`
	Neighbours       int         `json:"neighbours"` // ARP entries
	LLDPNeighbours   int         `json:"lldp_neighbours"`
	Storage          []Storage   `json:"storage"`
}

// Interface is one network interface of a device.
type Interface struct {
	Name        string `json:"name"`
	Type        int    `json:"type"` // IANAifType
	MAC         string `json:"mac"`
	AdminStatus string `json:"admin_status"` // "up", "down", "testing"
	OperStatus  string `json:"oper_status"`
	SpeedBps    int64  `json:"speed_bps"`
}

// Storage is one HOST-RESOURCES-MIB storage row, in bytes.
type Storage struct {
	Descr string `json:"descr"`
	Type  string `json:"type"`
	Size  int64  `json:"size"`
	Used  int64  `json:"used"`
}

// Software is one installed package.
type Software struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ADComputer is the computer object of an asset that AD knows.
type ADComputer struct {
	SAMAccountName  string    `json:"sam_account_name"`
	DNSHostName     string    `json:"dns_host_name"`
	OS              string    `json:"os"`
	OSVersion       string    `json:"os_version"`
	Enabled         bool      `json:"enabled"`
	LastLogon       time.Time `json:"last_logon"` // zero when never
	PwdLastSet      time.Time `json:"pwd_last_set"`
	UAC             int       `json:"uac"`                    // userAccountControl
	TrustedForDeleg bool      `json:"trusted_for_delegation"` // unconstrained
	// Stale is true when there was no logon within the source's stale window.
	Stale              bool     `json:"stale"`
	ObjectGUID         string   `json:"object_guid"`
	DistinguishedName  string   `json:"dn"`
	ServicePrincipals  []string `json:"spns"`
	PrivilegedGroups   []string `json:"privileged_groups"`
	DelegationAllowed  bool     `json:"delegation_allowed"`
	PasswordNotRequire bool     `json:"password_not_required"`
}

// Directory is an AD domain: its policy and its accounts.
type Directory struct {
	Domain string   `json:"domain"` // DNS name, e.g. "corp.example"
	Policy ADPolicy `json:"policy"`
	Users  []ADUser `json:"users"`
	// StaleDays is the window the source used for Stale flags.
	StaleDays int `json:"stale_days"`
}

// ADPolicy is the domain's password and account policy.
type ADPolicy struct {
	MinPwdLength         int       `json:"min_pwd_length"`
	PwdHistoryLength     int       `json:"pwd_history_length"`
	MaxPwdAgeDays        int       `json:"max_pwd_age_days"`  // 0 = never expires
	LockoutThreshold     int       `json:"lockout_threshold"` // 0 = never locks out
	LockoutDurationMins  int       `json:"lockout_duration_mins"`
	PasswordComplexity   bool      `json:"password_complexity"`
	MachineAccountQuota  int       `json:"machine_account_quota"`
	KrbtgtPwdLastSet     time.Time `json:"krbtgt_pwd_last_set"`
	FunctionalLevel      int       `json:"functional_level"`
	ReversibleEncryption bool      `json:"reversible_encryption"`
}

// ADUser is one user account with the flags checks need already decoded.
type ADUser struct {
	SAMAccountName       string    `json:"sam_account_name"`
	DistinguishedName    string    `json:"dn"`
	DisplayName          string    `json:"display_name"`
	Enabled              bool      `json:"enabled"`
	LastLogon            time.Time `json:"last_logon"`
	PwdLastSet           time.Time `json:"pwd_last_set"`
	UAC                  int       `json:"uac"`
	PasswordNeverExpires bool      `json:"password_never_expires"`
	PasswordNotRequired  bool      `json:"password_not_required"`
	PreAuthNotRequired   bool      `json:"preauth_not_required"` // AS-REP roastable
	TrustedForDeleg      bool      `json:"trusted_for_delegation"`
	ReversibleEncryption bool      `json:"reversible_encryption"`
	ServicePrincipals    []string  `json:"spns"` // kerberoastable when not empty
	AdminCount           int       `json:"admin_count"`
	MemberOf             []string  `json:"member_of"` // direct group DNs
	// PrivilegedGroups names the privileged groups (Domain Admins, Enterprise Admins, Schema
	// Admins, Administrators, Account/Backup/Server Operators) the user is in, directly or
	// through nesting.
	PrivilegedGroups []string `json:"privileged_groups"`
	Stale            bool     `json:"stale"`
	Builtin          bool     `json:"builtin"` // RID < 1000 (Administrator, Guest, krbtgt)
}

// Firewall is a FortiGate's configuration as its REST API returned it.
type Firewall struct {
	Hostname   string        `json:"hostname"`
	Model      string        `json:"model"`
	Version    string        `json:"version"` // "7.2.5"
	Build      int           `json:"build"`
	Serial     string        `json:"serial"`
	HAMode     string        `json:"ha_mode"` // "standalone", "a-p", "a-a"
	Interfaces []FWInterface `json:"interfaces"`
	Admins     []FWAdmin     `json:"admins"`
	Policies   []FWPolicy    `json:"policies"`
	// BaselineVersion is the minimum firmware version the tenant's source configured.
	BaselineVersion string `json:"baseline_version"`
	// Partial is true when a table could not be read completely.
	Partial bool `json:"partial"`
}

// FWInterface is one FortiGate interface.
type FWInterface struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"` // "wan", "lan", "dmz", "undefined"
	IP          string   `json:"ip"`
	Status      string   `json:"status"`
	AllowAccess []string `json:"allowaccess"` // "https", "ssh", "ping", "http", "telnet", …
}

// FWAdmin is one administrator account.
type FWAdmin struct {
	Name         string   `json:"name"`
	Profile      string   `json:"profile"`
	TrustedHosts []string `json:"trusted_hosts"` // empty or only 0.0.0.0/0 = anywhere
	TwoFactor    bool     `json:"two_factor"`
}

// FWPolicy is one firewall policy.
type FWPolicy struct {
	ID         int      `json:"id"`
	Name       string   `json:"name"`
	Status     string   `json:"status"` // "enable", "disable"
	Action     string   `json:"action"` // "accept", "deny"
	SrcIntf    []string `json:"srcintf"`
	DstIntf    []string `json:"dstintf"`
	SrcAddr    []string `json:"srcaddr"` // "all" = any
	DstAddr    []string `json:"dstaddr"`
	Service    []string `json:"service"` // "ALL" = any
	Schedule   string   `json:"schedule"`
	LogTraffic string   `json:"logtraffic"` // "all", "utm", "disable"
	UTMStatus  string   `json:"utm_status"`
}

// OmadaDevice is a device as a TP-Link Omada controller reports it.
type OmadaDevice struct {
	Site     string `json:"site"`
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	Status   string `json:"status"`
	Type     string `json:"type"` // "ap", "switch", "gateway"
}
