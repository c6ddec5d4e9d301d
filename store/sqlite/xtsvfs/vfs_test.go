package xtsvfs

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"
	_ "github.com/ncruces/go-sqlite3/vfs/xts" // the "xts" VFS, to check compatibility
)

const marker = "PLAINTEXT-MARKER-51c0"

func testKey(b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, KeySize)) }

// openSQL opens path through the named VFS with a hex key, in WAL mode.
func openSQL(t testing.TB, path, vfsName, key string, pragmas ...string) *sql.DB {
	t.Helper()
	Register()
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}
	db, err := driver.Open(u.String()+"?vfs="+vfsName+"&hexkey="+key,
		func(c *sqlite3.Conn) error {
			for _, p := range append([]string{"PRAGMA busy_timeout=10000"}, pragmas...) {
				if err := c.Exec(p); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("PRAGMA journal_mode=WAL"); err != nil {
		db.Close()
		t.Fatalf("open %s: %v", filepath.Base(path), err)
	}
	return db
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func insertRows(t testing.TB, db *sql.DB, from, n int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if _, err := tx.Exec("INSERT INTO t (id, v) VALUES (?, ?)", i,
			fmt.Sprintf("%s-%d-%s", marker, i, strings.Repeat("x", i%300))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func checkRows(t testing.TB, db *sql.DB, want int) {
	t.Helper()
	var n int
	var ok string
	if err := db.QueryRow("SELECT count(*) FROM t WHERE v LIKE ?", marker+"-%").
		Scan(&n); err != nil || n != want {
		t.Fatalf("rows: %d, %v; want %d", n, err, want)
	}
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q, %v", ok, err)
	}
}

// grepFiles returns the files in dir that contain the marker, and how many files there are.
func grepFiles(t testing.TB, dir string) (hits []string, files int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files++
		if bytes.Contains(data, []byte(marker)) {
			hits = append(hits, e.Name())
		}
	}
	return hits, files
}

func copyFiles(t testing.TB, from, to string, names ...string) {
	t.Helper()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatabaseAtRest writes rows holding a marker and checks that no file (database, WAL)
// contains it while open or after close, that a WAL left by a crash is replayed, and that
// the data reads back, for the smallest, the default and the largest page size.
func TestDatabaseAtRest(t *testing.T) {
	for _, page := range []int{512, 4096, 65536} {
		t.Run(fmt.Sprint(page), func(t *testing.T) {
			dir, crash := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, "t.db")
			db := openSQL(t, path, Name, testKey(1), fmt.Sprintf("PRAGMA page_size=%d", page))
			mustExec(t, db, "PRAGMA wal_autocheckpoint=0") // keep everything in the WAL
			mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
			for i := range 5 {
				insertRows(t, db, i*400, 400)
			}
			if st, err := os.Stat(path + "-wal"); err != nil || st.Size() == 0 {
				t.Fatalf("expected a WAL: %v", err)
			}
			if hits, n := grepFiles(t, dir); len(hits) > 0 {
				t.Fatalf("marker in %v (of %d files) while open", hits, n)
			}
			// What a crash leaves: the database and its WAL, not checkpointed.
			copyFiles(t, dir, crash, "t.db", "t.db-wal")
			mustExec(t, db, "DELETE FROM t WHERE id % 3 = 0")
			mustExec(t, db, "VACUUM")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if hits, _ := grepFiles(t, dir); len(hits) > 0 {
				t.Fatalf("marker in %v after close", hits)
			}
			checkRows(t, openSQL(t, path, Name, testKey(1)), 2000-667)
			checkRows(t, openSQL(t, filepath.Join(crash, "t.db"), Name, testKey(1)), 2000)
		})
	}
}

// TestRollbackJournalAtRest covers the rollback journal, whose records (page number, page,
// checksum) straddle sectors: PERSIST keeps the journal after each commit, so it can be
// scanned, and a rollback reads it back.
func TestRollbackJournalAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.db")
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}
	Register()
	db, err := driver.Open(u.String() + "?vfs=" + Name + "&hexkey=" + testKey(6))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA journal_mode=PERSIST")
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	insertRows(t, db, 0, 500)
	mustExec(t, db, "UPDATE t SET v = v || '-changed'")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("DELETE FROM t"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path + "-journal"); err != nil || st.Size() == 0 {
		t.Fatalf("expected a persistent journal: %v", err)
	}
	if hits, n := grepFiles(t, dir); len(hits) > 0 {
		t.Fatalf("marker in %v (of %d files)", hits, n)
	}
	checkRows(t, db, 500)
}

func TestWrongKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db := openSQL(t, path, Name, testKey(1))
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	insertRows(t, db, 0, 10)
	db.Close()

	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}
	for _, key := range []string{testKey(2), testKey(1)[:64], "zz"} {
		other, err := driver.Open(u.String() + "?vfs=" + Name + "&hexkey=" + key)
		if err == nil {
			_, err = other.Exec("PRAGMA journal_mode=WAL")
			other.Close()
		}
		if err == nil {
			t.Fatalf("opened with key %.8s…", key)
		}
		if key == testKey(2) && !errors.Is(err, sqlite3.NOTADB) {
			t.Fatalf("wrong key: %v, want SQLITE_NOTADB", err)
		}
	}
	checkRows(t, openSQL(t, path, Name, testKey(1)), 10)
}

