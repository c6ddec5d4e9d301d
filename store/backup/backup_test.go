package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/sio"

	"github.com/tenantra/tenantra/store"
)

// cheapKDF keeps passphrase tests fast; TestDefaultKDF covers the real parameters.
var cheapKDF = kdfParams{Time: 1, MemoryKiB: 64, Threads: 1}

func testKey(seed byte) []byte { return bytes.Repeat([]byte{seed}, 32) }

type testEntry struct {
	name string
	data []byte
}

func pseudoRandom(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// marks are output sizes recorded while writing: before and after each Add, and at the end.
type marks struct {
	before, after []int64
	closeAt, end  int64
}

func writeArchive(t testing.TB, s Sealing, meta map[string]string, entries []testEntry) (
	[]byte, marks, Manifest) {
	t.Helper()
	var out bytes.Buffer
	w, err := newWriter(&out, s, meta, cheapKDF, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var m marks
	for _, e := range entries {
		m.before = append(m.before, int64(out.Len()))
		if err := w.Add(e.name, int64(len(e.data)), bytes.NewReader(e.data)); err != nil {
			t.Fatalf("Add(%s): %v", e.name, err)
		}
		m.after = append(m.after, int64(out.Len()))
	}
	m.closeAt = int64(out.Len())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m.end = int64(out.Len())
	return out.Bytes(), m, w.Manifest()
}

func extractAll(t testing.TB, archive []byte, s Sealing) (map[string][]byte, Manifest) {
	t.Helper()
	got := map[string][]byte{}
	man, err := Extract(bytes.NewReader(archive), s, func(e Entry, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if int64(len(b)) != e.Size {
			return fmt.Errorf("entry %s: got %d bytes, header says %d", e.Name, len(b), e.Size)
		}
		got[e.Name] = b
		return nil
	})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return got, man
}

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("deep/", 30) + "file.db" // beyond USTAR's 100-byte name field
	tests := []struct {
		name    string
		sealing Sealing
		entries []testEntry
	}{
		{"key, several entries", Sealing{Key: testKey(1)}, []testEntry{
			{"control.db", pseudoRandom(1, 10_000)},
			{"empty.db", nil},
			{"tenants/0193a2b4-7c1d.db", pseudoRandom(2, 3<<20+17)},
			{"results/000001.backup", pseudoRandom(3, 128<<10)}, // whole DARE packages
			{long, pseudoRandom(4, 513)},
			{"exports/café.csv", []byte("a,b\n1,2\n")},
		}},
		{"passphrase", Sealing{Passphrase: []byte("correct horse battery staple")},
			[]testEntry{{"master.key", pseudoRandom(5, 32)}, {"keyring.json", []byte("{}")}}},
		{"key with id, no entries", Sealing{Key: testKey(2), KeyID: "kek-4f2a"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			meta := map[string]string{"kind": "backup", "app_version": "v1.2.3"}
			archive, _, written := writeArchive(t, tc.sealing, meta, tc.entries)
			man, err := Verify(bytes.NewReader(archive), tc.sealing)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if fmt.Sprint(man) != fmt.Sprint(written) {
				t.Errorf("Verify manifest\n%+v\nwant the written one\n%+v", man, written)
			}
			if man.Format != FormatVersion || man.AppVersion != "v1.2.3" ||
				man.Meta["kind"] != "backup" || len(man.Entries) != len(tc.entries) {
				t.Errorf("manifest = %+v", man)
			}
			got, man2 := extractAll(t, archive, tc.sealing)
			if fmt.Sprint(man2) != fmt.Sprint(man) {
				t.Errorf("Extract manifest differs from Verify's")
			}
			for i, e := range tc.entries {
				if !bytes.Equal(got[e.name], e.data) {
					t.Errorf("entry %s: extracted bytes differ", e.name)
				}
				sum := sha256.Sum256(e.data)
				if me := man.Entries[i]; me.Name != e.name || me.Size != int64(len(e.data)) ||
					me.SHA256 != fmt.Sprintf("%x", sum) {
					t.Errorf("manifest entry %d = %+v", i, me)
				}
			}
			if len(got) != len(tc.entries) {
				t.Errorf("extracted %d entries, want %d", len(got), len(tc.entries))
			}
		})
	}
}

// TestDefaultKDF uses the real Argon2id parameters once, to time them and to prove that a
// wrong passphrase is told apart from damage.
func TestDefaultKDF(t *testing.T) {
	var out bytes.Buffer
	s := Sealing{Passphrase: []byte("correct horse battery staple")}
	start := time.Now()
	w, err := NewWriter(&out, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Argon2id %+v took %v", defaultKDF(), time.Since(start))
	if err := w.Add("a", 3, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(out.Bytes()), s); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	_, err = Verify(bytes.NewReader(out.Bytes()), Sealing{Passphrase: []byte("Correct horse")})
	if !errors.Is(err, store.ErrWrongKey) || err.Error() != "wrong passphrase" {
		t.Fatalf("wrong passphrase: err = %v, want ErrWrongKey \"wrong passphrase\"", err)
	}
}

func TestWrongSealing(t *testing.T) {
	keyArchive, _, _ := writeArchive(t, Sealing{Key: testKey(1), KeyID: "kek-aaaa"}, nil,
		[]testEntry{{"a", []byte("x")}})
	passArchive, _, _ := writeArchive(t, Sealing{Passphrase: []byte("pw")}, nil,
		[]testEntry{{"a", []byte("x")}})
	tests := []struct {
		name    string
		archive []byte
		s       Sealing
		kind    error
		msg     string
	}{
		{"wrong passphrase", passArchive, Sealing{Passphrase: []byte("pW")}, store.ErrWrongKey,
			"wrong passphrase"},
		{"key for passphrase", passArchive, Sealing{Key: testKey(1)}, store.ErrWrongKey,
			"sealed with a passphrase"},
		{"other key id", keyArchive, Sealing{Key: testKey(2), KeyID: "kek-bbbb"},
			store.ErrWrongKey, "sealed with key kek-aaaa, not with key kek-bbbb"},
		{"same id, wrong key", keyArchive, Sealing{Key: testKey(2), KeyID: "kek-aaaa"},
			store.ErrWrongKey, "wrong key"},
		{"passphrase for key", keyArchive, Sealing{Passphrase: []byte("pw")},
			store.ErrWrongKey, "sealed with key kek-aaaa, not with a passphrase"},
		{"nothing", keyArchive, Sealing{}, store.ErrInvalid, "passphrase or a key"},
		{"both", keyArchive, Sealing{Key: testKey(1), Passphrase: []byte("pw")},
			store.ErrInvalid, "not both"},
		{"short key", keyArchive, Sealing{Key: testKey(1)[:16]}, store.ErrInvalid, "32 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Verify(bytes.NewReader(tc.archive), tc.s)
			if !errors.Is(err, tc.kind) || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.kind, tc.msg)
			}
			if m.Entries != nil || m.Meta != nil {
				t.Errorf("a manifest came back with the error: %+v", m)
			}
		})
	}
	// Without KeyID, the id is derived from the key, so another key is named as such.
	plain, _, _ := writeArchive(t, Sealing{Key: testKey(3)}, nil, nil)
	if _, err := Verify(bytes.NewReader(plain), Sealing{Key: testKey(4)}); !errors.Is(err,
		store.ErrWrongKey) || !strings.Contains(err.Error(), "sealed with key") {
		t.Fatalf("derived key ids: err = %v", err)
	}
}

