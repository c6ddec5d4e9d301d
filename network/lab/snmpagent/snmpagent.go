// Package snmpagent starts private, real SNMP agents on loopback addresses for tests and
// demos: net-snmp's snmpd with a generated config (a Linux server, or any sysObjectID and
// sysDescr you choose) and snmpsim's snmpsimd serving a recorded device from fixtures/snmp
// (a FortiGate, a TP-Link switch). Each agent comes with its ground truth.
//
// Agents bind only to 127.0.0.0/8, never start a system service, keep all state in a private
// directory that is wiped on stop, look nothing up outside the machine, and are stopped by
// PID. StartSnmpd and StartSnmpsim are the test entry points; callers get the program path
// from internal/testenv, so a missing agent skips the test locally and fails it under
// TENA_REQUIRE_PEERS=1. RunSnmpd and RunSnmpsim serve demos (`tenantra lab up`).
package snmpagent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"
	"gopkg.in/yaml.v3"

	"github.com/tenantra/tenantra/fixtures"
)

// Options describe one agent. Zero values take defaults.
type Options struct {
	// Addr is "127.x.y.z:port"; empty picks a random loopback address and a high free port.
	Addr string
	// Community is the v1/v2c read community; default "public" (snmpd) or the recording's
	// community from its truth file (snmpsim).
	Community string
	// V3User enables an SNMPv3 authPriv user with V3AuthProto ("SHA" or "SHA-256", default
	// "SHA-256"), V3AuthPass and V3PrivPass (AES-128); passphrases need 8+ characters.
	V3User, V3AuthProto, V3AuthPass, V3PrivPass string
	// System group values served by snmpd (ignored by snmpsim, whose recording has them).
	SysObjectID, SysDescr, SysName, SysContact, SysLocation string
	// Neighbours and LLDP are extra ARP (ipNetToMediaTable, on ifIndex 1) and LLDP remote
	// rows snmpd serves through `override` lines, so it can impersonate a router or switch.
	Neighbours []Neighbour
	LLDP       []LLDP
	// Recording names fixtures/snmp/<Recording>.snmprec (with <Recording>.truth.yaml), or is
	// a path to a .snmprec file on disk. snmpsim only.
	Recording string
	// Ready bounds how long to wait for the agent to answer; default 20s.
	Ready time.Duration
	// Program is the agent binary's path; default snmpd or snmpsimd from PATH.
	Program string
}

// Agent is a running agent.
type Agent struct {
	Addr      string // host:port
	Host      string
	Port      uint16
	PID       int
	Community string
	Truth     Truth
	Dir       string // private working directory, removed by Stop

	cmd  *exec.Cmd
	done chan struct{}
	log  *logBuffer
}

// Truth is what a correct SNMP collector must report for the agent.
type Truth struct {
	Community   string      `yaml:"community"`
	SysName     string      `yaml:"sys_name"`
	SysDescr    string      `yaml:"sys_descr"`
	SysObjectID string      `yaml:"sys_object_id"`
	SysContact  string      `yaml:"sys_contact"`
	SysLocation string      `yaml:"sys_location"`
	Vendor      string      `yaml:"vendor"`
	Model       string      `yaml:"model"`
	Firmware    string      `yaml:"firmware"`
	Serial      string      `yaml:"serial"`
	OS          string      `yaml:"os"`
	HAMode      string      `yaml:"ha_mode"`
	Interfaces  []string    `yaml:"interfaces"`
	Neighbours  []Neighbour `yaml:"neighbours"`
	LLDP        []LLDP      `yaml:"lldp"`
}

// Neighbour is an expected ARP entry.
type Neighbour struct {
	IP  string `yaml:"ip"`
	MAC string `yaml:"mac"`
}

// LLDP is an expected LLDP remote-table row.
type LLDP struct {
	SysName   string `yaml:"sys_name"`
	ChassisID string `yaml:"chassis_id"`
	PortID    string `yaml:"port_id"`
}

// ErrNotLoopback rejects an address outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("agent address must be in 127.0.0.0/8")

