// Package xtsvfs owns the SQLite VFS that encrypts every Tenantra database file at rest with
// AES-256-XTS: the database, its WAL and its journals, each 512-byte sector under the
// sector number as tweak. It is a fork in spirit of ncruces/go-sqlite3's vfs/xts that does
// the same cryptography with far fewer system calls: each read or write of SQLite becomes one
// pread or pwrite of whole sectors, and WAL frames are stored sector-aligned so that writing
// them never reads anything back (see layout and docs/adr/0010-storage-performance-targets.md).
//
// Main database files are byte-for-byte those of ncruces' VFS with the same 64-byte key;
// WAL files are not (ErrForeignWAL).
//
// The key of a database is set per connection with PRAGMA hexkey (or the hexkey URI
// parameter) and is shared by its WAL and journals; temporary files get a random key.
package xtsvfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// Name is the name the VFS is registered under; select it with ?vfs= in a file URI.
const Name = "tenantra-xts"

var registerOnce sync.Once

// Register registers the VFS under Name over SQLite's default VFS. SQLite's VFS registry
// is process-wide, so this is idempotent and safe to call from every opener.
func Register() {
	registerOnce.Do(func() { vfs.Register(Name, Wrap(vfs.Find(""))) })
}

// Wrap returns an encrypting VFS over base.
func Wrap(base vfs.VFS) vfs.VFS { return &xtsVFS{VFS: base} }

type xtsVFS struct{ vfs.VFS }

// Open implements vfs.VFS; SQLite uses OpenFilename, except for nameless temporary files.
func (x *xtsVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if name == "" {
		return x.OpenFilename(nil, flags)
	}
	return nil, flags, sqlite3.CANTOPEN
}

// OpenFilename implements vfs.VFSFilename.
func (x *xtsVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File,
	vfs.OpenFlag, error) {
	base, flags, err := vfsutil.WrapOpenFilename(x.VFS, name, flags)
	// Super journals hold only file names, and memory files never reach the disk.
	if err != nil || flags&(vfs.OPEN_SUPER_JOURNAL|vfs.OPEN_MEMORY) != 0 {
		return base, flags, err
	}
	f := &file{File: base, wal: flags&vfs.OPEN_WAL != 0}
	if db, ok := vfsutil.UnwrapFile[*file](name.DatabaseFile()); ok {
		// A WAL or journal uses its database's key.
		f.cipher, f.shm = db.cipher, db.shm
		if f.cipher == nil {
			base.Close()
			return nil, flags, sqlite3.IOERR_BADKEY
		}
		return f, flags, nil
	}
	if flags&vfs.OPEN_MAIN_DB != 0 {
		f.shm = vfsutil.WrapSharedMemory(base)
	}
	key, err := openKey(name, flags)
	if err == nil && key == nil {
		return f, flags, nil // the key comes as a PRAGMA
	}
	if err == nil {
		f.cipher, err = newSectorCipher(key)
	}
	if err != nil {
		base.Close()
		return nil, flags, vfs.SystemError(err, sqlite3.IOERR_BADKEY)
	}
	return f, flags, nil
}

// openKey returns the key for a file opened on its own: random for a temporary file, from
// the URI if given, or nil for a main database whose key comes later as a PRAGMA.
func openKey(name *vfs.Filename, flags vfs.OpenFlag) ([]byte, error) {
	if name == nil {
		key := make([]byte, KeySize)
		_, err := rand.Read(key)
		return key, err
	}
	if k := name.URIParameter("hexkey"); k != "" {
		return hex.DecodeString(k)
	}
	if k := name.URIParameter("key"); k != "" {
		return []byte(k), nil
	}
	if flags&vfs.OPEN_MAIN_DB != 0 {
		return nil, nil
	}
	return nil, errors.New("xtsvfs: no key for " + name.String())
}