// TestNcrucesCompatibility: main database files are interchangeable with ncruces' vfs/xts
// under the same key; a WAL it left behind is refused with ErrForeignWAL, not misread.
func TestNcrucesCompatibility(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.db")
	old := openSQL(t, path, "xts", testKey(3))
	mustExec(t, old, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	insertRows(t, old, 0, 300)
	old.Close()

	ours := openSQL(t, path, Name, testKey(3))
	checkRows(t, ours, 300)
	insertRows(t, ours, 300, 300)
	ours.Close()

	old = openSQL(t, path, "xts", testKey(3))
	checkRows(t, old, 600)
	mustExec(t, old, "PRAGMA wal_autocheckpoint=0")
	insertRows(t, old, 600, 100)
	crash := t.TempDir()
	copyFiles(t, dir, crash, "t.db", "t.db-wal")
	old.Close()

	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(filepath.Join(crash,
		"t.db"))}
	db, err := driver.Open(u.String() + "?vfs=" + Name + "&hexkey=" + testKey(3))
	if err == nil {
		_, err = db.Exec("SELECT count(*) FROM t")
		db.Close()
	}
	if !IsForeignWAL(err) {
		t.Fatalf("database with an ncruces WAL: %v, want ErrForeignWAL", err)
	}
}

// TestConcurrentReaders runs a writer and readers on one database, as the store's writer and
// reader pool do, so that -race and integrity_check see the VFS under concurrency.
func TestConcurrentReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	w := openSQL(t, path, Name, testKey(4), "PRAGMA wal_autocheckpoint=50")
	mustExec(t, w, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	r := openSQL(t, path, Name, testKey(4))
	r.SetMaxOpenConns(2)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for ctx.Err() == nil {
				var n int
				if err := r.QueryRow("SELECT count(*) FROM t WHERE v LIKE ?",
					marker+"-%").Scan(&n); err != nil {
					errs <- err
					return
				}
				if n < last || n%50 != 0 {
					errs <- fmt.Errorf("reader saw %d rows after %d", n, last)
					return
				}
				last = n
			}
		}()
	}
	for i := range 40 {
		insertRows(t, w, i*50, 50)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkRows(t, r, 2000)
}

// TestSystemCalls counts the reads and writes a WAL-mode insert workload makes through the
// VFS: one per SQLite call, and none misaligned.
func TestSystemCalls(t *testing.T) {
	counts := &callCounts{}
	vfs.Register("xtsvfs-test-count", Wrap(countingVFS{vfs.Find(""), counts}))
	// Registered first, so it runs after the database's own cleanup has closed it.
	t.Cleanup(func() { vfs.Unregister("xtsvfs-test-count") })
	path := filepath.Join(t.TempDir(), "t.db")
	db := openSQL(t, path, "xtsvfs-test-count", testKey(5))
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	for i := range 20 {
		insertRows(t, db, i*100, 100)
	}
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	checkRows(t, db, 2000)
	counts.mu.Lock()
	defer counts.mu.Unlock()
	t.Logf("wal: %d reads, %d writes; db: %d reads, %d writes; misaligned writes %d",
		counts.walReads, counts.walWrites, counts.dbReads, counts.dbWrites,
		counts.misaligned)
	if counts.misaligned != 0 {
		t.Fatalf("%d writes were not whole sectors", counts.misaligned)
	}
	// Frames are never read back while being written: the WAL is read only by the
	// checkpoints (one read per page copied).
	if counts.walReads > counts.dbWrites {
		t.Fatalf("%d WAL reads for %d database writes", counts.walReads, counts.dbWrites)
	}
}

type callCounts struct {
	mu                                                 sync.Mutex
	walReads, walWrites, dbReads, dbWrites, misaligned int
}

type countingVFS struct {
	vfs.VFS
	c *callCounts
}

func (v countingVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File,
	vfs.OpenFlag, error) {
	f, flags, err := v.VFS.(vfs.VFSFilename).OpenFilename(name, flags)
	if err != nil {
		return f, flags, err
	}
	return &countedFile{File: f, c: v.c, wal: flags&vfs.OPEN_WAL != 0}, flags, nil
}

type countedFile struct {
	vfs.File
	c   *callCounts
	wal bool
}

func (f *countedFile) ReadAt(p []byte, off int64) (int, error) {
	f.c.mu.Lock()
	if f.wal {
		f.c.walReads++
	} else {
		f.c.dbReads++
	}
	f.c.mu.Unlock()
	return f.File.ReadAt(p, off)
}

func (f *countedFile) WriteAt(p []byte, off int64) (int, error) {
	f.c.mu.Lock()
	if f.wal {
		f.c.walWrites++
	} else {
		f.c.dbWrites++
	}
	if off%sectorSize != 0 || len(p)%sectorSize != 0 {
		f.c.misaligned++
	}
	f.c.mu.Unlock()
	return f.File.WriteAt(p, off)
}

func (f *countedFile) Unwrap() vfs.File { return f.File }

func (f *countedFile) SharedMemory() vfs.SharedMemory {
	if s, ok := f.File.(vfs.FileSharedMemory); ok {
		return s.SharedMemory()
	}
	return nil
}

var _ io.ReaderAt = (*countedFile)(nil)
