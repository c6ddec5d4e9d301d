package appliance

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/appliance/tlsconf"
)

// TestTLSStatus reads the status of a self-signed manager: the served leaf with its names,
// expiry and fingerprint, and the notes serve prints (the CA's fingerprint among them).
func TestTLSStatus(t *testing.T) {
	ctx := context.Background()
	tm, err := tlsconf.New(ctx, tlsconf.Config{Mode: tlsconf.ModeSelfSigned,
		Dir: t.TempDir(), Hosts: []string{"tenantra.test", "127.0.0.1"}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer tm.Stop()
	st, err := tlsStatus("self-signed", "1.3", tm)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Fingerprint) != 64 || st.NotAfter.IsZero() ||
		!slices.Contains(st.DNSNames, "tenantra.test") ||
		!slices.Contains(st.IPAddresses, "127.0.0.1") || len(st.Notes) == 0 ||
		!strings.Contains(strings.Join(st.Notes, "\n"), "SHA-256") {
		t.Fatalf("status: %+v", st)
	}
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.TLSStatus(ctx); err == nil {
		t.Fatal("a TLS status without a server")
	}
}
