//go:build linux

package results

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       mapping
		ok         bool
	}{
		{"shared vlog",
			"7f00a0000000-7f00a8000000 rw-s 00000000 fe:00 1234    /data/results/000001.vlog",
			mapping{0x7f00a0000000, 0x7f00a8000000, 0, "/data/results/000001.vlog"}, true},
		{"offset and spaces in the path",
			"1000-3000 r--s 0001f000 fe:00 77  /tmp/a dir/x y.sst",
			mapping{0x1000, 0x3000, 0x1f000, "/tmp/a dir/x y.sst"}, true},
		{"private file mapping", "1000-2000 r--p 00000000 fe:00 77 /usr/bin/tenantra",
			mapping{}, false},
		{"anonymous", "1000-2000 rw-p 00000000 00:00 0 ", mapping{}, false},
		{"pseudo path", "1000-2000 rw-s 00000000 00:01 9 [vvar]", mapping{}, false},
		{"deleted file", "1000-2000 rw-s 00000000 fe:00 77 /d/000002.vlog (deleted)",
			mapping{}, false},
		{"empty range", "2000-2000 rw-s 00000000 fe:00 77 /d/1.vlog", mapping{}, false},
		{"inverted range", "3000-2000 rw-s 00000000 fe:00 77 /d/1.vlog", mapping{}, false},
		{"bad address", "zz-2000 rw-s 00000000 fe:00 77 /d/1.vlog", mapping{}, false},
		{"no dash", "10002000 rw-s 00000000 fe:00 77 /d/1.vlog", mapping{}, false},
		{"bad offset", "1000-2000 rw-s -1 fe:00 77 /d/1.vlog", mapping{}, false},
		{"huge address", "1000-1ffffffffffffffff rw-s 0 fe:00 77 /d/1.vlog", mapping{}, false},
		{"short perms", "1000-2000 rs 0 fe:00 77 /d/1.vlog", mapping{}, false},
		{"truncated", "1000-2000 rw-s 00000000", mapping{}, false},
		{"empty", "", mapping{}, false},
		{"invalid UTF-8 path", "1000-2000 rw-s 0 fe:00 77 /d/\xff.vlog",
			mapping{0x1000, 0x2000, 0, "/d/\xff.vlog"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseMapsLine([]byte(tc.line))
			if ok != tc.ok || got != tc.want {
				t.Fatalf("parseMapsLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok,
					tc.want, tc.ok)
			}
		})
	}
}

func TestIsBadgerFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/d/000001.vlog", true},
		{"/d/00003.mem", true},
		{"/d/000004.sst", true},
		{"/d/DISCARD", false},
		{"/d/MANIFEST", false},
		{"/d/sub/000001.vlog", false},
		{"/d2/000001.vlog", false},
		{"/000001.vlog", false},
	} {
		if got := isBadgerFile(tc.path, "/d"); got != tc.want {
			t.Errorf("isBadgerFile(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func FuzzParseMapsLine(f *testing.F) {
	f.Add([]byte("7f00a0000000-7f00a8000000 rw-s 00000000 fe:00 1234    /data/000001.vlog"))
	f.Add([]byte("1000-2000 rw-p 00000000 00:00 0 "))
	f.Add([]byte("1000-3000 r--s 0001f000 fe:00 77  /tmp/a dir/x y.sst (deleted)"))
	f.Add([]byte("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]"))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, ok := parseMapsLine(line)
		if ok && (m.end <= m.start || m.offset < 0 || !strings.HasPrefix(m.path, "/")) {
			t.Fatalf("parseMapsLine(%q) accepted %+v", line, m)
		}
	})
}

// TestPageoutKeepsContents is why MADV_PAGEOUT is safe where MADV_DONTNEED is not: a range
// read from /proc/self/maps may hold other memory by the time madvise runs, and PAGEOUT must
// leave that memory's contents as they are (DONTNEED would zero an anonymous private page).
func TestPageoutKeepsContents(t *testing.T) {
	if err := probePageout(); err != nil {
		t.Skip(err)
	}
	size := 16 * os.Getpagesize()
	anon, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(anon) }()
	f, err := os.Create(filepath.Join(t.TempDir(), "000001.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	shared, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(shared) }()
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*7 + 1)
	}
	copy(anon, want)
	copy(shared, want) // dirty, not written back: reclaim must keep it
	for _, b := range [][]byte{anon, shared} {
		if err := unix.Madvise(b, unix.MADV_PAGEOUT); err != nil {
			t.Fatal(err)
		}
	}
	// Written back and reclaimed, then read again through the mapping and from the file.
	syncRange(mapping{offset: 0, start: 0, end: uintptr(size), path: f.Name()})
	if err := unix.Madvise(shared, unix.MADV_PAGEOUT); err != nil {
		t.Fatal(err)
	}
	onDisk := make([]byte, size)
	if _, err := f.ReadAt(onDisk, 0); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"anonymous": anon, "shared": shared,
		"file": onDisk} {
		if !bytes.Equal(got, want) {
			t.Errorf("%s memory changed by MADV_PAGEOUT", name)
		}
	}
}

