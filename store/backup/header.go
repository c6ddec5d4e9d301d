package backup

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

const (
	magic          = "TENANTRA-ARCHIVE\n"
	modePassphrase = 1
	modeKey        = 2
	kdfArgon2id    = 1

	fixedLen    = len(magic) + 1 + 1 + 2 // magic, version, mode, body_len
	maxBodyLen  = 512
	nonceLen    = 12
	dataKeyLen  = keys.KeySize
	wrappedLen  = nonceLen + dataKeyLen + 16
	checksumLen = sha256.Size
	saltLen     = 16
	maxSaltLen  = 64
	maxKeyIDLen = 64
)

// kdfParams are the Argon2id parameters of a passphrase archive, stored in its header so that
// the defaults can grow with hardware without breaking old archives.
type kdfParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// defaultKDF takes 0.3-0.5 s on the 2-core reference machine: RFC 9106's second recommended
// setting (64 MiB) with 2 lanes to match the cores and a fourth pass to reach the time
// target. Deriving runs twice per restore (Verify, then Extract), so it stays under half a
// second each time.
func defaultKDF() kdfParams { return kdfParams{Time: 4, MemoryKiB: 64 << 10, Threads: 2} }

// Bounds a reader accepts, so that a hostile header cannot make a restore allocate gigabytes
// or spin for minutes before it fails: 4x the default memory and 2.5x its passes.
const (
	maxKDFMemoryKiB = 256 << 10
	maxKDFTime      = 10
	maxKDFThreads   = 16
)

func (p kdfParams) validate() error {
	switch {
	case p.MemoryKiB > maxKDFMemoryKiB:
		return store.Errorf(store.ErrCorrupt, "archive header asks for %d MiB of memory to "+
			"derive its key; refusing more than %d MiB", p.MemoryKiB>>10, maxKDFMemoryKiB>>10)
	case p.Time < 1 || p.Time > maxKDFTime:
		return store.Errorf(store.ErrCorrupt, "archive header asks for %d key derivation "+
			"passes; refusing more than %d", p.Time, maxKDFTime)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return store.Errorf(store.ErrCorrupt, "archive header asks for %d key derivation "+
			"threads; allowed are 1 to %d", p.Threads, maxKDFThreads)
	case p.MemoryKiB < 8*uint32(p.Threads):
		// Argon2 needs 8 KiB per lane; below that the library silently raises it, and a
		// header should say exactly what was used.
		return store.Errorf(store.ErrCorrupt, "archive header asks for %d KiB of memory "+
			"for %d threads; at least %d KiB are needed", p.MemoryKiB, p.Threads,
			8*uint32(p.Threads))
	}
	return nil
}

// header is the plaintext header of an archive.
type header struct {
	mode    byte
	kdf     kdfParams
	salt    []byte
	keyID   string
	wrapped []byte // nonce, then sealed data key
}

// prefix encodes everything before the wrapped key: the additional data of the AEAD.
func (h *header) prefix() []byte {
	var body []byte
	switch h.mode {
	case modePassphrase:
		body = append(body, kdfArgon2id)
		body = binary.BigEndian.AppendUint32(body, h.kdf.Time)
		body = binary.BigEndian.AppendUint32(body, h.kdf.MemoryKiB)
		body = append(body, h.kdf.Threads, byte(len(h.salt)))
		body = append(body, h.salt...)
	case modeKey:
		body = append(body, byte(len(h.keyID)))
		body = append(body, h.keyID...)
	}
	b := make([]byte, 0, fixedLen+len(body)+wrappedLen+checksumLen)
	b = append(b, magic...)
	b = append(b, FormatVersion, h.mode)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// marshal returns the complete header; h.wrapped must be set.
func (h *header) marshal() []byte {
	b := append(h.prefix(), h.wrapped...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// readHeader reads and checks the header. It does not derive any key, so everything it
// refuses is refused fast.
func readHeader(r io.Reader) (*header, error) {
	fixed := make([]byte, fixedLen)
	if n, err := io.ReadFull(r, fixed); err != nil {
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			return nil, store.Errorf(store.ErrCorrupt, "archive is empty")
		case errors.Is(err, io.ErrUnexpectedEOF) && looksLikeMagic(fixed[:n]):
			return nil, store.Errorf(store.ErrCorrupt, "archive header is truncated")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, store.Errorf(store.ErrCorrupt, "this is not a Tenantra archive")
		}
		return nil, fmt.Errorf("read archive header: %w", err)
	}
	if string(fixed[:len(magic)]) != magic {
		if looksLikeMagic(fixed[:len(magic)]) {
			return nil, store.Errorf(store.ErrCorrupt, "archive header is damaged")
		}
		return nil, store.Errorf(store.ErrCorrupt, "this is not a Tenantra archive")
	}
	if v := fixed[len(magic)]; v != FormatVersion {
		return nil, store.Errorf(store.ErrCorrupt, "archive header is damaged, or the archive "+
			"was written by a newer Tenantra (format version %d, this one reads %d)",
			v, FormatVersion)
	}
	bodyLen := int(binary.BigEndian.Uint16(fixed[len(magic)+2:]))
	if bodyLen > maxBodyLen {
		return nil, store.Errorf(store.ErrCorrupt, "archive header is damaged")
	}
	rest := make([]byte, bodyLen+wrappedLen+checksumLen)
	if _, err := io.ReadFull(r, rest); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, store.Errorf(store.ErrCorrupt, "archive header is truncated")
		}
		return nil, fmt.Errorf("read archive header: %w", err)
	}
	all := append(fixed, rest...)
	sumAt := len(all) - checksumLen
	sum := sha256.Sum256(all[:sumAt])
	if subtle.ConstantTimeCompare(sum[:], all[sumAt:]) != 1 {
		return nil, store.Errorf(store.ErrCorrupt, "archive header is damaged")
	}
	h := &header{mode: fixed[len(magic)+1], wrapped: rest[bodyLen : bodyLen+wrappedLen]}
	if err := h.parseBody(rest[:bodyLen]); err != nil {
		return nil, err
	}
	return h, nil
}

