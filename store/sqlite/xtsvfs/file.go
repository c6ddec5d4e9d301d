package xtsvfs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// ErrForeignWAL describes a WAL left by ncruces' vfs/xts, whose frames are laid out
// differently, found next to a database. SQLite passes on only the error code, so the VFS
// reports it as SQLITE_IOERR_DATA (which nothing else here uses; see IsForeignWAL) and the
// opener returns this error.
var ErrForeignWAL = errors.New("the database's -wal file was written by an older tenantra " +
	"(ncruces vfs/xts layout); open and close the database once with that version to " +
	"checkpoint it, or delete the -wal file to drop its uncheckpointed transactions")

const foreignWALCode = sqlite3.IOERR_DATA

// IsForeignWAL reports whether err, from SQLite, is the VFS refusing a WAL left by ncruces'
// vfs/xts (ErrForeignWAL).
func IsForeignWAL(err error) bool { return errors.Is(err, foreignWALCode) }

var errWALHeader = errors.New("xtsvfs: a WAL frame is written before the WAL header")

// file encrypts one SQLite file. SQLite calls a file's methods from one connection at a
// time, so buf needs no lock; the cipher is shared, read-only, by the files of a database.
type file struct {
	vfs.File
	cipher *sectorCipher
	shm    vfs.SharedMemory // the main database's, for IOLock; nil without one
	wal    bool
	lay    layout // lay.page is 0 until the WAL's page size is known
	buf    []byte
}

// window is a range of whole sectors handled by one read or write system call. A partial
// window is a single sector that the call does not wholly cover: it is read back and
// patched on write, and locked against the other connections (vfs.SharedMemory.IOLock).
type window struct {
	lo, hi  int64
	partial bool
}

// windows splits the sectors that hold logical bytes [off, off+n) into at most three
// windows: a partial first sector, the whole sectors between, a partial last sector. Each
// partial sector gets a window of its own so that at most one I/O lock is held at a time,
// as in ncruces' VFS, and the whole sectors go in one call.
func windows(l layout, off, n int64) (ws [3]window, k int) {
	lo, hi := roundDown(l.pos(off)), roundUp(l.end(off+n))
	covered := func(s int64) bool { return off <= l.count(s) && l.count(s+sectorSize) <= off+n }
	if hi-lo == sectorSize {
		ws[0] = window{lo, hi, !covered(lo)}
		return ws, 1
	}
	headPartial, tailPartial := !covered(lo), !covered(hi-sectorSize)
	mid0, mid1 := lo, hi
	if headPartial {
		ws[k] = window{lo, lo + sectorSize, true}
		k++
		mid0 += sectorSize
	}
	if tailPartial {
		mid1 -= sectorSize
	}
	if mid0 < mid1 {
		ws[k] = window{mid0, mid1, false}
		k++
	}
	if tailPartial {
		ws[k] = window{mid1, hi, true}
		k++
	}
	return ws, k
}

func (f *file) scratch(n int64) []byte {
	if int64(cap(f.buf)) < n {
		f.buf = make([]byte, n)
	}
	return f.buf[:n]
}

// layout returns how the file is stored, learning a WAL's page size from its header.
func (f *file) layout() (layout, error) {
	if !f.wal || f.lay.page != 0 {
		return f.lay, nil
	}
	return f.discover()
}

// discover reads and decrypts a WAL's first sector. A header with our marker gives the page
// size. Without a marker, a valid header is a WAL in the contiguous layout of ncruces'
// vfs/xts, which is refused; anything else (an empty file, a torn or stale header, the wrong
// key) is passed to SQLite as is (layout{}), which then ignores the WAL as invalid and
// rewrites it from its header, as it does unencrypted.
func (f *file) discover() (layout, error) {
	var s [sectorSize]byte
	if m, err := f.File.ReadAt(s[:], 0); m < sectorSize {
		if errors.Is(err, io.EOF) {
			return layout{}, nil
		}
		return layout{}, err
	}
	f.cipher.decrypt(s[:], 0)
	page := walPageSize(s[:])
	switch {
	case page != 0 && bytes.Equal(s[walHeaderSize:walHeaderSize+len(walMarker)], walMarker):
		f.lay.page = page
		return f.lay, nil
	case page != 0:
		return layout{}, vfs.SystemError(ErrForeignWAL, foreignWALCode)
	default:
		return layout{}, nil
	}
}

// ReadAt implements vfs.File: it reads the sectors that hold p with at most one system call
// per window and decrypts them.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.cipher == nil {
		// Only a main database can be opened without a key, which then comes as a PRAGMA.
		if off == 0 && len(p) == 100 {
			// SQLite reads the header of the database first: an empty file lets the
			// connection open so that the PRAGMA can run.
			return 0, io.EOF
		}
		return 0, sqlite3.CANTOPEN
	}
	if len(p) == 0 {
		return 0, nil
	}
	l, err := f.layout()
	if err != nil {
		return 0, err
	}
	n := int64(len(p))
	ws, k := windows(l, off, n)
	for _, w := range ws[:k] {
		done, err := f.readWindow(l, p, off, w)
		if err != nil {
			return int(done - off), err
		}
	}
	return len(p), nil
}

