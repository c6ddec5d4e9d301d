// Package testenv owns the rules tests follow when they need a real peer (a program such as
// snmpd, samba, PostgreSQL or Pebble): locally a missing peer skips the test with a message;
// under TENA_REQUIRE_PEERS=1 (set by .ci/run) it fails the test instead.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequirePeers reports whether missing peers must fail tests instead of skipping them.
func RequirePeers() bool {
	return os.Getenv("TENA_REQUIRE_PEERS") == "1"
}

// MissingPeer skips the test, or fails it under TENA_REQUIRE_PEERS=1, saying which peer is
// missing and why.
func MissingPeer(t testing.TB, peer string, why error) {
	t.Helper()
	if RequirePeers() {
		t.Fatalf("peer %s is required (TENA_REQUIRE_PEERS=1) but unavailable: %v", peer, why)
	}
	t.Skipf("peer %s unavailable, skipping: %v (run scripts/install-peers.sh)", peer, why)
}

// LookPath returns the path of a peer program, skipping or failing the test when it is absent.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		MissingPeer(t, program, err)
	}
	return p
}