// looksLikeMagic tells a damaged header (a byte or two off) from a file that is not an
// archive at all, so that the operator gets the message that fits.
func looksLikeMagic(b []byte) bool {
	b = b[:min(len(b), len(magic))]
	if len(b) < 4 {
		return len(b) > 0 && bytes.HasPrefix([]byte(magic), b)
	}
	diff := 0
	for i := range b {
		if b[i] != magic[i] {
			diff++
		}
	}
	return diff <= 2
}

func (h *header) parseBody(body []byte) error {
	damaged := store.Errorf(store.ErrCorrupt, "archive header is damaged")
	switch h.mode {
	case modePassphrase:
		const fixed = 1 + 4 + 4 + 1 + 1
		if len(body) < fixed || body[0] != kdfArgon2id {
			return damaged
		}
		h.kdf = kdfParams{
			Time:      binary.BigEndian.Uint32(body[1:]),
			MemoryKiB: binary.BigEndian.Uint32(body[5:]),
			Threads:   body[9],
		}
		n := int(body[10])
		if n < saltLen || n > maxSaltLen || len(body) != fixed+n {
			return damaged
		}
		h.salt = body[fixed:]
		return h.kdf.validate()
	case modeKey:
		if len(body) < 2 || int(body[0]) != len(body)-1 || !printable(body[1:]) {
			return damaged
		}
		h.keyID = string(body[1:])
		return nil
	}
	return damaged
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return len(b) > 0
}

// checkSealing refuses a Sealing that is not exactly one of passphrase or key.
func checkSealing(s Sealing) error {
	switch {
	case len(s.Passphrase) > 0 && len(s.Key) > 0:
		return store.Errorf(store.ErrInvalid, "archive sealing: give a passphrase or a key, "+
			"not both")
	case len(s.Passphrase) == 0 && len(s.Key) == 0:
		return store.Errorf(store.ErrInvalid, "archive sealing: a passphrase or a key is "+
			"required")
	case len(s.Key) > 0 && len(s.Key) != keys.KeySize:
		return store.Errorf(store.ErrInvalid, "archive sealing: the key must be %d bytes, "+
			"got %d", keys.KeySize, len(s.Key))
	case len(s.KeyID) > maxKeyIDLen || (s.KeyID != "" && !printable([]byte(s.KeyID))):
		return store.Errorf(store.ErrInvalid, "archive sealing: the key id must be 1-%d "+
			"printable ASCII characters", maxKeyIDLen)
	}
	return nil
}

func keyID(s Sealing) string {
	if s.KeyID != "" {
		return s.KeyID
	}
	return keys.ID(s.Key)
}

// sealingKey returns the key that wraps the data key.
func (h *header) sealingKey(s Sealing) []byte {
	if h.mode == modePassphrase {
		return argon2.IDKey(s.Passphrase, h.salt, h.kdf.Time, h.kdf.MemoryKiB, h.kdf.Threads,
			dataKeyLen)
	}
	// Derived, so that the caller's key is never used directly by two algorithms.
	return keys.Derive(s.Key, "backup/archive-wrap", dataKeyLen)
}

// newHeader builds the header of a new archive around a fresh data key.
func newHeader(s Sealing, kdf kdfParams) (*header, []byte, error) {
	h := &header{mode: modeKey, keyID: keyID(s)}
	if len(s.Passphrase) > 0 {
		h = &header{mode: modePassphrase, kdf: kdf, salt: make([]byte, saltLen)}
		if _, err := rand.Read(h.salt); err != nil {
			return nil, nil, fmt.Errorf("archive salt: %w", err)
		}
	}
	dataKey := make([]byte, dataKeyLen)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, nil, fmt.Errorf("archive data key: %w", err)
	}
	aead, err := newGCM(h.sealingKey(s))
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, nonceLen, wrappedLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("archive nonce: %w", err)
	}
	h.wrapped = aead.Seal(nonce, nonce, dataKey, h.prefix())
	return h, dataKey, nil
}

// open unwraps the data key. A failing AEAD means the wrong passphrase or key: the checksum
// has already ruled out damage.
func (h *header) open(s Sealing) ([]byte, error) {
	if err := checkSealing(s); err != nil {
		return nil, err
	}
	switch {
	case h.mode == modePassphrase && len(s.Passphrase) == 0:
		return nil, store.Errorf(store.ErrWrongKey, "archive is sealed with a passphrase, "+
			"not with a key; give its passphrase")
	case h.mode == modeKey && len(s.Key) == 0:
		return nil, store.Errorf(store.ErrWrongKey, "archive is sealed with key %s, not with "+
			"a passphrase", h.keyID)
	case h.mode == modeKey && keyID(s) != h.keyID:
		return nil, store.Errorf(store.ErrWrongKey, "archive is sealed with key %s, not with "+
			"key %s", h.keyID, keyID(s))
	}
	aead, err := newGCM(h.sealingKey(s))
	if err != nil {
		return nil, err
	}
	dataKey, err := aead.Open(nil, h.wrapped[:nonceLen], h.wrapped[nonceLen:], h.prefix())
	if err != nil {
		if h.mode == modePassphrase {
			return nil, store.Errorf(store.ErrWrongKey, "wrong passphrase")
		}
		return nil, store.Errorf(store.ErrWrongKey, "wrong key: the key given as %s does "+
			"not open this archive", h.keyID)
	}
	return dataKey, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}
