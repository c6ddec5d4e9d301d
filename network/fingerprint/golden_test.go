package fingerprint

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false,
	"rewrite testdata/<proto>/*.in and *.golden and the fuzz seed corpus")

// goldenNow is the clock for expiry in golden files, so they do not change with time.
var goldenNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type serviceInfo interface{ Service(port int) Service }

// parser describes one protocol for the golden and fuzz tests: its parse function, the
// port used for the Service conversion, and the fuzz target name whose corpus it seeds.
type parser struct {
	parse func([]byte) (serviceInfo, error)
	port  int
	fuzz  string
}

func wrap[T serviceInfo](f func([]byte) (T, error)) func([]byte) (serviceInfo, error) {
	return func(b []byte) (serviceInfo, error) { return f(b) }
}

func parseCertForTest(b []byte) (serviceInfo, error) {
	c, err := ParseCertificates(b)
	return TLSInfo{Versions: []string{"TLS1.2"}, Cert: c, Expired: c.Expired(goldenNow)}, err
}

var parsers = map[string]parser{
	"ssh":      {wrap(ParseSSH), 22, "FuzzParseSSH"},
	"http":     {wrap(ParseHTTP), 80, "FuzzParseHTTP"},
	"tls":      {parseCertForTest, 443, "FuzzParseCertificates"},
	"ftp":      {wrap(ParseFTP), 21, "FuzzParseFTP"},
	"smtp":     {wrap(ParseSMTP), 25, "FuzzParseSMTP"},
	"pop3":     {wrap(ParsePOP3), 110, "FuzzParsePOP3"},
	"imap":     {wrap(ParseIMAP), 143, "FuzzParseIMAP"},
	"telnet":   {wrap(ParseTelnet), 23, "FuzzParseTelnet"},
	"smb":      {wrap(ParseSMB), 445, "FuzzParseSMB"},
	"rdp":      {wrap(ParseRDP), 3389, "FuzzParseRDP"},
	"mysql":    {wrap(ParseMySQL), 3306, "FuzzParseMySQL"},
	"postgres": {wrap(ParsePostgres), 5432, "FuzzParsePostgres"},
	"redis":    {wrap(ParseRedis), 6379, "FuzzParseRedis"},
	"mongodb":  {wrap(ParseMongoDB), 27017, "FuzzParseMongoDB"},
}

type golden struct {
	Info    any      `json:"info,omitempty"`
	Service *Service `json:"service,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func render(p parser, in []byte) []byte {
	info, err := p.parse(in)
	var g golden
	if err != nil {
		g.Error = err.Error()
	} else {
		s := info.Service(p.port)
		g.Info, g.Service = info, &s
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep titles and banners readable in the diff
	enc.SetIndent("", "  ")
	_ = enc.Encode(g)
	return out.Bytes()
}

// TestGolden parses every testdata/<proto>/*.in and compares with its .golden. With
// -update it first rewrites the .in files from samples_test.go (certificates are created
// once and then kept, since key generation is random), the .golden files and the fuzz
// seed corpus, which is the same set of inputs.
func TestGolden(t *testing.T) {
	if *update {
		writeInputs(t)
	}
	for proto, p := range parsers {
		ins, _ := filepath.Glob(filepath.Join("testdata", proto, "*.in"))
		if len(ins) < 4 {
			t.Errorf("%s: only %d golden inputs; run go test -update", proto, len(ins))
		}
		for _, in := range ins {
			t.Run(proto+"/"+strings.TrimSuffix(filepath.Base(in), ".in"), func(t *testing.T) {
				data, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				got := render(p, data)
				gf := strings.TrimSuffix(in, ".in") + ".golden"
				if *update {
					if err := os.WriteFile(gf, got, 0o644); err != nil {
						t.Fatal(err)
					}
					writeSeed(t, p.fuzz, filepath.Base(in), data)
				}
				want, err := os.ReadFile(gf)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the parser's output:\n%s", gf, got)
				}
			})
		}
	}
}

// TestSamplesCommitted keeps samples_test.go and the committed .in files in step, since
// the loopback servers replay the former and the golden test reads the latter.
func TestSamplesCommitted(t *testing.T) {
	for proto, set := range samples() {
		for name, data := range set {
			got, err := os.ReadFile(filepath.Join("testdata", proto, name+".in"))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s/%s.in is missing or stale; run go test -update", proto, name)
			}
		}
	}
}

func writeInputs(t *testing.T) {
	for proto, set := range samples() {
		dir := filepath.Join("testdata", proto)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range set {
			if err := os.WriteFile(filepath.Join(dir, name+".in"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := filepath.Join("testdata", "tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, gen := range certSamples() {
		path := filepath.Join(dir, name+".in")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.WriteFile(path, gen(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeSeed(t *testing.T, target, name string, data []byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".in")), []byte(body),
		0o644); err != nil {
		t.Fatal(err)
	}
}

// certSpec describes a test certificate; issuer nil means self-signed.
type certSpec struct {
	cn        string
	dns       []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
}

func makeCert(t testing.TB, spec certSpec, key crypto.Signer, issuer *x509.Certificate,
	issuerKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(len(spec.cn)) + 4242),
		Subject:               pkix.Name{CommonName: spec.cn, Organization: []string{"Test"}},
		DNSNames:              spec.dns,
		IPAddresses:           spec.ips,
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		IsCA:                  spec.isCA,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if issuer == nil {
		issuer, issuerKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certSamples: leaf-first DER chains as a TLS Certificate message carries them: a NAS's
// expired self-signed RSA certificate, a CA-issued ECDSA leaf with its CA, an Ed25519
// self-signed one, a weak RSA-1024 printer certificate, and bytes that are no DER.
func certSamples() map[string]func(testing.TB) []byte {
	y := func(year int) time.Time { return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) }
	rsaKey := func(t testing.TB, bits int) crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return map[string]func(testing.TB) []byte{
		"rsa2048-selfsigned-expired": func(t testing.TB) []byte {
			return makeCert(t, certSpec{cn: "nas.local", dns: []string{"nas.local"},
				ips: []net.IP{net.ParseIP("192.168.1.20")}, notBefore: y(2015),
				notAfter: y(2020)}, rsaKey(t, 2048), nil, nil).Raw
		},
		"ecdsa-leaf-and-ca": func(t testing.TB) []byte {
			caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			ca := makeCert(t, certSpec{cn: "Example Issuing CA", notBefore: y(2020),
				notAfter: y(2040), isCA: true}, caKey, nil, nil)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			leaf := makeCert(t, certSpec{cn: "www.example.com",
				dns: []string{"www.example.com", "example.com"}, notBefore: y(2024),
				notAfter: y(2034)}, key, ca, caKey)
			return append(slices.Clone(leaf.Raw), ca.Raw...)
		},
		"ed25519-selfsigned": func(t testing.TB) []byte {
			_, key, _ := ed25519.GenerateKey(rand.Reader)
			return makeCert(t, certSpec{cn: "idrac-host", dns: []string{"idrac-host"},
				notBefore: y(2024), notAfter: y(2030)}, key, nil, nil).Raw
		},
		"rsa1024-weak-printer": func(t testing.TB) []byte {
			return makeCert(t, certSpec{cn: "HP LaserJet", notBefore: y(2018),
				notAfter: y(2038)}, rsaKey(t, 1024), nil, nil).Raw
		},
		"not-der": func(testing.TB) []byte { return []byte("-----BEGIN CERTIFICATE-----\n") },
	}
}
