package sambadc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// Flag is a risk an account carries, named as the collector's derived fields are.
type Flag string

// The flags the seeded objects carry. A clean object carries none.
const (
	FlagDisabled             Flag = "disabled"
	FlagPasswordNeverExpires Flag = "password_never_expires"
	FlagPasswordNotRequired  Flag = "password_not_required"
	FlagPreAuthNotRequired   Flag = "preauth_not_required" // AS-REP roastable
	FlagKerberoastable       Flag = "kerberoastable"       // enabled user with SPNs
	FlagTrustedForDelegation Flag = "trusted_for_delegation"
	FlagReversibleEncryption Flag = "reversible_encryption"
	FlagPrivileged           Flag = "privileged" // in a privileged group, directly or nested
	FlagStale                Flag = "stale"
)

// Kind is the kind of a directory object.
type Kind string

// Object kinds.
const (
	KindUser     Kind = "user"
	KindComputer Kind = "computer"
	KindGroup    Kind = "group"
)

// Object is one object of the ground truth and the flags it must carry, no more, no less.
type Object struct {
	Kind           Kind
	SAMAccountName string
	DN             string
	Flags          []Flag // sorted
	// PrivilegedGroups are the canonical English names of the privileged groups the object
	// is in, directly or nested (sorted).
	PrivilegedGroups []string
}

// Policy is the seeded domain policy.
type Policy struct {
	MinPwdLength         int
	PwdHistoryLength     int
	MaxPwdAgeDays        int // 0: passwords never expire
	LockoutThreshold     int // 0: never locks out
	LockoutDurationMins  int
	PasswordComplexity   bool
	ReversibleEncryption bool
	MachineAccountQuota  int
}

// Truth is what Seed put in the directory.
type Truth struct {
	Objects []Object
	Policy  Policy
	// KrbtgtPwdLastSet is the aged krbtgt password time (whole seconds, UTC).
	KrbtgtPwdLastSet time.Time
	// StaleDays is the window the stale objects were aged past, and the clean ones are within.
	StaleDays int
	SeededAt  time.Time
	OU        string
}

// Object returns the truth of one account by sAMAccountName.
func (t *Truth) Object(sam string) (Object, bool) {
	for _, o := range t.Objects {
		if strings.EqualFold(o.SAMAccountName, sam) {
			return o, true
		}
	}
	return Object{}, false
}

// userAccountControl bits.
const (
	uacDisabled        = 0x2
	uacPasswdNotReqd   = 0x20
	uacEncryptedText   = 0x80
	uacNormal          = 0x200
	uacWorkstation     = 0x1000
	uacDontExpire      = 0x10000
	uacTrustedForDeleg = 0x80000
	uacDontReqPreauth  = 0x400000
)

// groupGlobalSecurity is groupType for a global security group (0x80000002 as int32).
const groupGlobalSecurity = "-2147483646"

type seedAccount struct {
	kind     Kind
	name     string // sAMAccountName without the computer's "$"
	uac      int
	noPwd    bool
	spns     []string
	memberOf []string // "tier0-ops", "nested-inner", or "rid:<rid>" / "sid:<sid>"
	// lastLogonAgo sets lastLogonTimestamp to now minus this many days (0: never logged on).
	lastLogonAgo int
	// createdAgo ages whenCreated and pwdLastSet in the database file (0: leave).
	createdAgo int
	flags      []Flag
	groups     []string
}

var daNames = []string{"Administrators", "Domain Admins"}

