package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestoreExportCLI runs backup and export through a running server's admin socket,
// then restores the backup into a new data dir with the server stopped.
func TestBackupRestoreExportCLI(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	if _, errOut, code := execCLI(t, dir, "tenant", "create", "acme"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	work := t.TempDir()
	pass := filepath.Join(work, "pass")
	if err := os.WriteFile(pass, []byte("a backup passphrase 123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(work, "appliance.backup")
	out, errOut, code := execCLI(t, dir, "backup", "--out", archive, "--passphrase-file", pass)
	if code != 0 || !strings.HasPrefix(out, "Backup written to ") {
		t.Fatalf("backup: %d %q %q", code, out, errOut)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v %v", fi, err)
	}
	exp := filepath.Join(work, "export")
	if out, errOut, code = execCLI(t, dir, "export", "--tenant", "acme", "--out", exp,
		"--format", "json"); code != 0 {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	for _, f := range []string{"tenant.json", "assets.json", "services.json", "audit.json",
		"MANIFEST.json"} {
		if _, err := os.Stat(filepath.Join(exp, f)); err != nil {
			t.Errorf("export lacks %s", f)
		}
	}
	if _, err := s.stop(); err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(work, "restored")
	cmdArgs := []string{"restore", archive, "--passphrase-file", pass}
	if out, errOut, code = execCLI(t, restored, cmdArgs...); code != 0 ||
		!strings.HasPrefix(out, "Restored ") {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	if out, _, code = execCLI(t, restored, "tenant", "list"); code != 0 ||
		!strings.Contains(out, "acme") {
		t.Fatalf("restored tenants: %q", out)
	}
	// A second restore into the same (now non-empty) dir needs --force.
	if _, errOut, code = execCLI(t, restored, cmdArgs...); code != 1 ||
		!strings.Contains(errOut, "--force") {
		t.Fatalf("restore over data: %d %q", code, errOut)
	}
	// A flipped byte is refused, naming where.
	data, _ := os.ReadFile(archive)
	data[len(data)/2] ^= 1
	bad := filepath.Join(work, "bad.backup")
	_ = os.WriteFile(bad, data, 0o600)
	_, errOut, code = execCLI(t, filepath.Join(work, "r2"), "restore", bad,
		"--passphrase-file", pass)
	if code != 1 || !strings.Contains(errOut, "damaged") && !strings.Contains(errOut,
		"does not match") {
		t.Fatalf("damaged archive: %d %q", code, errOut)
	}
}
