package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/store"
)

// masterFixture is a data dir with a master key (a file, or TENA_MASTER_KEY) and a keyring
// holding the appliance's keys, and the key material to compare against after a rotation.
type masterFixture struct {
	dir, ring string
	src       MasterSource
	material  map[string][]byte
}

var appKeys = []string{"control", "results", "registry", "jwt"}

func newMasterFixture(t *testing.T, env bool) *masterFixture {
	t.Helper()
	f := &masterFixture{dir: t.TempDir(), material: map[string][]byte{}}
	f.ring = filepath.Join(f.dir, "keyring.json")
	f.src = MasterSource{File: filepath.Join(f.dir, "master.key")}
	if env {
		raw, _ := NewKey()
		f.src = MasterSource{EnvValue: base64.StdEncoding.EncodeToString(raw)}
	}
	kek, err := LoadMaster(f.src, true)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenKeyring(f.ring, kek, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range appKeys {
		k, err := r.Ensure(name)
		if err != nil {
			t.Fatal(err)
		}
		f.material[name] = k
	}
	return f
}

// open does what appliance.Open does: finish an interrupted rotation, load the master key,
// open the keyring.
func (f *masterFixture) open(src MasterSource) (*Keyring, error) {
	if _, err := FinishMasterRotation(src, f.ring, f.dir); err != nil {
		return nil, err
	}
	kek, err := LoadMaster(src, false)
	if err != nil {
		return nil, err
	}
	return OpenKeyring(f.ring, kek, false)
}

// check asserts that r holds the same keys as before the rotation; jwtVersion is the JWT
// signing key's expected current version, whose predecessor must be the original key.
func (f *masterFixture) check(t *testing.T, r *Keyring, jwtVersion int) {
	t.Helper()
	for _, name := range appKeys {
		vs, err := r.Versions(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "jwt" {
			if vs[0].Version != jwtVersion {
				t.Fatalf("jwt version %d, want %d", vs[0].Version, jwtVersion)
			}
			if jwtVersion > 1 {
				if len(vs) != 2 || !bytes.Equal(vs[1].Key, f.material[name]) {
					t.Fatalf("the old JWT key is not kept for verification: %d versions", len(vs))
				}
				continue
			}
		}
		if !bytes.Equal(vs[0].Key, f.material[name]) {
			t.Fatalf("key %s changed across the master key rotation", name)
		}
	}
}

func TestRotateMaster(t *testing.T) {
	f := newMasterFixture(t, false)
	r, err := f.open(f.src)
	if err != nil {
		t.Fatal(err)
	}
	oldID := r.KEK().ID()
	res, err := r.RotateMaster(f.src, f.dir, "jwt")
	if err != nil {
		t.Fatal(err)
	}
	if res.OldID != oldID || res.NewID == oldID || res.Rotated["jwt"] != 2 ||
		res.PendingFile != "" || r.KEK().ID() != res.NewID {
		t.Fatalf("rotation %+v", res)
	}
	f.check(t, r, 2)
	if _, err := os.Stat(NextMasterFile(f.src.File)); !os.IsNotExist(err) {
		t.Fatalf(".next left behind: %v", err)
	}
	if fi, err := os.Stat(f.src.File); err != nil || runtime.GOOS != "windows" &&
		fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi.Mode(), err)
	}
	r2, err := f.open(f.src)
	if err != nil {
		t.Fatalf("reopen after rotation: %v", err)
	}
	if r2.KEK().ID() != res.NewID {
		t.Fatalf("reopened under %s, want %s", r2.KEK().ID(), res.NewID)
	}
	f.check(t, r2, 2)
	// A second rotation keeps only one retired JWT key.
	if _, err := r2.RotateMaster(f.src, f.dir, "jwt"); err != nil {
		t.Fatal(err)
	}
	if vs, _ := r2.Versions("jwt"); len(vs) != 2 || vs[0].Version != 3 {
		t.Fatalf("jwt versions after two rotations: %d", len(vs))
	}
	ents := r2.Entries()
	if len(ents) != 4 || ents[0].Name != "control" || ents[1].Name != "jwt" ||
		ents[1].Retained != 1 || r2.Created().IsZero() {
		t.Fatalf("entries %+v", ents)
	}
}

