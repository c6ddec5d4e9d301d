package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/store"
)

func mustKEK(t testing.TB, b byte) *KEK {
	t.Helper()
	k, err := NewKEK(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestWrapUnwrap(t *testing.T) {
	kek, other := mustKEK(t, 1), mustKEK(t, 2)
	dek, _ := NewKey()
	w, err := kek.Wrap(dek, "tenant/a/v1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kek.Unwrap(w, "tenant/a/v1"); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("round trip: %v", err)
	}
	flipped := bytes.Clone(w)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name    string
		kek     *KEK
		wrapped []byte
		label   string
		want    error
	}{
		{"other master key", other, w, "tenant/a/v1", store.ErrWrongKey},
		{"other tenant's label", kek, w, "tenant/b/v1", store.ErrWrongKey},
		{"other version", kek, w, "tenant/a/v2", store.ErrWrongKey},
		{"flipped bit", kek, flipped, "tenant/a/v1", store.ErrWrongKey},
		{"truncated", kek, w[:10], "tenant/a/v1", store.ErrCorrupt},
		{"empty", kek, nil, "tenant/a/v1", store.ErrCorrupt},
		{"unknown format", kek, append([]byte{9}, w[1:]...), "tenant/a/v1", store.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.kek.Unwrap(tc.wrapped, tc.label); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeysNeverPrint(t *testing.T) {
	k, _ := NewKey()
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, fmt.Sprintf("%x", []byte(k))[:8]) || !strings.Contains(s,
			"redacted") {
			t.Fatalf("key printed as %q", s)
		}
	}
}

func TestSealer(t *testing.T) {
	k1, _ := NewKey()
	k2, _ := NewKey()
	old, err := NewSealer(1, map[int]Key{1: k1})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := old.Seal([]byte("hello"), []byte("t1/a"))
	if ver, _ := SealedVersion(v1); ver != 1 {
		t.Fatalf("version header %d", ver)
	}
	rotated, _ := NewSealer(2, map[int]Key{1: k1, 2: k2})
	v2, _ := rotated.Seal([]byte("world"), []byte("t1/b"))
	if ver, _ := SealedVersion(v2); ver != 2 {
		t.Fatalf("version header %d", ver)
	}
	// Values sealed before rotation stay readable while the old version lives.
	if got, err := rotated.Open(v1, []byte("t1/a")); err != nil || string(got) != "hello" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	shredded, _ := NewSealer(2, map[int]Key{2: k2})
	tampered := bytes.Clone(v2)
	tampered[len(tampered)-3] ^= 0x40
	for _, tc := range []struct {
		name   string
		s      *Sealer
		sealed []byte
		aad    string
		want   error
	}{
		{"destroyed version", shredded, v1, "t1/a", store.ErrWrongKey},
		{"moved to another key", rotated, v2, "t1/a", store.ErrCorrupt},
		{"another tenant", rotated, v2, "t2/b", store.ErrCorrupt},
		{"tampered", rotated, tampered, "t1/b", store.ErrCorrupt},
		{"truncated", rotated, v2[:8], "t1/b", store.ErrCorrupt},
		{"not sealed", rotated, []byte("plain text value"), "t1/b", store.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.Open(tc.sealed, []byte(tc.aad)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewSealer(3, map[int]Key{1: k1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("sealer without its current key: %v", err)
	}
}

func TestLoadMaster(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if _, err := LoadMaster(MasterSource{File: path}, false); !errors.Is(err,
		store.ErrWrongKey) {
		t.Fatalf("missing file without create: %v", err)
	}
	created, err := LoadMaster(MasterSource{File: path}, true)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := LoadMaster(MasterSource{File: path}, true)
	if err != nil || again.ID() != created.ID() {
		t.Fatalf("reload gave another key: %v", err)
	}
	raw, _ := os.ReadFile(path)
	env, err := LoadMaster(MasterSource{EnvValue: string(raw), File: "/nonexistent"}, false)
	if err != nil || env.ID() != created.ID() {
		t.Fatalf("same key from the environment: %v", err)
	}
	for _, tc := range []struct{ name, env, file string }{
		{"env not base64", "not base64!!", ""},
		{"env too short", base64.StdEncoding.EncodeToString([]byte("short")), ""},
		{"env too long", base64.StdEncoding.EncodeToString(make([]byte, 64)), ""},
		{"file garbage", "", "garbage\n"},
		{"file empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "master.key")
			if tc.env == "" {
				if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadMaster(MasterSource{EnvValue: tc.env, File: p}, false)
			if err == nil || (!errors.Is(err, store.ErrInvalid) && !errors.Is(err,
				store.ErrCorrupt)) {
				t.Fatalf("got %v", err)
			}
			if tc.env != "" && strings.Contains(err.Error(), tc.env) {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
}

func TestKeyring(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring.json")
	kek := mustKEK(t, 1)
	if _, err := OpenKeyring(path, kek, false); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("missing keyring: %v", err)
	}
	kr, err := OpenKeyring(path, kek, true)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kr.Ensure("control")
	if err != nil {
		t.Fatal(err)
	}
	kr2, err := OpenKeyring(path, kek, false)
	if err != nil {
		t.Fatal(err)
	}
	if !kr2.Has("control") || kr2.Has("results") {
		t.Fatal("keyring lost or invented keys")
	}
	if b, _ := kr2.Ensure("control"); !bytes.Equal(a, b) {
		t.Fatal("the same key came back different")
	}
	if _, err := OpenKeyring(path, mustKEK(t, 2), false); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("keyring under another master key: %v", err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, a) || bytes.Contains(data, []byte(base64.StdEncoding.
		EncodeToString(a))) {
		t.Fatal("keyring holds a key in the clear")
	}
	for name, content := range map[string]string{
		"not json":      "{",
		"unknown field": `{"format":1,"kek_id":"x","keys":{},"extra":1}`,
		"wrong format":  `{"format":2,"kek_id":"x","keys":{}}`,
		"no keys":       `{"format":1,"kek_id":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "keyring.json")
			_ = os.WriteFile(p, []byte(content), 0o600)
			if _, err := OpenKeyring(p, kek, false); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzSealerOpen(f *testing.F) {
	k, _ := NewKey()
	s, _ := NewSealer(1, map[int]Key{1: k})
	good, _ := s.Seal([]byte("value"), []byte("t/k"))
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("T\x01\x00\x00\x00\x01"))
	f.Add([]byte("T\x01\xff\xff\xff\xff garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := s.Open(b, []byte("t/k"))
		if err == nil && !bytes.Equal(b, good) {
			t.Fatalf("forged value opened: %q", out)
		}
	})
}

func FuzzOpenKeyring(f *testing.F) {
	f.Add([]byte(`{"format":1,"kek_id":"x","keys":{}}`))
	f.Add([]byte(`{"format":1,"kek_id":"x","keys":{"control":{"version":1,"wrapped":"AA=="}}}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "keyring.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		kr, err := OpenKeyring(p, mustKEK(t, 1), false)
		if err != nil {
			return
		}
		// Whatever parsed must fail cleanly on unwrap, not panic.
		for name := range kr.file.Keys {
			_, _ = kr.Ensure(name)
		}
	})
}