// segment is a stretch of the plaintext tar stream that Verify reads in one go: an entry's
// data (inside), or what lies between entries (padding and the next tar header).
type segment struct {
	start, end int64
	entry      string // the entry read, or the last one read before a gap
	inside     bool
}

// plainLayout decrypts an archive and returns its header length, the segments of its tar
// stream in the order Verify reads them, and the plaintext length.
func plainLayout(t *testing.T, archive []byte, s Sealing) (int64, []segment, int64) {
	t.Helper()
	h, err := readHeader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := openPayload(bytes.NewReader(archive), s)
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: ar.payload}
	tr := tar.NewReader(cr)
	var segs []segment
	last := ""
	for {
		start := cr.n
		th, err := tr.Next()
		segs = append(segs, segment{start: start, end: cr.n, entry: last})
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		start = cr.n
		if _, err := io.Copy(io.Discard, tr); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, segment{start: start, end: cr.n, entry: th.Name, inside: true})
		last = th.Name
	}
	if n, err := io.Copy(io.Discard, cr); n != 0 || err != nil {
		t.Fatalf("%d bytes after the tar stream, err %v", n, err)
	}
	return int64(len(h.marshal())), segs, cr.n
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

const (
	payloadSize = 64 << 10
	packageSize = payloadSize + 32
)