// scenario is the seeded set. Domain Admins is itself a member of Administrators, so its
// members (direct or nested) are in both.
func scenario() []seedAccount {
	return []seedAccount{
		{kind: KindUser, name: "clean-alice", uac: uacNormal},
		{kind: KindUser, name: "clean-bob", uac: uacNormal},
		{kind: KindUser, name: "clean-carol", uac: uacNormal, lastLogonAgo: 2},
		{kind: KindUser, name: "pwd-never-expires", uac: uacNormal | uacDontExpire,
			flags: []Flag{FlagPasswordNeverExpires}},
		{kind: KindUser, name: "pwd-not-required", uac: uacNormal | uacPasswdNotReqd,
			noPwd: true, flags: []Flag{FlagPasswordNotRequired}},
		{kind: KindUser, name: "asrep-roast", uac: uacNormal | uacDontReqPreauth,
			flags: []Flag{FlagPreAuthNotRequired}},
		{kind: KindUser, name: "svc-sql", uac: uacNormal,
			spns: []string{"MSSQLSvc/sql1.lab.test:1433"}, flags: []Flag{FlagKerberoastable}},
		{kind: KindUser, name: "svc-web", uac: uacNormal,
			spns:  []string{"HTTP/web1.lab.test", "HTTP/web1"},
			flags: []Flag{FlagKerberoastable}},
		{kind: KindUser, name: "deleg-user", uac: uacNormal | uacTrustedForDeleg,
			flags: []Flag{FlagTrustedForDelegation}},
		{kind: KindUser, name: "rev-enc", uac: uacNormal | uacEncryptedText,
			flags: []Flag{FlagReversibleEncryption}},
		{kind: KindUser, name: "legacy-multi",
			uac:  uacNormal | uacDontExpire | uacPasswdNotReqd | uacEncryptedText,
			spns: []string{"CIFS/legacy.lab.test"},
			flags: []Flag{FlagPasswordNeverExpires, FlagPasswordNotRequired,
				FlagReversibleEncryption, FlagKerberoastable}},
		{kind: KindUser, name: "da-direct", uac: uacNormal, memberOf: []string{"rid:512"},
			flags: []Flag{FlagPrivileged}, groups: daNames},
		{kind: KindUser, name: "da-nested", uac: uacNormal, memberOf: []string{"nested-inner"},
			flags: []Flag{FlagPrivileged}, groups: daNames},
		{kind: KindUser, name: "bo-disabled", uac: uacNormal | uacDisabled,
			memberOf: []string{"sid:S-1-5-32-551"},
			flags:    []Flag{FlagDisabled, FlagPrivileged}, groups: []string{"Backup Operators"}},
		{kind: KindUser, name: "stale-user", uac: uacNormal, lastLogonAgo: 400,
			flags: []Flag{FlagStale}},
		{kind: KindUser, name: "stale-never", uac: uacNormal, createdAgo: 400,
			flags: []Flag{FlagStale}},
		{kind: KindUser, name: "disabled-old", uac: uacNormal | uacDisabled, lastLogonAgo: 400,
			flags: []Flag{FlagDisabled}},
		{kind: KindComputer, name: "ws-clean", uac: uacWorkstation, lastLogonAgo: 1},
		{kind: KindComputer, name: "ws-new", uac: uacWorkstation},
		{kind: KindComputer, name: "ws-stale", uac: uacWorkstation, lastLogonAgo: 200,
			flags: []Flag{FlagStale}},
		{kind: KindComputer, name: "srv-deleg", uac: uacWorkstation | uacTrustedForDeleg,
			flags: []Flag{FlagTrustedForDelegation}},
		{kind: KindComputer, name: "srv-priv", uac: uacWorkstation,
			memberOf: []string{"tier0-ops"}, flags: []Flag{FlagPrivileged}, groups: daNames},
		{kind: KindComputer, name: "ws-off-old", uac: uacWorkstation | uacDisabled,
			lastLogonAgo: 300, flags: []Flag{FlagDisabled}},
	}
}