// readWindow reads and decrypts window w and copies the logical bytes it holds into p. It
// returns the logical offset up to which p is filled.
func (f *file) readWindow(l layout, p []byte, off int64, w window) (int64, error) {
	size := w.hi - w.lo
	var buf []byte
	direct := l.page == 0 && w.lo >= off && w.hi <= off+int64(len(p))
	if direct {
		buf = p[w.lo-off : w.hi-off] // decrypt in place: no copy
	} else {
		buf = f.scratch(size)
	}
	if w.partial && f.shm != nil {
		// A concurrent partial write of this sector by another connection rewrites bytes
		// of it that are not ours; the lock keeps us from decrypting a torn sector.
		if err := f.shm.IOLock(vfs.LOCK_SHARED, w.lo); err != nil {
			return off, err
		}
		defer func() { _ = f.shm.IOLock(vfs.LOCK_NONE, w.lo) }()
	}
	m, err := f.File.ReadAt(buf, w.lo)
	full := int64(m) &^ (sectorSize - 1)
	f.cipher.decrypt(buf[:full], uint64(w.lo/sectorSize))
	a, b := max(off, l.count(w.lo)), min(off+int64(len(p)), l.count(w.lo+full))
	if !direct {
		for a < b {
			e := min(b, l.runEnd(a))
			copy(p[a-off:e-off], buf[l.pos(a)-w.lo:])
			a = e
		}
	}
	if full < size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		// A torn last sector cannot be decrypted: what precedes it is all we have.
		return max(b, off), err
	}
	return b, nil
}

