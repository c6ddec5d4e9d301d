package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tenantra/tenantra/internal/testenv"
)

// pebble is a running Pebble ACME test CA on loopback.
type pebble struct {
	dirURL   string         // ACME directory
	rootFile string         // PEM root of Pebble's own HTTPS listener, for CARootFile
	mgmt     string         // management address (issuing roots under /roots/0)
	client   *http.Client   // trusts rootFile
	log      *logBuffer     // Pebble's output, shown when a test fails
	issuer   *x509.CertPool // Pebble's issuing root, fetched once it is up
}

func goTool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goBin, args...)
	// The module cache already holds Pebble (go.mod lists it as a tool); GOPROXY=off and a
	// local toolchain make sure building it never reaches the network.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDNS answers A queries for names under zone with 127.0.0.1 and everything else with
// NXDOMAIN, so Pebble's validation authority finds the appliance and looks up nothing else.
// Pebble's resolver speaks DNS over TCP.
func startDNS(t *testing.T, zone string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter,
		q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		for _, qq := range q.Question {
			name := strings.ToLower(qq.Name)
			if name != zone+"." && !strings.HasSuffix(name, "."+zone+".") {
				r.Rcode = dns.RcodeNameError
				continue
			}
			if qq.Qtype == dns.TypeA {
				r.Answer = append(r.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET,
						Ttl: 60},
					A: net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(r)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// startPebble builds and runs Pebble. Its validation authority really validates: HTTP-01
// against httpPort and TLS-ALPN-01 against tlsPort of 127.0.0.1, as resolved by dnsAddr.
func startPebble(t *testing.T, httpPort, tlsPort int, dnsAddr string) *pebble {
	t.Helper()
	gomod, err := goTool(t, "env", "GOMOD")
	if err != nil || gomod == "" || gomod == os.DevNull {
		testenv.MissingPeer(t, "pebble", fmt.Errorf("find the module root: %v", err))
	}
	root := filepath.Dir(gomod)
	modDir, err := goTool(t, "list", "-C", root, "-m", "-f", "{{.Dir}}",
		"github.com/letsencrypt/pebble/v2")
	if err != nil || modDir == "" {
		testenv.MissingPeer(t, "pebble", fmt.Errorf("locate the pebble module: %v", err))
	}
	bin := filepath.Join(t.TempDir(), "pebble")
	if _, err := goTool(t, "build", "-C", root, "-o", bin,
		"github.com/letsencrypt/pebble/v2/cmd/pebble"); err != nil {
		testenv.MissingPeer(t, "pebble", err)
	}

	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	mgmt := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	var conf struct {
		Pebble map[string]any `json:"pebble"`
	}
	conf.Pebble = map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    filepath.Join(modDir, "test/certs/localhost/cert.pem"),
		"privateKey":                     filepath.Join(modDir, "test/certs/localhost/key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{
			"default": map[string]any{"description": "test", "validityPeriod": 7776000},
		},
	}
	confFile := filepath.Join(t.TempDir(), "pebble.json")
	data, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, confFile, data)

	p := &pebble{
		dirURL:   "https://" + listen + "/dir",
		rootFile: filepath.Join(modDir, "test/certs/pebble.minica.pem"),
		mgmt:     mgmt,
		log:      &logBuffer{},
	}
	cmd := exec.Command(bin, "-config", confFile, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		testenv.MissingPeer(t, "pebble", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.log)
		}
	})

	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: caPool(t, p.rootFile)},
		Proxy:           nil,
	}}
	// A bounded wait for the peer to come up, not a timing assertion.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := p.client.Get(p.dirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("directory answered %s", resp.Status)
		}
		select {
		case <-exited:
			testenv.MissingPeer(t, "pebble", fmt.Errorf("exited at start: %s", p.log))
		default:
		}
		if time.Now().After(deadline) {
			testenv.MissingPeer(t, "pebble", fmt.Errorf("not answering: %w", err))
		}
		time.Sleep(50 * time.Millisecond)
	}

	resp, err := p.client.Get("https://" + mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("fetch pebble issuing root: %v", err)
	}
	defer resp.Body.Close()
	rootPEM, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p.issuer = x509.NewCertPool()
	if !p.issuer.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebble /roots/0 returned no certificate: %q", rootPEM)
	}
	return p
}