// Seed adds the scenario's users, computers and groups under OU=Tena Seed, weakens the domain
// policy, ages the krbtgt password by three years and returns the ground truth. Call it once
// per DC.
//
// How staleness is produced: lastLogonTimestamp is writable over LDAP, so the stale and
// recently-seen accounts get it set to the past. pwdLastSet (only 0 or -1 over LDAP) and
// whenCreated (system-only) cannot be aged over LDAP; for the never-logged-on stale user and
// the krbtgt account they are rewritten in the domain partition's database file with
// ldbmodify, bypassing Samba's modules (the running samba reads the new values at once).
func (dc *DC) Seed(ctx context.Context) (*Truth, error) {
	now := time.Now().UTC()
	conn, err := dc.Conn()
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	ou := "OU=Tena Seed," + dc.BaseDN
	truth := &Truth{StaleDays: 90, SeededAt: now, OU: ou}
	if err := addOU(conn, ou); err != nil {
		return nil, err
	}
	groupDN := map[string]string{}
	for _, g := range []struct{ name, in string }{
		{"tier0-ops", "rid:512"}, {"nested-inner", "tier0-ops"},
	} {
		dn := "CN=" + g.name + "," + ou
		req := ldap.NewAddRequest(dn, nil)
		req.Attribute("objectClass", []string{"top", "group"})
		req.Attribute("sAMAccountName", []string{g.name})
		req.Attribute("groupType", []string{groupGlobalSecurity})
		if err := conn.Add(req); err != nil {
			return nil, fmt.Errorf("sambadc: add group %s: %w", g.name, err)
		}
		groupDN[g.name] = dn
		if err := dc.addMember(conn, groupDN, g.in, dn); err != nil {
			return nil, err
		}
		truth.Objects = append(truth.Objects, Object{Kind: KindGroup, SAMAccountName: g.name,
			DN: dn, Flags: []Flag{FlagPrivileged}, PrivilegedGroups: daNames})
	}
	for _, a := range scenario() {
		dn, err := dc.addAccount(ctx, conn, ou, a, groupDN, now)
		if err != nil {
			return nil, err
		}
		sam := a.name
		if a.kind == KindComputer {
			sam += "$"
		}
		flags := slices.Clone(a.flags)
		slices.Sort(flags)
		truth.Objects = append(truth.Objects, Object{Kind: a.kind, SAMAccountName: sam, DN: dn,
			Flags: flags, PrivilegedGroups: slices.Clone(a.groups)})
	}
	// The DC's own account is trusted for (unconstrained) delegation by design; the collector
	// must not flag it.
	truth.Objects = append(truth.Objects, Object{Kind: KindComputer,
		SAMAccountName: "DC1$", DN: "CN=DC1,OU=Domain Controllers," + dc.BaseDN})

	truth.Policy = Policy{MinPwdLength: 6, PwdHistoryLength: 24, MaxPwdAgeDays: 0,
		LockoutThreshold: 0, LockoutDurationMins: 30, PasswordComplexity: true,
		MachineAccountQuota: 10}
	mod := ldap.NewModifyRequest(dc.BaseDN, nil)
	mod.Replace("minPwdLength", []string{"6"})
	mod.Replace("lockoutThreshold", []string{"0"})
	mod.Replace("maxPwdAge", []string{"-9223372036854775808"}) // never expires
	mod.Replace("ms-DS-MachineAccountQuota", []string{"10"})
	if err := conn.Modify(mod); err != nil {
		return nil, fmt.Errorf("sambadc: weaken the domain policy: %w", err)
	}
	truth.KrbtgtPwdLastSet = now.Add(-3 * 365 * 24 * time.Hour).Truncate(time.Second)
	if err := dc.RawSet(ctx, "CN=krbtgt,CN=Users,"+dc.BaseDN, map[string]string{
		"pwdLastSet": strconv.FormatInt(FileTime(truth.KrbtgtPwdLastSet), 10),
	}); err != nil {
		return nil, err
	}
	return truth, nil
}

func addOU(conn *ldap.Conn, dn string) error {
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "organizationalUnit"})
	if err := conn.Add(req); err != nil {
		return fmt.Errorf("sambadc: add %s: %w", dn, err)
	}
	return nil
}

// addMember adds member to the group named by ref: a seeded group's name, "rid:N" (a group
// of the domain) or "sid:S-…" (a builtin group).
func (dc *DC) addMember(conn *ldap.Conn, seeded map[string]string, ref, member string) error {
	group, ok := seeded[ref]
	if !ok {
		sid := strings.TrimPrefix(ref, "sid:")
		if rid, isRID := strings.CutPrefix(ref, "rid:"); isRID {
			sid = dc.DomainSID + "-" + rid
		}
		res, err := conn.Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree,
			ldap.NeverDerefAliases, 2, 30, false, "(objectSid="+sid+")", []string{"cn"}, nil))
		if err != nil {
			return fmt.Errorf("sambadc: find group %s: %w", ref, err)
		}
		if len(res.Entries) != 1 {
			return fmt.Errorf("sambadc: find group %s: %d matches", ref, len(res.Entries))
		}
		group = res.Entries[0].DN
	}
	mod := ldap.NewModifyRequest(group, nil)
	mod.Add("member", []string{member})
	if err := conn.Modify(mod); err != nil {
		return fmt.Errorf("sambadc: add %s to %s: %w", member, group, err)
	}
	return nil
}

func (dc *DC) addAccount(ctx context.Context, conn *ldap.Conn, ou string, a seedAccount,
	groups map[string]string, now time.Time) (string, error) {
	dn := "CN=" + a.name + "," + ou
	req := ldap.NewAddRequest(dn, nil)
	sam := a.name
	if a.kind == KindComputer {
		sam += "$"
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user",
			"computer"})
		req.Attribute("dNSHostName", []string{a.name + "." + dc.DNSDomain})
		req.Attribute("operatingSystem", []string{"Windows Server 2022 Standard"})
		req.Attribute("operatingSystemVersion", []string{"10.0 (20348)"})
	} else {
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
		req.Attribute("userPrincipalName", []string{a.name + "@" + dc.DNSDomain})
		req.Attribute("displayName", []string{"Seed " + a.name})
	}
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("userAccountControl", []string{strconv.Itoa(a.uac)})
	if !a.noPwd {
		req.Attribute("unicodePwd", []string{UnicodePwd(strongPassword())})
	}
	if len(a.spns) > 0 {
		req.Attribute("servicePrincipalName", a.spns)
	}
	if err := conn.Add(req); err != nil {
		return "", fmt.Errorf("sambadc: add %s: %w", dn, err)
	}
	for _, g := range a.memberOf {
		if err := dc.addMember(conn, groups, g, dn); err != nil {
			return "", err
		}
	}
	if a.lastLogonAgo > 0 {
		mod := ldap.NewModifyRequest(dn, nil)
		t := now.Add(-time.Duration(a.lastLogonAgo) * 24 * time.Hour)
		mod.Replace("lastLogonTimestamp", []string{strconv.FormatInt(FileTime(t), 10)})
		if err := conn.Modify(mod); err != nil {
			return "", fmt.Errorf("sambadc: set lastLogonTimestamp of %s: %w", dn, err)
		}
	}
	if a.createdAgo > 0 {
		t := now.Add(-time.Duration(a.createdAgo) * 24 * time.Hour)
		if err := dc.RawSet(ctx, dn, map[string]string{
			"whenCreated": t.Format("20060102150405.0Z"),
			"pwdLastSet":  strconv.FormatInt(FileTime(t), 10),
		}); err != nil {
			return "", err
		}
	}
	return dn, nil
}

