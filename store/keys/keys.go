// Package keys owns Tenantra's key hierarchy: the master key (KEK) and where it comes from,
// data keys (DEKs) wrapped under it with AES-256-GCM, the keyring file that holds the wrapped
// keys of the appliance itself, key derivation for each purpose, and the sealed-value format
// used for tenant results.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/tenantra/tenantra/store"
)

// KeySize is the size of every key Tenantra generates: 32 bytes (AES-256).
const KeySize = 32

// Key is secret key material. Its String method never prints the bytes.
type Key []byte

// String hides the key material from logs and error messages.
func (Key) String() string { return "[redacted key]" }

// GoString hides the key material from %#v.
func (Key) GoString() string { return "[redacted key]" }

// NewKey returns a fresh random key.
func NewKey() (Key, error) {
	k := make(Key, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// Derive returns n bytes derived from secret for one purpose with HKDF-SHA256, so that one key
// never serves two algorithms (for example the XTS key of a tenant's database and the GCM key
// of its results).
func Derive(secret Key, purpose string, n int) Key {
	k, err := hkdf.Key(sha256.New, secret, nil, "tenantra/"+purpose, n)
	if err != nil {
		// Only an impossible length makes HKDF fail; the callers pass constants.
		panic(fmt.Sprintf("keys: derive %s: %v", purpose, err))
	}
	return k
}

// ID returns a short public identifier of a key (a truncated hash of a derived value), safe to
// store and print, so that a mismatched key can be named without revealing it.
func ID(k Key) string {
	sum := sha256.Sum256(Derive(k, "key-id", KeySize))
	return hex.EncodeToString(sum[:6])
}

// KEK is the master key that wraps every data key.
type KEK struct {
	key Key
	id  string
}

// NewKEK wraps raw master key material, which must be KeySize bytes.
func NewKEK(raw []byte) (*KEK, error) {
	if len(raw) != KeySize {
		return nil, store.Errorf(store.ErrInvalid,
			"master key must be %d bytes, got %d", KeySize, len(raw))
	}
	k := Key(append([]byte(nil), raw...))
	return &KEK{key: k, id: ID(k)}, nil
}

// ID identifies the master key without revealing it.
func (k *KEK) ID() string { return k.id }

// Derive derives a key for one purpose from the master key (for example the key that seals
// backups made without a passphrase), so the master key itself never leaves this type.
func (k *KEK) Derive(purpose string) Key { return Derive(k.key, purpose, KeySize) }

// Export returns a copy of the raw master key, for a backup sealed with a passphrase, which
// must carry it so that the passphrase alone restores the appliance.
func (k *KEK) Export() Key { return append(Key(nil), k.key...) }

// wrapFormat is the first byte of a wrapped key, so that the format can change later.
const wrapFormat = 1

// Wrap seals a data key under the master key. label binds the wrapped key to its use (for
// example "tenant/<id>/v1"), so a wrapped key moved to another tenant fails to unwrap.
func (k *KEK) Wrap(dek Key, label string) ([]byte, error) {
	aead, err := newGCM(Derive(k.key, "wrap", KeySize))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(dek)+aead.Overhead())
	out[0] = wrapFormat
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("wrap key: %w", err)
	}
	return aead.Seal(out, out[1:], dek, []byte(label)), nil //nolint:gosec // nonce is random
}

// Unwrap opens a wrapped data key; a wrong master key or label gives ErrWrongKey.
func (k *KEK) Unwrap(wrapped []byte, label string) (Key, error) {
	aead, err := newGCM(Derive(k.key, "wrap", KeySize))
	if err != nil {
		return nil, err
	}
	if len(wrapped) < 1+aead.NonceSize()+aead.Overhead() || wrapped[0] != wrapFormat {
		return nil, store.Errorf(store.ErrCorrupt, "wrapped key %s is malformed", label)
	}
	dek, err := aead.Open(nil, wrapped[1:1+aead.NonceSize()], wrapped[1+aead.NonceSize():],
		[]byte(label))
	if err != nil {
		return nil, store.Errorf(store.ErrWrongKey,
			"cannot unwrap key %s with master key %s", label, k.id)
	}
	return dek, nil
}

func newGCM(key Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// Sealed value format: magic, format, key version (uint32), nonce, ciphertext and tag.
const (
	sealMagic  = 'T'
	sealFormat = 1
	sealHeader = 2 + 4
)

// Sealer seals and opens values with versioned data keys (one tenant's DEKs).
type Sealer struct {
	version uint32
	aeads   map[uint32]cipher.AEAD
}

// NewSealer builds a sealer that writes with the key of version current and reads with any of
// the given versions.
func NewSealer(current int, versions map[int]Key) (*Sealer, error) {
	if current < 1 {
		return nil, store.Errorf(store.ErrInvalid, "key versions start at 1, got %d", current)
	}
	s := &Sealer{version: uint32(current), //nolint:gosec // versions are small and positive
		aeads: make(map[uint32]cipher.AEAD, len(versions))}
	for v, k := range versions {
		if v < 1 {
			return nil, store.Errorf(store.ErrInvalid, "key versions start at 1, got %d", v)
		}
		aead, err := newGCM(Derive(k, "results", KeySize))
		if err != nil {
			return nil, err
		}
		s.aeads[uint32(v)] = aead //nolint:gosec // checked positive above
	}
	if _, ok := s.aeads[s.version]; !ok {
		return nil, store.Errorf(store.ErrInvalid, "no key for current version %d", current)
	}
	return s, nil
}

// Seal encrypts value; aad binds it to where it is stored (the tenant and key).
func (s *Sealer) Seal(value, aad []byte) ([]byte, error) {
	aead := s.aeads[s.version]
	ns := aead.NonceSize()
	out := make([]byte, sealHeader+ns, sealHeader+ns+len(value)+aead.Overhead())
	out[0], out[1] = sealMagic, sealFormat
	binary.BigEndian.PutUint32(out[2:6], s.version)
	if _, err := rand.Read(out[sealHeader:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(out, out[sealHeader:], value, aad), nil //nolint:gosec // random nonce
}

// Open decrypts a sealed value. A value whose key version was destroyed gives ErrWrongKey.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	v, err := SealedVersion(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := s.aeads[v]
	if !ok {
		return nil, store.Errorf(store.ErrWrongKey,
			"value sealed with key version %d, which is not available", v)
	}
	ns := aead.NonceSize()
	if len(sealed) < sealHeader+ns+aead.Overhead() {
		return nil, store.Errorf(store.ErrCorrupt, "sealed value is truncated")
	}
	out, err := aead.Open(nil, sealed[sealHeader:sealHeader+ns], sealed[sealHeader+ns:], aad)
	if err != nil {
		return nil, store.Errorf(store.ErrCorrupt, "sealed value failed authentication")
	}
	return out, nil
}

// SealedVersion reads the key version from a sealed value's header.
func SealedVersion(sealed []byte) (uint32, error) {
	if len(sealed) < sealHeader || sealed[0] != sealMagic || sealed[1] != sealFormat {
		return 0, store.Errorf(store.ErrCorrupt, "value is not a sealed Tenantra value")
	}
	return binary.BigEndian.Uint32(sealed[2:6]), nil
}
