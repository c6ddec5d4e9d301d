package sambadc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Options configures Run. The zero value provisions LAB.TEST on a random 127.77.x.y.
type Options struct {
	// Samba, SambaTool and LDBModify are program paths; empty looks them up on PATH and in
	// /usr/sbin and /usr/bin.
	Samba, SambaTool, LDBModify string
	// Realm is the Kerberos realm and DNS domain in upper case; default "LAB.TEST".
	Realm string
	// Domain is the NetBIOS domain name; default the realm's first label.
	Domain string
	// Addr is the loopback address to serve on (ports 389, 636, 3268, 3269); the zero value
	// picks a random free 127.77.x.y.
	Addr netip.Addr
	// Dir is where the domain is provisioned; empty makes a temporary directory that Stop
	// removes. A given Dir is left in place.
	Dir string
}

// DC is a running Samba AD domain controller.
type DC struct {
	Realm      string     // "LAB.TEST"
	Domain     string     // NetBIOS name, "LAB"
	DNSDomain  string     // "lab.test"
	BaseDN     string     // "DC=lab,DC=test"
	Addr       netip.Addr // the loopback address it serves on
	ServerName string     // the host name in its certificate, "dc1.lab.test"
	LDAPURL    string     // "ldap://127.77.x.y"
	LDAPSURL   string     // "ldaps://127.77.x.y"
	AdminDN    string     // "CN=Administrator,CN=Users,DC=lab,DC=test"
	AdminUPN   string     // "Administrator@lab.test"
	AdminUser  string     // "Administrator" (with Domain, for NTLM binds)
	// AdminPassword is random per DC; it never leaves the test process.
	AdminPassword string
	DomainSID     string // "S-1-5-21-…"
	CAFile        string // PEM of the CA that signed the LDAPS certificate
	CAPEM         []byte
	Cert          *x509.Certificate // the LDAPS server certificate (IP and DNS SANs)
	// SPKIPin is the hex SHA-256 of the server certificate's SubjectPublicKeyInfo.
	SPKIPin string
	Dir     string
	PID     int

	o       Options
	tempDir bool
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	done    chan struct{}
	logPath string
}

// ErrNotLoopback is returned for an Options.Addr outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("sambadc: the DC may only serve on a loopback address")

// Run provisions a fresh domain and starts samba on it; Stop ends it.
func Run(ctx context.Context, o Options) (*DC, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.Addr.IsValid() && (!o.Addr.Is4() || !o.Addr.IsLoopback()) {
		return nil, fmt.Errorf("%w: %s", ErrNotLoopback, o.Addr)
	}
	dc := &DC{o: o, Realm: o.Realm, Domain: o.Domain, Dir: o.Dir}
	if dc.Dir == "" {
		d, err := os.MkdirTemp("", "tena-sambadc-")
		if err != nil {
			return nil, fmt.Errorf("sambadc: temp dir: %w", err)
		}
		dc.Dir, dc.tempDir = d, true
	}
	dc.DNSDomain = strings.ToLower(o.Realm)
	labels := strings.Split(dc.DNSDomain, ".")
	dc.BaseDN = "DC=" + strings.Join(labels, ",DC=")
	dc.ServerName = "dc1." + dc.DNSDomain
	dc.AdminUser = "Administrator"
	dc.AdminDN = "CN=Administrator,CN=Users," + dc.BaseDN
	dc.AdminUPN = "Administrator@" + dc.DNSDomain
	dc.AdminPassword = strongPassword()
	dc.logPath = filepath.Join(dc.Dir, "samba.log")
	if err := dc.provision(ctx); err != nil {
		dc.cleanup()
		return nil, err
	}
	var err error
	for attempt := range 4 {
		addr := o.Addr
		if !addr.IsValid() {
			if addr, err = freeLoopback(); err != nil {
				break
			}
		}
		if err = dc.start(ctx, addr); err == nil {
			break
		}
		if o.Addr.IsValid() || ctx.Err() != nil || attempt == 3 {
			break
		}
	}
	if err != nil {
		dc.cleanup()
		return nil, err
	}
	if err := dc.readDomainSID(); err != nil {
		_ = dc.Stop()
		return nil, err
	}
	return dc, nil
}

func (o *Options) defaults() error {
	var err error
	if o.Samba, err = lookProgram(o.Samba, "samba"); err != nil {
		return err
	}
	if o.SambaTool, err = lookProgram(o.SambaTool, "samba-tool"); err != nil {
		return err
	}
	if o.LDBModify, err = lookProgram(o.LDBModify, "ldbmodify"); err != nil {
		return err
	}
	if o.Realm == "" {
		o.Realm = "LAB.TEST"
	}
	o.Realm = strings.ToUpper(o.Realm)
	if o.Domain == "" {
		o.Domain, _, _ = strings.Cut(o.Realm, ".")
	}
	return nil
}

// ErrMissing is wrapped by errors that mean samba (or a part of it) is not installed.
var ErrMissing = errors.New("sambadc: samba is not installed (apt-get install samba " +
	"ldb-tools samba-ad-provision samba-dsdb-modules)")

