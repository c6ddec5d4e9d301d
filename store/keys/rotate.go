package keys

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/tenantra/tenantra/store"
)

// FaultpointEnv names the environment variable that selects a fault point: when it equals the
// name passed to Faultpoint, the process kills itself there. The crash tests use it to stop a
// rotation at each of its steps; nothing else sets it.
const FaultpointEnv = "TENA_FAULTPOINT"

// Fault points of the master key rotation, in the order they are reached. The tenant key
// rotation's are in package sqlite.
const (
	// StepMasterNextWritten: the new key is in <master key file>.next; nothing else changed.
	StepMasterNextWritten = "master-next-written"
	// StepMasterNewWritten: TENA_MASTER_KEY source: the new key is in
	// <data-dir>/master.key.new; nothing else changed.
	StepMasterNewWritten = "master-new-written"
	// StepMasterKeyringWritten: keyring.json is re-wrapped under the new key (and names it);
	// the master key file still holds the old key.
	StepMasterKeyringWritten = "master-keyring-written"
	// StepMasterRenamed: <master key file>.next is renamed over the master key file.
	StepMasterRenamed = "master-renamed"
)

// Faultpoint kills the process with SIGKILL (TerminateProcess on Windows) when the
// TENA_FAULTPOINT environment variable equals name, so that a test can prove recovery from a
// crash at exactly that step. Unset, it costs one environment lookup.
func Faultpoint(name string) {
	if v := os.Getenv(FaultpointEnv); v == "" || v != name {
		return
	}
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix: no deferred function, no flush, no cleanup
	}
	// The signal is asynchronous; nothing may run past the fault point meanwhile.
	time.Sleep(time.Minute)
	os.Exit(137)
}

// errCrashed ends a rotation at a simulated fault point in unit tests, skipping every cleanup
// as a real crash would.
var errCrashed = errors.New("simulated crash at a fault point")

// faultFunc is called at every step; returning true simulates a crash there. Production code
// passes killAt, which never returns true (it kills the process instead).
type faultFunc func(step string) bool

func killAt(step string) bool {
	Faultpoint(step)
	return false
}

// NextMasterFile is where a rotation stages the new master key beside the master key file.
func NextMasterFile(masterFile string) string { return masterFile + ".next" }

// PendingEnvKeyFile is where a rotation writes the new master key when the current one comes
// from TENA_MASTER_KEY: the operator moves it into the variable and deletes the file.
func PendingEnvKeyFile(dataDir string) string { return filepath.Join(dataDir, "master.key.new") }