// RawSet replaces attributes of dn directly in the domain partition's database file with
// ldbmodify, bypassing Samba's modules: the way to age pwdLastSet and whenCreated, which LDAP
// refuses to set. Values are in LDB's string form.
func (dc *DC) RawSet(ctx context.Context, dn string, attrs map[string]string) error {
	file := filepath.Join(dc.Dir, "private", "sam.ldb.d", strings.ToUpper(dc.BaseDN)+".ldb")
	var ldif bytes.Buffer
	fmt.Fprintf(&ldif, "dn: %s\nchangetype: modify\n", dn)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&ldif, "replace: %s\n%s: %s\n-\n", k, k, attrs[k])
	}
	cmd := exec.CommandContext(ctx, dc.o.LDBModify, "-H", "tdb://"+file)
	cmd.Stdin = &ldif
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sambadc: ldbmodify %s: %w: %s", dn, err, tail(string(out), 500))
	}
	return nil
}

// FileTime converts t to a Windows FILETIME (100 ns intervals since 1601-01-01 UTC).
func FileTime(t time.Time) int64 {
	const epochDiff = 116444736000000000
	return t.UnixNano()/100 + epochDiff
}

// UnicodePwd encodes a password as AD's unicodePwd wants it: quoted, UTF-16LE.
func UnicodePwd(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// BulkAdd adds users and computers (no passwords: users disabled with PASSWD_NOTREQD, as AD
// creates them, computers with PASSWD_NOTREQD) under OU=Bulk <prefix>, over workers LDAPS
// connections. It is the fast path for benchmarks: no samba-tool per object.
func (dc *DC) BulkAdd(ctx context.Context, prefix string, users, computers, workers int) error {
	if workers < 1 {
		workers = 4
	}
	ou := "OU=Bulk " + prefix + "," + dc.BaseDN
	conns := make([]*ldap.Conn, workers)
	for i := range conns {
		c, err := dc.Conn()
		if err != nil {
			for _, o := range conns[:i] {
				_ = o.Close()
			}
			return err
		}
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if err := addOU(conns[0], ou); err != nil {
		return err
	}
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := bulkOne(c, ou, prefix, i, users, dc.DNSDomain); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range users + computers {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	if err != nil {
		return fmt.Errorf("sambadc: bulk add: %w", err)
	}
	return nil
}

func bulkOne(c *ldap.Conn, ou, prefix string, i, users int, domain string) error {
	var req *ldap.AddRequest
	if i < users {
		name := fmt.Sprintf("%s-u%05d", prefix, i)
		req = ldap.NewAddRequest("CN="+name+","+ou, nil)
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
		req.Attribute("sAMAccountName", []string{name})
		req.Attribute("displayName", []string{"Bulk user " + strconv.Itoa(i)})
		req.Attribute("userAccountControl",
			[]string{strconv.Itoa(uacNormal | uacDisabled | uacPasswdNotReqd)})
	} else {
		name := fmt.Sprintf("%s-c%05d", prefix, i-users)
		req = ldap.NewAddRequest("CN="+name+","+ou, nil)
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user",
			"computer"})
		req.Attribute("sAMAccountName", []string{name + "$"})
		req.Attribute("dNSHostName", []string{name + "." + domain})
		req.Attribute("operatingSystem", []string{"Windows 11 Enterprise"})
		req.Attribute("userAccountControl",
			[]string{strconv.Itoa(uacWorkstation | uacPasswdNotReqd)})
	}
	if err := c.Add(req); err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultEntryAlreadyExists {
			return nil
		}
		return fmt.Errorf("add %s: %w", req.DN, err)
	}
	return nil
}
