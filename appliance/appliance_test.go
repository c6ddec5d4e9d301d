package appliance

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance/config"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/sqlite"
)

// testCost is bcrypt's minimum: the cost itself is tested in package auth, and cost 12 under
// the race detector takes seconds per hash.
const testCost = 4

func testConfig(t testing.TB, dir string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Sources{Getenv: func(k string) string {
		if k == "TENA_DATA_DIR" {
			return dir
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openTest(t testing.TB, cfg config.Config) *Appliance {
	t.Helper()
	a, err := Open(context.Background(), cfg, Options{Role: "test", PasswordCost: testCost})
	if err != nil {
		t.Fatalf("open appliance: %v", err)
	}
	return a
}

// grepDir reports every file under dir whose bytes contain marker.
func grepDir(t *testing.T, dir string, marker []byte) (hits []string, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(data, marker) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, files
}

func TestAtRestNoPlaintext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a := openTest(t, cfg)
	const marker = "PLAINTEXT-MARKER-7f3a9c"
	ten, err := a.CreateTenant(ctx, "marker-co", "Acme "+marker)
	if err != nil {
		t.Fatal(err)
	}
	tdb, release, err := a.Store().TenantDB(ctx, ten.Slug)
	if err != nil {
		t.Fatal(err)
	}
	var assets []store.Asset
	for i := range 2000 {
		assets = append(assets, store.Asset{ID: fmt.Sprintf("a%05d", i),
			Name: marker + "-host", Address: "10.0.0.1", OS: "Linux " + marker})
	}
	if err := tdb.UpsertAssets(ctx, assets); err != nil {
		t.Fatal(err)
	}
	release()
	var kvs []store.KV
	for i := range 500 {
		kvs = append(kvs, store.KV{Key: fmt.Sprintf("r/%d", i),
			Value: []byte(strings.Repeat(marker, 20))})
	}
	if err := a.Results().PutBatch(ctx, ten.ID, kvs); err != nil {
		t.Fatal(err)
	}
	got, err := a.Results().Get(ctx, ten.ID, "r/7")
	if err != nil || !bytes.Contains(got, []byte(marker)) {
		t.Fatalf("results round trip: %q, %v", got, err)
	}

	// While open: the WAL files and Badger's memtable logs hold the newest writes.
	if hits, n := grepDir(t, dir, []byte(marker)); len(hits) > 0 {
		t.Fatalf("plaintext marker found in %v (of %d files) while open", hits, n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	hits, n := grepDir(t, dir, []byte(marker))
	if len(hits) > 0 {
		t.Fatalf("plaintext marker found in %v after close", hits)
	}
	if n < 5 {
		t.Fatalf("only %d files scanned; expected control.db, tenant db and Badger files", n)
	}
	// And the data is really there: reopen and read it back.
	a = openTest(t, cfg)
	defer a.Close()
	tdb, release, err = a.Store().TenantDB(ctx, ten.Slug)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if as, err := tdb.Asset(ctx, "a00042"); err != nil || !strings.Contains(as.OS, marker) {
		t.Fatalf("asset after reopen: %+v, %v", as, err)
	}
	if got, err := a.Results().Get(ctx, ten.ID, "r/499"); err != nil ||
		!bytes.Contains(got, []byte(marker)) {
		t.Fatalf("result after reopen: %v", err)
	}
}

func TestWrongMasterKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a := openTest(t, cfg)
	if _, err := a.CreateTenant(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	a.Close()

	other, _ := keys.NewKey()
	wrong := cfg
	wrong.MasterKey = base64.StdEncoding.EncodeToString(other)
	_, err := Open(ctx, wrong, Options{Role: "test"})
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), "TENA_MASTER_KEY") {
		t.Fatalf("open with another master key: got %v, want ErrWrongKey naming "+
			"TENA_MASTER_KEY", err)
	}

	// Even with the keyring swapped for one made under the other key, control.db stays shut.
	dir2 := t.TempDir()
	cfg2 := testConfig(t, dir2)
	cfg2.MasterKey = wrong.MasterKey
	b := openTest(t, cfg2)
	b.Close()
	kr, _ := os.ReadFile(filepath.Join(dir2, KeyringFile))
	if err := os.WriteFile(filepath.Join(dir, KeyringFile), kr, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, wrong, Options{Role: "test"})
	if !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("control.db with a foreign keyring: got %v, want ErrWrongKey", err)
	}

	// A master key given explicitly works when it is the right one.
	raw, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	right := cfg2
	right.DataDir = dir2
	right.MasterKey = wrong.MasterKey
	c := openTest(t, right)
	c.Close()
	_ = raw
}

func TestMissingOrCorruptKeys(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		break_  func(dir string) error
		want    error
		mention string
	}{
		{"missing master key", func(dir string) error {
			return os.Remove(filepath.Join(dir, "master.key"))
		}, store.ErrWrongKey, "master key file"},
		{"corrupt master key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "master.key"), []byte("garbage\n"), 0o600)
		}, store.ErrCorrupt, "master key file"},
		{"missing keyring", func(dir string) error {
			return os.Remove(filepath.Join(dir, KeyringFile))
		}, store.ErrCorrupt, "keyring"},
		{"corrupt keyring", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, KeyringFile), []byte("{not json"), 0o600)
		}, store.ErrCorrupt, "keyring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir)
			a := openTest(t, cfg)
			if _, err := a.CreateTenant(ctx, "acme", ""); err != nil {
				t.Fatal(err)
			}
			a.Close()
			if err := tc.break_(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Open(ctx, cfg, Options{Role: "test"})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.mention)
			}
			// Nothing was lost: the data dir still holds its files.
			if _, err := os.Stat(filepath.Join(dir, sqlite.ControlFile)); err != nil {
				t.Fatalf("control.db gone after a failed open: %v", err)
			}
		})
	}
}

func TestLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a, err := Open(context.Background(), cfg, Options{Role: "serve"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.lock.setListen("127.0.0.1:9443"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(context.Background(), cfg, Options{Role: "serve"})
	if !errors.Is(err, store.ErrLocked) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) ||
		!strings.Contains(err.Error(), "127.0.0.1:9443") {
		t.Fatalf("second serve: got %v, want ErrLocked naming pid and address", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("a second server must fail at once, not wait for the lock")
	}
}

func TestUnusableDataDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), testConfig(t, f), Options{Role: "test"})
	if err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("data dir is a file: got %v, want an error naming --data-dir", err)
	}
}
