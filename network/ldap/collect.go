package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// privileged is a group the checks care about, found by its well-known SID or domain RID
// (names are localised, SIDs are not).
type privileged struct {
	name   string
	sid    string // builtin SID, or "" for a domain group
	rid    uint32 // domain RID when sid is ""
	forest bool   // exists only in the forest root domain
}

var privilegedGroups = []privileged{
	{name: "Domain Admins", rid: 512},
	{name: "Schema Admins", rid: 518, forest: true},
	{name: "Enterprise Admins", rid: 519, forest: true},
	{name: "Administrators", sid: "S-1-5-32-544"},
	{name: "Account Operators", sid: "S-1-5-32-548"},
	{name: "Server Operators", sid: "S-1-5-32-549"},
	{name: "Backup Operators", sid: "S-1-5-32-551"},
}

// userAccountControl bits the flags come from.
const (
	uacDisabled            = 0x2
	uacPasswdNotReqd       = 0x20
	uacEncryptedTextPwd    = 0x80
	uacServerTrust         = 0x2000
	uacDontExpirePassword  = 0x10000
	uacTrustedForDeleg     = 0x80000
	uacDontReqPreauth      = 0x400000
	uacTrustedToAuthForDel = 0x1000000
	uacPartialSecrets      = 0x4000000 // read-only DC
)

// pwdProperties bits.
const (
	pwdComplex          = 0x1
	pwdStoreClearText   = 0x10
	ridKrbtgt           = 502
	firstNonBuiltinRID  = 1000
	matchingRuleInChain = "1.2.840.113556.1.4.1941"
)

// Table names used in PartialReasons.
const (
	tableRootDSE   = "root_dse"
	tablePolicy    = "policy"
	tableGroups    = "groups"
	tableUsers     = "users"
	tableComputers = "computers"
	tableKrbtgt    = "krbtgt"
)

var userAttrs = []string{"sAMAccountName", "displayName", "pwdLastSet", "lastLogonTimestamp",
	"userAccountControl", "servicePrincipalName", "adminCount", "memberOf", "objectSid",
	"objectGUID", "whenCreated", "primaryGroupID"}

var computerAttrs = []string{"sAMAccountName", "dNSHostName", "operatingSystem",
	"operatingSystemVersion", "lastLogonTimestamp", "pwdLastSet", "userAccountControl",
	"objectGUID", "objectSid", "servicePrincipalName", "whenCreated", "primaryGroupID",
	"memberOf", "msDS-AllowedToDelegateTo"}

// collection is one Collect call's state.
type collection struct {
	s   *session
	ctx context.Context
	d   *Directory
	// privOf maps a lower-cased member DN to the privileged groups it is in.
	privOf map[string][]string
	// privByRID maps a privileged domain group's RID to the privileged groups its members
	// are in (itself and those it is nested in), for primaryGroupID.
	privByRID map[uint32][]string
	seenRef   map[string]bool
}

// Collect reads the domain. When a search fails part-way it keeps what it read, marks the
// Directory Partial and returns it together with an error wrapping ErrPartial; a connection or
// bind failure returns no Directory.
func (c *Client) Collect(ctx context.Context) (*Directory, error) {
	start := time.Now()
	s, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	now := c.cfg.Now().UTC()
	col := &collection{s: s, ctx: ctx, privOf: map[string][]string{},
		privByRID: map[uint32][]string{}, seenRef: map[string]bool{},
		d: &Directory{BaseDN: c.cfg.BaseDN, StaleDays: c.cfg.StaleDays, CollectedAt: now,
			Users: []User{}, Computers: []Computer{}, Groups: []Group{}}}
	d := col.d
	info, err := s.rootDSE()
	if err != nil {
		if d.BaseDN == "" {
			return nil, err
		}
		col.fail(tableRootDSE, err)
	} else {
		d.DCHostName = info.DNSHostName
		if d.BaseDN == "" {
			d.BaseDN = info.DefaultNamingContext
		}
	}
	if d.BaseDN == "" {
		return nil, errors.New("ldap: the rootDSE has no defaultNamingContext; set the " +
			"base DN")
	}
	d.Domain = domainOfDN(d.BaseDN)
	col.policy()
	col.groups()
	col.users(now)
	col.computers(now)
	col.krbtgt()
	d.Stats.Duration = time.Since(start)
	if d.Partial {
		keys := make([]string, 0, len(d.PartialReasons))
		for k := range d.PartialReasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		msgs := make([]string, len(keys))
		for i, k := range keys {
			msgs[i] = k + ": " + d.PartialReasons[k]
		}
		return d, fmt.Errorf("%w: %s", ErrPartial, strings.Join(msgs, "; "))
	}
	return d, nil
}