// Stop ends the agent by PID (SIGTERM, then SIGKILL after 5s) and removes its directory.
func (a *Agent) Stop() error {
	if a == nil || a.cmd == nil {
		return nil
	}
	if a.cmd.Process != nil {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(5 * time.Second):
			_ = a.cmd.Process.Kill()
			<-a.done
		}
	}
	a.cmd = nil
	return os.RemoveAll(a.Dir)
}

// Log returns what the agent wrote to stdout and stderr so far (for failure messages).
func (a *Agent) Log() string {
	if a.log == nil {
		return ""
	}
	return a.log.tail(4096)
}

// loopbackAddr validates o.Addr or picks a random 127.a.b.c and a free high UDP port.
func loopbackAddr(addr string) (netip.AddrPort, error) {
	if addr != "" {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return ap, fmt.Errorf("agent address %q: %w", addr, err)
		}
		if !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
			return ap, fmt.Errorf("%w: %s", ErrNotLoopback, addr)
		}
		return ap, nil
	}
	for range 50 {
		ip := netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)),
			byte(1 + rand.IntN(254))})
		ap := netip.AddrPortFrom(ip, uint16(20000+rand.IntN(40000)))
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(ap))
		if err == nil {
			_ = c.Close()
			return ap, nil
		}
	}
	return netip.AddrPort{}, errors.New("no free loopback udp port found")
}

// overrides writes snmpd `override` lines serving o's ARP and LLDP rows.
func overrides(w *strings.Builder, o Options) error {
	for _, n := range o.Neighbours {
		ip, err := netip.ParseAddr(n.IP)
		mac, err2 := net.ParseMAC(n.MAC)
		if err != nil || err2 != nil || !ip.Is4() || len(mac) != 6 {
			return fmt.Errorf("neighbour %+v: want an IPv4 address and a 6-byte MAC", n)
		}
		fmt.Fprintf(w, "override .1.3.6.1.2.1.4.22.1.2.1.%s octet_str 0x%x\n", ip, []byte(mac))
		fmt.Fprintf(w, "override .1.3.6.1.2.1.4.22.1.4.1.%s integer 3\n", ip)
	}
	for i, l := range o.LLDP {
		mac, err := net.ParseMAC(l.ChassisID)
		if err != nil || len(mac) != 6 || l.PortID == "" || len(l.PortID) > 255 ||
			len(l.SysName) > 255 {
			return fmt.Errorf("lldp %+v: want a MAC chassis id and a port id", l)
		}
		row := fmt.Sprintf("0.%d.%d", i+1, i+1) // timeMark.localPort.index
		base := ".1.0.8802.1.1.2.1.4.1.1"
		fmt.Fprintf(w, "override %s.4.%s integer 4\n", base, row) // macAddress
		fmt.Fprintf(w, "override %s.5.%s octet_str 0x%x\n", base, row, []byte(mac))
		fmt.Fprintf(w, "override %s.6.%s integer 5\n", base, row) // interfaceName
		fmt.Fprintf(w, "override %s.7.%s octet_str 0x%x\n", base, row, l.PortID)
		if l.SysName != "" {
			fmt.Fprintf(w, "override %s.9.%s octet_str 0x%x\n", base, row, l.SysName)
		}
	}
	return nil
}

func program(path, name string) (string, error) {
	if path != "" {
		return path, nil
	}
	return exec.LookPath(name)
}

// privateDir makes a fresh directory other users (snmpsimd's nobody) may read.
func privateDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// start runs cmd and waits until a v2c GET (or v3 when no community) answers.
func (a *Agent) start(ctx context.Context, cmd *exec.Cmd, o Options) error {
	a.log = &logBuffer{}
	cmd.Stdout, cmd.Stderr = a.log, a.log
	cmd.SysProcAttr = agentProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	a.cmd, a.PID, a.done = cmd, cmd.Process.Pid, make(chan struct{})
	go func() { _ = cmd.Wait(); close(a.done) }()
	wait := o.Ready
	if wait <= 0 {
		wait = 20 * time.Second
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			return fmt.Errorf("%s exited early: %s", filepath.Base(cmd.Path), a.Log())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if a.answers(o) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer on %s within %v: %s", filepath.Base(cmd.Path),
		a.Addr, wait, a.Log())
}

