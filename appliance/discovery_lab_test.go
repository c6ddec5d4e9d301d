package appliance

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/network/lab"
	"github.com/tenantra/tenantra/store"
)

// TestScanLabAgainstTruth scans the loopback lab network twice and compares with its ground
// truth: every open port found, no closed one reported open, each plain service identified
// with product and version, and no duplicate asset on the second scan.
func TestScanLabAgainstTruth(t *testing.T) {
	spec := lab.Default(12)
	spec.Base = netip.MustParseAddr("127.66.0.1")
	l, err := lab.Start(context.Background(), spec)
	if err != nil {
		t.Skipf("lab does not start here (needs root for ports below 1024 and Linux's "+
			"127/8): %v", err)
	}
	defer l.Close()
	truth := l.Truth()
	var ports []string
	for _, p := range l.Ports() {
		ports = append(ports, fmt.Sprint(p))
	}
	first, last := truth[0].Addr, truth[len(truth)-1].Addr
	req := web.ScanRequest{Targets: []string{first.String() + "-" + last.String()},
		Ports: strings.Join(ports, ",")}

	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "lab", "Lab"); err != nil {
		t.Fatal(err)
	}
	compared := 0
	for round := range 2 {
		rep, err := a.Scan(ctx, "lab", req, nil)
		if err != nil {
			t.Fatal(err)
		}
		byAddr := map[string]ScannedAssetView{}
		for _, as := range rep.Assets {
			if round == 1 && as.New {
				t.Errorf("second scan created %v again", as.Addresses)
			}
			byAddr[as.Addresses[0]] = ScannedAssetView{services: as.Services}
		}
		if len(rep.Assets) != len(truth) {
			t.Fatalf("round %d: %d assets for %d lab hosts", round, len(rep.Assets), len(truth))
		}
		for _, h := range truth {
			got := byAddr[h.Addr.String()]
			open := map[uint16]bool{}
			for _, s := range got.services {
				open[s.Port] = true
			}
			for _, p := range h.OpenPorts {
				if !open[p] {
					t.Errorf("%s (%s): open port %d not found", h.Addr, h.Kind, p)
				}
			}
			if len(open) != len(h.OpenPorts) {
				t.Errorf("%s: %d ports reported open, truth has %d", h.Addr, len(open),
					len(h.OpenPorts))
			}
			for _, s := range got.services {
				want, ok := h.Service(s.Port)
				if !ok || want.Behaviour != "" || want.Service == "" || want.Service == "https" {
					continue // hostile peers fail cleanly; HTTPS is graded by the TLS grab
				}
				compared++
				if s.Service != want.Service || s.Product != want.Product ||
					s.Version != want.Version {
					t.Errorf("%s:%d: got %s/%s/%s, truth %s/%s/%s", h.Addr, s.Port, s.Service,
						s.Product, s.Version, want.Service, want.Product, want.Version)
				}
			}
		}
	}
	if compared < 20 {
		t.Fatalf("only %d services compared with the truth over two scans", compared)
	}
	t.Logf("%d services compared with the truth", compared)
}

// ScannedAssetView keeps the part of a scanned asset the lab test compares.
type ScannedAssetView struct{ services []store.Service }

// TestScanIdentifiesServicesOnOtherPorts runs the lab with every service moved by 20000
// (SSH on 20022, HTTP on 20080): with no well-known port to go by, the scan still names the
// services that speak first (SSH, FTP, SMTP, POP3, IMAP, Telnet, MySQL) and HTTP(S).
func TestScanIdentifiesServicesOnOtherPorts(t *testing.T) {
	spec := lab.Default(10)
	spec.Base = netip.MustParseAddr("127.71.0.1")
	spec.PortOffset = 20000
	l, err := lab.Start(context.Background(), spec)
	if err != nil {
		t.Skipf("lab does not start here: %v", err)
	}
	defer l.Close()
	truth := l.Truth()
	var ports []string
	for _, p := range l.Ports() {
		ports = append(ports, fmt.Sprint(p))
	}
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	if _, err := a.CreateTenant(ctx, "offset", "Offset"); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Scan(ctx, "offset", web.ScanRequest{Targets: []string{
		truth[0].Addr.String() + "-" + truth[len(truth)-1].Addr.String()},
		Ports: strings.Join(ports, ",")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, as := range rep.Assets {
		for _, s := range as.Services {
			got[fmt.Sprintf("%s:%d", as.Addresses[0], s.Port)] = s.Service
		}
	}
	named := 0
	for _, h := range truth {
		for _, st := range h.Services {
			switch st.Service {
			case "ssh", "ftp", "smtp", "pop3", "imap", "telnet", "mysql", "http":
			default:
				continue
			}
			key := fmt.Sprintf("%s:%d", h.Addr, st.Port)
			if got[key] != st.Service {
				t.Errorf("%s (%s): identified as %q, truth %q", key, h.Kind, got[key],
					st.Service)
				continue
			}
			named++
		}
	}
	if named < 10 {
		t.Fatalf("only %d services named on moved ports", named)
	}
	t.Logf("%d services named on moved ports", named)
}