// expectAt returns what the error for a damaged or missing DARE package holding output
// offset off must say: the first segment Verify reads that needs that package.
func expectAt(hdrLen int64, segs []segment, plainLen, off int64, truncated bool) string {
	k := (off - hdrLen) / packageSize
	lo, hi := k*payloadSize, min((k+1)*payloadSize, plainLen)
	for _, s := range segs {
		if s.end > s.start && s.start < hi && s.end > lo {
			return describe(s, truncated)
		}
	}
	return "(no segment)"
}

func describe(s segment, truncated bool) string {
	verb := "damaged"
	if truncated {
		verb = "truncated"
	}
	switch {
	case s.inside && s.entry == ManifestName && truncated:
		return "truncated inside the manifest"
	case s.inside && s.entry == ManifestName:
		return "manifest is damaged"
	case s.inside && truncated:
		return "truncated inside entry " + s.entry
	case s.inside:
		return "entry " + s.entry + " is damaged"
	case s.entry == "":
		return verb + " before its first entry"
	case s.entry == ManifestName:
		return verb + " after the manifest"
	}
	return verb + " after entry " + s.entry
}

// flipEntries is an archive of four entries whose last one ends so that the manifest's tar
// header fills the end of a DARE package: then damage to the manifest's own bytes can be
// named as such (a package holding a tar header can only be named by what precedes it).
func flipEntries() []testEntry {
	entries := []testEntry{
		{"control.db", pseudoRandom(11, 150_000)},
		{"tenants/0193a2b4-7c1d.db", pseudoRandom(12, 400_000)},
		{"empty.db", nil},
	}
	var plain int64
	for _, e := range entries {
		plain += 512 + (int64(len(e.data))+511)/512*512
	}
	plain += 512 // the last entry's own header
	end := (plain/payloadSize+3)*payloadSize - 512
	return append(entries, testEntry{"results/000001.backup", pseudoRandom(13, int(end-plain))})
}

