package fingerprint

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// fuzzParser checks the properties every parser must keep on hostile input: no panic,
// results that convert and marshal, and evidence that is bounded and valid UTF-8. Seeds come
// from testdata/fuzz/<target>/ (written with -update from the golden inputs).
func fuzzParser(f *testing.F, proto string) {
	p := parsers[proto]
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := p.parse(data)
		if err != nil {
			return
		}
		s := info.Service(p.port)
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("marshal: %v", err)
		}
		for k, v := range s.Evidence {
			if !utf8.ValidString(v) || len(v) > 4*maxEvidence+64*maxTelnetOptions {
				t.Fatalf("evidence %s not bounded UTF-8: %q", k, v)
			}
		}
	})
}

func FuzzParseSSH(f *testing.F)          { fuzzParser(f, "ssh") }
func FuzzParseHTTP(f *testing.F)         { fuzzParser(f, "http") }
func FuzzParseCertificates(f *testing.F) { fuzzParser(f, "tls") }
func FuzzParseFTP(f *testing.F)          { fuzzParser(f, "ftp") }
func FuzzParseSMTP(f *testing.F)         { fuzzParser(f, "smtp") }
func FuzzParsePOP3(f *testing.F)         { fuzzParser(f, "pop3") }
func FuzzParseIMAP(f *testing.F)         { fuzzParser(f, "imap") }
func FuzzParseTelnet(f *testing.F)       { fuzzParser(f, "telnet") }
func FuzzParseSMB(f *testing.F)          { fuzzParser(f, "smb") }
func FuzzParseRDP(f *testing.F)          { fuzzParser(f, "rdp") }
func FuzzParseMySQL(f *testing.F)        { fuzzParser(f, "mysql") }
func FuzzParsePostgres(f *testing.F)     { fuzzParser(f, "postgres") }
func FuzzParseRedis(f *testing.F)        { fuzzParser(f, "redis") }
func FuzzParseMongoDB(f *testing.F)      { fuzzParser(f, "mongodb") }