func (a *Agent) answers(o Options) bool {
	g := &gosnmp.GoSNMP{Target: a.Host, Port: a.Port, Transport: "udp", Community: a.Community,
		Version: gosnmp.Version2c, Timeout: 300 * time.Millisecond, Retries: 0}
	if a.Community == "" {
		auth := gosnmp.SHA256
		if strings.EqualFold(o.V3AuthProto, "SHA") {
			auth = gosnmp.SHA
		}
		g.Version, g.SecurityModel, g.MsgFlags = gosnmp.Version3, gosnmp.UserSecurityModel,
			gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{UserName: o.V3User,
			AuthenticationProtocol: auth, AuthenticationPassphrase: o.V3AuthPass,
			PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: o.V3PrivPass}
	}
	if err := g.Connect(); err != nil {
		return false
	}
	defer g.Conn.Close()
	pkt, err := g.Get([]string{".1.3.6.1.2.1.1.2.0"})
	return err == nil && pkt.PDUType == gosnmp.GetResponse && len(pkt.Variables) == 1
}

// RunSnmpd starts net-snmp's snmpd as
// `MIBS= snmpd -f -Lo -I -smux -C -c <private conf> udp:127.x.y.z:<port>` with a private,
// freshly wiped persistent directory. The caller must Stop the agent.
func RunSnmpd(ctx context.Context, o Options) (*Agent, error) {
	bin, err := program(o.Program, "snmpd")
	if err != nil {
		return nil, err
	}
	ap, err := loopbackAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	if o.Community == "" && o.V3User == "" {
		o.Community = "public"
	}
	if o.V3User != "" && o.V3AuthProto == "" {
		o.V3AuthProto = "SHA-256"
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.SysObjectID, "1.3.6.1.4.1.8072.3.2.10")
	def(&o.SysName, "lab-linux")
	def(&o.SysDescr, "Linux lab-linux 6.1.0-lab #1 SMP x86_64")
	def(&o.SysContact, "lab@tenantra.test")
	def(&o.SysLocation, "loopback lab")
	for _, v := range []string{o.Community, o.V3User, o.V3AuthPass, o.V3PrivPass, o.SysObjectID,
		o.SysName, o.SysDescr, o.SysContact, o.SysLocation} {
		if strings.ContainsAny(v, "\"\n\r") {
			return nil, fmt.Errorf("snmpd option %q: quotes and newlines are not allowed", v)
		}
	}
	dir, err := privateDir("tena-snmpd-")
	if err != nil {
		return nil, err
	}
	persist := filepath.Join(dir, "persist")
	if err := os.Mkdir(persist, 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "# private lab agent; see network/lab/snmpagent\n")
	fmt.Fprintf(&conf, "dontLogTCPWrappersConnects yes\n")
	if o.Community != "" {
		fmt.Fprintf(&conf, "rocommunity %s 127.0.0.0/8\n", o.Community)
	}
	if o.V3User != "" {
		fmt.Fprintf(&conf, "createUser %s %s \"%s\" AES \"%s\"\nrouser %s authpriv\n",
			o.V3User, o.V3AuthProto, o.V3AuthPass, o.V3PrivPass, o.V3User)
	}
	fmt.Fprintf(&conf, "sysObjectID .%s\nsysName %s\nsysDescr %s\nsysContact %s\n"+
		"sysLocation %s\n", strings.TrimPrefix(o.SysObjectID, "."), o.SysName, o.SysDescr,
		o.SysContact, o.SysLocation)
	if err := overrides(&conf, o); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	confPath := filepath.Join(dir, "snmpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	a := &Agent{Addr: ap.String(), Host: ap.Addr().String(), Port: ap.Port(),
		Community: o.Community, Dir: dir}
	a.Truth = Truth{Community: o.Community, SysName: o.SysName, SysDescr: o.SysDescr,
		SysObjectID: strings.TrimPrefix(o.SysObjectID, "."), SysContact: o.SysContact,
		SysLocation: o.SysLocation, Vendor: "net-snmp", OS: "Linux",
		Neighbours: o.Neighbours, LLDP: o.LLDP}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			a.Truth.Interfaces = append(a.Truth.Interfaces, i.Name)
		}
	}
	cmd := exec.Command(bin, "-f", "-Lo", "-I", "-smux", "-C", "-c", confPath,
		"udp:"+ap.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MIBS=", "SNMP_PERSISTENT_DIR="+persist,
		"SNMPCONFPATH="+dir)
	if err := a.start(ctx, cmd, o); err != nil {
		_ = a.Stop()
		return nil, err
	}
	return a, nil
}