func TestFlippedByteIsNamed(t *testing.T) {
	s := Sealing{Key: testKey(7)}
	entries := flipEntries()
	archive, mk, _ := writeArchive(t, s, nil, entries)
	hdrLen, segs, plainLen := plainLayout(t, archive, s)
	rng := rand.New(rand.NewPCG(1, 2))

	type region struct {
		name       string
		start, end int64
	}
	regions := []region{{"header", 0, hdrLen}}
	for i, e := range entries {
		regions = append(regions, region{e.name, mk.before[i], mk.after[i]})
	}
	regions = append(regions, region{ManifestName, mk.closeAt, mk.end})
	// And every byte of every DARE package header, plus the first and last byte after it.
	lastPkg := hdrLen + (mk.end-hdrLen-1)/packageSize*packageSize
	for p := hdrLen; p < mk.end; p += packageSize {
		regions = append(regions, region{fmt.Sprintf("package@%d", p), p, p + 17},
			region{fmt.Sprintf("tag@%d", p), min(p+packageSize, mk.end) - 1,
				min(p+packageSize, mk.end)})
	}

	named := map[string]int{}
	for _, r := range regions {
		var offs []int64
		switch {
		case r.name == "header":
			for o := r.start; o < r.end; o++ { // every byte: each is refused before any KDF
				offs = append(offs, o)
			}
		case strings.HasPrefix(r.name, "package@") || strings.HasPrefix(r.name, "tag@"):
			for o := r.start; o < r.end; o++ {
				offs = append(offs, o)
			}
		case r.end > r.start:
			offs = append(offs, r.start, r.end-1, (r.start+r.end)/2)
			for range 6 {
				offs = append(offs, r.start+rng.Int64N(r.end-r.start))
			}
		}
		for _, off := range offs {
			bad := bytes.Clone(archive)
			bad[off] ^= 1 << (off % 8)
			m, err := Verify(bytes.NewReader(bad), s)
			if !errors.Is(err, store.ErrCorrupt) || m.Entries != nil {
				t.Fatalf("%s region, byte %d flipped: err = %v, manifest %v", r.name, off, err,
					m.Entries != nil)
			}
			want, alt := "header", "header"
			if off >= hdrLen {
				want = expectAt(hdrLen, segs, plainLen, off, false)
				alt = want
			}
			if off == lastPkg+2 || off == lastPkg+3 {
				// A longer length in the final package looks exactly like truncation.
				alt = expectAt(hdrLen, segs, plainLen, off, true)
			}
			if !strings.Contains(err.Error(), want) && !strings.Contains(err.Error(), alt) {
				t.Errorf("%s region, byte %d flipped: %q does not say %q", r.name, off, err,
					want)
			}
			named[want]++
		}
	}
	// Every entry with data, the manifest and the header were each named for damage in
	// their own bytes, not only by a neighbour.
	for _, want := range []string{"header", "manifest is damaged",
		"entry control.db is damaged", "entry tenants/0193a2b4-7c1d.db is damaged",
		"entry results/000001.backup is damaged"} {
		if named[want] == 0 {
			t.Errorf("no flip produced %q; got %v", want, named)
		}
	}
	t.Logf("flips by message: %v", named)
}

func TestTruncatedIsRefused(t *testing.T) {
	s := Sealing{Key: testKey(8)}
	archive, _, _ := writeArchive(t, s, nil, flipEntries())
	hdrLen, segs, plainLen := plainLayout(t, archive, s)
	var offs []int64
	for o := int64(0); o <= hdrLen; o++ {
		offs = append(offs, o)
	}
	for p := hdrLen; p < int64(len(archive)); p += packageSize {
		offs = append(offs, p-1, p+1, p+16, p+40)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		offs = append(offs, hdrLen+rng.Int64N(int64(len(archive))-hdrLen))
	}
	offs = append(offs, int64(len(archive))-1)
	for _, n := range offs {
		if n >= int64(len(archive)) {
			continue
		}
		m, err := Verify(bytes.NewReader(archive[:n]), s)
		if !errors.Is(err, store.ErrCorrupt) || m.Entries != nil {
			t.Fatalf("truncated to %d bytes: err = %v", n, err)
		}
		var want string
		switch {
		case n == 0:
			want = "archive is empty"
		case n < hdrLen:
			want = "header is truncated"
		default:
			want = expectAt(hdrLen, segs, plainLen, n, true)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("truncated to %d bytes: %q does not say %q", n, err, want)
		}
	}
}

func TestUnfinishedArchiveIsRefused(t *testing.T) {
	s := Sealing{Key: testKey(9)}
	tests := []struct {
		name  string
		write func(w *Writer) error
	}{
		{"never closed", func(w *Writer) error {
			return w.Add("tenants/a.db", 200_000, bytes.NewReader(pseudoRandom(1, 200_000)))
		}},
		{"source shorter than its size", func(w *Writer) error {
			if err := w.Add("a.db", 10, strings.NewReader("12345")); err == nil {
				t.Error("Add of a short source succeeded")
			}
			return w.Close()
		}},
		{"source longer than its size", func(w *Writer) error {
			if err := w.Add("a.db", 3, strings.NewReader("12345")); err == nil {
				t.Error("Add of a long source succeeded")
			}
			return w.Close()
		}},
		{"source fails", func(w *Writer) error {
			err := w.Add("a.db", 10, iotest.ErrReader(errors.New("disk on fire")))
			if err == nil || !strings.Contains(err.Error(), "disk on fire") {
				t.Errorf("Add: %v", err)
			}
			return w.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := newWriter(&out, s, nil, cheapKDF, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.write(w); err != nil && tc.name == "never closed" {
				t.Fatal(err)
			}
			_, err = Verify(bytes.NewReader(out.Bytes()), s)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("Verify of an unfinished archive: %v", err)
			}
		})
	}
}