// MasterRotation reports a finished master key rotation.
type MasterRotation struct {
	OldID string `json:"old_id"`
	NewID string `json:"new_id"`
	// Rotated maps each keyring key rotated with the master key (the JWT signing key) to its
	// new version.
	Rotated map[string]int `json:"rotated,omitempty"`
	// PendingFile is set when the master key comes from TENA_MASTER_KEY: the new key is in
	// this file, and TENA_MASTER_KEY must be set to its contents before the next start.
	PendingFile string    `json:"pending_file,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// RotateMaster replaces the master key. Every keyring entry (with its retired versions) is
// re-wrapped under a new master key, and each key named in rotate gets a new version at the
// same time, keeping one retired version (the JWT signing key: tokens it signed stay valid).
// Tenant DEKs are wrapped by the registry key and are not touched (ADR 0007).
//
// The steps are ordered so that a crash at any point leaves a data dir that opens:
//  1. the new key is written to <master key file>.next (mode 0600, fsynced);
//  2. keyring.json is rewritten atomically under the new key, recording its id;
//  3. the .next file is renamed over the master key file and the directory fsynced.
//
// FinishMasterRotation, run before the master key is loaded, completes step 3 when the
// keyring names the .next key and removes a .next file the keyring does not name. When the
// master key comes from TENA_MASTER_KEY (src.EnvValue) there is no file to replace: the new
// key goes to PendingEnvKeyFile(dataDir) instead, and the operator must move it into the
// variable before the next start (MasterRotation.PendingFile says so).
func (r *Keyring) RotateMaster(src MasterSource, dataDir string, rotate ...string) (
	MasterRotation, error) {
	return r.rotateMaster(src, dataDir, rotate, killAt)
}

func (r *Keyring) rotateMaster(src MasterSource, dataDir string, rotate []string,
	fault faultFunc) (MasterRotation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	raw, err := NewKey()
	if err != nil {
		return MasterRotation{}, err
	}
	kek, err := NewKEK(raw)
	if err != nil {
		return MasterRotation{}, err
	}
	res := MasterRotation{OldID: r.kek.ID(), NewID: kek.ID(), CreatedAt: time.Now().UTC()}
	staged, step := NextMasterFile(src.File), StepMasterNextWritten
	if src.EnvValue != "" {
		staged, step = PendingEnvKeyFile(dataDir), StepMasterNewWritten
		res.PendingFile = staged
	} else if src.File == "" {
		return res, store.Errorf(store.ErrInvalid, "the master key file is not known; set "+
			"--master-key-file")
	}
	encoded := []byte(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err := WriteFileAtomic(staged, encoded, 0o600); err != nil {
		_ = os.Remove(staged)
		return res, fmt.Errorf("write the new master key to %s: %w; check free space and "+
			"permissions, then retry", staged, err)
	}
	if fault(step) {
		return res, errCrashed
	}
	next, rotated, err := r.rewrapped(kek, rotate, 1)
	if err != nil {
		removeStaged(staged)
		return res, err
	}
	res.Rotated = rotated
	old := r.file
	r.file = next
	if err := r.save(); err != nil {
		// WriteFileAtomic fails before its rename (the old keyring stays) or after it (only
		// the directory sync failed): the file on disk decides which key is in use now.
		if onDisk, _ := keyringKEKID(r.path); onDisk != kek.ID() {
			r.file = old
			removeStaged(staged)
			return res, fmt.Errorf("rewrite the keyring under the new master key: %w; the "+
				"old master key stays in use", err)
		}
	}
	r.kek = kek
	if fault(StepMasterKeyringWritten) {
		return res, errCrashed
	}
	if src.EnvValue != "" {
		return res, nil
	}
	if err := os.Rename(staged, src.File); err != nil {
		return res, fmt.Errorf("install the new master key: rename %s to %s: %w; the keyring "+
			"already uses the new key, so the next start finishes this (or rename the file by "+
			"hand)", staged, src.File, err)
	}
	if err := SyncDir(filepath.Dir(src.File)); err != nil {
		return res, fmt.Errorf("sync %s after installing the new master key: %w",
			filepath.Dir(src.File), err)
	}
	if fault(StepMasterRenamed) {
		return res, errCrashed
	}
	return res, nil
}

func removeStaged(path string) {
	if err := os.Remove(path); err == nil {
		_ = SyncDir(filepath.Dir(path))
	}
}

// rewrapped returns the keyring's contents wrapped under kek, with a new version of each key
// named in rotate (keeping keep retired versions), and the new versions of those keys.
func (r *Keyring) rewrapped(kek *KEK, rotate []string, keep int) (keyringFile,
	map[string]int, error) {
	out := keyringFile{Format: r.file.Format, KEKID: kek.ID(),
		Keys: make(map[string]keyEntry, len(r.file.Keys))}
	rewrap := func(name string, e keyEntry) (keyEntry, error) {
		k, err := r.kek.Unwrap(e.Wrapped, label(name, e.Version))
		if err != nil {
			return keyEntry{}, err
		}
		w, err := kek.Wrap(k, label(name, e.Version))
		if err != nil {
			return keyEntry{}, err
		}
		return keyEntry{Version: e.Version, Wrapped: w, CreatedAt: e.CreatedAt}, nil
	}
	for name, e := range r.file.Keys {
		ne, err := rewrap(name, e)
		if err != nil {
			return keyringFile{}, nil, err
		}
		for _, p := range e.Previous {
			np, err := rewrap(name, p)
			if err != nil {
				return keyringFile{}, nil, err
			}
			ne.Previous = append(ne.Previous, np)
		}
		out.Keys[name] = ne
	}
	rotated := map[string]int{}
	for _, name := range rotate {
		k, err := NewKey()
		if err != nil {
			return keyringFile{}, nil, err
		}
		cur, ok := out.Keys[name]
		v := cur.Version + 1
		w, err := kek.Wrap(k, label(name, v))
		if err != nil {
			return keyringFile{}, nil, err
		}
		next := keyEntry{Version: v, Wrapped: w, CreatedAt: time.Now().UTC()}
		if ok {
			prev := append([]keyEntry{{Version: cur.Version, Wrapped: cur.Wrapped,
				CreatedAt: cur.CreatedAt}}, cur.Previous...)
			next.Previous = prev[:min(len(prev), keep)]
		}
		out.Keys[name] = next
		rotated[name] = v
	}
	return out, rotated, nil
}

// keyringKEKID reads only the master key id a keyring file names.
func keyringKEKID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var f struct {
		KEKID string `json:"kek_id"`
	}
	if err := json.Unmarshal(data, &f); err != nil || f.KEKID == "" {
		return "", store.Errorf(store.ErrCorrupt, "keyring %s cannot be parsed", path)
	}
	return f.KEKID, nil
}

// FinishMasterRotation completes, or cleans up after, a master key rotation that a crash
// interrupted. Call it under the data dir lock before LoadMaster and OpenKeyring:
//
//   - master key file: when keyring.json was made under <file>.next, the crash came after
//     the keyring was rewritten, and .next is renamed over the master key file; a .next the
//     keyring was not made under (while the master key file is the one it was) is left from a
//     crash before that, and is removed;
//   - TENA_MASTER_KEY: a master.key.new the keyring was not made under is removed, and so is
//     one whose key TENA_MASTER_KEY now holds; when the keyring was made under master.key.new
//     but TENA_MASTER_KEY still holds the old key, it returns ErrWrongKey saying what to do.
//
// It returns what it did, for the log, or "" when no rotation was pending.
func FinishMasterRotation(src MasterSource, keyringPath, dataDir string) (string, error) {
	kid, err := keyringKEKID(keyringPath)
	if err != nil {
		return "", nil // a fresh data dir, or a damaged keyring that OpenKeyring reports
	}
	if src.EnvValue != "" {
		return finishEnvRotation(src, kid, PendingEnvKeyFile(dataDir))
	}
	next := NextMasterFile(src.File)
	if _, err := os.Stat(next); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	nk, nerr := LoadMaster(MasterSource{File: next}, false)
	if nerr == nil && nk.ID() == kid {
		if err := os.Rename(next, src.File); err != nil {
			return "", fmt.Errorf("finish the interrupted master key rotation: rename %s to "+
				"%s: %w; rename it by hand", next, src.File, err)
		}
		if err := SyncDir(filepath.Dir(src.File)); err != nil {
			return "", fmt.Errorf("finish the interrupted master key rotation: %w", err)
		}
		return "finished an interrupted master key rotation: installed the new key (id " +
			kid + ")", nil
	}
	if cur, err := LoadMaster(src, false); err != nil || cur.ID() != kid {
		// Neither key is the keyring's: OpenKeyring names the mismatch; keep both files.
		return "", nil
	}
	if err := os.Remove(next); err != nil {
		return "", fmt.Errorf("remove %s left by an interrupted master key rotation: %w",
			next, err)
	}
	_ = SyncDir(filepath.Dir(next))
	return "removed " + next + " left by an interrupted master key rotation", nil
}

func finishEnvRotation(src MasterSource, kid, pending string) (string, error) {
	if _, err := os.Stat(pending); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	env, err := LoadMaster(MasterSource{EnvValue: src.EnvValue}, false)
	if err != nil {
		return "", err
	}
	nk, nerr := LoadMaster(MasterSource{File: pending}, false)
	switch {
	case env.ID() == kid:
		// Either the rotation died before the keyring changed, or the operator has moved
		// the new key into TENA_MASTER_KEY already; the data dir must not keep a copy.
		if err := os.Remove(pending); err != nil {
			return "", fmt.Errorf("remove %s: %w", pending, err)
		}
		_ = SyncDir(filepath.Dir(pending))
		return "removed " + pending + " (not needed by the keyring, or already in " +
			"TENA_MASTER_KEY)", nil
	case nerr == nil && nk.ID() == kid:
		return "", store.Errorf(store.ErrWrongKey,
			"the master key was rotated: the keyring is now under the key in %s (id %s), "+
				"but TENA_MASTER_KEY still holds the old key (id %s); set TENA_MASTER_KEY to "+
				"the contents of %s, start again, then delete the file", pending, kid,
			env.ID(), pending)
	}
	return "", nil
}

// KEK returns the master key the keyring is wrapped under now; it changes when RotateMaster
// succeeds, so callers must not keep it.
func (r *Keyring) KEK() *KEK {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kek
}

// KeyringEntry describes one key of the keyring without unwrapping it.
type KeyringEntry struct {
	Name      string
	Version   int
	CreatedAt time.Time
	// Retained is the number of retired versions still kept for reading or verifying.
	Retained int
}

// Entries lists the keyring's keys by name.
func (r *Keyring) Entries() []KeyringEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]KeyringEntry, 0, len(r.file.Keys))
	for name, e := range r.file.Keys {
		out = append(out, KeyringEntry{Name: name, Version: e.Version, CreatedAt: e.CreatedAt,
			Retained: len(e.Previous)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Created returns when the keyring's oldest key version was made, which is when the data dir
// (and, until the first rotation, its master key) was created.
func (r *Keyring) Created() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest time.Time
	for _, e := range r.file.Keys {
		for _, v := range append([]keyEntry{e}, e.Previous...) {
			if oldest.IsZero() || v.CreatedAt.Before(oldest) {
				oldest = v.CreatedAt
			}
		}
	}
	return oldest
}
