//go:build linux

package results

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Badger v4 maps every value-log, memtable-log and table file MAP_SHARED and writes through the
// mapping, so every page it writes stays resident (RssFile) until the kernel needs memory:
// 1M sealed results kept ~650 MiB mapped. The reclaimer gives those pages back while writes
// happen. It finds the mappings in /proc/self/maps, writes their dirty pages back
// (sync_file_range; reclaim does not write file pages itself) and asks the kernel to reclaim
// them with madvise(MADV_PAGEOUT) (Linux ≥ 5.4). Unlike MADV_DONTNEED, PAGEOUT never changes
// the contents of a range: if Badger unmapped a file after maps was read and the range now
// holds other memory, that memory is at worst written to swap or dropped from the page cache
// and read back on demand, never zeroed (docs/adr/0010-storage-performance-targets.md).

// reclaimSuffixes are the Badger files whose pages are reclaimed. The DISCARD file (1 MiB of
// value-log GC statistics) and the manifest (not mapped) stay as they are.
var reclaimSuffixes = []string{".vlog", ".mem", ".sst"}

// reclaimer runs reclaim passes over Badger's mapped files until stop is called.
type reclaimer struct {
	dir    string // Badger's directory, absolute and with symlinks resolved, as maps shows it
	growth int64  // bytes RssFile must grow by before a pass
	log    *slog.Logger
	passes atomic.Int64 // passes run, for tests
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// startReclaimer starts a reclaimer for the Badger files in dir. Every interval it reads the
// process's file-backed resident memory (one small read of /proc/self/statm, so an idle store
// costs next to nothing) and runs a pass once that grew by growth bytes since the last one. A
// negative interval, a dir it cannot resolve or a kernel without MADV_PAGEOUT starts none
// (stop is then a no-op).
func startReclaimer(dir string, interval time.Duration, growth int64,
	log *slog.Logger) *reclaimer {
	r := &reclaimer{growth: growth, log: log, done: make(chan struct{})}
	if interval < 0 {
		return r
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		log.Warn("results store: mapped pages will not be reclaimed", "err", err)
		return r
	}
	if err := probePageout(); err != nil {
		log.Warn("results store: mapped pages will not be reclaimed", "err", err)
		return r
	}
	r.dir = abs
	r.wg.Add(1)
	go r.run(interval)
	return r
}

// stop ends the reclaimer and waits for a running pass; Close calls it before closing Badger.
func (r *reclaimer) stop() {
	if r == nil {
		return
	}
	r.once.Do(func() { close(r.done) })
	r.wg.Wait()
}

func (r *reclaimer) run(interval time.Duration) {
	defer r.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	floor := fileResident()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		if fileResident() < floor+r.growth {
			continue
		}
		r.passes.Add(1)
		if err := r.pass(); err != nil {
			r.log.Warn("results store: reclaiming mapped pages", "err", err)
		}
		floor = fileResident()
	}
}

// probePageout tells whether the kernel knows MADV_PAGEOUT (Linux ≥ 5.4; older kernels
// answer EINVAL), on a page of our own.
func probePageout() error {
	page, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("probe madvise: %w", err)
	}
	defer func() { _ = unix.Munmap(page) }()
	if err := unix.Madvise(page, unix.MADV_PAGEOUT); err != nil {
		return fmt.Errorf("this kernel has no madvise(MADV_PAGEOUT) (Linux 5.4 or later): %w",
			err)
	}
	return nil
}

// pass writes back and reclaims the resident pages of every mapped Badger file once.
// madvise's errors are ignored: ENOMEM or EINVAL mean Badger unmapped (part of) the range
// meanwhile and it now holds nothing or other memory, whose contents PAGEOUT leaves alone.
func (r *reclaimer) pass() error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	maps, err := badgerMappings(f, r.dir)
	_ = f.Close()
	if err != nil {
		return err
	}
	for _, m := range maps {
		syncRange(m)
		// A raw address, not a []byte: the range is not Go memory and may be gone by now.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
	}
	return nil
}

// syncRange writes back the dirty pages of the mapped part of m's file and waits, so that
// MADV_PAGEOUT can drop them. It opens the file by name: if Badger deleted it meanwhile, there
// is nothing to keep. Writing back early is what the kernel does anyway within 30 s; it
// changes no data and makes no promise of durability (Badger's own syncs do that).
func syncRange(m mapping) {
	f, err := os.Open(m.path)
	if err != nil {
		return
	}
	_ = unix.SyncFileRange(int(f.Fd()), m.offset, int64(m.end-m.start),
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|
			unix.SYNC_FILE_RANGE_WAIT_AFTER)
	_ = f.Close()
}

// mapping is one line of /proc/self/maps that maps a Badger file.
type mapping struct {
	start, end uintptr
	offset     int64
	path       string
}

// badgerMappings reads /proc/self/maps and returns the shared mappings of the Badger files
// directly in dir.
func badgerMappings(f *os.File, dir string) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20) // a line is at most PATH_MAX plus ~80 bytes
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Bytes()); ok && isBadgerFile(m.path, dir) {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMapsLine parses one line of /proc/<pid>/maps
// ("start-end perms offset dev inode path") and reports whether it is a shared mapping of a
// file that still exists. Paths may hold spaces; the kernel escapes only newlines.
func parseMapsLine(line []byte) (mapping, bool) {
	var fields [5][]byte
	rest := line
	for i := range fields {
		rest = bytes.TrimLeft(rest, " ")
		var ok bool
		fields[i], rest, ok = bytes.Cut(rest, []byte(" "))
		if !ok {
			return mapping{}, false
		}
	}
	path := string(bytes.TrimLeft(rest, " "))
	perms := fields[1]
	if len(perms) != 4 || perms[3] != 's' || !strings.HasPrefix(path, "/") ||
		strings.HasSuffix(path, " (deleted)") {
		return mapping{}, false
	}
	lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
	if !ok {
		return mapping{}, false
	}
	start, err1 := strconv.ParseUint(string(lo), 16, 64)
	end, err2 := strconv.ParseUint(string(hi), 16, 64)
	off, err3 := strconv.ParseInt(string(fields[2]), 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || end <= start || off < 0 {
		return mapping{}, false
	}
	return mapping{start: uintptr(start), end: uintptr(end), offset: off, path: path}, true
}

func isBadgerFile(path, dir string) bool {
	if filepath.Dir(path) != dir {
		return false
	}
	for _, s := range reclaimSuffixes {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return false
}

// fileResident returns the process's resident shared (file-backed) memory in bytes, from
// /proc/self/statm, or 0 if it cannot be read.
func fileResident() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return 0
	}
	pages, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
