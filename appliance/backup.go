package appliance

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tenantra/tenantra/appliance/config"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/backup"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/results"
)

// Names of archive entries besides the databases (which keep their data-dir paths).
const (
	entryResults = "results.badger"
	entryKeyring = KeyringFile
	entryMaster  = "master.key"
)

// BackupPlan is a snapshot ready to be written: its entries and their total size.
type BackupPlan struct {
	dir     string
	entries []planEntry
	Size    int64
	sealing backup.Sealing
	meta    map[string]string
}

type planEntry struct {
	name, path string
}

// PrepareBackup takes a consistent snapshot of the whole appliance into a temporary
// directory inside the data dir: every database through SQLite's online backup, the results
// store through Badger's, and the keyring. With a passphrase the master key goes into the
// archive too, so the passphrase alone restores it; without one the archive is sealed with a
// key derived from the master key, which a restore must then be given. Call Close on the plan.
func (a *Appliance) PrepareBackup(ctx context.Context, passphrase []byte) (*BackupPlan, error) {
	tmp, err := os.MkdirTemp(a.cfg.DataDir, ".backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	p := &BackupPlan{dir: tmp, meta: map[string]string{"kind": "backup",
		"app_version": a.version, "created": time.Now().UTC().Format(time.RFC3339)}}
	ok := false
	defer func() {
		if !ok {
			_ = p.Close()
		}
	}()
	// The keyring's master key, not the one loaded at start: a rotation may have replaced it.
	kek := a.keyring.KEK()
	files, err := a.store.Snapshot(ctx, tmp)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		p.add(f.Name, f.Path)
	}
	rpath := filepath.Join(tmp, entryResults)
	if err := writeTo(rpath, a.results.Backup); err != nil {
		return nil, err
	}
	p.add(entryResults, rpath)
	// The keyring as of this moment, with the master key read above: a rotation later on
	// must not pair one with the other's successor.
	kpath := filepath.Join(tmp, entryKeyring)
	kdata, err := os.ReadFile(filepath.Join(a.cfg.DataDir, KeyringFile))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := keys.WriteFileAtomic(kpath, kdata, 0o600); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	p.add(entryKeyring, kpath)
	if len(passphrase) > 0 {
		mpath := filepath.Join(tmp, entryMaster)
		raw := base64.StdEncoding.EncodeToString(kek.Export()) + "\n"
		if err := keys.WriteFileAtomic(mpath, []byte(raw), 0o600); err != nil {
			return nil, err
		}
		p.add(entryMaster, mpath)
		p.sealing = backup.Sealing{Passphrase: passphrase}
	} else {
		p.sealing = backup.Sealing{Key: kek.Derive("backup"), KeyID: kek.ID()}
	}
	for _, e := range p.entries {
		fi, err := os.Stat(e.path)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		p.Size += fi.Size()
	}
	p.meta["tenants"] = strconv.Itoa(len(files) - 1)
	ok = true
	return p, nil
}

func (p *BackupPlan) add(name, path string) {
	p.entries = append(p.entries, planEntry{name: name, path: path})
}

// Close removes the snapshot.
func (p *BackupPlan) Close() error { return os.RemoveAll(p.dir) }

// Write streams the sealed archive to w, calling progress with the bytes of snapshot data
// written so far.
func (p *BackupPlan) Write(w io.Writer, progress func(done int64)) (backup.Manifest, error) {
	bw, err := backup.NewWriter(w, p.sealing, p.meta)
	if err != nil {
		return backup.Manifest{}, err
	}
	var done int64
	for _, e := range p.entries {
		f, err := os.Open(e.path)
		if err != nil {
			return backup.Manifest{}, fmt.Errorf("backup: %w", err)
		}
		fi, err := f.Stat()
		if err == nil {
			err = bw.Add(e.name, fi.Size(), &countingReader{r: f, n: &done, fn: progress})
		}
		f.Close()
		if err != nil {
			return backup.Manifest{}, fmt.Errorf("backup %s: %w", e.name, err)
		}
	}
	if err := bw.Close(); err != nil {
		return backup.Manifest{}, err
	}
	return bw.Manifest(), nil
}

type countingReader struct {
	r  io.Reader
	n  *int64
	fn func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	*c.n += int64(n)
	if c.fn != nil && n > 0 {
		c.fn(*c.n)
	}
	return n, err
}

func writeTo(path string, fn func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Passphrase opens an archive sealed with one; without it the archive must have been
	// sealed with the master key given in the configuration (master_key_file, TENA_MASTER_KEY).
	Passphrase []byte
	// Force replaces a data dir that is not empty.
	Force bool
	// Progress is called with the bytes read while verifying and while restoring.
	Progress func(phase string, done int64)
}

