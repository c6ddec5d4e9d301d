package snmp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// Credential is one SNMP credential set from a tenant's vault. For v1 and v2c only Community
// is used; for v3 User, AuthProto/AuthPass and PrivProto/PrivPass (authPriv). Secrets are never
// printed: String and every error name the set by Name only.
type Credential struct {
	Name      string // label used in errors, evidence and logs
	Version   string // "v1", "v2c" or "v3"
	Community string
	User      string
	AuthProto string // "SHA" (SHA-1) or "SHA-256"
	AuthPass  string
	PrivProto string // "AES" (AES-128 CFB)
	PrivPass  string
	Context   string // SNMPv3 contextName; usually empty (snmpsim selects its recording by it)
}

// ErrInvalidCredential reports a credential set that cannot be used as given.
var ErrInvalidCredential = errors.New("invalid snmp credential")

// String names the credential set without its secrets.
func (c Credential) String() string {
	return fmt.Sprintf("%q (%s)", c.Name, c.Version)
}

// Validate reports whether the set is complete and uses supported protocols.
func (c Credential) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidCredential, c, fmt.Sprintf(format, a...))
	}
	switch c.Version {
	case "v1", "v2c":
		if c.Community == "" {
			return bad("empty community")
		}
	case "v3":
		if c.User == "" {
			return bad("empty user")
		}
		if _, err := authProtocol(c.AuthProto); err != nil {
			return bad("%v", err)
		}
		if _, err := privProtocol(c.PrivProto); err != nil {
			return bad("%v", err)
		}
		// RFC 3414 §11.2: passphrases shorter than 8 octets are rejected by agents.
		if len(c.AuthPass) < 8 || len(c.PrivPass) < 8 {
			return bad("auth and priv passphrases need at least 8 characters")
		}
	default:
		return bad("version must be v1, v2c or v3, not %q", c.Version)
	}
	return nil
}

func authProtocol(s string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, "-", "")) {
	case "SHA", "SHA1":
		return gosnmp.SHA, nil
	case "SHA256":
		return gosnmp.SHA256, nil
	}
	return 0, fmt.Errorf("auth protocol must be SHA or SHA-256, not %q", s)
}

func privProtocol(s string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch strings.ToUpper(s) {
	case "AES", "AES128":
		return gosnmp.AES, nil
	}
	return 0, fmt.Errorf("priv protocol must be AES, not %q", s)
}
