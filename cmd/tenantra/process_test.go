package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/config"
	"github.com/tenantra/tenantra/store"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// tenantraBin builds the binary once per test run; process tests drive it as users do.
func tenantraBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tenantra-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "tenantra")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// server is a `tenantra serve` child process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	dir    string
	stderr *bytes.Buffer
	done   chan error
	client *http.Client
	token  string
}

// adminPassword is the first platform admin's password in process tests.
const adminPassword = "process-test admin passphrase 7"

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dir: dir, addr: freeAddr(t), stderr: &bytes.Buffer{},
		done: make(chan error, 1)}
	args := append([]string{"serve", "--data-dir", dir, "--listen", s.addr,
		"--tls-hosts", "127.0.0.1,localhost", "--log-level", "warn"}, extra...)
	s.cmd = exec.Command(tenantraBin(t), args...)
	s.cmd.Env = append(os.Environ(), "TENA_MASTER_KEY=", "TENA_ADMIN_PASSWORD="+adminPassword)
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving https://") {
				ready <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("serve exited early: %v\n%s", err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not come up\n%s", s.stderr)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "certs", "ca.pem"))
	if err != nil {
		t.Fatalf("local CA: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, body, err := s.do(http.MethodPost, "/v1/auth/login",
		map[string]string{"email": "admin@localhost", "password": adminPassword})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v %s", resp, err, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login answer %s: %v", body, err)
	}
	s.token = tok.AccessToken
	return s
}

func (s *server) url(path string) string { return "https://" + s.addr + path }

