package sambadc

import (
	"context"
	"testing"
	"time"

	"github.com/tenantra/tenantra/internal/testenv"
)

// Start runs a DC for the test and stops it (by PID) in t.Cleanup. A missing samba skips the
// test locally and fails it under TENA_REQUIRE_PEERS=1.
func Start(t testing.TB, o Options) *DC {
	t.Helper()
	if err := CheckInstalled(); err != nil {
		testenv.MissingPeer(t, "samba", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dc, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("start samba DC: %v", err)
	}
	t.Cleanup(func() {
		if err := dc.Stop(); err != nil {
			t.Errorf("stop samba DC (pid %d): %v", dc.PID, err)
		}
	})
	return dc
}
