package appliance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
)

// listen starts a listener on a loopback address; the test is skipped where 127.0.0.0/8 is
// not all loopback (only Linux routes the whole block).
func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s (the whole of 127.0.0.0/8 is loopback only on Linux): "+
			"%v", addr, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// TestScanLoopback scans three loopback hosts (an SSH server, a web server, a host with a
// closed port only) and checks the assets, their services, and that a second scan makes no
// duplicates.
func TestScanLoopback(t *testing.T) {
	ssh := listenOn(t, "127.88.0.1:22")
	go func() {
		for {
			c, err := ssh.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"))
			time.AfterFunc(2*time.Second, func() { _ = c.Close() })
		}
	}()
	webLn := listenOn(t, "127.88.0.2:80")
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Server", "nginx/1.22.1")
			_, _ = w.Write([]byte("<html><head><title>Printer</title></head></html>"))
		})}
	go func() { _ = srv.Serve(webLn) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "lab", "Lab"); err != nil {
		t.Fatal(err)
	}
	req := web.ScanRequest{Targets: []string{"127.88.0.1-3"}, Ports: "22,80,9999"}
	for round := range 2 {
		rep, err := a.Scan(ctx, "lab", req, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Every loopback address answers (a refused connection proves a host), so the third
		// address is a live host without open ports: an asset too, as on a real network.
		if rep.Hosts != 3 || len(rep.Assets) != 3 || rep.OpenPorts != 2 {
			t.Fatalf("round %d: %d hosts, %d assets, %d open ports: %+v", round, rep.Hosts,
				len(rep.Assets), rep.OpenPorts, rep)
		}
		got := map[string]string{}
		for _, as := range rep.Assets {
			if round == 1 && as.New {
				t.Errorf("round 2 created asset %v again", as.Addresses)
			}
			for _, s := range as.Services {
				got[as.Addresses[0]+"/"+s.Service] = s.Product + " " + s.Version
			}
		}
		if got["127.88.0.1/ssh"] == "" || got["127.88.0.2/http"] == "" {
			t.Fatalf("round %d: services %v", round, got)
		}
	}
	if n := countAssets(t, a, mustTenantID(t, a, "lab")); n != 3 {
		t.Fatalf("%d assets after two scans of three hosts", n)
	}
	if _, err := a.Scan(ctx, "lab", web.ScanRequest{Targets: []string{"999.1.1.1"}},
		nil); err == nil {
		t.Fatal("an invalid target was accepted")
	}
}

func mustTenantID(t *testing.T, a *Appliance, slug string) string {
	t.Helper()
	ten, err := a.GetTenant(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

// TestScanUDPServices runs a real DNS server (miekg/dns) on a loopback address's port 53:
// the scan's UDP stage records it as udp/53 dns, and a silent UDP port is not recorded.
func TestScanUDPServices(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.68.0.1:53")
	if err != nil {
		t.Skipf("cannot bind udp 127.68.0.1:53 (needs root): %v", err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(
		func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeNameError)
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	defer func() { _ = srv.Shutdown() }()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "udp", "UDP"); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Scan(ctx, "udp", web.ScanRequest{Targets: []string{"127.68.0.1"},
		Ports: "22"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Assets) != 1 {
		t.Fatalf("assets: %+v", rep.Assets)
	}
	var got []string
	for _, s := range rep.Assets[0].Services {
		got = append(got, fmt.Sprintf("%d/%s %s", s.Port, s.Protocol, s.Service))
	}
	if !slices.Equal(got, []string{"53/udp dns"}) {
		t.Fatalf("services %v, want [53/udp dns]", got)
	}
}

func TestNeighNote(t *testing.T) {
	for _, c := range []struct {
		name         string
		sweep, ports time.Duration
		limit        int
		want, not    []string // substrings; no want means no note
	}{
		{"short waits are not worth a note", 1200 * time.Millisecond,
			700 * time.Millisecond, 1024, nil, nil},
		{"a slow sweep names the table and both remedies", 8123 * time.Millisecond, 0, 1024,
			[]string{"waited 8.1s", "(1024 entries)", "about 3 s", "CAP_NET_RAW", "gc_thresh3",
				"/usr/lib/sysctl.d/60-tenantra.conf"}, nil},
		{"a slow port stage needs a larger table, not raw sockets", time.Second,
			30 * time.Second, 1024, []string{"waited 31s", "15-45 s", "gc_thresh3"},
			[]string{"CAP_NET_RAW"}},
		{"an unknown table size is left out", 3 * time.Second, 0, 0,
			[]string{"waited 3s", "neighbour table, where"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := neighNote(c.sweep, c.ports, c.limit)
			if (got == "") != (len(c.want) == 0) {
				t.Fatalf("neighNote(%v, %v, %d) = %q", c.sweep, c.ports, c.limit, got)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("note %q lacks %q", got, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(got, w) {
					t.Errorf("note %q should not mention %q", got, w)
				}
			}
		})
	}
}