// lookProgram returns path when set, else finds name on PATH or in the sbin/bin directories
// (root's PATH has /usr/sbin, a CI shell's may not).
func lookProgram(path, name string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found", ErrMissing, name)
}

// CheckInstalled reports whether the programs and provisioning data the DC needs are present,
// so that tests can skip (or fail under TENA_REQUIRE_PEERS=1) with a reason.
func CheckInstalled() error {
	var o Options
	if err := o.defaults(); err != nil {
		return err
	}
	if _, err := os.Stat("/usr/share/samba/setup/provision.ldif"); err != nil {
		return fmt.Errorf("%w: provisioning data missing: %w", ErrMissing, err)
	}
	if os.Geteuid() != 0 {
		return errors.New("sambadc: samba must run as root to serve LDAP on port 389")
	}
	return nil
}

// provision runs samba-tool domain provision into dc.Dir. It takes a few seconds and reaches
// no network: DNS backend NONE and only the ldap service.
func (dc *DC) provision(ctx context.Context) error {
	args := []string{"domain", "provision",
		"--realm=" + dc.Realm, "--domain=" + dc.Domain, "--host-name=dc1",
		"--server-role=dc", "--dns-backend=NONE", "--host-ip=127.0.0.1",
		"--targetdir=" + dc.Dir, "--adminpass=" + dc.AdminPassword,
		"--option=interfaces=127.0.0.1/8", "--option=bind interfaces only=yes",
		"--option=disable netbios=yes",
		// samba-vfs-modules (acl_xattr) is not installed with samba; the built-in posixacl
		// module is enough for provisioning the sysvol ACLs.
		"--option=vfs objects=posixacl",
		"--option=server services=ldap",
		"--option=log file=" + filepath.Join(dc.Dir, "log.%m"),
		"--option=pid directory=" + dc.Dir,
		"--option=winbindd socket directory=" + filepath.Join(dc.Dir, "winbindd"),
		"--option=ntp signd socket directory=" + filepath.Join(dc.Dir, "ntp_signd"),
	}
	cmd := exec.CommandContext(ctx, dc.o.SambaTool, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sambadc: samba-tool domain provision: %w: %s", err,
			tail(strings.ReplaceAll(out.String(), dc.AdminPassword, "***"), 1500))
	}
	return nil
}

// freeLoopback picks a random 127.77.x.y whose LDAP ports are free.
func freeLoopback() (netip.Addr, error) {
	for range 50 {
		a := netip.AddrFrom4([4]byte{127, 77, byte(mrand.IntN(256)), byte(1 + mrand.IntN(254))})
		if portsFree(a) {
			return a, nil
		}
	}
	return netip.Addr{}, errors.New("sambadc: no free loopback address for LDAP found")
}

func portsFree(a netip.Addr) bool {
	for _, port := range []uint16{389, 636, 3268, 3269} {
		l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}

// start writes the TLS files and smb.conf for addr, starts samba and waits for LDAP.
func (dc *DC) start(ctx context.Context, addr netip.Addr) error {
	dc.Addr = addr
	dc.LDAPURL = "ldap://" + addr.String()
	dc.LDAPSURL = "ldaps://" + addr.String()
	if err := dc.writeTLS(); err != nil {
		return err
	}
	if err := dc.writeConf(); err != nil {
		return err
	}
	logf, err := os.OpenFile(dc.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sambadc: log file: %w", err)
	}
	cmd := exec.Command(dc.o.Samba, "-i", "-M", "single", "-s", dc.confPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	// In interactive mode samba exits when its stdin closes: if this process dies, so does
	// the DC.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = logf.Close()
		return fmt.Errorf("sambadc: stdin pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("sambadc: start samba: %w", err)
	}
	dc.cmd, dc.stdin, dc.PID = cmd, stdin, cmd.Process.Pid
	dc.done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(dc.done)
	}()
	if err := dc.waitLDAP(ctx); err != nil {
		_ = dc.stopProcess()
		return err
	}
	return nil
}

func (dc *DC) confPath() string { return filepath.Join(dc.Dir, "etc", "smb.conf") }

// writeConf rewrites the provisioned smb.conf's [global] section with the settings provision
// does not keep: the loopback address, weak LDAP binds allowed (simple binds over plain LDAP
// are what the collector's lab tests use), our TLS files, and no fsync (a throwaway DB).
func (dc *DC) writeConf() error {
	path := dc.confPath()
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sambadc: read smb.conf: %w", err)
	}
	tlsDir := filepath.Join(dc.Dir, "tena-tls")
	set := [][2]string{
		{"interfaces", dc.Addr.String() + "/8"},
		{"bind interfaces only", "yes"},
		{"ldap server require strong auth", "no"},
		{"tls enabled", "yes"},
		{"tls keyfile", filepath.Join(tlsDir, "key.pem")},
		{"tls certfile", filepath.Join(tlsDir, "cert.pem")},
		{"tls cafile", filepath.Join(tlsDir, "ca.pem")},
		{"ldb:nosync", "true"},
		{"panic action", ""},
	}
	var b strings.Builder
	global := false
	for _, line := range strings.Split(string(raw), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "[") {
			global = strings.EqualFold(trim, "[global]")
			b.WriteString(line + "\n")
			if global {
				for _, kv := range set {
					fmt.Fprintf(&b, "\t%s = %s\n", kv[0], kv[1])
				}
			}
			continue
		}
		if global {
			key, _, _ := strings.Cut(trim, "=")
			if overridden(strings.TrimSpace(key), set) {
				continue
			}
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(strings.TrimRight(b.String(), "\n")+"\n"),
		0o600); err != nil {
		return fmt.Errorf("sambadc: write smb.conf: %w", err)
	}
	return nil
}

