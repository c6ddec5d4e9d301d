package snmpagent

import (
	"context"
	"testing"
)

// StartSnmpd starts a private snmpd for the test and stops it (by PID) in t.Cleanup. The
// caller passes the program's path from internal/testenv, which owns the peer rule (a missing
// snmpd skips the test locally and fails it under TENA_REQUIRE_PEERS=1) and which this package
// may not import (ARCHITECTURE §2):
//
//	a := snmpagent.StartSnmpd(t, testenv.LookPath(t, "snmpd"), snmpagent.Options{})
func StartSnmpd(t testing.TB, program string, o Options) *Agent {
	t.Helper()
	o.Program = program
	return started(t, "snmpd", func() (*Agent, error) { return RunSnmpd(context.Background(), o) })
}

// StartSnmpsim starts a private snmpsimd serving o.Recording and stops it in t.Cleanup; the
// program path comes from testenv.LookPath(t, "snmpsimd") as for StartSnmpd.
func StartSnmpsim(t testing.TB, program string, o Options) *Agent {
	t.Helper()
	o.Program = program
	return started(t, "snmpsimd", func() (*Agent, error) {
		return RunSnmpsim(context.Background(), o)
	})
}

// started runs start, retrying a few times when a randomly picked port was taken meanwhile.
func started(t testing.TB, peer string, start func() (*Agent, error)) *Agent {
	t.Helper()
	var err error
	for range 3 {
		var a *Agent
		if a, err = start(); err == nil {
			t.Cleanup(func() {
				if err := a.Stop(); err != nil {
					t.Errorf("stop %s (pid %d): %v", peer, a.PID, err)
				}
			})
			return a
		}
	}
	t.Fatalf("start %s: %v", peer, err)
	return nil
}
