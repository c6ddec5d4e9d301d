//go:build linux

package probe

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestSNMPProbeAgainstSnmpd checks the SNMPv2c get-request against a real net-snmp agent on
// loopback: if the hand-built BER were wrong, snmpd would drop it and the port would read
// open|filtered. Without snmpd the test skips, or fails under TENA_REQUIRE_PEERS=1.
func TestSNMPProbeAgainstSnmpd(t *testing.T) {
	bin, err := exec.LookPath("snmpd")
	if err != nil {
		if os.Getenv("TENA_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer snmpd is required (TENA_REQUIRE_PEERS=1): %v", err)
		}
		t.Skipf("peer snmpd unavailable, skipping: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "snmpd.conf")
	err = os.WriteFile(conf, []byte("rocommunity public 127.0.0.0/8\n"+
		"sysDescr Tenantra probe test agent\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "127.211.10.1"
	// -I -smux keeps snmpd off TCP 0.0.0.0:199; -C ignores the system's config files.
	cmd := exec.Command(bin, "-f", "-Lo", "-I", "-smux", "-C", "-c", conf,
		"udp:"+addr+":161")
	cmd.Env = append(os.Environ(), "MIBS=", "SNMP_PERSISTENT_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start snmpd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := newScanner(t, Config{MaxConcurrency: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := Request{Targets: slices.Values([]netip.Addr{netip.MustParseAddr(addr)}),
		Ports: []uint16{161}, Proto: UDP,
		Timing: Timing{Initial: 500 * time.Millisecond, Retries: -1}}
	// snmpd takes a moment to bind; until then the port is closed. Bounded by ctx.
	var last Result
	for ctx.Err() == nil {
		_, err := s.Scan(ctx, req, func(r Result) { last = r })
		if err == nil && last.State == StateOpen {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last.State != StateOpen || last.Service != "snmp" {
		t.Fatalf("snmpd at %s:161: %v %q (%v)", addr, last.State, last.Service, last.Err)
	}
}