// TestRotateMasterCrash stops the rotation at each step without cleanup, as a crash would,
// and checks that the next open finishes or discards it and every key survives.
func TestRotateMasterCrash(t *testing.T) {
	for i, step := range []string{StepMasterNextWritten, StepMasterKeyringWritten,
		StepMasterRenamed} {
		t.Run(step, func(t *testing.T) {
			f := newMasterFixture(t, false)
			r, _ := f.open(f.src)
			oldID := r.KEK().ID()
			res, err := r.rotateMaster(f.src, f.dir, []string{"jwt"},
				func(at string) bool { return at == step })
			if !errors.Is(err, errCrashed) {
				t.Fatalf("did not stop at %s: %v", step, err)
			}
			r2, err := f.open(f.src)
			if err != nil {
				t.Fatalf("open after a crash at %s: %v", step, err)
			}
			want, jwt := oldID, 1
			if i > 0 {
				want, jwt = res.NewID, 2
			}
			if r2.KEK().ID() != want {
				t.Fatalf("open uses master key %s, want %s", r2.KEK().ID(), want)
			}
			f.check(t, r2, jwt)
			if _, err := os.Stat(NextMasterFile(f.src.File)); !os.IsNotExist(err) {
				t.Fatalf(".next left behind: %v", err)
			}
		})
	}
}

func TestRotateMasterFromEnv(t *testing.T) {
	f := newMasterFixture(t, true)
	r, _ := f.open(f.src)
	oldID := r.KEK().ID()
	res, err := r.RotateMaster(f.src, f.dir, "jwt")
	if err != nil {
		t.Fatal(err)
	}
	if res.PendingFile != PendingEnvKeyFile(f.dir) {
		t.Fatalf("pending file %q", res.PendingFile)
	}
	data, err := os.ReadFile(res.PendingFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(res.PendingFile); runtime.GOOS != "windows" &&
		fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v", res.PendingFile, fi.Mode())
	}
	// Still the old key in the variable: the start stops and says what to do.
	_, err = f.open(f.src)
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), res.PendingFile) ||
		!strings.Contains(err.Error(), "TENA_MASTER_KEY") {
		t.Fatalf("open with the old TENA_MASTER_KEY: %v", err)
	}
	// The operator moves the new key into the variable; the copy in the data dir goes.
	newSrc := MasterSource{EnvValue: strings.TrimSpace(string(data))}
	r2, err := f.open(newSrc)
	if err != nil || r2.KEK().ID() != res.NewID || r2.KEK().ID() == oldID {
		t.Fatalf("open with the new key: %v", err)
	}
	f.check(t, r2, 2)
	if _, err := os.Stat(res.PendingFile); !os.IsNotExist(err) {
		t.Fatalf("%s kept after the key moved into TENA_MASTER_KEY: %v", res.PendingFile, err)
	}

	// A crash before the keyring changed leaves a useless master.key.new: it is removed.
	g := newMasterFixture(t, true)
	r, _ = g.open(g.src)
	_, err = r.rotateMaster(g.src, g.dir, []string{"jwt"},
		func(at string) bool { return at == StepMasterNewWritten })
	if !errors.Is(err, errCrashed) {
		t.Fatal(err)
	}
	if r, err = g.open(g.src); err != nil {
		t.Fatalf("open after a crash at %s: %v", StepMasterNewWritten, err)
	}
	g.check(t, r, 1)
	if _, err := os.Stat(PendingEnvKeyFile(g.dir)); !os.IsNotExist(err) {
		t.Fatalf("stale master.key.new kept: %v", err)
	}
}

// TestFaultpoint runs this test binary again with TENA_FAULTPOINT set and checks that the
// child dies by SIGKILL at the named point and passes any other point.
func TestFaultpoint(t *testing.T) {
	if os.Getenv("TENA_FAULTPOINT_CHILD") == "1" {
		Faultpoint("some-other-step")
		os.Stdout.WriteString("passed other step\n")
		Faultpoint("the-step")
		os.Stdout.WriteString("survived\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultpoint$")
	cmd.Env = append(os.Environ(), "TENA_FAULTPOINT_CHILD=1", FaultpointEnv+"=the-step")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 && runtime.GOOS != "windows" {
		t.Fatalf("child: %v, want killed by a signal; output %q", err, out)
	}
	if string(out) != "passed other step\n" {
		t.Fatalf("child output %q", out)
	}
}