// fail marks table incomplete with the first reason it failed for.
func (col *collection) fail(table string, err error) {
	d := col.d
	d.Partial = true
	if d.PartialReasons == nil {
		d.PartialReasons = map[string]string{}
	}
	if _, ok := d.PartialReasons[table]; !ok {
		d.PartialReasons[table] = reason(col.ctx, err)
	}
}

// reason explains a search error in one line.
func reason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "cancelled: " + ctx.Err().Error()
	}
	var le *goldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case goldap.LDAPResultSizeLimitExceeded:
			return "size limit exceeded (raise the size limit, or the server's MaxPageSize " +
				"and MaxResultSetSize)"
		case goldap.LDAPResultTimeLimitExceeded:
			return "time limit exceeded on the server"
		case goldap.ErrorNetwork:
			return "connection lost: " + CleanString(errText(le))
		case goldap.LDAPResultInsufficientAccessRights:
			return "insufficient access rights (grant the bind account read access)"
		}
		return CleanString(goldap.LDAPResultCodeMap[le.ResultCode] + ": " + errText(le))
	}
	return CleanString(err.Error())
}

func errText(le *goldap.Error) string {
	if le.Err == nil {
		return ""
	}
	return le.Err.Error()
}

// search runs a paged search, handing each entry to each as it arrives. Referrals and
// continuation references are recorded, never followed. On error the entries already handed
// over stay with the caller.
func (col *collection) search(base string, scope int, filter string, attrs []string,
	each func(*goldap.Entry)) error {
	col.d.Stats.Searches++
	paging := goldap.NewControlPaging(col.s.cfg.PageSize)
	read := 0
	for {
		if err := col.ctx.Err(); err != nil {
			return err
		}
		req := goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases,
			col.s.cfg.SizeLimit, int(col.s.cfg.Timeout/time.Second), false, filter, attrs,
			[]goldap.Control{paging})
		res, err := col.s.c.Search(req)
		if res != nil {
			col.d.Stats.Pages++
			for _, e := range res.Entries {
				// Servers apply a size limit per page, or not at all with paging (Samba):
				// the client enforces it over the whole search.
				if limit := col.s.cfg.SizeLimit; limit > 0 && read >= limit {
					return goldap.NewError(goldap.LDAPResultSizeLimitExceeded,
						fmt.Errorf("more than %d entries", limit))
				}
				read++
				col.d.Stats.Entries++
				each(e)
			}
			for _, r := range res.Referrals {
				col.referral(r)
			}
		}
		if err != nil {
			var le *goldap.Error
			if errors.As(err, &le) && le.ResultCode == goldap.LDAPResultReferral {
				col.referral("referral for " + base + " (" + CleanString(errText(le)) + ")")
				return nil
			}
			return err
		}
		found := goldap.FindControl(res.Controls, goldap.ControlTypePaging)
		ctrl, _ := found.(*goldap.ControlPaging)
		if ctrl == nil || len(ctrl.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

func (col *collection) referral(r string) {
	r = CleanString(r)
	if !col.seenRef[r] {
		col.seenRef[r] = true
		col.d.Referrals = append(col.d.Referrals, r)
	}
}

// policy reads the domain object.
func (col *collection) policy() {
	p := &col.d.Policy
	err := col.search(col.d.BaseDN, goldap.ScopeBaseObject, "(objectClass=*)",
		[]string{"minPwdLength", "pwdHistoryLength", "maxPwdAge", "lockoutThreshold",
			"lockoutDuration", "pwdProperties", "ms-DS-MachineAccountQuota",
			"msDS-Behavior-Version", "objectSid"},
		func(e *goldap.Entry) {
			p.MinPwdLength = atoi(e.GetAttributeValue("minPwdLength"))
			p.PwdHistoryLength = atoi(e.GetAttributeValue("pwdHistoryLength"))
			p.MaxPwdAgeDays = DecodeInterval(e.GetAttributeValue("maxPwdAge")).Days()
			p.LockoutThreshold = atoi(e.GetAttributeValue("lockoutThreshold"))
			p.LockoutDurationMins = DecodeInterval(
				e.GetAttributeValue("lockoutDuration")).Minutes()
			props := atoi(e.GetAttributeValue("pwdProperties"))
			p.PasswordComplexity = props&pwdComplex != 0
			p.ReversibleEncryption = props&pwdStoreClearText != 0
			p.MachineAccountQuota = atoi(e.GetAttributeValue("ms-DS-MachineAccountQuota"))
			p.FunctionalLevel = atoi(e.GetAttributeValue("msDS-Behavior-Version"))
			col.d.DomainSID, _ = DecodeSID(e.GetRawAttributeValue("objectSid"))
		})
	if err != nil {
		col.fail(tablePolicy, err)
	} else if col.d.DomainSID == "" {
		col.fail(tablePolicy, errors.New("the domain object has no objectSid; the domain "+
			"groups (Domain/Enterprise/Schema Admins) cannot be found"))
	}
}

// groups finds the privileged groups by SID and resolves their members through nesting.
func (col *collection) groups() {
	bySID := map[string]privileged{}
	var filter strings.Builder
	filter.WriteString("(&(objectClass=group)(|")
	for _, g := range privilegedGroups {
		sid := g.sid
		if sid == "" {
			if col.d.DomainSID == "" {
				continue
			}
			sid = fmt.Sprintf("%s-%d", col.d.DomainSID, g.rid)
		}
		b, err := EncodeSID(sid)
		if err != nil {
			continue
		}
		bySID[sid] = g
		filter.WriteString("(objectSid=" + filterEscapeBytes(b) + ")")
	}
	filter.WriteString("))")
	var found []Group
	err := col.search(col.d.BaseDN, goldap.ScopeWholeSubtree, filter.String(),
		[]string{"objectSid", "sAMAccountName"}, func(e *goldap.Entry) {
			sid, err := DecodeSID(e.GetRawAttributeValue("objectSid"))
			g, ok := bySID[sid]
			if err != nil || !ok {
				return
			}
			found = append(found, Group{Name: g.name, SID: sid, DN: CleanString(e.DN),
				SAMAccountName: CleanString(e.GetAttributeValue("sAMAccountName")),
				Members:        []string{}})
		})
	if err != nil {
		col.fail(tableGroups, err)
	}
	slices.SortFunc(found, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	for i := range found {
		g := &found[i]
		err := col.search(col.d.BaseDN, goldap.ScopeWholeSubtree,
			// memberOf=* first: a server that scans (Samba) skips the chain walk for the
			// many objects in no group but their primary one.
			"(&(memberOf=*)(memberOf:"+matchingRuleInChain+":="+goldap.EscapeFilter(g.DN)+"))",
			[]string{"objectClass"}, func(e *goldap.Entry) {
				dn := CleanString(e.DN)
				g.Members = append(g.Members, dn)
				key := strings.ToLower(dn)
				if !slices.Contains(col.privOf[key], g.Name) {
					col.privOf[key] = append(col.privOf[key], g.Name)
				}
			})
		if err != nil {
			col.fail(tableGroups, err)
		}
		slices.Sort(g.Members)
	}
	for _, g := range found {
		if rid := RID(g.SID); !strings.HasPrefix(g.SID, "S-1-5-32-") {
			col.privByRID[rid] = append([]string{g.Name}, col.privOf[strings.ToLower(g.DN)]...)
		}
	}
	col.d.Groups = found
}

// privilegedOf returns the sorted privileged group names of dn, including those its primary
// group gives (the chain search does not see primary groups).
func (col *collection) privilegedOf(dn string, primaryGroup int) []string {
	names := slices.Clone(col.privOf[strings.ToLower(dn)])
	if primaryGroup > 0 {
		for _, n := range col.privByRID[uint32(primaryGroup)] {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if names == nil {
		return []string{}
	}
	slices.Sort(names)
	return names
}

func values(e *goldap.Entry, attr string) []string {
	vs := e.GetAttributeValues(attr)
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, CleanString(v))
	}
	return out
}

// stale: enabled and no sign of life within days. The last sign is lastLogonTimestamp, or for
// an account that never logged on, the later of its creation and its last password set.
func stale(enabled bool, lastLogon, created, pwdSet, now time.Time, days int) bool {
	if !enabled {
		return false
	}
	last := lastLogon
	if last.IsZero() {
		last = created
		if pwdSet.After(last) {
			last = pwdSet
		}
	}
	if last.IsZero() {
		return false // nothing to judge by
	}
	return now.Sub(last) > time.Duration(days)*24*time.Hour
}

func (col *collection) users(now time.Time) {
	err := col.search(col.d.BaseDN, goldap.ScopeWholeSubtree,
		"(&(objectClass=user)(!(objectClass=computer)))", userAttrs, func(e *goldap.Entry) {
			col.d.Users = append(col.d.Users, col.user(e, now))
		})
	if err != nil {
		col.fail(tableUsers, err)
	}
}

func (col *collection) user(e *goldap.Entry, now time.Time) User {
	uac := atoi(e.GetAttributeValue("userAccountControl"))
	sid, _ := DecodeSID(e.GetRawAttributeValue("objectSid"))
	guid, _ := DecodeGUID(e.GetRawAttributeValue("objectGUID"))
	u := User{
		SAMAccountName:       CleanString(e.GetAttributeValue("sAMAccountName")),
		DistinguishedName:    CleanString(e.DN),
		DisplayName:          CleanString(e.GetAttributeValue("displayName")),
		ObjectSID:            sid,
		RID:                  RID(sid),
		ObjectGUID:           guid,
		Enabled:              uac&uacDisabled == 0,
		LastLogon:            DecodeFileTime(e.GetAttributeValue("lastLogonTimestamp")),
		PwdLastSet:           DecodeFileTime(e.GetAttributeValue("pwdLastSet")),
		WhenCreated:          DecodeGeneralizedTime(e.GetAttributeValue("whenCreated")),
		UAC:                  uac,
		PrimaryGroupID:       atoi(e.GetAttributeValue("primaryGroupID")),
		PasswordNeverExpires: uac&uacDontExpirePassword != 0,
		PasswordNotRequired:  uac&uacPasswdNotReqd != 0,
		PreAuthNotRequired:   uac&uacDontReqPreauth != 0,
		TrustedForDeleg:      uac&uacTrustedForDeleg != 0,
		ReversibleEncryption: uac&uacEncryptedTextPwd != 0,
		ServicePrincipals:    values(e, "servicePrincipalName"),
		AdminCount:           atoi(e.GetAttributeValue("adminCount")),
		MemberOf:             values(e, "memberOf"),
	}
	u.Kerberoastable = u.Enabled && len(u.ServicePrincipals) > 0 && u.RID != ridKrbtgt
	u.Builtin = sid != "" && u.RID < firstNonBuiltinRID
	u.PrivilegedGroups = col.privilegedOf(u.DistinguishedName, u.PrimaryGroupID)
	u.Stale = stale(u.Enabled, u.LastLogon, u.WhenCreated, u.PwdLastSet, now,
		col.d.StaleDays)
	return u
}

func (col *collection) computers(now time.Time) {
	err := col.search(col.d.BaseDN, goldap.ScopeWholeSubtree, "(objectClass=computer)",
		computerAttrs, func(e *goldap.Entry) {
			col.d.Computers = append(col.d.Computers, col.computer(e, now))
		})
	if err != nil {
		col.fail(tableComputers, err)
	}
}

func (col *collection) computer(e *goldap.Entry, now time.Time) Computer {
	uac := atoi(e.GetAttributeValue("userAccountControl"))
	sid, _ := DecodeSID(e.GetRawAttributeValue("objectSid"))
	guid, _ := DecodeGUID(e.GetRawAttributeValue("objectGUID"))
	c := Computer{
		SAMAccountName:      CleanString(e.GetAttributeValue("sAMAccountName")),
		DNSHostName:         CleanString(e.GetAttributeValue("dNSHostName")),
		OS:                  CleanString(e.GetAttributeValue("operatingSystem")),
		OSVersion:           CleanString(e.GetAttributeValue("operatingSystemVersion")),
		Enabled:             uac&uacDisabled == 0,
		LastLogon:           DecodeFileTime(e.GetAttributeValue("lastLogonTimestamp")),
		PwdLastSet:          DecodeFileTime(e.GetAttributeValue("pwdLastSet")),
		WhenCreated:         DecodeGeneralizedTime(e.GetAttributeValue("whenCreated")),
		UAC:                 uac,
		ObjectGUID:          guid,
		ObjectSID:           sid,
		DistinguishedName:   CleanString(e.DN),
		ServicePrincipals:   values(e, "servicePrincipalName"),
		PrimaryGroupID:      atoi(e.GetAttributeValue("primaryGroupID")),
		MemberOf:            values(e, "memberOf"),
		DomainController:    uac&(uacServerTrust|uacPartialSecrets) != 0,
		AllowedToDelegateTo: values(e, "msDS-AllowedToDelegateTo"),
		PasswordNotRequired: uac&uacPasswdNotReqd != 0,
	}
	c.TrustedForDeleg = uac&uacTrustedForDeleg != 0 && !c.DomainController
	c.DelegationAllowed = len(c.AllowedToDelegateTo) > 0 || uac&uacTrustedToAuthForDel != 0
	c.PrivilegedGroups = col.privilegedOf(c.DistinguishedName, c.PrimaryGroupID)
	c.Stale = stale(c.Enabled, c.LastLogon, c.WhenCreated, c.PwdLastSet, now,
		col.d.StaleDays)
	return c
}

// krbtgt reads the krbtgt account's password age (found by RID 502, not by name).
func (col *collection) krbtgt() {
	if col.d.DomainSID == "" {
		return // already reported under policy
	}
	b, err := EncodeSID(col.d.DomainSID + "-502")
	if err != nil {
		col.fail(tableKrbtgt, err)
		return
	}
	err = col.search(col.d.BaseDN, goldap.ScopeWholeSubtree,
		"(objectSid="+filterEscapeBytes(b)+")", []string{"pwdLastSet"}, func(e *goldap.Entry) {
			col.d.Policy.KrbtgtPwdLastSet = DecodeFileTime(e.GetAttributeValue("pwdLastSet"))
		})
	if err != nil {
		col.fail(tableKrbtgt, err)
	}
}

// domainOfDN turns "DC=corp,DC=example" into "corp.example".
func domainOfDN(dn string) string {
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return ""
	}
	var labels []string
	for _, rdn := range parsed.RDNs {
		for _, a := range rdn.Attributes {
			if strings.EqualFold(a.Type, "DC") {
				labels = append(labels, strings.ToLower(a.Value))
			}
		}
	}
	return strings.Join(labels, ".")
}
