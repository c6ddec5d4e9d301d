package backup

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantra/tenantra/store"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus")

// The fuzz target opens every input with both of these; the committed valid seeds were
// sealed with them.
var (
	fuzzKey        = Sealing{Key: bytes.Repeat([]byte{0x5a}, 32), KeyID: "fuzz-key"}
	fuzzPassphrase = Sealing{Passphrase: []byte("fuzz passphrase")}
)

const corpusDir = "testdata/fuzz/FuzzVerify"

// fuzzSeeds builds the seed corpus: valid archives (whose names start with "valid-") and
// near-misses of each kind a reader must refuse.
func fuzzSeeds(t testing.TB) map[string][]byte {
	small := func(s Sealing, close bool) []byte {
		var out bytes.Buffer
		w, err := newWriter(&out, s, map[string]string{"kind": "fuzz"}, cheapKDF,
			time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []testEntry{{"control.db", []byte("sqlite")},
			{"tenants/a.db", nil}} {
			if err := w.Add(e.name, int64(len(e.data)), bytes.NewReader(e.data)); err != nil {
				t.Fatal(err)
			}
		}
		if close {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return out.Bytes()
	}
	valid := small(fuzzKey, true)
	return map[string][]byte{
		"valid-key":        valid,
		"valid-passphrase": small(fuzzPassphrase, true),
		"unclosed":         small(fuzzKey, false),
		"truncated-header": valid[:30],
		"trailing-byte":    append(bytes.Clone(valid), 0),
		"empty":            {},
		"huge-kdf-memory":  hostileHeader(kdfParams{Time: 1, MemoryKiB: 1<<32 - 1, Threads: 1}),
		"not-an-archive":   []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00 not a Tenantra archive"),
	}
}

// TestFuzzCorpus rewrites the committed seeds with -update, and otherwise proves that the
// committed valid seeds still verify: a format change must come with new seeds.
func TestFuzzCorpus(t *testing.T) {
	if *update {
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range fuzzSeeds(t) {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
			if err := os.WriteFile(filepath.Join(corpusDir, name), []byte(body),
				0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	valid := committedValidSeeds(t)
	if len(valid) != 2 {
		t.Fatalf("%d valid seeds in %s, want 2; run go test -run TestFuzzCorpus -update",
			len(valid), corpusDir)
	}
	for name, data := range valid {
		s := fuzzKey
		if strings.Contains(name, "passphrase") {
			s = fuzzPassphrase
		}
		if _, err := Verify(bytes.NewReader(data), s); err != nil {
			t.Errorf("committed seed %s no longer verifies (%v); run go test -run "+
				"TestFuzzCorpus -update", name, err)
		}
	}
}

// committedValidSeeds reads the valid archives of the committed corpus.
func committedValidSeeds(t testing.TB) map[string][]byte {
	files, err := filepath.Glob(filepath.Join(corpusDir, "valid-*"))
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s is not a Go fuzz corpus file", f)
		}
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1],
			"[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seeds[filepath.Base(f)] = []byte(data)
	}
	return seeds
}

// FuzzVerify feeds arbitrary bytes to Verify. It must never panic, must only ever accept an
// archive that was written by this package with the fuzz key or passphrase (that is, an
// unmodified committed valid seed: anything else would be a forgery), and must never return
// a manifest with an error. The seeds are the committed corpus only: archives made here would
// differ in every fuzz worker (random salts and keys), and a worker must know every archive
// it may be handed.
func FuzzVerify(f *testing.F) {
	accepted := map[[32]byte]bool{}
	for _, data := range committedValidSeeds(f) {
		accepted[sha256.Sum256(data)] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []Sealing{fuzzKey, fuzzPassphrase} {
			m, err := Verify(bytes.NewReader(data), s)
			if err != nil {
				if m.Entries != nil || m.Meta != nil || m.Format != 0 {
					t.Fatalf("manifest returned with error %v", err)
				}
				if !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrWrongKey) {
					t.Fatalf("error of no kind: %v", err)
				}
				continue
			}
			if !accepted[sha256.Sum256(data)] {
				t.Fatalf("accepted an archive that is not a valid seed: %+v", m)
			}
		}
	})
}
