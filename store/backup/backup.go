// Package backup owns the archive format of every Tenantra backup and sealed export: a small
// plaintext header that wraps a random archive data key under a passphrase (Argon2id) or a
// caller's key, followed by a tar stream encrypted and authenticated with DARE 2.0
// (github.com/minio/sio, AES-256-GCM) whose last entry is a MANIFEST.json listing every
// entry's size and SHA-256.
//
// Reading is meant to take two passes over a file: Verify proves the whole archive good, and
// only then does Extract stream its entries, so a restore writes nothing from an archive that is
// damaged anywhere. Every error about the archive itself wraps store.ErrCorrupt or
// store.ErrWrongKey and names the entry where the damage was found, because "the backup is
// corrupt" alone does not tell an operator whether the tenant they need is affected.
//
// Layout (integers big-endian):
//
//	magic      "TENANTRA-ARCHIVE\n"
//	version    u8 (1)
//	mode       u8: 1 passphrase, 2 key
//	body_len   u16, then body:
//	  passphrase: kdf u8 (1 = Argon2id), time u32, memory_kib u32, threads u8,
//	              salt_len u8, salt
//	  key:        key_id_len u8, key_id
//	wrapped    12-byte nonce, then the 32-byte data key sealed with AES-256-GCM under the
//	           sealing key; everything above is its additional data
//	checksum   SHA-256 of everything above
//	payload    DARE 2.0 under the data key, of a tar stream ending with MANIFEST.json
//
// The unkeyed checksum only tells damage apart from a wrong passphrase (both make the AEAD
// fail); authenticity comes from the AEAD and from DARE.
package backup

import (
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tenantra/tenantra/store"
)

// ManifestName is the name of the last entry of every archive. Add refuses it.
const ManifestName = "MANIFEST.json"

// FormatVersion is the version of the archive layout and of its manifest that this package
// writes; readers refuse any other.
const FormatVersion = 1

// maxNameLen bounds entry names so that a restore never builds a path the file system
// refuses halfway through.
const maxNameLen = 1024

// Sealing says how an archive is sealed: with a passphrase, or with a 32-byte key (for example
// one derived from the master key). Exactly one of Passphrase and Key is set, both to write and
// to read.
type Sealing struct {
	Passphrase []byte
	Key        []byte
	// KeyID is the public id of Key, recorded in the header so that opening the archive with
	// another key says which key it needs; empty means keys.ID(Key).
	KeyID string
}

// String keeps the passphrase and key out of logs and error messages.
func (s Sealing) String() string {
	switch {
	case len(s.Passphrase) > 0:
		return "passphrase sealing"
	case len(s.Key) > 0:
		return "key sealing (" + s.KeyID + ")"
	}
	return "no sealing"
}

// GoString keeps the passphrase and key out of %#v.
func (s Sealing) GoString() string { return s.String() }

// Entry is one file in an archive, as the manifest lists it. SHA256 is lowercase hex.
type Entry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest describes an archive; it is its last entry, so it is only known once every other
// entry has been read.
type Manifest struct {
	Format     int               `json:"format"`
	Created    time.Time         `json:"created"`
	AppVersion string            `json:"app_version"`
	Entries    []Entry           `json:"entries"`
	Meta       map[string]string `json:"meta"`
}

// SafeName reports whether name may be an archive entry and become a path below a restore
// directory: a relative slash-separated path in canonical form, without "..", backslashes,
// colons (drive letters and alternate data streams on Windows), control characters or invalid
// UTF-8. Restore calls it again on every name read, so that it never trusts an archive.
func SafeName(name string) error {
	bad := func(why string) error {
		return store.Errorf(store.ErrInvalid, "archive entry name %q is not allowed: %s",
			store.Truncate(name, 80), why)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > maxNameLen:
		return bad(fmt.Sprintf("it is longer than %d bytes", maxNameLen))
	case !utf8.ValidString(name):
		return bad("it is not valid UTF-8")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return bad("it contains a control character")
	case strings.HasPrefix(name, "/"):
		return bad("it is absolute")
	case strings.Contains(name, ".."):
		return bad(`it contains ".."`)
	case strings.ContainsAny(name, `\:`):
		return bad("it contains a backslash or a colon")
	case path.Clean(name) != name || name == ".":
		return bad("it is not a clean relative path")
	}
	return nil
}