func TestAddRefusesHostileNames(t *testing.T) {
	tests := []struct {
		name string
		kind error
	}{
		{"", store.ErrInvalid},
		{"/etc/passwd", store.ErrInvalid},
		{"../master.key", store.ErrInvalid},
		{"tenants/../../x", store.ErrInvalid},
		{"tenants/..", store.ErrInvalid},
		{`tenants\a.db`, store.ErrInvalid},
		{"C:/Windows/x", store.ErrInvalid},
		{"a.db:stream", store.ErrInvalid},
		{"a\x00b", store.ErrInvalid},
		{"a\nb", store.ErrInvalid},
		{"a\x1b[31mred", store.ErrInvalid},
		{"\xff\xfe", store.ErrInvalid},
		{".", store.ErrInvalid},
		{"./a", store.ErrInvalid},
		{"a//b", store.ErrInvalid},
		{"a/", store.ErrInvalid},
		{strings.Repeat("a", 1025), store.ErrInvalid},
		{ManifestName, store.ErrInvalid},
		{"dup.db", store.ErrConflict},
	}
	s := Sealing{Key: testKey(10)}
	var out bytes.Buffer
	w, err := newWriter(&out, s, nil, cheapKDF, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add("dup.db", 1, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		err := w.Add(tc.name, 1, strings.NewReader("y"))
		if !errors.Is(err, tc.kind) {
			t.Errorf("Add(%q) = %v, want %v", tc.name, err, tc.kind)
		}
	}
	// Refusals write nothing, so the archive is still good.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	man, err := Verify(bytes.NewReader(out.Bytes()), s)
	if err != nil || len(man.Entries) != 1 {
		t.Fatalf("Verify after refusals: %v, %+v", err, man)
	}
	for _, ok := range []string{"a", "tenants/0193a2b4.db", "results/000001.backup",
		"exports/café.csv", "a.b/c-d_e f"} {
		if err := SafeName(ok); err != nil {
			t.Errorf("SafeName(%q) = %v", ok, err)
		}
	}
}

// hostileHeader is a passphrase header with the given KDF parameters and a valid checksum, as
// an attacker would write it.
func hostileHeader(p kdfParams) []byte {
	h := &header{mode: modePassphrase, kdf: p, salt: make([]byte, saltLen),
		wrapped: make([]byte, wrappedLen)}
	return append(h.marshal(), make([]byte, 100)...)
}

func TestHostileKDFIsRefusedFast(t *testing.T) {
	tests := []struct {
		name string
		p    kdfParams
		msg  string
	}{
		{"4 TiB of memory", kdfParams{Time: 1, MemoryKiB: 1<<32 - 1, Threads: 1}, "memory"},
		{"just over the bound", kdfParams{Time: 1, MemoryKiB: maxKDFMemoryKiB + 1, Threads: 1},
			"memory"},
		{"4 billion passes", kdfParams{Time: 1<<32 - 1, MemoryKiB: 64, Threads: 1}, "passes"},
		{"zero passes", kdfParams{Time: 0, MemoryKiB: 64, Threads: 1}, "passes"},
		{"255 threads", kdfParams{Time: 1, MemoryKiB: 64 << 10, Threads: 255}, "threads"},
		{"zero threads", kdfParams{Time: 1, MemoryKiB: 64, Threads: 0}, "threads"},
		{"too little memory", kdfParams{Time: 1, MemoryKiB: 8, Threads: 4}, "memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Verify(bytes.NewReader(hostileHeader(tc.p)),
				Sealing{Passphrase: []byte("pw")})
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrCorrupt about %s", err, tc.msg)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("refusing took %v", d)
			}
		})
	}
}

