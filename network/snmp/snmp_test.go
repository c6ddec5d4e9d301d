package snmp_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/fixtures"
	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/snmpagent"
	"github.com/tenantra/tenantra/network/snmp"
)

// newClient returns a Client with the embedded profiles and OUI table and short timeouts,
// since every agent here is on loopback.
func newClient(t testing.TB) *snmp.Client {
	t.Helper()
	profiles, err := snmp.LoadProfiles(fixtures.SNMP())
	if err != nil {
		t.Fatal(err)
	}
	oui, err := snmp.LoadOUI(fixtures.SNMP())
	if err != nil {
		t.Fatal(err)
	}
	return snmp.NewClient(snmp.Config{Timeout: 400 * time.Millisecond, Retries: 1}, profiles, oui)
}

const (
	v3User = "tenauditor"
	v3Auth = "auth-pass-123"
	v3Priv = "priv-pass-456"
)

func v3Cred(name, authProto, auth string) snmp.Credential {
	return snmp.Credential{Name: name, Version: "v3", User: v3User, AuthProto: authProto,
		AuthPass: auth, PrivProto: "AES", PrivPass: v3Priv}
}

func TestLinuxSnmpd(t *testing.T) {
	t.Parallel()
	a := snmpd(t, snmpagent.Options{Community: "lab-ro", V3User: v3User,
		V3AuthProto: "SHA-256", V3AuthPass: v3Auth, V3PrivPass: v3Priv,
		Neighbours: []snmpagent.Neighbour{{IP: "10.9.0.5", MAC: "00:50:56:aa:bb:05"},
			{IP: "10.9.0.6", MAC: "70:4c:a5:00:00:09"}},
		LLDP: []snmpagent.LLDP{{SysName: "sw-edge", ChassisID: "50:c7:bf:00:00:01",
			PortID: "gigabitEthernet 1/0/3"}}})
	c := newClient(t)
	cases := []struct {
		name    string
		creds   []snmp.Credential
		version string
	}{
		{"v2c after a wrong community", []snmp.Credential{
			{Name: "stale", Version: "v2c", Community: "not-it"},
			{Name: "lab", Version: "v2c", Community: a.Community}}, "v2c"},
		{"v3 authPriv SHA-256/AES", []snmp.Credential{v3Cred("lab-v3", "SHA-256", v3Auth)},
			"v3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Collect(context.Background(), a.Target(), tc.creds)
			if err != nil {
				t.Fatalf("collect: %v", err)
			}
			want := a.Truth
			if d.Version != tc.version || d.SysName != want.SysName ||
				d.SysDescr != want.SysDescr || d.SysObjectID != want.SysObjectID ||
				d.SysContact != want.SysContact || d.SysLocation != want.SysLocation {
				t.Errorf("system group = %q %q %q %q %q %q, want %+v", d.Version, d.SysName,
					d.SysDescr, d.SysObjectID, d.SysContact, d.SysLocation, want)
			}
			if d.SysUpTime <= 0 {
				t.Errorf("sysUpTime = %v", d.SysUpTime)
			}
			if d.Vendor != "net-snmp" || d.OS != "Linux" || d.Firmware != "6.1.0-lab" {
				t.Errorf("identity = %q %q %q; evidence %v", d.Vendor, d.OS, d.Firmware,
					d.Evidence)
			}
			var names []string
			for _, i := range d.Interfaces {
				names = append(names, i.Name)
			}
			for _, n := range want.Interfaces {
				if !slices.Contains(names, n) {
					t.Errorf("interface %q missing from %v", n, names)
				}
			}
			for _, n := range want.Neighbours {
				if !slices.ContainsFunc(d.Neighbours, func(g snmp.Neighbour) bool {
					return g.IP == n.IP && g.MAC == n.MAC
				}) {
					t.Errorf("arp neighbour %v missing from %v", n, d.Neighbours)
				}
			}
			if len(d.LLDP) != 1 || d.LLDP[0].SysName != "sw-edge" ||
				d.LLDP[0].ChassisID != "50:c7:bf:00:00:01" ||
				d.LLDP[0].PortID != "gigabitEthernet 1/0/3" {
				t.Errorf("lldp = %+v, want %+v", d.LLDP, want.LLDP)
			}
			var mem bool
			for _, s := range d.Storage {
				mem = mem || (s.Descr == "Physical memory" && s.Type == "ram" && s.Size > 0)
			}
			if !mem {
				t.Errorf("storage has no physical memory row: %+v", d.Storage)
			}
			if len(d.Partial) > 0 {
				t.Logf("partial: %v", d.Partial)
			}
			t.Logf("%d interfaces, %d storage rows, %d software, %d arp",
				len(d.Interfaces), len(d.Storage), len(d.Software), len(d.Neighbours))
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	a := snmpd(t, snmpagent.Options{Community: "lab-ro", V3User: v3User,
		V3AuthProto: "SHA-256", V3AuthPass: v3Auth, V3PrivPass: v3Priv})
	c := newClient(t)
	cases := []struct {
		name    string
		cred    snmp.Credential
		want    error
		mention string
	}{
		{"wrong community", snmp.Credential{Name: "guess", Version: "v2c",
			Community: "secret-guess"}, snmp.ErrNoResponse, "wrong community"},
		{"wrong v3 auth passphrase", v3Cred("bad-auth", "SHA-256", "wrong-pass-1"),
			snmp.ErrAuth, "authentication failed"},
		{"wrong v3 auth protocol", v3Cred("bad-proto", "SHA", v3Auth), snmp.ErrAuth,
			"authentication failed"},
		{"unknown v3 user", snmp.Credential{Name: "nobody", Version: "v3", User: "ghost",
			AuthProto: "SHA-256", AuthPass: v3Auth, PrivProto: "AES", PrivPass: v3Priv},
			snmp.ErrAuth, "authentication failed"},
		{"invalid set", snmp.Credential{Name: "empty", Version: "v2c"},
			snmp.ErrInvalidCredential, "empty community"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Collect(context.Background(), a.Target(), []snmp.Credential{tc.cred})
			var te *snmp.TargetError
			if !errors.As(err, &te) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want a TargetError wrapping %v", err, tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.mention) || !strings.Contains(msg, tc.cred.Name) {
				t.Errorf("error %q should mention %q and the credential name", msg, tc.mention)
			}
			for _, secret := range []string{"secret-guess", "wrong-pass-1", v3Auth, v3Priv} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks a secret: %q", msg)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	// A free loopback port with nothing behind it: the kernel answers ICMP port unreachable,
	// or (filtered) nothing at all; both must end in ErrNoResponse, never a hang.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := pc.LocalAddr().String()
	// Keep one socket that never answers, to model a filtered or hung agent.
	defer pc.Close()
	c := newClient(t)
	_, err = c.Collect(context.Background(), target, []snmp.Credential{
		{Name: "a", Version: "v2c", Community: "public"},
		{Name: "b", Version: "v1", Community: "public"}})
	if !errors.Is(err, snmp.ErrNoResponse) {
		t.Fatalf("err = %v, want ErrNoResponse", err)
	}
	if n := len(err.(*snmp.TargetError).Attempts); n != 2 {
		t.Errorf("attempts = %d, want 2: %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Collect(ctx, target, []snmp.Credential{
		{Name: "a", Version: "v2c", Community: "public"}}); err == nil {
		t.Error("cancelled context: want an error")
	}
	if _, err := c.Collect(context.Background(), target, nil); !errors.Is(err,
		snmp.ErrNoCredentials) {
		t.Errorf("no credentials: err = %v", err)
	}
}

func TestRecordedDevices(t *testing.T) {
	t.Parallel()
	for _, rec := range []string{"fortigate-60f", "tplink-t2600g"} {
		for _, version := range []string{"v2c", "v1", "v3"} {
			t.Run(rec+"/"+version, func(t *testing.T) {
				t.Parallel()
				o := snmpagent.Options{Recording: rec}
				if version == "v3" {
					o.V3User, o.V3AuthProto, o.V3AuthPass, o.V3PrivPass = v3User, "SHA",
						v3Auth, v3Priv
				}
				a := snmpsim(t, o)
				cred := snmp.Credential{Name: "lab", Version: version, Community: a.Community}
				if version == "v3" {
					cred = v3Cred("lab-v3", "SHA", v3Auth)
					cred.Context = a.Community // snmpsim picks the recording by context
				}
				d, err := newClient(t).Collect(context.Background(), a.Target(),
					[]snmp.Credential{cred})
				if err != nil {
					t.Fatalf("collect: %v", err)
				}
				checkTruth(t, d, a.Truth)
			})
		}
	}
}

func checkTruth(t *testing.T, d *snmp.Device, want snmpagent.Truth) {
	t.Helper()
	got := []string{d.SysName, d.SysObjectID, d.Vendor, d.Model, d.Firmware, d.Serial, d.OS,
		d.HAMode}
	exp := []string{want.SysName, want.SysObjectID, want.Vendor, want.Model, want.Firmware,
		want.Serial, want.OS, want.HAMode}
	if !slices.Equal(got, exp) {
		t.Errorf("identity\n got %q\nwant %q\nevidence %v", got, exp, d.Evidence)
	}
	var names []string
	for _, i := range d.Interfaces {
		names = append(names, i.Name)
		if i.MAC == "" || i.AdminStatus == "" || i.OperStatus == "" {
			t.Errorf("interface %+v incomplete", i)
		}
	}
	if !slices.Equal(names, want.Interfaces) {
		t.Errorf("interfaces = %q, want %q", names, want.Interfaces)
	}
	var arp []snmpagent.Neighbour
	for _, n := range d.Neighbours {
		arp = append(arp, snmpagent.Neighbour{IP: n.IP, MAC: n.MAC})
	}
	for _, n := range want.Neighbours {
		if !slices.Contains(arp, n) {
			t.Errorf("arp neighbour %v missing from %v", n, arp)
		}
	}
	if len(arp) != len(want.Neighbours) {
		t.Errorf("arp = %v, want %v", arp, want.Neighbours)
	}
	var lldp []snmpagent.LLDP
	for _, n := range d.LLDP {
		lldp = append(lldp, snmpagent.LLDP{SysName: n.SysName, ChassisID: n.ChassisID,
			PortID: n.PortID})
	}
	if !slices.Equal(lldp, want.LLDP) {
		t.Errorf("lldp = %v, want %v", lldp, want.LLDP)
	}
	for _, k := range []string{"vendor", "model", "firmware", "serial"} {
		if d.Evidence[k] == "" {
			t.Errorf("no evidence for %s", k)
		}
	}
	if len(d.Partial) > 0 {
		t.Errorf("partial: %v", d.Partial)
	}
}

func TestRowCap(t *testing.T) {
	t.Parallel()
	a := snmpd(t, snmpagent.Options{})
	profiles, _ := snmp.LoadProfiles(fixtures.SNMP())
	c := snmp.NewClient(snmp.Config{Timeout: 400 * time.Millisecond, MaxRows: 2}, profiles, nil)
	d, err := c.Collect(context.Background(), a.Target(), []snmp.Credential{
		{Name: "lab", Version: "v2c", Community: a.Community}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Storage) > 2 || len(d.Software) > 2 || len(d.Interfaces) > 2 {
		t.Errorf("row cap ignored: %d storage, %d software, %d interfaces", len(d.Storage),
			len(d.Software), len(d.Interfaces))
	}
	if !slices.ContainsFunc(d.Partial, func(s string) bool {
		return strings.Contains(s, "truncated")
	}) {
		t.Errorf("partial does not report truncation: %v", d.Partial)
	}
}

// snmpd and snmpsim start lab agents; internal/testenv decides skip or fail when absent.
func snmpd(t testing.TB, o snmpagent.Options) *snmpagent.Agent {
	t.Helper()
	return snmpagent.StartSnmpd(t, testenv.LookPath(t, "snmpd"), o)
}

func snmpsim(t testing.TB, o snmpagent.Options) *snmpagent.Agent {
	t.Helper()
	return snmpagent.StartSnmpsim(t, testenv.LookPath(t, "snmpsimd"), o)
}

// TestSnmpdImpersonation: stock snmpd with a FortiGate sysObjectID has none of the Fortinet
// scalars, so the profile falls back to sysDescr and the absent OIDs are simply skipped.
func TestSnmpdImpersonation(t *testing.T) {
	t.Parallel()
	a := snmpd(t, snmpagent.Options{SysObjectID: "1.3.6.1.4.1.12356.101.1.60",
		SysDescr: "FortiGate-60F", SysName: "fw-branch",
		Neighbours: []snmpagent.Neighbour{{IP: "10.9.0.5", MAC: "00:50:56:aa:bb:05"}}})
	d, err := newClient(t).Collect(context.Background(), a.Target(), []snmp.Credential{
		{Name: "lab", Version: "v1", Community: a.Community}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Vendor != "Fortinet" || d.Model != "FortiGate-60F" || d.OS != "FortiOS" ||
		d.Firmware != "" || d.HAMode != "" || d.SysName != "fw-branch" {
		t.Errorf("got %q %q %q %q %q; evidence %v", d.Vendor, d.Model, d.OS, d.Firmware,
			d.HAMode, d.Evidence)
	}
	if !strings.Contains(d.Evidence["model"], "sysDescr") {
		t.Errorf("model evidence = %q", d.Evidence["model"])
	}
	if !slices.ContainsFunc(d.Neighbours, func(n snmp.Neighbour) bool {
		return n.IP == "10.9.0.5" && n.MACVendor == "VMware"
	}) {
		t.Errorf("neighbours = %+v, want 10.9.0.5 from VMware", d.Neighbours)
	}
}