// RunSnmpsim starts snmpsim's snmpsimd serving one recording, as
// `snmpsimd --data-dir … --agent-udpv4-endpoint=127.x.y.z:<port> --process-user=nobody
// --process-group=nogroup` (the privilege drop only when running as root). The caller must
// Stop the agent.
func RunSnmpsim(ctx context.Context, o Options) (*Agent, error) {
	bin, err := program(o.Program, "snmpsimd")
	if err != nil {
		return nil, err
	}
	rec, truth, err := loadRecording(o.Recording)
	if err != nil {
		return nil, err
	}
	ap, err := loopbackAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	if o.Community == "" {
		o.Community = truth.Community
	}
	if o.Community == "" {
		o.Community = "public"
	}
	if strings.ContainsAny(o.Community, "/\\.\x00") || strings.HasPrefix(o.Community, "-") {
		return nil, fmt.Errorf("snmpsim community %q cannot name a data file", o.Community)
	}
	truth.Community = o.Community
	dir, err := privateDir("tena-snmpsim-")
	if err != nil {
		return nil, err
	}
	data, cache := filepath.Join(dir, "data"), filepath.Join(dir, "cache")
	err = errors.Join(os.Mkdir(data, 0o755), os.Mkdir(cache, 0o777), os.Chmod(cache, 0o777),
		os.WriteFile(filepath.Join(data, o.Community+".snmprec"), rec, 0o644))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	args := []string{"--data-dir=" + data, "--cache-dir=" + cache,
		"--agent-udpv4-endpoint=" + ap.String(), "--logging-method=stderr"}
	if os.Geteuid() == 0 {
		args = append(args, "--process-user=nobody", "--process-group=nogroup")
	}
	if o.V3User != "" {
		proto := "SHA256"
		if strings.EqualFold(o.V3AuthProto, "SHA") {
			proto = "SHA"
		}
		args = append(args, "--v3-user="+o.V3User, "--v3-auth-key="+o.V3AuthPass,
			"--v3-auth-proto="+proto, "--v3-priv-key="+o.V3PrivPass, "--v3-priv-proto=AES")
	}
	a := &Agent{Addr: ap.String(), Host: ap.Addr().String(), Port: ap.Port(),
		Community: o.Community, Dir: dir, Truth: truth}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if err := a.start(ctx, cmd, o); err != nil {
		_ = a.Stop()
		return nil, err
	}
	return a, nil
}

// loadRecording returns the .snmprec bytes and the ground truth of a recording name from
// fixtures/snmp, or of a path on disk (with an optional sibling .truth.yaml).
func loadRecording(name string) ([]byte, Truth, error) {
	var truth Truth
	if name == "" {
		return nil, truth, errors.New("snmpsim needs Options.Recording")
	}
	var rec, tb []byte
	var err error
	if strings.ContainsRune(name, filepath.Separator) {
		if rec, err = os.ReadFile(name); err != nil {
			return nil, truth, err
		}
		tb, _ = os.ReadFile(strings.TrimSuffix(name, ".snmprec") + ".truth.yaml")
	} else {
		fsys := fixtures.SNMP()
		if rec, err = fs.ReadFile(fsys, name+".snmprec"); err != nil {
			return nil, truth, fmt.Errorf("recording %q: %w", name, err)
		}
		tb, _ = fs.ReadFile(fsys, name+".truth.yaml")
	}
	if tb != nil {
		if err := yaml.Unmarshal(tb, &truth); err != nil {
			return nil, truth, fmt.Errorf("recording %q truth: %w", name, err)
		}
	}
	return rec, truth, nil
}

// Target is the agent's address as "host:port", for collectors.
func (a *Agent) Target() string { return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port))) }
