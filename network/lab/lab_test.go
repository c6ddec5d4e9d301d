package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/fingerprint"
	"github.com/tenantra/tenantra/network/lab"
	"github.com/tenantra/tenantra/network/probe"
)

// The tests bind only 127.79.0.0/16 and ports above 20000 (PortOffset), so they need no
// privileges and stay clear of the demo's default block.
const offset = 20000

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func start(t *testing.T, spec lab.Spec) *lab.Lab {
	t.Helper()
	l, err := lab.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// settle waits (bounded) for the goroutine count to fall back to want and fails with the
// stacks if it does not.
func settle(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), want,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func refused(t *testing.T, ap netip.AddrPort) {
	t.Helper()
	c, err := net.DialTimeout("tcp", ap.String(), 2*time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%v accepts; want refused", ap)
	}
}

// TestScanAndFingerprint is the acceptance: a probe scan of the lab's addresses × ports
// finds exactly the open ports of the truth, and every service is fingerprinted as the truth
// says; the hostile hosts fail cleanly; Close leaves nothing running.
func TestScanAndFingerprint(t *testing.T) {
	before := runtime.NumGoroutine()
	spec := lab.Default(12)
	spec.Base, spec.PortOffset = addr("127.79.0.1"), offset
	l, err := lab.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	truth := l.Truth()
	if len(truth) != 12 {
		t.Fatalf("%d hosts in the truth, want 12", len(truth))
	}

	// Port scan against the truth: every open port found, no closed port reported open.
	scanner, err := probe.NewScanner(probe.Config{MaxConcurrency: 64})
	if err != nil {
		t.Fatal(err)
	}
	ports := l.Ports()
	got := map[netip.AddrPort]probe.State{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = scanner.Scan(ctx, probe.Request{Targets: slices.Values(l.Addrs()),
		Total: uint64(len(truth)), Ports: ports,
		Timing: probe.Timing{Initial: 2 * time.Second, Max: 5 * time.Second}},
		func(r probe.Result) { got[r.Addr] = r.State })
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range truth {
		for _, p := range ports {
			ap := netip.AddrPortFrom(h.Addr, p)
			want := probe.StateClosed
			if slices.Contains(h.OpenPorts, p) {
				want = probe.StateOpen
			}
			if got[ap] != want {
				t.Errorf("%s %v: %v, want %v", h.Name, ap, got[ap], want)
			}
		}
	}

	// Fingerprints against the truth.
	kinds := map[lab.ServiceKind]bool{}
	for _, h := range truth {
		for _, st := range h.Services {
			kinds[st.Kind] = true
			ap := netip.AddrPortFrom(h.Addr, st.Port)
			t.Run(fmt.Sprintf("%s/%d-%s", h.Name, st.Port, st.Kind), func(t *testing.T) {
				if st.Behaviour != "" {
					hostile(t, ap, st.Behaviour)
					return
				}
				svc, err := grab(ctx, ap, st)
				if err != nil {
					t.Fatal(err)
				}
				want := fingerprint.Service{Port: int(st.Port), Protocol: "tcp",
					Name: st.Service, Product: st.Product, Version: st.Version,
					Findings: st.Findings}
				slices.Sort(svc.Findings)
				svc.Evidence = nil
				if !reflect.DeepEqual(svc, want) {
					t.Errorf("fingerprint %+v\n want %+v", svc, want)
				}
			})
		}
	}
	for _, k := range lab.Kinds() {
		if !kinds[k] {
			t.Errorf("Default(12) does not serve kind %s", k)
		}
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range truth {
		for _, p := range h.OpenPorts {
			refused(t, netip.AddrPortFrom(h.Addr, p))
		}
	}
	settle(t, before)
}

// grab runs the fingerprint grabber matching the truth's service name.
func grab(ctx context.Context, ap netip.AddrPort, st lab.ServiceTruth) (fingerprint.Service,
	error) {
	lim := fingerprint.Limits{MaxBytes: 64 << 10, Timeout: 5 * time.Second}
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ap.String())
	}
	port := int(ap.Port())
	if st.Service == "smb" {
		info, err := fingerprint.GrabSMB(ctx, dial, lim)
		return info.Service(port), err
	}
	if st.Service == "rdp" {
		info, err := fingerprint.GrabRDP(ctx, dial, lim)
		return info.Service(port), err
	}
	c, err := dial(ctx)
	if err != nil {
		return fingerprint.Service{}, err
	}
	defer c.Close()
	type servicer interface{ Service(int) fingerprint.Service }
	var info servicer
	switch st.Service {
	case "ssh":
		info, err = fingerprint.GrabSSH(ctx, c, lim)
	case "http":
		info, err = fingerprint.GrabHTTP(ctx, c, lim)
	case "https":
		h, err := fingerprint.GrabHTTP(ctx, fingerprint.TLSClient(c, ""), lim)
		if err != nil {
			return fingerprint.Service{}, err
		}
		tl, err := fingerprint.GrabTLS(ctx, dial, "", lim, time.Now())
		s := h.Service(port)
		s.Findings = append(s.Findings, tl.Service(port).Findings...)
		return s, err
	case "ftp":
		info, err = fingerprint.GrabFTP(ctx, c, lim)
	case "smtp":
		info, err = fingerprint.GrabSMTP(ctx, c, lim)
	case "pop3":
		info, err = fingerprint.GrabPOP3(ctx, c, lim)
	case "imap":
		info, err = fingerprint.GrabIMAP(ctx, c, lim)
	case "telnet":
		info, err = fingerprint.GrabTelnet(ctx, c, lim)
	case "redis":
		info, err = fingerprint.GrabRedis(ctx, c, lim)
	case "mysql":
		info, err = fingerprint.GrabMySQL(ctx, c, lim)
	case "postgresql":
		info, err = fingerprint.GrabPostgres(ctx, c, lim)
	case "mongodb":
		info, err = fingerprint.GrabMongoDB(ctx, c, lim)
	default:
		return fingerprint.Service{}, fmt.Errorf("no grabber for %q", st.Service)
	}
	if err != nil {
		return fingerprint.Service{}, err
	}
	return info.Service(port), nil
}

// countingConn counts the bytes a grabber read.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// hostile checks that SSH and HTTP grabs of a tarpit or firehose port fail with a clear
// error, within the time limit and the byte cap.
func hostile(t *testing.T, ap netip.AddrPort, behaviour string) {
	lim := fingerprint.Limits{MaxBytes: 32 << 10, Timeout: 500 * time.Millisecond}
	want := map[string][]error{
		"tarpit":   {fingerprint.ErrNoResponse, fingerprint.ErrNoResponse},
		"firehose": {fingerprint.ErrTooLarge, fingerprint.ErrMalformed},
	}[behaviour]
	grabs := []func(context.Context, net.Conn, fingerprint.Limits) error{
		func(ctx context.Context, c net.Conn, l fingerprint.Limits) error {
			_, err := fingerprint.GrabSSH(ctx, c, l)
			return err
		},
		func(ctx context.Context, c net.Conn, l fingerprint.Limits) error {
			_, err := fingerprint.GrabHTTP(ctx, c, l)
			return err
		},
	}
	for i, g := range grabs {
		c, err := net.Dial("tcp", ap.String())
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		begin := time.Now()
		err = g(context.Background(), countingConn{Conn: c, n: &n}, lim)
		took := time.Since(begin)
		c.Close()
		if !errors.Is(err, want[i]) {
			t.Errorf("grab %d: %v, want %v", i, err, want[i])
		}
		if took > 10*lim.Timeout || n.Load() > int64(lim.MaxBytes) {
			t.Errorf("grab %d took %v and read %d bytes; limits %v and %d", i, took,
				n.Load(), lim.Timeout, lim.MaxBytes)
		}
	}
}

// TestCloseEndsHeldConnections: Close ends tarpit and firehose connections that clients
// hold without reading, and stops every goroutine.
func TestCloseEndsHeldConnections(t *testing.T) {
	before := runtime.NumGoroutine()
	spec := lab.Spec{Base: addr("127.79.1.1"), PortOffset: offset, Hosts: []lab.HostSpec{
		{Name: "pit", Services: []lab.ServiceSpec{{Kind: lab.Tarpit}}},
		{Name: "hose", Services: []lab.ServiceSpec{{Kind: lab.Firehose}}},
		{Name: "srv", Services: []lab.ServiceSpec{{Kind: lab.SSH}, {Kind: lab.Telnet}}},
	}}
	l, err := lab.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for _, h := range l.Truth() {
		for _, p := range h.OpenPorts {
			for range 3 {
				c, err := net.Dial("tcp", netip.AddrPortFrom(h.Addr, p).String())
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // let the firehose fill the socket buffers
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with held connections")
	}
	for _, c := range conns {
		c.Close()
	}
	if err := l.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	settle(t, before)
}

// TestMaxConns: connections beyond Spec.MaxConns are closed at once.
func TestMaxConns(t *testing.T) {
	spec := lab.Spec{Base: addr("127.79.2.1"), PortOffset: offset, MaxConns: 2,
		Hosts: []lab.HostSpec{{Name: "pit", Services: []lab.ServiceSpec{{Kind: lab.Tarpit}}}}}
	l := start(t, spec)
	ap := netip.AddrPortFrom(l.Addrs()[0], l.Ports()[0])
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", ap.String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond) // both accepted and held
	c, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("third connection: %v, want closed by the lab", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestInvalidSpecs(t *testing.T) {
	one := []lab.HostSpec{{Name: "a", Services: []lab.ServiceSpec{{Kind: lab.SSH}}}}
	cases := []struct {
		name string
		spec lab.Spec
		want error
	}{
		{"public base", lab.Spec{Base: addr("10.0.0.1"), Hosts: one}, lab.ErrNotLoopback},
		{"ipv6 base", lab.Spec{Base: addr("::1"), Hosts: one}, lab.ErrNotLoopback},
		{"leaves 127/8", lab.Spec{Base: addr("127.255.255.250"), Hosts: lab.Default(12).Hosts},
			lab.ErrNotLoopback},
		{"no hosts", lab.Spec{}, nil},
		{"unknown kind", lab.Spec{Hosts: []lab.HostSpec{{Services: []lab.ServiceSpec{
			{Kind: "gopher"}}}}}, nil},
		{"port twice", lab.Spec{Hosts: []lab.HostSpec{{Services: []lab.ServiceSpec{
			{Kind: lab.SSH}, {Kind: lab.Tarpit}}}}}, nil},
		{"offset too big", lab.Spec{PortOffset: 40000, Hosts: []lab.HostSpec{{
			Services: []lab.ServiceSpec{{Kind: lab.MongoDB}}}}}, nil},
		{"negative offset", lab.Spec{PortOffset: -1, Hosts: one}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := lab.Start(context.Background(), tc.spec)
			if err == nil {
				l.Close()
				t.Fatal("want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestPortTaken: a foreign listener on a port that must refuse fails Start cleanly and
// leaves nothing of the lab listening.
func TestPortTaken(t *testing.T) {
	base := addr("127.79.3.1")
	spec := lab.Spec{Base: base, PortOffset: offset, Hosts: []lab.HostSpec{
		{Name: "a", Services: []lab.ServiceSpec{{Kind: lab.SSH}}},
		{Name: "b", Services: []lab.ServiceSpec{{Kind: lab.HTTP}}},
	}}
	squat, err := net.Listen("tcp4", "127.79.3.2:20022") // b must refuse SSH
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	_, err = lab.Start(context.Background(), spec)
	if !errors.Is(err, lab.ErrPortTaken) {
		t.Fatalf("got %v, want ErrPortTaken", err)
	}
	refused(t, netip.AddrPortFrom(base, 20022))
}

func TestDefaultIsDeterministic(t *testing.T) {
	if !reflect.DeepEqual(lab.Default(40), lab.Default(40)) {
		t.Error("Default(40) differs between calls")
	}
	if got := len(lab.Default(3).Hosts); got != 3 {
		t.Errorf("Default(3) has %d hosts", got)
	}
	for _, h := range lab.Default(5).Hosts {
		if h.Kind == "tarpit" || h.Kind == "firehose" {
			t.Errorf("small preset includes hostile host %s", h.Name)
		}
	}
}

func TestTruthJSON(t *testing.T) {
	spec := lab.Default(12)
	spec.Base, spec.PortOffset = addr("127.79.4.1"), offset
	l := start(t, spec)
	b, err := json.Marshal(l.Truth())
	if err != nil {
		t.Fatal(err)
	}
	var back []lab.HostTruth
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, l.Truth()) {
		t.Errorf("truth does not survive JSON:\n%s", b)
	}
	for _, key := range []string{`"address":"127.79.4.1"`, `"open_tcp_ports":[`,
		`"smbv1-enabled"]`, `"behaviour":"tarpit"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

// TestSNMPAgents starts the optional real agents next to the fake hosts and checks that
// each answers with the sysObjectID of its truth.
func TestSNMPAgents(t *testing.T) {
	spec := lab.Default(2)
	spec.Base, spec.PortOffset = addr("127.79.5.1"), offset
	spec.SNMP = &lab.SNMPSpec{Snmpd: testenv.LookPath(t, "snmpd"),
		Snmpsimd: testenv.LookPath(t, "snmpsimd"), Port: 20161}
	l := start(t, spec)
	truth := l.Truth()
	if len(truth) != 5 {
		t.Fatalf("%d hosts, want 2 + 3 agents", len(truth))
	}
	vendors := map[string]bool{}
	for _, h := range truth[2:] {
		if h.SNMP == nil || len(h.UDPPorts) != 1 || h.UDPPorts[0] != 20161 {
			t.Fatalf("agent host %+v", h)
		}
		vendors[h.SNMP.Vendor] = true
		g := &gosnmp.GoSNMP{Target: h.Addr.String(), Port: 20161, Community: h.SNMP.Community,
			Version: gosnmp.Version2c, Timeout: 2 * time.Second, Retries: 1}
		if err := g.Connect(); err != nil {
			t.Fatal(err)
		}
		pkt, err := g.Get([]string{".1.3.6.1.2.1.1.2.0"})
		g.Conn.Close()
		if err != nil || len(pkt.Variables) != 1 {
			t.Fatalf("%s: get sysObjectID: %v", h.Name, err)
		}
		if got, _ := pkt.Variables[0].Value.(string); strings.TrimPrefix(got, ".") !=
			strings.TrimPrefix(h.SNMP.SysObjectID, ".") {
			t.Errorf("%s: sysObjectID %q, truth %q", h.Name, got, h.SNMP.SysObjectID)
		}
	}
	for _, v := range []string{"Fortinet", "TP-Link", "net-snmp"} {
		if !vendors[v] {
			t.Errorf("no agent with vendor %s among %v", v, vendors)
		}
	}
}