// Restore checks the archive at path completely (manifest, every checksum, every
// authenticated block) before it writes anything, then restores it into cfg.DataDir through
// a staging directory beside it, and finally opens the result to check that every tenant
// opens. A damaged archive is refused naming the entry.
func Restore(ctx context.Context, path string, cfg config.Config, opt RestoreOptions) (
	backup.Manifest, error) {
	target := filepath.Clean(cfg.DataDir)
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 && !opt.Force {
		return backup.Manifest{}, fmt.Errorf("restore: data dir %s is not empty; restore into "+
			"a new directory, or add --force to replace its contents", target)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return backup.Manifest{}, fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(target); err == nil {
		// Nothing may use the data dir being replaced.
		l, err := lockDir(target, "restore")
		if err != nil {
			return backup.Manifest{}, err
		}
		defer func() { _ = l.release() }()
	}
	sealing, err := restoreSealing(cfg, opt.Passphrase)
	if err != nil {
		return backup.Manifest{}, err
	}
	open := func() (*os.File, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("restore: cannot read the archive: %w", err)
		}
		return f, nil
	}
	f, err := open()
	if err != nil {
		return backup.Manifest{}, err
	}
	man, err := backup.Verify(progressReader(f, "verify", opt.Progress), sealing)
	f.Close()
	if err != nil {
		return backup.Manifest{}, err
	}
	if man.Meta["kind"] != "backup" {
		return backup.Manifest{}, store.Errorf(store.ErrInvalid, "restore: %s is not an "+
			"appliance backup (it is a %q archive)", path, man.Meta["kind"])
	}
	staging := target + ".restore-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return backup.Manifest{}, fmt.Errorf("restore: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(staging)
		}
	}()
	if f, err = open(); err != nil {
		return backup.Manifest{}, err
	}
	_, err = backup.Extract(progressReader(f, "restore", opt.Progress), sealing,
		func(e backup.Entry, r io.Reader) error {
			if err := backup.SafeName(e.Name); err != nil {
				return err
			}
			dst := filepath.Join(staging, filepath.FromSlash(e.Name))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return err
			}
			return writeTo(dst, func(w io.Writer) error {
				_, err := io.Copy(w, r)
				return err
			})
		})
	f.Close()
	if err != nil {
		return backup.Manifest{}, err
	}
	if err := loadResults(staging, cfg, opt.Passphrase != nil); err != nil {
		return backup.Manifest{}, err
	}
	if err := swapIn(staging, target); err != nil {
		return backup.Manifest{}, err
	}
	ok = true
	// The restored appliance must open, and every tenant in it.
	check := cfg
	check.DataDir = target
	if len(opt.Passphrase) > 0 {
		check.MasterKey, check.MasterKeyFile = "", filepath.Join(target, entryMaster)
	}
	a, err := Open(ctx, check, Options{Role: "restore"})
	if err != nil {
		return man, fmt.Errorf("restore: the restored data dir does not open: %w", err)
	}
	defer func() { _ = a.Close() }()
	if err := a.store.Verify(ctx); err != nil {
		return man, fmt.Errorf("restore: %w", err)
	}
	return man, nil
}

func restoreSealing(cfg config.Config, passphrase []byte) (backup.Sealing, error) {
	if len(passphrase) > 0 {
		return backup.Sealing{Passphrase: passphrase}, nil
	}
	kek, err := keys.LoadMaster(keys.MasterSource{EnvValue: cfg.MasterKey,
		File: cfg.MasterKeyFile}, false)
	if err != nil {
		return backup.Sealing{}, fmt.Errorf("restore: without --passphrase-file the archive "+
			"must be sealed with a master key, and none could be loaded (%w); give the "+
			"backup's passphrase with --passphrase-file, or the master key it was made with "+
			"(--master-key-file or TENA_MASTER_KEY)", err)
	}
	return backup.Sealing{Key: kek.Derive("backup"), KeyID: kek.ID()}, nil
}

// loadResults rebuilds the Badger results store in staging from the backup stream.
func loadResults(staging string, cfg config.Config, withMaster bool) error {
	src := keys.MasterSource{EnvValue: cfg.MasterKey, File: cfg.MasterKeyFile}
	if withMaster {
		src = keys.MasterSource{File: filepath.Join(staging, entryMaster)}
	}
	kek, err := keys.LoadMaster(src, false)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	kr, err := keys.OpenKeyring(filepath.Join(staging, KeyringFile), kek, false)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	rk, err := kr.Ensure("results")
	if err != nil {
		return err
	}
	rs, err := results.Open(results.Options{Dir: filepath.Join(staging, ResultsDir), Key: rk})
	if err != nil {
		return err
	}
	stream := filepath.Join(staging, entryResults)
	f, err := os.Open(stream)
	if err != nil {
		_ = rs.Close()
		return fmt.Errorf("restore: the archive has no results store: %w", err)
	}
	err = rs.Load(f)
	f.Close()
	if cerr := rs.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Remove(stream)
}

// swapIn puts the staged data dir in place of target, keeping the old contents until the new
// ones are in place.
func swapIn(staging, target string) error {
	old := ""
	if _, err := os.Stat(target); err == nil {
		old = target + ".replaced-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := os.Rename(target, old); err != nil {
			return fmt.Errorf("restore: move the old data dir aside: %w", err)
		}
	}
	if err := os.Rename(staging, target); err != nil {
		if old != "" {
			_ = os.Rename(old, target)
		}
		return fmt.Errorf("restore: %w", err)
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

func progressReader(r io.Reader, phase string, fn func(string, int64)) io.Reader {
	if fn == nil {
		return r
	}
	var n int64
	return &countingReader{r: r, n: &n, fn: func(done int64) { fn(phase, done) }}
}

// BackupTo streams a sealed backup to w (the API and the admin socket use it).
func (a *Appliance) BackupTo(ctx context.Context, passphrase []byte, w io.Writer,
	size func(int64)) error {
	plan, err := a.PrepareBackup(ctx, passphrase)
	if err != nil {
		return err
	}
	defer func() { _ = plan.Close() }()
	size(plan.Size)
	man, err := plan.Write(w, nil)
	if err != nil {
		return err
	}
	a.audit(ctx, "", "appliance.backup", "", "success", map[string]any{
		"entries": len(man.Entries), "sealed_with": sealedWith(passphrase)})
	return nil
}

func sealedWith(passphrase []byte) string {
	if len(passphrase) > 0 {
		return "passphrase"
	}
	return "master key"
}