// mappedResident sums the resident memory of the process's mappings of Badger files in dir,
// from /proc/self/smaps.
func mappedResident(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sum int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rss, ok := strings.CutPrefix(line, "Rss:"); ok {
			if in {
				kib, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(rss, "kB")),
					10, 64)
				sum += kib << 10
			}
			continue
		}
		if name, _, _ := strings.Cut(line, " "); strings.Contains(name, "-") {
			m, ok := parseMapsLine([]byte(line))
			in = ok && isBadgerFile(m.path, dir)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}

// writeValues writes n random 500-byte values for tenant ta in batches of 1,000 and returns
// them by key.
func writeValues(s *Store, n int, seed uint64) (map[string][]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := map[string][]byte{}
	for i := 0; i < n; i += 1000 {
		kvs := make([]store.KV, 0, 1000)
		for j := i; j < min(n, i+1000); j++ {
			v := make([]byte, 500)
			for k := range v {
				v[k] = byte(rng.Uint32())
			}
			key := fmt.Sprintf("s%d/k%07d", seed, j)
			out[key] = v
			kvs = append(kvs, store.KV{Key: key, Value: v})
		}
		if err := s.PutBatch(context.Background(), "ta", kvs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func checkValues(t *testing.T, s *Store, want map[string][]byte) {
	t.Helper()
	for k, v := range want {
		got, err := s.Get(context.Background(), "ta", k)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("get %s after reclaim: %v (equal %v)", k, err, bytes.Equal(got, v))
		}
	}
}

func resolvedDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReclaimPass writes ~20 MiB of values, runs one pass and checks that the pages of
// Badger's files left RSS and that every value reads back the same, through Badger (which
// faults the value log back in) and after reopening.
func TestReclaimPass(t *testing.T) {
	if err := probePageout(); err != nil {
		t.Skip(err)
	}
	k, _ := keys.NewKey()
	ks := fixedKeys{"ta": {1: k}}
	dir := resolvedDir(t)
	root := make(keys.Key, keys.KeySize)
	s, err := Open(Options{Dir: dir, Key: root, Keys: ks, ReclaimInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	want, err := writeValues(s, 40_000, 1)
	if err != nil {
		t.Fatal(err)
	}
	before := mappedResident(t, dir)
	if before < 10<<20 {
		t.Fatalf("only %d KiB of Badger's files resident before the pass", before>>10)
	}
	r := &reclaimer{dir: dir}
	if err := r.pass(); err != nil {
		t.Fatal(err)
	}
	after := mappedResident(t, dir)
	t.Logf("Badger's mapped files: %d KiB resident before the pass, %d KiB after",
		before>>10, after>>10)
	if after > before/4 {
		t.Errorf("pass left %d of %d KiB resident", after>>10, before>>10)
	}
	checkValues(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, ks)
	defer s.Close()
	checkValues(t, s, want)
}

// TestReclaimWhileWriting runs passes as often as they can go while two writers, then tenant
// drops and value-log GC (which unmap and delete files) beside a reader, go on, and checks
// every value.
func TestReclaimWhileWriting(t *testing.T) {
	if err := probePageout(); err != nil {
		t.Skip(err)
	}
	k, _ := keys.NewKey()
	ks := fixedKeys{"ta": {1: k}, "tb": {1: k}}
	dir := resolvedDir(t)
	root := make(keys.Key, keys.KeySize)
	s, err := Open(Options{Dir: dir, Key: root, Keys: ks, ReclaimInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.reclaim = startReclaimer(dir, time.Millisecond, 1, slog.New(slog.DiscardHandler))
	if s.reclaim.dir == "" {
		t.Fatal("reclaimer did not start")
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want = map[string][]byte{}
	)
	for w := range 2 {
		wg.Go(func() {
			got, err := writeValues(s, 15_000, uint64(w+2))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range got {
				want[k] = v
			}
		})
	}
	wg.Wait()
	// Badger refuses writes while DropPrefix runs, so the drops come after the writers; the
	// reads go on beside them.
	wg.Go(func() {
		for i := range 20 {
			kvs := []store.KV{{Key: fmt.Sprintf("x%d", i), Value: make([]byte, 4096)}}
			if err := s.PutBatch(context.Background(), "tb", kvs); err != nil {
				t.Error(err)
				return
			}
			if err := s.DropTenant(context.Background(), "tb"); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.GC(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for k, v := range want {
			got, err := s.Get(context.Background(), "ta", k)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("get %s while reclaiming: %v", k, err)
				return
			}
		}
	})
	wg.Wait()
	s.reclaim.stop()
	if n := s.reclaim.passes.Load(); n < 3 {
		t.Errorf("%d reclaim passes ran during the test", n)
	} else {
		t.Logf("%d reclaim passes", n)
	}
	checkValues(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, ks)
	defer s.Close()
	checkValues(t, s, want)
}