func (s *server) do(method, path string, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url(path), rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// stop sends SIGTERM and returns the exit error and how long the exit took.
func (s *server) stop() (time.Duration, error) {
	start := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return time.Since(start), err
	case <-time.After(20 * time.Second):
		s.t.Fatal("serve did not exit within 20 s of SIGTERM")
		return 0, nil
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func execCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(tenantraBin(t), append(args, "--data-dir", dir)...)
	cmd.Env = append(os.Environ(), "TENA_MASTER_KEY=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestServeProcess(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	resp, body, err := s.do(http.MethodGet, "/health", nil)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("/health: %v %v %s", resp, err, body)
	}
	if resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("negotiated TLS %x, want 1.3", resp.TLS.Version)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS header over HTTPS")
	}
	if resp, _, err := s.do(http.MethodGet, "/ready", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", resp, err)
	}
	// Admin commands go through the running server's socket, with the same output.
	out, errOut, code := execCLI(t, dir, "tenant", "create", "acme", "--name", "Acme Corp")
	if code != 0 || !strings.HasPrefix(out, `Created tenant acme ("Acme Corp", id `) ||
		errOut != "" {
		t.Fatalf("create through socket: %d %q %q", code, out, errOut)
	}
	_, errOut, code = execCLI(t, dir, "tenant", "create", "acme")
	if code != 1 || errOut != "tenantra: tenant slug \"acme\" is already taken; choose "+
		"another\n" {
		t.Fatalf("duplicate through socket: %d %q", code, errOut)
	}
	resp, body, _ = s.do(http.MethodGet, "/v1/tenants", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"slug":"acme"`) {
		t.Fatalf("list over HTTPS: %d %s", resp.StatusCode, body)
	}
	resp, body, _ = s.do(http.MethodGet, "/metrics", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "tenantra_open_tenant_dbs") ||
		!strings.Contains(string(body), `route="/v1/tenants"`) {
		t.Fatalf("/metrics lacks tenantra metrics:\n%.2000s", body)
	}
	// TLS 1.1 is refused.
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{MaxVersion: tls.VersionTLS11,
		InsecureSkipVerify: true}) //nolint:gosec // the handshake must fail
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}

	// A second server on the same data dir names the first one.
	second := exec.Command(tenantraBin(t), "serve", "--data-dir", dir, "--listen",
		freeAddr(t))
	second.Env = append(os.Environ(), "TENA_MASTER_KEY=")
	msg, err := second.CombinedOutput()
	want := fmt.Sprintf("(pid %d, listening on %s)", s.cmd.Process.Pid, s.addr)
	if err == nil || !strings.Contains(string(msg), want) || strings.Count(string(msg),
		"\n") != 1 {
		t.Fatalf("second serve: %v %q, want one line containing %q", err, msg, want)
	}
	// A port already in use is one clear line.
	busy := exec.Command(tenantraBin(t), "serve", "--data-dir", t.TempDir(), "--listen",
		s.addr)
	busy.Env = append(os.Environ(), "TENA_MASTER_KEY=")
	msg, err = busy.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "already in use") ||
		!strings.Contains(string(msg), "--listen") || strings.Count(string(msg), "\n") != 1 {
		t.Fatalf("port in use: %v %q", err, msg)
	}

	took, err := s.stop()
	if err != nil {
		t.Fatalf("SIGTERM: exit %v\n%s", err, s.stderr)
	}
	if took > 5*time.Second {
		t.Fatalf("SIGTERM took %s, want under 5 s", took)
	}
	if _, err := os.Stat(filepath.Join(dir, appliance.SocketFile)); !os.IsNotExist(err) {
		t.Fatalf("admin socket left behind: %v", err)
	}
	// With the server gone, the same command opens the data dir directly.
	out, _, code = execCLI(t, dir, "tenant", "show", "acme", "--json")
	if code != 0 || !strings.Contains(out, `"slug": "acme"`) {
		t.Fatalf("direct show: %d %q", code, out)
	}
}

// TestCrashSafety kills tenantra with SIGKILL while it creates and deletes tenants, restarts
// it, and checks that every tenant it reported created is intact, every one it reported
// deleted is gone, and no key or file is orphaned.
func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("kill delays from seed %d", seed)
	created := map[string]bool{} // slug → reported created and not reported deleted
	deleted := map[string]bool{}
	n := 0
	for round := range 8 {
		if round%2 == 0 {
			// The server is killed while a client creates and deletes through the API.
			s := startServer(t, dir)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					n++
					slug := fmt.Sprintf("r%d-t%03d", round, i)
					resp, body, err := s.do(http.MethodPost, "/v1/tenants",
						map[string]string{"slug": slug})
					if err != nil {
						return
					}
					if resp.StatusCode != http.StatusCreated {
						t.Logf("create %s: %d %s", slug, resp.StatusCode, body)
					}
					if resp.StatusCode == http.StatusCreated {
						created[slug] = true
					}
					if i%3 == 1 {
						// Until the answer arrives the delete may or may not happen.
						victim := fmt.Sprintf("r%d-t%03d", round, i-1)
						wasCreated := created[victim]
						delete(created, victim)
						resp, _, err := s.do(http.MethodDelete, "/v1/tenants/"+victim, nil)
						if err != nil {
							return
						}
						if resp.StatusCode == http.StatusNoContent {
							deleted[victim] = true
						} else if wasCreated {
							t.Errorf("delete %s: %d", victim, resp.StatusCode)
						}
					}
				}
			})
			time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
			s.kill()
			close(stop)
			wg.Wait()
		} else {
			// An admin command working on the data dir directly is killed mid-create.
			for i := range 6 {
				slug := fmt.Sprintf("r%d-c%d", round, i)
				cmd := exec.Command(tenantraBin(t), "tenant", "create", slug, "--data-dir", dir)
				cmd.Env = append(os.Environ(), "TENA_MASTER_KEY=")
				var out bytes.Buffer
				cmd.Stdout = &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.AfterFunc(time.Duration(rng.IntN(120))*time.Millisecond, func() {
					_ = cmd.Process.Kill()
				})
				_ = cmd.Wait()
				if strings.HasPrefix(out.String(), "Created tenant") {
					created[slug] = true
				}
			}
		}
		verifyDataDir(t, dir, created, deleted)
	}
	if len(created) == 0 || len(deleted) == 0 {
		t.Fatalf("the loop reported %d creates and %d deletes; the test exercised nothing",
			len(created), len(deleted))
	}
	t.Logf("%d create attempts, %d tenants alive, %d deleted", n, len(created), len(deleted))
}

var tenantFileRE = regexp.MustCompile(
	`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// verifyDataDir opens the data dir as a restarted appliance would (running recovery) and
// checks it against what was reported to the clients.
func verifyDataDir(t *testing.T, dir string, created, deleted map[string]bool) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(config.Sources{Getenv: func(k string) string {
		if k == "TENA_DATA_DIR" {
			return dir
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := appliance.Open(ctx, cfg, appliance.Options{Role: "test"})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer a.Close()
	if err := a.Store().Verify(ctx); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for page := 1; ; page++ {
		items, total, err := a.ListTenants(ctx, store.Page{Page: page, Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range items {
			ids[x.ID] = true
			if deleted[x.Slug] {
				t.Errorf("tenant %s was reported deleted but exists", x.Slug)
			}
		}
		if page*100 >= total {
			break
		}
	}
	for slug := range created {
		if _, err := a.GetTenant(ctx, slug); err != nil {
			t.Errorf("tenant %s was reported created but is missing: %v", slug, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "tenants"))
	for _, e := range entries {
		if id := tenantFileRE.FindString(e.Name()); id != "" && !ids[id] {
			t.Errorf("orphan tenant file %s", e.Name())
		}
	}
	for id := range ids {
		if rows, live, err := a.Store().KeyRows(ctx, id); err != nil || rows != 1 || live != 1 {
			t.Errorf("tenant %s: %d key rows, %d live (%v)", id, rows, live, err)
		}
	}
}