func TestSplicedAndExtendedArchivesAreRefused(t *testing.T) {
	s := Sealing{Key: testKey(11)}
	entries := []testEntry{{"a.db", pseudoRandom(1, 1000)}}
	a, _, _ := writeArchive(t, s, nil, entries)
	b, _, _ := writeArchive(t, s, nil, entries)
	hdrLen, _, _ := plainLayout(t, a, s)
	tests := []struct {
		name    string
		archive []byte
		msg     string
	}{
		// Each archive has its own data key: a header cannot be moved onto another payload.
		{"header of a, payload of b", append(bytes.Clone(a[:hdrLen]), b[hdrLen:]...),
			"damaged before its first entry: authentication failed"},
		{"garbage after the end", append(bytes.Clone(a), 0), "after the manifest"},
		{"a second archive after the end", append(bytes.Clone(a), b...), "after the manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(tc.archive), s)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrCorrupt saying %q", err, tc.msg)
			}
		})
	}
}

func TestNotAnArchive(t *testing.T) {
	tests := []struct {
		in, msg string
	}{
		{"", "archive is empty"},
		{"PK\x03\x04 a zip file, not ours, long enough to fill a header", "not a Tenantra"},
		{"TENA", "header is truncated"},
		{"TENANTRA-ARCHIVE\n\x02\x02\x00\x00", "newer Tenantra"},
		{"TENANTRA-ARCHIVF\n\x01\x02\x00\x00", "header is damaged"},
		{"TENANTRA-ARCHIVE\n\x01\x02\xff\xff", "header is damaged"},
	}
	for _, tc := range tests {
		_, err := Verify(strings.NewReader(tc.in), Sealing{Key: testKey(1)})
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Verify(%q) = %v, want ErrCorrupt saying %q", tc.in, err, tc.msg)
		}
	}
}

func TestExtract(t *testing.T) {
	s := Sealing{Key: testKey(12)}
	entries := []testEntry{{"a.db", pseudoRandom(1, 100_000)}, {"b.db", pseudoRandom(2, 10)}}
	archive, _, _ := writeArchive(t, s, nil, entries)

	// fn may leave an entry unread: Extract still reads and checks all of it.
	var names []string
	man, err := Extract(bytes.NewReader(archive), s, func(e Entry, r io.Reader) error {
		names = append(names, e.Name)
		return nil
	})
	if err != nil || len(man.Entries) != 2 || strings.Join(names, ",") != "a.db,b.db" {
		t.Fatalf("Extract without reading: %v, %v, %v", err, man, names)
	}

	// An error of fn's own comes back wrapped, naming the entry.
	boom := errors.New("disk full")
	_, err = Extract(bytes.NewReader(archive), s, func(e Entry, r io.Reader) error {
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "a.db") {
		t.Fatalf("fn error: %v", err)
	}

	// Damage that fn runs into is reported as damage, not as fn's error.
	bad := bytes.Clone(archive)
	bad[len(bad)-30_000] ^= 0x40 // in the second DARE package, all data of a.db
	_, err = Extract(bytes.NewReader(bad), s, func(e Entry, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "entry a.db is "+
		"damaged: authentication failed") {
		t.Fatalf("damage seen by fn: %v", err)
	}
}

func TestSourceErrorIsNotCorruption(t *testing.T) {
	s := Sealing{Key: testKey(13)}
	archive, _, _ := writeArchive(t, s, nil, []testEntry{{"a", pseudoRandom(1, 300_000)}})
	r := io.MultiReader(bytes.NewReader(archive[:200_000]),
		iotest.ErrReader(errors.New("I/O error")))
	_, err := Verify(r, s)
	if err == nil || errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(),
		"I/O error") {
		t.Fatalf("err = %v, want the source's I/O error, not corruption", err)
	}
}

func TestSealingHidesSecrets(t *testing.T) {
	s := Sealing{Passphrase: []byte("hunter2"), Key: []byte("0123456789abcdef0123456789abcdef")}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "hunter2") ||
			strings.Contains(out, "0123456789") {
			t.Errorf("%s prints a secret: %s", f, out)
		}
	}
}

