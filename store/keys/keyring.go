package keys

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tenantra/tenantra/store"
)

// MasterSource says where the master key comes from. EnvValue (the contents of
// TENA_MASTER_KEY, base64 of 32 bytes) wins over File when set.
type MasterSource struct {
	EnvValue string
	File     string
}

// LoadMaster reads the master key. When create is true and the key file does not exist, a new
// key is generated and written with mode 0600; otherwise a missing key is an error that says
// how to supply it.
func LoadMaster(src MasterSource, create bool) (*KEK, error) {
	if src.EnvValue != "" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(src.EnvValue))
		if err != nil || len(raw) != KeySize {
			return nil, store.Errorf(store.ErrInvalid,
				"TENA_MASTER_KEY must be base64 of %d bytes; "+
					"generate one with: head -c32 /dev/urandom | base64", KeySize)
		}
		return NewKEK(raw)
	}
	data, err := os.ReadFile(src.File)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		return createMaster(src.File)
	case errors.Is(err, fs.ErrNotExist):
		return nil, store.Errorf(store.ErrWrongKey,
			"master key file %s is missing but the data dir already "+
				"holds encrypted data; restore the key file, point --master-key-file at it, "+
				"or set "+
				"TENA_MASTER_KEY", src.File)
	case err != nil:
		return nil, fmt.Errorf("read master key file %s: %w; check its permissions", src.File, err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != KeySize {
		return nil, store.Errorf(store.ErrCorrupt,
			"master key file %s is not base64 of %d bytes; restore it "+
				"from your key backup", src.File, KeySize)
	}
	return NewKEK(raw)
}

func createMaster(path string) (*KEK, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	data := []byte(base64.StdEncoding.EncodeToString(k) + "\n")
	if err := WriteFileAtomic(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	return NewKEK(k)
}

// Keyring holds the appliance's own data keys (the control database key, the results store
// key, later token signing keys), each wrapped under the master key, in a small JSON file
// beside the data. Tenant DEKs live in the control database instead.
type Keyring struct {
	mu   sync.Mutex
	path string
	kek  *KEK
	file keyringFile
}

type keyringFile struct {
	Format int                 `json:"format"`
	KEKID  string              `json:"kek_id"`
	Keys   map[string]keyEntry `json:"keys"`
}

type keyEntry struct {
	Version   int       `json:"version"`
	Wrapped   []byte    `json:"wrapped"`
	CreatedAt time.Time `json:"created_at"`
	// Previous holds retired versions still accepted for reading or verifying, newest first.
	Previous []keyEntry `json:"previous,omitempty"`
}

// Versioned is one version of a named key.
type Versioned struct {
	Version   int
	Key       Key
	CreatedAt time.Time
}

// OpenKeyring reads the keyring at path, or creates an empty one when create is true and the
// file does not exist. A keyring made under another master key gives ErrWrongKey.
func OpenKeyring(path string, kek *KEK, create bool) (*Keyring, error) {
	r := &Keyring{path: path, kek: kek}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		r.file = keyringFile{Format: 1, KEKID: kek.ID(), Keys: map[string]keyEntry{}}
		return r, r.save()
	case errors.Is(err, fs.ErrNotExist):
		return nil, store.Errorf(store.ErrCorrupt,
			"keyring %s is missing but the data dir holds encrypted "+
				"data; restore it from a backup of the data dir", path)
	case err != nil:
		return nil, fmt.Errorf("read keyring %s: %w; check its permissions", path, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r.file); err != nil || r.file.Format != 1 || r.file.Keys == nil {
		return nil, store.Errorf(store.ErrCorrupt,
			"keyring %s cannot be parsed; restore it from a backup of "+
				"the data dir", path)
	}
	if r.file.KEKID != kek.ID() {
		return nil, store.Errorf(store.ErrWrongKey,
			"the master key (id %s) is not the one this data dir was "+
				"created with (id %s); set TENA_MASTER_KEY or --master-key-file to the right key",
			kek.ID(), r.file.KEKID)
	}
	return r, nil
}

// Ensure returns the named key, generating, wrapping and saving it first if it is absent.
func (r *Keyring) Ensure(name string) (Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.file.Keys[name]; ok {
		return r.kek.Unwrap(e.Wrapped, label(name, e.Version))
	}
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	w, err := r.kek.Wrap(k, label(name, 1))
	if err != nil {
		return nil, err
	}
	r.file.Keys[name] = keyEntry{Version: 1, Wrapped: w, CreatedAt: time.Now().UTC()}
	if err := r.save(); err != nil {
		delete(r.file.Keys, name)
		return nil, err
	}
	return k, nil
}

// Versions returns the named key's current version first, then the retired ones kept for
// verification, generating the key first if it is absent.
func (r *Keyring) Versions(name string) ([]Versioned, error) {
	if _, err := r.Ensure(name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.file.Keys[name]
	var out []Versioned
	for _, v := range append([]keyEntry{e}, e.Previous...) {
		k, err := r.kek.Unwrap(v.Wrapped, label(name, v.Version))
		if err != nil {
			return nil, err
		}
		out = append(out, Versioned{Version: v.Version, Key: k, CreatedAt: v.CreatedAt})
	}
	return out, nil
}

// Rotate makes a new current version of the named key and keeps the newest keep retired
// versions, so that what they signed or sealed stays readable for a while.
func (r *Keyring) Rotate(name string, keep int) (Versioned, error) {
	if _, err := r.Ensure(name); err != nil {
		return Versioned{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.file.Keys[name]
	k, err := NewKey()
	if err != nil {
		return Versioned{}, err
	}
	v := old.Version + 1
	w, err := r.kek.Wrap(k, label(name, v))
	if err != nil {
		return Versioned{}, err
	}
	prev := append([]keyEntry{{Version: old.Version, Wrapped: old.Wrapped,
		CreatedAt: old.CreatedAt}}, old.Previous...)
	if len(prev) > keep {
		prev = prev[:keep]
	}
	next := keyEntry{Version: v, Wrapped: w, CreatedAt: time.Now().UTC(), Previous: prev}
	r.file.Keys[name] = next
	if err := r.save(); err != nil {
		r.file.Keys[name] = old
		return Versioned{}, err
	}
	return Versioned{Version: v, Key: k, CreatedAt: next.CreatedAt}, nil
}

// Has reports whether the keyring holds the named key.
func (r *Keyring) Has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.file.Keys[name]
	return ok
}

func label(name string, version int) string {
	return fmt.Sprintf("appliance/%s/v%d", name, version)
}

func (r *Keyring) save() error {
	data, err := json.MarshalIndent(r.file, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(r.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to a temporary file in the same directory, syncs it and renames
// it over path, so that a crash leaves either the old file or the new one, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or unlink in dir durable. Windows has no directory fsync; there the
// call is a no-op.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupportedSync(err) {
		return err
	}
	return nil
}

func isUnsupportedSync(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, fs.ErrPermission) ||
		strings.Contains(err.Error(), "invalid argument")
}