// TestACMEWithPebble is the acceptance test of acme mode: against a real ACME server the
// appliance obtains a certificate, answers the CA's challenge through its own listeners,
// serves the certificate over HTTPS and reuses it after a restart.
func TestACMEWithPebble(t *testing.T) {
	const zone = "tenantra.test"

	// The appliance's two listeners exist before Pebble so that Pebble validates against
	// them. Which Manager answers is switched per subtest.
	var cur atomic.Pointer[Manager]
	var httpChallenges, alpnChallenges atomic.Int32
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, httpsPort, _ := net.SplitHostPort(httpsLn.Addr().String())
	httpSrv := &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
				httpChallenges.Add(1)
			}
			cur.Load().HTTPHandler(httpsPort).ServeHTTP(w, r)
		})}
	go func() { _ = httpSrv.Serve(httpLn) }()
	t.Cleanup(func() { _ = httpSrv.Close() })
	// Pebble's TLS-ALPN probes hang up after the handshake; keep that out of the output.
	httpsSrv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: okHandler(),
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() {
		_ = httpsSrv.Serve(tls.NewListener(httpsLn, &tls.Config{
			GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				if slices.Contains(hello.SupportedProtos, acmeTLS1Protocol) {
					alpnChallenges.Add(1)
				}
				return cur.Load().TLSConfig(), nil
			},
		}))
	}()
	t.Cleanup(func() { _ = httpsSrv.Close() })

	p := startPebble(t, httpLn.Addr().(*net.TCPAddr).Port, httpsLn.Addr().(*net.TCPAddr).Port,
		startDNS(t, zone))

	const email = "Ops@Tenantra.test"
	newACME := func(t *testing.T, dir, domain string, disableALPN bool) *Manager {
		t.Helper()
		m, logs := newManagerLog(t, Config{
			Mode:           ModeACME,
			Dir:            dir,
			Domain:         domain,
			Email:          email,
			CA:             p.dirURL,
			CARootFile:     p.rootFile,
			HTTPAddr:       httpLn.Addr().String(),
			HTTPSAddr:      httpsLn.Addr().String(),
			DisableTLSALPN: disableALPN,
		})
		cur.Store(m)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := m.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		out := logs.String()
		if strings.Contains(strings.ToLower(out), strings.ToLower(email)) {
			t.Errorf("the account e-mail address was logged:\n%s", out)
		}
		if !strings.Contains(out, "component=tls") {
			t.Errorf("certmagic's logs did not reach the slog logger:\n%s", out)
		}
		return m
	}
	serve := func(t *testing.T, domain string) *x509.Certificate {
		t.Helper()
		st, err := dialTLS(httpsLn.Addr().String(), &tls.Config{
			RootCAs: p.issuer, ServerName: domain, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("HTTPS handshake verifying against Pebble's root: %v", err)
		}
		leaf := st.PeerCertificates[0]
		if !slices.Contains(leaf.DNSNames, domain) {
			t.Fatalf("served certificate names %v lack %s", leaf.DNSNames, domain)
		}
		if !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
			t.Fatalf("served certificate issued by %q, want Pebble", leaf.Issuer)
		}
		return leaf
	}

	dir := t.TempDir()
	var first *x509.Certificate
	t.Run("http-01 through HTTPHandler", func(t *testing.T) {
		m := newACME(t, dir, zone, true)
		if httpChallenges.Load() == 0 {
			t.Fatal("Pebble validated without fetching the challenge from HTTPHandler")
		}
		first = serve(t, zone)
		banner := strings.Join(m.Banner(), "\n")
		for _, want := range []string{zone, p.dirURL, "Pebble"} {
			if !strings.Contains(banner, want) {
				t.Errorf("banner lacks %q:\n%s", want, banner)
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, "acme")); err != nil || !fi.IsDir() {
			t.Errorf("no certmagic storage under Dir/acme: %v", err)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		client := &http.Client{Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}
		req, err := http.NewRequest(http.MethodGet, "http://"+httpLn.Addr().String()+
			"/v1/assets?page=2", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = zone + ":80"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "https://" + zone + ":" + httpsPort + "/v1/assets?page=2"
		if resp.StatusCode != http.StatusPermanentRedirect ||
			resp.Header.Get("Location") != want || len(body) != 0 {
			t.Fatalf("got %s Location %q body %q, want 308 to %s", resp.Status,
				resp.Header.Get("Location"), body, want)
		}
	})

	t.Run("restart reuses the stored certificate", func(t *testing.T) {
		if first == nil {
			t.Skip("no certificate from the first subtest")
		}
		before := httpChallenges.Load()
		newACME(t, dir, zone, true)
		if again := serve(t, zone); !again.Equal(first) {
			t.Fatal("restart obtained a new certificate instead of loading the stored one")
		}
		if httpChallenges.Load() != before {
			t.Fatal("restart solved a new challenge")
		}
	})

	t.Run("any challenge answered by the appliance", func(t *testing.T) {
		before := httpChallenges.Load() + alpnChallenges.Load()
		newACME(t, t.TempDir(), "www."+zone, false)
		if httpChallenges.Load()+alpnChallenges.Load() == before {
			t.Fatal("Pebble validated without reaching the appliance's listeners")
		}
		serve(t, "www."+zone)
	})
}