// craft writes an archive sealed with s whose tar stream is whatever build writes: what only a
// broken writer or a hostile holder of the key could produce.
func craft(t *testing.T, s Sealing, build func(tw *tar.Writer)) []byte {
	t.Helper()
	h, dataKey, err := newHeader(s, cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(h.marshal())
	enc, err := sio.EncryptWriter(&out, sioConfig(dataKey))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(enc)
	build(tw)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestManifestMismatchIsNamed(t *testing.T) {
	file := func(tw *tar.Writer, name string, data []byte) {
		t.Helper()
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600,
			Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	manifest := func(tw *tar.Writer, entries ...Entry) {
		t.Helper()
		b, _ := json.Marshal(Manifest{Format: FormatVersion, Entries: entries})
		file(tw, ManifestName, b)
	}
	data := []byte("tenant data")
	good := Entry{Name: "tenants/a.db", Size: int64(len(data)),
		SHA256: fmt.Sprintf("%x", sha256.Sum256(data))}
	tests := []struct {
		name  string
		build func(tw *tar.Writer)
		msg   string
	}{
		{"checksum", func(tw *tar.Writer) {
			file(tw, good.Name, data)
			bad := good
			bad.SHA256 = strings.Repeat("0", 64)
			manifest(tw, bad)
		}, "archive entry tenants/a.db: checksum does not match the manifest"},
		{"size", func(tw *tar.Writer) {
			file(tw, good.Name, data)
			bad := good
			bad.Size++
			manifest(tw, bad)
		}, "archive entry tenants/a.db: size does not match the manifest"},
		{"missing", func(tw *tar.Writer) {
			manifest(tw, good)
		}, `"tenants/a.db" listed in the manifest is missing`},
		{"extra", func(tw *tar.Writer) {
			file(tw, good.Name, data)
			manifest(tw)
		}, "archive entry tenants/a.db is not in the manifest"},
		{"no manifest", func(tw *tar.Writer) {
			file(tw, good.Name, data)
		}, "archive has no manifest"},
		{"entry after the manifest", func(tw *tar.Writer) {
			manifest(tw)
			file(tw, good.Name, data)
		}, "entry after the manifest"},
		{"duplicate", func(tw *tar.Writer) {
			file(tw, good.Name, data)
			file(tw, good.Name, data)
			manifest(tw, good)
		}, "archive entry tenants/a.db appears twice"},
		{"unsafe name", func(tw *tar.Writer) {
			file(tw, "../../etc/cron.d/x", data)
			manifest(tw)
		}, "unsafe name"},
		{"symlink", func(tw *tar.Writer) {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "link",
				Linkname: "/etc/passwd"}); err != nil {
				t.Fatal(err)
			}
			manifest(tw)
		}, "archive entry link is not a regular file"},
		{"manifest not JSON", func(tw *tar.Writer) {
			file(tw, ManifestName, []byte("{"))
		}, "manifest is not valid JSON"},
		{"newer manifest", func(tw *tar.Writer) {
			file(tw, ManifestName, []byte(`{"format": 2}`))
		}, "manifest has format 2"},
	}
	s := Sealing{Key: testKey(14)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			archive := craft(t, s, tc.build)
			m, err := Verify(bytes.NewReader(archive), s)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Fatalf("err = %v, want ErrCorrupt saying %q", err, tc.msg)
			}
			if m.Entries != nil {
				t.Errorf("manifest returned with the error")
			}
			var extracted int
			_, err = Extract(bytes.NewReader(archive), s, func(Entry, io.Reader) error {
				extracted++
				return nil
			})
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Extract: err = %v after %d entries", err, extracted)
			}
		})
	}
}
