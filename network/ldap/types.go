package ldap

import "time"

// Directory is one AD domain as the collector read it. Field meanings mirror the scanner's
// fact model (Directory, ADPolicy, ADUser, ADComputer) so they map one to one.
type Directory struct {
	Domain    string `json:"domain"` // DNS name, "corp.example"
	BaseDN    string `json:"base_dn"`
	DomainSID string `json:"domain_sid"`
	// DCHostName is the rootDSE's dnsHostName of the server that answered.
	DCHostName string     `json:"dc_host_name"`
	Policy     Policy     `json:"policy"`
	Users      []User     `json:"users"`
	Computers  []Computer `json:"computers"`
	// Groups are the privileged groups found (by well-known SID) with their members
	// resolved through nesting.
	Groups []Group `json:"groups"`
	// StaleDays is the window the Stale flags were computed with.
	StaleDays   int       `json:"stale_days"`
	CollectedAt time.Time `json:"collected_at"`
	// Referrals are the continuation references and referrals the server returned; they
	// were not followed.
	Referrals []string `json:"referrals,omitempty"`
	// Partial is true when a table could not be read completely; PartialReasons says why,
	// per table ("root_dse", "policy", "groups", "users", "computers", "krbtgt").
	Partial        bool              `json:"partial"`
	PartialReasons map[string]string `json:"partial_reasons,omitempty"`
	Stats          Stats             `json:"stats"`
}

// Stats counts the work a collection did.
type Stats struct {
	Searches int           `json:"searches"`
	Pages    int           `json:"pages"`
	Entries  int           `json:"entries"`
	Duration time.Duration `json:"duration_ns"`
}

// Policy is the domain's password and account policy (the domain object's attributes).
type Policy struct {
	MinPwdLength     int `json:"min_pwd_length"`
	PwdHistoryLength int `json:"pwd_history_length"`
	MaxPwdAgeDays    int `json:"max_pwd_age_days"`  // 0 = never expires
	LockoutThreshold int `json:"lockout_threshold"` // 0 = never locks out
	// LockoutDurationMins is how long a locked account stays locked; -1 = until an
	// administrator unlocks it.
	LockoutDurationMins  int       `json:"lockout_duration_mins"`
	PasswordComplexity   bool      `json:"password_complexity"`
	ReversibleEncryption bool      `json:"reversible_encryption"` // domain-wide (pwdProperties)
	MachineAccountQuota  int       `json:"machine_account_quota"`
	KrbtgtPwdLastSet     time.Time `json:"krbtgt_pwd_last_set"`
	FunctionalLevel      int       `json:"functional_level"` // msDS-Behavior-Version
}

// User is one user account with the flags checks need already decoded.
type User struct {
	SAMAccountName    string    `json:"sam_account_name"`
	DistinguishedName string    `json:"dn"`
	DisplayName       string    `json:"display_name"`
	ObjectSID         string    `json:"object_sid"`
	RID               uint32    `json:"rid"`
	ObjectGUID        string    `json:"object_guid"`
	Enabled           bool      `json:"enabled"`
	LastLogon         time.Time `json:"last_logon"` // lastLogonTimestamp; zero when never
	PwdLastSet        time.Time `json:"pwd_last_set"`
	WhenCreated       time.Time `json:"when_created"`
	UAC               int       `json:"uac"` // userAccountControl
	PrimaryGroupID    int       `json:"primary_group_id"`

	PasswordNeverExpires bool     `json:"password_never_expires"`
	PasswordNotRequired  bool     `json:"password_not_required"`
	PreAuthNotRequired   bool     `json:"preauth_not_required"`   // AS-REP roastable
	TrustedForDeleg      bool     `json:"trusted_for_delegation"` // unconstrained
	ReversibleEncryption bool     `json:"reversible_encryption"`
	ServicePrincipals    []string `json:"spns"`
	// Kerberoastable: enabled, has SPNs, and is not krbtgt.
	Kerberoastable bool     `json:"kerberoastable"`
	AdminCount     int      `json:"admin_count"`
	MemberOf       []string `json:"member_of"` // direct group DNs
	// PrivilegedGroups are the canonical English names (Domain Admins, Enterprise Admins,
	// Schema Admins, Administrators, Account/Backup/Server Operators) of the privileged groups
	// the user is in, directly, nested or as primary group; found by SID, so localised
	// group names do not matter.
	PrivilegedGroups []string `json:"privileged_groups"`
	// Stale: enabled and no logon (lastLogonTimestamp, or when never logged on, the later of
	// whenCreated and pwdLastSet) within StaleDays.
	Stale   bool `json:"stale"`
	Builtin bool `json:"builtin"` // RID < 1000 (Administrator, Guest, krbtgt)
}

// Computer is one computer account.
type Computer struct {
	SAMAccountName    string    `json:"sam_account_name"`
	DNSHostName       string    `json:"dns_host_name"`
	OS                string    `json:"os"`
	OSVersion         string    `json:"os_version"`
	Enabled           bool      `json:"enabled"`
	LastLogon         time.Time `json:"last_logon"` // zero when never
	PwdLastSet        time.Time `json:"pwd_last_set"`
	WhenCreated       time.Time `json:"when_created"`
	UAC               int       `json:"uac"`
	ObjectGUID        string    `json:"object_guid"`
	ObjectSID         string    `json:"object_sid"`
	DistinguishedName string    `json:"dn"`
	ServicePrincipals []string  `json:"spns"`
	PrimaryGroupID    int       `json:"primary_group_id"`
	MemberOf          []string  `json:"member_of"`
	// DomainController: a (read-only) domain controller's account (SERVER_TRUST_ACCOUNT or
	// PARTIAL_SECRETS_ACCOUNT).
	DomainController bool `json:"domain_controller"`
	// TrustedForDeleg: unconstrained delegation on a computer that is not a domain
	// controller (DCs have it by design).
	TrustedForDeleg bool `json:"trusted_for_delegation"`
	// DelegationAllowed: constrained delegation configured (msDS-AllowedToDelegateTo) or
	// protocol transition (TRUSTED_TO_AUTH_FOR_DELEGATION).
	DelegationAllowed   bool     `json:"delegation_allowed"`
	AllowedToDelegateTo []string `json:"allowed_to_delegate_to,omitempty"`
	PasswordNotRequired bool     `json:"password_not_required"`
	PrivilegedGroups    []string `json:"privileged_groups"`
	Stale               bool     `json:"stale"`
}

// Group is a privileged group and its members through nesting.
type Group struct {
	Name           string `json:"name"` // canonical English name, chosen by SID
	SAMAccountName string `json:"sam_account_name"`
	DN             string `json:"dn"`
	SID            string `json:"sid"`
	// Members are the DNs of every member, direct or nested (users, computers, groups),
	// as LDAP_MATCHING_RULE_IN_CHAIN returned them, sorted.
	Members []string `json:"members"`
}