// WriteAt implements vfs.File: it encrypts the sectors that hold p and writes them with at
// most one system call per window. Only partial sectors are read back first.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if f.cipher == nil {
		return 0, sqlite3.READONLY
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.wal && off == 0 && len(p) >= walHeaderSize {
		// SQLite starts every WAL, and restarts it, by writing its header.
		page := walPageSize(p)
		if page == 0 {
			return 0, vfs.SystemError(errors.New("xtsvfs: invalid WAL header"),
				sqlite3.IOERR_WRITE)
		}
		f.lay.page = page
	}
	l, err := f.layout()
	if err != nil {
		return 0, err
	}
	if f.wal && l.page == 0 && off >= walHeaderSize {
		return 0, vfs.SystemError(errWALHeader, sqlite3.IOERR_WRITE)
	}
	ws, k := windows(l, off, int64(len(p)))
	for _, w := range ws[:k] {
		if err := f.writeWindow(l, p, off, w); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (f *file) writeWindow(l layout, p []byte, off int64, w window) error {
	buf := f.scratch(w.hi - w.lo)
	if w.partial {
		// Read, decrypt, patch. We are the only writer, so this read needs no lock.
		m, err := f.File.ReadAt(buf, w.lo)
		switch {
		case m == sectorSize:
			f.cipher.decrypt(buf, uint64(w.lo/sectorSize))
		case err != nil && !errors.Is(err, io.EOF):
			return err
		default:
			// Past the end of the file, or a torn last sector that cannot be decrypted
			// and is as good as lost: start from zeros.
			f.fresh(l, buf, w.lo)
		}
	} else {
		f.fresh(l, buf, w.lo)
	}
	a, b := max(off, l.count(w.lo)), min(off+int64(len(p)), l.count(w.hi))
	for a < b {
		e := min(b, l.runEnd(a))
		copy(buf[l.pos(a)-w.lo:], p[a-off:e-off])
		a = e
	}
	f.cipher.encrypt(buf, uint64(w.lo/sectorSize))
	if w.partial && f.shm != nil {
		if err := f.shm.IOLock(vfs.LOCK_EXCLUSIVE, w.lo); err != nil {
			return err
		}
		defer func() { _ = f.shm.IOLock(vfs.LOCK_NONE, w.lo) }()
	}
	_, err := f.File.WriteAt(buf, w.lo)
	return err
}

// fresh prepares buf, the plaintext of the sectors from file offset lo, for sectors written
// whole: the WAL's padding is zeros, and its first sector carries the marker.
func (f *file) fresh(l layout, buf []byte, lo int64) {
	if l.page == 0 && !f.wal {
		return // every byte will be overwritten
	}
	clear(buf)
	if f.wal && lo == 0 {
		copy(buf[walHeaderSize:], walMarker)
	}
}

// Size implements vfs.File: the size SQLite sees, without a WAL's padding.
func (f *file) Size() (int64, error) {
	size, err := f.File.Size()
	if err != nil || !f.wal {
		return size, err
	}
	l, err := f.layout()
	if err != nil {
		return 0, err
	}
	return l.count(size), nil
}

// physical is the file size that holds a logical size.
func (f *file) physical(size int64) (int64, error) {
	l, err := f.layout()
	if err != nil {
		return 0, err
	}
	return roundUp(l.end(size)), nil
}

// Truncate implements vfs.File.
func (f *file) Truncate(size int64) error {
	phys, err := f.physical(size)
	if err != nil {
		return err
	}
	return f.File.Truncate(phys)
}

// SizeHint implements vfs.FileSizeHint.
func (f *file) SizeHint(size int64) error {
	phys, err := f.physical(size)
	if err != nil {
		return err
	}
	return vfsutil.WrapSizeHint(f.File, phys)
}

// ChunkSize implements vfs.FileChunkSize.
func (f *file) ChunkSize(size int) {
	vfsutil.WrapChunkSize(f.File, int(roundUp(int64(size))))
}

// SectorSize implements vfs.File: a multiple of the XTS sector.
func (f *file) SectorSize() int { return lcm(f.File.SectorSize(), sectorSize) }

// DeviceCharacteristics implements vfs.File. It keeps only what remains true when writes
// are done in whole 512-byte sectors, as ncruces' VFS does: in particular no
// POWERSAFE_OVERWRITE, since a partial-sector write rewrites its neighbours' bytes.
func (f *file) DeviceCharacteristics() vfs.DeviceCharacteristic {
	return f.File.DeviceCharacteristics() & (vfs.IOCAP_ATOMIC512 |
		vfs.IOCAP_IMMUTABLE |
		vfs.IOCAP_SEQUENTIAL |
		vfs.IOCAP_SUBPAGE_READ |
		vfs.IOCAP_BATCH_ATOMIC |
		vfs.IOCAP_UNDELETABLE_WHEN_OPEN)
}

// Pragma implements vfs.FilePragma: PRAGMA key (64 raw bytes) or hexkey (128 hex digits)
// sets the key of a database opened without one.
func (f *file) Pragma(name, value string) (string, error) {
	var key []byte
	switch name {
	case "key":
		key = []byte(value)
	case "hexkey":
		key, _ = hex.DecodeString(value)
	case "textkey":
		// A passphrase would need a KDF of its own; keys are derived by the keyring.
		return "", vfs.SystemError(errors.New("xtsvfs: PRAGMA textkey is not supported; "+
			"use hexkey with a 64-byte key"), sqlite3.IOERR_BADKEY)
	default:
		return vfsutil.WrapPragma(f.File, name, value)
	}
	c, err := newSectorCipher(key)
	if err != nil {
		return "", vfs.SystemError(err, sqlite3.IOERR_BADKEY)
	}
	f.cipher = c
	return "ok", nil
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	if x == 0 {
		return max(a, b)
	}
	return a / x * b
}

// The optional interfaces below pass through to the wrapped file, as in ncruces' VFS. A
// MemoryMapper is deliberately not passed: mapped pages would be ciphertext.

// Unwrap implements vfs.FileUnwrap.
func (f *file) Unwrap() vfs.File { return f.File }

// SharedMemory implements vfs.FileSharedMemory.
func (f *file) SharedMemory() vfs.SharedMemory { return vfsutil.WrapSharedMemory(f.File) }

// LockState implements vfs.FileLockState.
func (f *file) LockState() vfs.LockLevel { return vfsutil.WrapLockState(f.File) }

// PersistentWAL implements vfs.FilePersistWAL.
func (f *file) PersistentWAL() bool { return vfsutil.WrapPersistWAL(f.File) }

// SetPersistentWAL implements vfs.FilePersistWAL.
func (f *file) SetPersistentWAL(keep bool) { vfsutil.WrapSetPersistWAL(f.File, keep) }

// HasMoved implements vfs.FileHasMoved.
func (f *file) HasMoved() (bool, error) { return vfsutil.WrapHasMoved(f.File) }

// Overwrite implements vfs.FileOverwrite.
func (f *file) Overwrite() error { return vfsutil.WrapOverwrite(f.File) }

// SyncSuper implements vfs.FileSync.
func (f *file) SyncSuper(super string) error { return vfsutil.WrapSyncSuper(f.File, super) }

// CommitPhaseTwo implements vfs.FileCommitPhaseTwo.
func (f *file) CommitPhaseTwo() error { return vfsutil.WrapCommitPhaseTwo(f.File) }

// BeginAtomicWrite implements vfs.FileBatchAtomicWrite.
func (f *file) BeginAtomicWrite() error { return vfsutil.WrapBeginAtomicWrite(f.File) }

// CommitAtomicWrite implements vfs.FileBatchAtomicWrite.
func (f *file) CommitAtomicWrite() error { return vfsutil.WrapCommitAtomicWrite(f.File) }

// RollbackAtomicWrite implements vfs.FileBatchAtomicWrite.
func (f *file) RollbackAtomicWrite() error { return vfsutil.WrapRollbackAtomicWrite(f.File) }

// CheckpointStart implements vfs.FileCheckpoint.
func (f *file) CheckpointStart() { vfsutil.WrapCheckpointStart(f.File) }

// CheckpointDone implements vfs.FileCheckpoint.
func (f *file) CheckpointDone() { vfsutil.WrapCheckpointDone(f.File) }

// BusyHandler implements vfs.FileBusyHandler.
func (f *file) BusyHandler(handler func() bool) { vfsutil.WrapBusyHandler(f.File, handler) }