func overridden(key string, set [][2]string) bool {
	for _, kv := range set {
		if strings.EqualFold(key, kv[0]) {
			return true
		}
	}
	return false
}

// waitLDAP polls the rootDSE until samba answers, it exits, or a minute passes.
func (dc *DC) waitLDAP(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-dc.done:
			return fmt.Errorf("sambadc: samba exited while starting: %s", dc.Log())
		case <-ctx.Done():
			return fmt.Errorf("sambadc: waiting for LDAP: %w", ctx.Err())
		case <-time.After(150 * time.Millisecond):
		}
		conn, err := ldap.DialURL(dc.LDAPURL,
			ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err != nil {
			last = err
			continue
		}
		conn.SetTimeout(2 * time.Second)
		_, err = conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject,
			ldap.NeverDerefAliases, 0, 2, false, "(objectClass=*)",
			[]string{"defaultNamingContext"}, nil))
		_ = conn.Close()
		if err == nil {
			return nil
		}
		last = err
	}
	return fmt.Errorf("sambadc: LDAP on %s did not answer within 60 s (%w): %s", dc.Addr,
		last, dc.Log())
}

// Conn dials the DC over LDAPS (verified against its CA) and binds as Administrator.
func (dc *DC) Conn() (*ldap.Conn, error) {
	conn, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(dc.TLSConfig()),
		ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("sambadc: dial %s: %w", dc.LDAPSURL, err)
	}
	conn.SetTimeout(60 * time.Second)
	if err := conn.Bind(dc.AdminUPN, dc.AdminPassword); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sambadc: bind as %s: %w", dc.AdminUPN, err)
	}
	return conn, nil
}

// TLSConfig trusts the DC's CA and verifies its IP address.
func (dc *DC) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(dc.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: dc.Addr.String(), MinVersion: tls.VersionTLS12}
}

func (dc *DC) readDomainSID() error {
	conn, err := dc.Conn()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	res, err := conn.Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeBaseObject,
		ldap.NeverDerefAliases, 0, 10, false, "(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil {
		return fmt.Errorf("sambadc: read the domain SID: %w", err)
	}
	if len(res.Entries) == 0 {
		return errors.New("sambadc: read the domain SID: no domain object")
	}
	dc.DomainSID = sidString(res.Entries[0].GetRawAttributeValue("objectSid"))
	if dc.DomainSID == "" {
		return errors.New("sambadc: the domain object has no objectSid")
	}
	return nil
}

// Stop ends samba (stdin closed, SIGTERM to its process group, SIGKILL after 10 s) and
// removes the temporary directory.
func (dc *DC) Stop() error {
	if dc == nil {
		return nil
	}
	err := dc.stopProcess()
	dc.cleanup()
	return err
}

func (dc *DC) stopProcess() error {
	if dc.cmd == nil {
		return nil
	}
	_ = dc.stdin.Close()
	_ = signalGroup(dc.PID, syscall.SIGTERM)
	var err error
	select {
	case <-dc.done:
	case <-time.After(10 * time.Second):
		_ = signalGroup(dc.PID, syscall.SIGKILL)
		<-dc.done
		err = fmt.Errorf("sambadc: samba (pid %d) ignored SIGTERM for 10 s; killed", dc.PID)
	}
	dc.cmd = nil
	return err
}

func (dc *DC) cleanup() {
	if dc.tempDir {
		_ = os.RemoveAll(dc.Dir)
	}
}

// Log returns the tail of samba's output, for failure messages.
func (dc *DC) Log() string {
	b, err := os.ReadFile(dc.logPath)
	if err != nil {
		return ""
	}
	return tail(string(b), 2000)
}

func tail(s string, n int) string {
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

// strongPassword meets AD complexity (upper, lower, digit, symbol) with 144 random bits.
func strongPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return "Tn-" + base64.RawURLEncoding.EncodeToString(b) + "a7!Q"
}

// sidString renders a binary SID (used only to learn the domain SID; the collector has its
// own fuzzed decoder).
func sidString(b []byte) string {
	if len(b) < 8 || int(b[1])*4+8 != len(b) {
		return ""
	}
	auth := new(big.Int).SetBytes(b[2:8])
	var s strings.Builder
	fmt.Fprintf(&s, "S-%d-%s", b[0], auth)
	for i := 8; i+4 <= len(b); i += 4 {
		fmt.Fprintf(&s, "-%d", uint32(b[i])|uint32(b[i+1])<<8|uint32(b[i+2])<<16|
			uint32(b[i+3])<<24)
	}
	return s.String()
}
