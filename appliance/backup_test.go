package appliance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/store"
)

const backupPass = "backup test passphrase 31"

func writeBackup(t *testing.T, a *Appliance, pass []byte) []byte {
	t.Helper()
	plan, err := a.PrepareBackup(context.Background(), pass)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	var buf bytes.Buffer
	if _, err := plan.Write(&buf, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBackupWhileWriting takes a backup while a writer commits batches of rows continuously,
// restores it, and checks that every batch committed before the backup began is there and
// that no batch is there in part.
func TestBackupWhileWriting(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	ten, err := a.CreateTenant(ctx, "busy", "Busy")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Results().Put(ctx, ten.ID, "before", []byte("sealed result")); err != nil {
		t.Fatal(err)
	}
	const perBatch = 25
	var committed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
		if err != nil {
			t.Error(err)
			return
		}
		defer release()
		for b := int64(1); ; b++ {
			select {
			case <-stop:
				return
			default:
			}
			var batch []store.Asset
			for i := range perBatch {
				batch = append(batch, store.Asset{ID: fmt.Sprintf("b%06d-%02d", b, i),
					Name: "host", Address: "10.0.0.1"})
			}
			if err := tdb.UpsertAssets(ctx, batch); err != nil {
				t.Error(err)
				return
			}
			committed.Store(b)
		}
	})
	for committed.Load() < 20 { // let the writer get going
		time.Sleep(time.Millisecond)
	}
	before := committed.Load()
	archive := writeBackup(t, a, []byte(backupPass))
	close(stop)
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(t.TempDir(), "restored")
	cfg := testConfig(t, target)
	path := filepath.Join(t.TempDir(), "a.backup")
	if err := os.WriteFile(path, archive, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(context.Background(), path, cfg,
		RestoreOptions{Passphrase: []byte(backupPass)}); err != nil {
		t.Fatal(err)
	}
	cfg.MasterKeyFile = filepath.Join(target, "master.key")
	r := openTest(t, cfg)
	defer r.Close()
	tdb, release, err := r.Store().TenantDB(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	perBatchSeen := map[string]int{}
	if err := tdb.EachAsset(ctx, func(as store.Asset) error {
		perBatchSeen[as.ID[:7]]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for b, n := range perBatchSeen {
		if n != perBatch {
			t.Errorf("batch %s restored with %d of %d rows", b, n, perBatch)
		}
	}
	for b := int64(1); b <= before; b++ {
		if perBatchSeen[fmt.Sprintf("b%06d", b)] == 0 {
			t.Errorf("batch %d committed before the backup is missing", b)
		}
	}
	if v, err := r.Results().Get(ctx, ten.ID, "before"); err != nil || string(v) !=
		"sealed result" {
		t.Fatalf("result after restore: %q %v", v, err)
	}
	t.Logf("%d batches before the backup, %d restored", before, len(perBatchSeen))
}

// TestRestoreRefusesDamage flips bytes all through a real backup and truncates it: every
// damaged archive is refused, with a message that names where, and nothing is written.
func TestRestoreRefusesDamage(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	src := testConfig(t, t.TempDir())
	a := openTest(t, src)
	for _, slug := range []string{"one", "two"} {
		ten, err := a.CreateTenant(ctx, slug, slug)
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Results().Put(ctx, ten.ID, "r", bytes.Repeat([]byte("x"), 5000))
	}
	// Sealed with the master key: no passphrase KDF per attempt keeps the many tries fast.
	archive := writeBackup(t, a, nil)
	a.Close()
	dir := t.TempDir()
	try := func(data []byte) error {
		path := filepath.Join(dir, "damaged.backup")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "target")
		cfg := testConfig(t, target)
		cfg.MasterKeyFile = src.MasterKeyFile
		_, err := Restore(context.Background(), path, cfg, RestoreOptions{})
		if _, serr := os.Stat(target); err != nil && !os.IsNotExist(serr) {
			t.Fatalf("a refused restore left %s behind", target)
		}
		_ = os.RemoveAll(target)
		return err
	}
	step := max(1, len(archive)/150)
	for off := 0; off < len(archive); off += step {
		bad := bytes.Clone(archive)
		bad[off] ^= 0x20
		err := try(bad)
		if err == nil {
			t.Fatalf("byte %d of %d flipped: restore succeeded", off, len(archive))
		}
		if !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrWrongKey) {
			t.Fatalf("byte %d flipped: %v", off, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "entry") && !strings.Contains(msg, "header") &&
			!strings.Contains(msg, "manifest") && !strings.Contains(msg, "MANIFEST") {
			t.Fatalf("byte %d flipped: the refusal names no place: %v", off, err)
		}
	}
	for _, n := range []int{0, 10, len(archive) / 3, len(archive) - 1} {
		err := try(archive[:n])
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "trunc") &&
			!errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if err := try(archive); err != nil {
		t.Fatalf("the intact archive: %v", err)
	}
}

func TestRestoreRefusesNonEmptyTarget(t *testing.T) {
	a := openTest(t, testConfig(t, t.TempDir()))
	archive := writeBackup(t, a, nil)
	a.Close()
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a.backup")
	_ = os.WriteFile(path, archive, 0o600)
	_, err := Restore(context.Background(), path, testConfig(t, target), RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("non-empty target: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
		t.Fatal("the refused restore touched the target")
	}
}

func TestRestoreWrongPassphrase(t *testing.T) {
	a := openTest(t, testConfig(t, t.TempDir()))
	archive := writeBackup(t, a, []byte(backupPass))
	a.Close()
	path := filepath.Join(t.TempDir(), "a.backup")
	_ = os.WriteFile(path, archive, 0o600)
	target := filepath.Join(t.TempDir(), "t")
	_, err := Restore(context.Background(), path, testConfig(t, target),
		RestoreOptions{Passphrase: []byte("another passphrase 99")})
	if !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("a refused restore created the target")
	}
}

func TestExport(t *testing.T) {
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	ten, _ := a.CreateTenant(ctx, "exp", "Export Co")
	name := "Export Company"
	if _, err := a.UpdateTenant(ctx, "exp", store.TenantUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	_ = tdb.UpsertAssets(ctx, []store.Asset{{ID: "a1", Name: "=cmd|' /C calc'!A0",
		Address: "10.0.0.5", OS: "Linux"}, {ID: "a2", Name: "printer"}})
	release()
	for _, format := range []string{"csv", "json"} {
		var buf bytes.Buffer
		if err := a.Export(ctx, "exp", format, nil, &buf); err != nil {
			t.Fatal(err)
		}
		files := untarAll(t, buf.Bytes())
		for _, want := range []string{"tenant.json", "assets." + format, "services." + format,
			"audit." + format, "MANIFEST.json"} {
			if _, ok := files[want]; !ok {
				t.Fatalf("%s export lacks %s (has %v)", format, want, keysOf(files))
			}
		}
		assets := files["assets."+format]
		if !strings.Contains(assets, "10.0.0.5") || !strings.Contains(assets, "printer") {
			t.Fatalf("%s assets: %s", format, assets)
		}
		if format == "csv" && !strings.Contains(assets, "'=cmd") {
			t.Fatalf("a formula was exported unquoted: %s", assets)
		}
		if !strings.Contains(files["audit."+format], "tenant.update") {
			t.Fatalf("%s audit export is empty: %s", format, files["audit."+format])
		}
	}
	if err := a.Export(ctx, "exp", "xml", nil, &bytes.Buffer{}); !errors.Is(err,
		store.ErrInvalid) {
		t.Fatalf("unknown format: %v", err)
	}
	var sealed bytes.Buffer
	if err := a.Export(ctx, "exp", "csv", []byte(backupPass), &sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed.Bytes(), []byte("10.0.0.5")) {
		t.Fatal("the sealed export holds plaintext")
	}
}

func TestOpenSweepsLeftovers(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	a := openTest(t, cfg)
	a.Close()
	for _, d := range []string{".backup-123", ".export-456"} {
		p := filepath.Join(cfg.DataDir, d)
		_ = os.MkdirAll(p, 0o700)
		_ = os.WriteFile(filepath.Join(p, "master.key"), []byte("secret"), 0o600)
	}
	a = openTest(t, cfg)
	defer a.Close()
	for _, d := range []string{".backup-123", ".export-456"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, d)); !os.IsNotExist(err) {
			t.Errorf("%s survived a restart", d)
		}
	}
}
