package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/config"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
	"github.com/tenantra/tenantra/store/results"
	"github.com/tenantra/tenantra/store/sqlite"
)

const (
	keyTestRows    = 200 // assets per tenant
	keyTestResults = 30  // sealed results per tenant
)

func keysConfig(t *testing.T, dir, masterKey string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Sources{Getenv: func(k string) string {
		switch k {
		case "TENA_DATA_DIR":
			return dir
		case "TENA_MASTER_KEY":
			return masterKey
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// seedKeys fills a data dir through the store in-process: tenants with assets and results.
func seedKeys(t *testing.T, dir, masterKey string, slugs ...string) {
	t.Helper()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a, err := appliance.Open(ctx, keysConfig(t, dir, masterKey), appliance.Options{
		Role: "test", PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, slug := range slugs {
		ten, err := a.CreateTenant(ctx, slug, "")
		if err != nil {
			t.Fatal(err)
		}
		tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		as := make([]store.Asset, keyTestRows)
		for i := range as {
			as[i] = store.Asset{ID: fmt.Sprintf("asset-%04d", i), Name: slug + "-host",
				Address: fmt.Sprintf("10.1.%d.%d", i/200, i%200)}
		}
		err = tdb.UpsertAssets(ctx, as)
		release()
		if err != nil {
			t.Fatal(err)
		}
		kvs := make([]store.KV, keyTestResults)
		for i := range kvs {
			kvs[i] = store.KV{Key: fmt.Sprintf("result-%03d", i),
				Value: []byte(slug + fmt.Sprint(i))}
		}
		if err := a.Results().PutBatch(ctx, ten.ID, kvs); err != nil {
			t.Fatal(err)
		}
	}
}

// checkKeys opens the data dir as a restarted appliance would (recovery runs) and checks
// every tenant: it opens, every row is intact, exactly one key version is current and opens
// the file, no version is pending, results sealed before are readable, Verify passes, and no
// rotation leftovers remain. It returns each tenant's current key version.
func checkKeys(t *testing.T, dir, masterKey string, slugs ...string) map[string]int {
	t.Helper()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a, err := appliance.Open(ctx, keysConfig(t, dir, masterKey), appliance.Options{
		Role: "test", PasswordCost: 4})
	if err != nil {
		t.Fatalf("open after the kill: %v", err)
	}
	defer a.Close()
	if err := a.Store().Verify(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, slug := range slugs {
		ten, err := a.GetTenant(ctx, slug)
		if err != nil {
			t.Fatalf("tenant %s: %v", slug, err)
		}
		tdb, release, err := a.Store().TenantDB(ctx, ten.ID)
		if err != nil {
			t.Fatalf("tenant %s does not open: %v", slug, err)
		}
		if n, err := tdb.CountAssets(ctx); err != nil || n != keyTestRows {
			t.Errorf("tenant %s: %d assets (%v), want %d", slug, n, err, keyTestRows)
		}
		for i := range keyTestRows {
			as, err := tdb.Asset(ctx, fmt.Sprintf("asset-%04d", i))
			if err != nil || as.Name != slug+"-host" ||
				as.Address != fmt.Sprintf("10.1.%d.%d", i/200, i%200) {
				t.Fatalf("tenant %s asset %d: %+v %v", slug, i, as, err)
			}
		}
		release()
		vs, err := a.Store().KeyVersions(ctx, ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		current := 0
		for _, v := range vs {
			if v.State == "pending" {
				t.Errorf("tenant %s: version %d still pending", slug, v.Version)
			}
			if v.Current {
				current++
				out[slug] = v.Version
			}
		}
		if current != 1 {
			t.Errorf("tenant %s: %d current key versions: %+v", slug, current, vs)
		}
		for i := range keyTestResults {
			v, err := a.Results().Get(ctx, ten.ID, fmt.Sprintf("result-%03d", i))
			if err != nil || string(v) != slug+fmt.Sprint(i) {
				t.Fatalf("tenant %s result %d: %q %v", slug, i, v, err)
			}
		}
	}
	if _, err := a.KeyStatus(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, sqlite.TenantsDir))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".rotating") {
			t.Errorf("rotation copy %s left behind", e.Name())
		}
	}
	for _, f := range []string{"master.key.next", "master.key.new"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	return out
}

// runKeys runs the binary on the data dir with extra environment and reports whether it was
// killed by a signal, with its output.
func runKeys(t *testing.T, dir string, env []string, args ...string) (killed bool, code int,
	out string) {
	t.Helper()
	cmd := exec.Command(tenantraBin(t), append(args, "--data-dir", dir)...)
	cmd.Env = append(append(os.Environ(), "TENA_MASTER_KEY=", keys.FaultpointEnv+"="), env...)
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode() == -1, ee.ExitCode(), string(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return false, 0, string(b)
}

// TestKeyRotationCrash kills `tenantra keys rotate --tenant` at every step of the tenant key
// rotation (TENA_FAULTPOINT) and checks after each that the tenant is whole under exactly one
// key, then that a rotation on the recovered data dir succeeds.
func TestKeyRotationCrash(t *testing.T) {
	steps := append(append([]string{}, sqlite.TenantSteps...), results.StepResealBatch,
		appliance.StepResealed)
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			seedKeys(t, dir, "", "acme", "other")
			killed, code, out := runKeys(t, dir, []string{keys.FaultpointEnv + "=" + step},
				"keys", "rotate", "--tenant", "acme")
			if !killed {
				t.Fatalf("rotation was not killed at %s: exit %d\n%s", step, code, out)
			}
			want := 1
			if step == sqlite.StepTenantRenamed || step == sqlite.StepTenantCommitted ||
				step == results.StepResealBatch || step == appliance.StepResealed {
				want = 2
			}
			got := checkKeys(t, dir, "", "acme", "other")
			if got["acme"] != want || got["other"] != 1 {
				t.Fatalf("versions after a kill at %s: %v, want acme %d", step, got, want)
			}
			if _, code, out := runKeys(t, dir, nil, "keys", "rotate", "--tenant",
				"acme"); code != 0 {
				t.Fatalf("rotation after recovery: exit %d\n%s", code, out)
			}
			if got := checkKeys(t, dir, "", "acme", "other"); got["acme"] != want+1 {
				t.Fatalf("version after a second rotation: %d, want %d", got["acme"], want+1)
			}
		})
	}
}

// TestMasterRotationCrash kills `tenantra keys rotate --master` at every step, with the master
// key in a file and in TENA_MASTER_KEY.
func TestMasterRotationCrash(t *testing.T) {
	for i, step := range []string{keys.StepMasterNextWritten, keys.StepMasterKeyringWritten,
		keys.StepMasterRenamed} {
		t.Run("file/"+step, func(t *testing.T) {
			dir := t.TempDir()
			seedKeys(t, dir, "", "acme")
			before, _ := os.ReadFile(filepath.Join(dir, "master.key"))
			killed, code, out := runKeys(t, dir, []string{keys.FaultpointEnv + "=" + step},
				"keys", "rotate", "--master")
			if !killed {
				t.Fatalf("rotation was not killed at %s: exit %d\n%s", step, code, out)
			}
			checkKeys(t, dir, "", "acme")
			after, _ := os.ReadFile(filepath.Join(dir, "master.key"))
			if changed := !bytes.Equal(before, after); changed != (i > 0) {
				t.Fatalf("after a kill at %s the master key changed: %t", step, changed)
			}
			if _, code, out := runKeys(t, dir, nil, "keys", "rotate", "--master"); code != 0 {
				t.Fatalf("rotation after recovery: exit %d\n%s", code, out)
			}
			checkKeys(t, dir, "", "acme")
		})
	}
	for _, step := range []string{keys.StepMasterNewWritten, keys.StepMasterKeyringWritten} {
		t.Run("env/"+step, func(t *testing.T) {
			dir := t.TempDir()
			raw, _ := keys.NewKey()
			env := base64.StdEncoding.EncodeToString(raw)
			seedKeys(t, dir, env, "acme")
			killed, code, out := runKeys(t, dir, []string{"TENA_MASTER_KEY=" + env,
				keys.FaultpointEnv + "=" + step}, "keys", "rotate", "--master")
			if !killed {
				t.Fatalf("rotation was not killed at %s: exit %d\n%s", step, code, out)
			}
			if step == keys.StepMasterNewWritten {
				checkKeys(t, dir, env, "acme") // the stale master.key.new is removed
				return
			}
			// The keyring is under the new key: the old variable is refused with advice.
			pending := filepath.Join(dir, "master.key.new")
			_, err := appliance.Open(context.Background(), keysConfig(t, dir, env),
				appliance.Options{Role: "test"})
			if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), pending) {
				t.Fatalf("open with the old TENA_MASTER_KEY: %v", err)
			}
			newKey, err := os.ReadFile(pending)
			if err != nil {
				t.Fatal(err)
			}
			checkKeys(t, dir, strings.TrimSpace(string(newKey)), "acme")
		})
	}
}

// TestKeyRotationKillLoop kills `tenantra keys rotate --all` after random delays a few times
// and checks the data dir after each kill.
func TestKeyRotationKillLoop(t *testing.T) {
	dir := t.TempDir()
	slugs := []string{"t-one", "t-two", "t-three"}
	seedKeys(t, dir, "", slugs...)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 8))
	// An uninterrupted run sets the range of the delays, so that kills land anywhere from
	// opening the data dir to the last tenant's re-seal.
	tenantraBin(t) // built before the clock starts
	start := time.Now()
	if _, code, out := runKeys(t, dir, nil, "keys", "rotate", "--all"); code != 0 {
		t.Fatalf("rotation: exit %d\n%s", code, out)
	}
	took := time.Since(start)
	t.Logf("kill delays from seed %d, up to %s", seed, took)
	for round := range 5 {
		cmd := exec.Command(tenantraBin(t), "keys", "rotate", "--all", "--data-dir", dir)
		cmd.Env = append(os.Environ(), "TENA_MASTER_KEY=", keys.FaultpointEnv+"=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := took/5 + time.Duration(rng.Int64N(int64(took)))
		timer := time.AfterFunc(delay, func() { _ = cmd.Process.Kill() })
		err := cmd.Wait()
		timer.Stop()
		t.Logf("round %d: killed after %s: %v", round, delay, err)
		checkKeys(t, dir, "", slugs...)
	}
	if _, code, out := runKeys(t, dir, nil, "keys", "rotate", "--all"); code != 0 {
		t.Fatalf("rotation after the kills: exit %d\n%s", code, out)
	}
	checkKeys(t, dir, "", slugs...)
}

// TestKeyRotationThroughServer rotates through a running server's admin socket while a
// client keeps reading the tenant over HTTPS, and checks that every request succeeded.
func TestKeyRotationThroughServer(t *testing.T) {
	dir := t.TempDir()
	seedKeys(t, dir, "", "acme")
	s := startServer(t, dir)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	var requests, failures int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, path := range []string{"/v1/tenants/acme", "/v1/tenants/acme/audit"} {
				resp, body, err := s.do(http.MethodGet, path, nil)
				mu.Lock()
				requests++
				if err != nil || resp.StatusCode != http.StatusOK {
					failures++
					t.Errorf("GET %s during rotation: %v %v %s", path, resp, err, body)
				}
				mu.Unlock()
			}
		}
	})
	out, errOut, code := execCLI(t, dir, "keys", "rotate", "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "Rotated tenant acme: key version 1 → 2") ||
		!strings.Contains(out, "re-sealed in the background") {
		t.Fatalf("rotate through the socket: %d %q %q", code, out, errOut)
	}
	out, errOut, code = execCLI(t, dir, "keys", "rotate", "--master")
	if code != 0 || !strings.Contains(out, "Rotated the master key") {
		t.Fatalf("master rotation through the socket: %d %q %q", code, out, errOut)
	}
	time.Sleep(200 * time.Millisecond) // requests after the rotations too
	close(stop)
	wg.Wait()
	if requests < 4 || failures > 0 {
		t.Fatalf("%d requests during the rotations, %d failed", requests, failures)
	}
	out, _, code = execCLI(t, dir, "keys", "status", "--json")
	var st web.KeyStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status through the socket: %d %q", code, out)
	}
	if st.Keys[0].Version != 2 || st.Keys[len(st.Keys)-1].Tenant != "acme" ||
		st.Keys[len(st.Keys)-1].Version != 2 {
		t.Fatalf("status after rotation: %+v", st.Keys)
	}
	resp, body, err := s.do(http.MethodGet, "/v1/keys", nil)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body),
		`"kind":"tenant"`) {
		t.Fatalf("GET /v1/keys: %v %v %s", resp, err, body)
	}
	resp, body, _ = s.do(http.MethodGet, "/v1/tenants/acme/audit", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"key.rotate"`) {
		t.Fatalf("tenant audit after rotation: %d %s", resp.StatusCode, body)
	}
	resp, body, _ = s.do(http.MethodGet, "/metrics", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body),
		`tenantra_key_age_days{key="master"}`) {
		t.Fatalf("/metrics lacks the key age:\n%.3000s", body)
	}
	if _, err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.stderr)
	}
	if got := checkKeys(t, dir, "", "acme"); got["acme"] != 2 {
		t.Fatalf("acme at version %d after the server's rotation", got["acme"])
	}
}

// TestKeysCLI checks the commands' usage errors and output in-process.
func TestKeysCLI(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TENA_DATA_DIR": dir}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys"}, exitUsage, "keys needs a subcommand: status or rotate"},
		{[]string{"keys", "spin"}, exitUsage, `unknown keys subcommand "spin"`},
		{[]string{"keys", "rotate"}, exitUsage, "say which keys to rotate"},
		{[]string{"keys", "rotate", "--all", "--tenant", "x"}, exitUsage, "do not combine"},
		{[]string{"keys", "status", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"keys", "rotate", "--tenant", "nope"}, exitFailure,
			`tenant "nope" does not exist`},
	} {
		code, _, errOut := runCLI(tc.args, env, "")
		if code != tc.code || !strings.Contains(errOut, tc.want) ||
			strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code,
				tc.want)
		}
	}
	if code, _, errOut := runCLI([]string{"tenant", "create", "acme"}, env, ""); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runCLI([]string{"keys", "rotate", "--tenant", "acme", "--master"},
		env, "")
	if code != 0 || errOut != "" || !strings.Contains(out, "Rotated the master key: id ") ||
		!strings.Contains(out, "Rotated tenant acme: key version 1 → 2") {
		t.Fatalf("rotate: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI([]string{"keys", "status"}, env, "")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 8 || !strings.HasPrefix(lines[0], "KEY  ") ||
		!strings.HasPrefix(lines[1], "master (file, id ") ||
		!strings.HasPrefix(lines[6], "tenant acme ") || !strings.HasPrefix(lines[7], "Policy:") {
		t.Fatalf("status:\n%s", out)
	}
	for i, want := range []string{"2", "1", "1", "1", "2", "2"} {
		if f := strings.Fields(lines[i+1]); f[len(f)-5] != want {
			t.Errorf("status line %q: version %s, want %s", lines[i+1], f[len(f)-5], want)
		}
	}
}
