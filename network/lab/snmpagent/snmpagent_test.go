//go:build linux

package snmpagent_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/snmpagent"
)

func TestRejectsNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:16161", "10.0.0.1:161", "[::1]:161",
		"192.168.1.1:161"} {
		_, err := snmpagent.RunSnmpd(context.Background(), snmpagent.Options{Addr: addr})
		if err == nil ||
			(!errors.Is(err, snmpagent.ErrNotLoopback) && !strings.Contains(err.Error(), "snmpd")) {
			t.Errorf("%s: err = %v, want ErrNotLoopback", addr, err)
		}
		if _, err := snmpagent.RunSnmpsim(context.Background(), snmpagent.Options{Addr: addr,
			Recording: "fortigate-60f"}); err == nil {
			t.Errorf("snmpsim %s: want an error", addr)
		}
	}
	if _, err := snmpagent.RunSnmpsim(context.Background(),
		snmpagent.Options{Recording: "no-such-device"}); err == nil {
		t.Error("unknown recording: want an error")
	}
	if _, err := snmpagent.RunSnmpd(context.Background(),
		snmpagent.Options{SysName: "evil\"\nrwcommunity x"}); err == nil {
		t.Error("config injection: want an error")
	}
}

// listensTCP199 reports whether anything listens on TCP port 199 (SMUX), which snmpd opens on
// 0.0.0.0 unless started with -I -smux.
func listensTCP199(t *testing.T) bool {
	t.Helper()
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 3 && strings.HasSuffix(fields[1], ":00C7") && fields[3] == "0A" {
				fh.Close()
				return true
			}
		}
		fh.Close()
	}
	return false
}

func TestSnmpdLifecycle(t *testing.T) {
	a := snmpd(t, snmpagent.Options{SysName: "lab-a",
		SysObjectID: "1.3.6.1.4.1.12356.101.1.60", SysDescr: "FortiGate-60F impersonation"})
	if !strings.HasPrefix(a.Host, "127.") || a.PID <= 0 {
		t.Fatalf("agent %+v", a)
	}
	if listensTCP199(t) {
		t.Error("something listens on TCP 199: snmpd must run with -I -smux")
	}
	if a.Truth.SysName != "lab-a" || a.Truth.SysObjectID != "1.3.6.1.4.1.12356.101.1.60" {
		t.Errorf("truth %+v", a.Truth)
	}
	dir, pid := a.Dir, a.PID
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("private dir %s survives Stop: %v", dir, err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("snmpd pid %d still alive after Stop", pid)
	}
	if err := a.Stop(); err != nil { // idempotent; t.Cleanup calls it again
		t.Error(err)
	}
}

func TestSnmpsimLifecycle(t *testing.T) {
	a := snmpsim(t, snmpagent.Options{Recording: "tplink-t2600g"})
	if a.Community != "tplink" || a.Truth.Vendor != "TP-Link" || a.Truth.Model == "" {
		t.Errorf("agent %+v", a)
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(a.PID) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && strings.Contains(string(st), "\nUid:\t0\t") {
		t.Error("snmpsimd still runs as root; want --process-user=nobody")
	}
}

func snmpd(t testing.TB, o snmpagent.Options) *snmpagent.Agent {
	t.Helper()
	return snmpagent.StartSnmpd(t, testenv.LookPath(t, "snmpd"), o)
}

func snmpsim(t testing.TB, o snmpagent.Options) *snmpagent.Agent {
	t.Helper()
	return snmpagent.StartSnmpsim(t, testenv.LookPath(t, "snmpsimd"), o)
}
