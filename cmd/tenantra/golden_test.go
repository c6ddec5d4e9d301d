package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Master keys for the key tests: valid (base64 of 32 bytes), too short, not base64.
const (
	otherMasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	shortMasterKey = "AAECAwQFBgcICQoLDA0ODw=="
	notBase64Key   = "not base64!"
)

// goldenCase is one CLI scenario: setup commands that must succeed, an optional preparation of
// the files, then the command under test, whose stdout, stderr and exit code are the golden
// file. Arguments and env values may hold the placeholders <DATA_DIR> (the data dir, also
// passed as TENA_DATA_DIR), <TMP> (a second scratch dir) and <ID> (the id of the tenant the
// last setup command printed); the same placeholders replace them in the output.
type goldenCase struct {
	name     string
	setup    [][]string
	prep     func(t *testing.T, dataDir, tmpDir string)
	prepNote string // what prep does, for the reader of the golden file
	env      map[string]string
	stdin    string
	args     []string
	code     int
}

func tenant(args ...string) []string { return append([]string{"tenant"}, args...) }

func goldenCases() []goldenCase {
	acme := [][]string{tenant("create", "acme", "--name", "Acme Corp")}
	three := [][]string{
		tenant("create", "zeta-labs", "--name", "Zeta Labs"),
		tenant("create", "acme"),
		tenant("create", "mid-co", "--name", "Mid & Co, a rather long display name"),
	}
	return []goldenCase{
		// users and the audit trail
		{name: "user-create-platform-admin", setup: acme,
			args: []string{"user", "create", "--email", "Root@Example.com", "--role", "admin"}},
		{name: "user-create-tenant-stdin", setup: acme, stdin: "a long enough passphrase 9\n",
			args: []string{"user", "create", "--email", "ann@example.com", "--role", "auditor",
				"--tenant", "acme", "--password-stdin"}},
		{name: "user-create-weak-password", setup: acme, stdin: "password1234\n", code: 1,
			args: []string{"user", "create", "--email", "ann@example.com", "--role", "admin",
				"--tenant", "acme", "--password-stdin"}},
		{name: "user-create-short-password", setup: acme, stdin: "short\n", code: 1,
			args: []string{"user", "create", "--email", "ann@example.com", "--role", "admin",
				"--tenant", "acme", "--password-stdin"}},
		{name: "user-create-bad-email", setup: acme, code: 1,
			args: []string{"user", "create", "--email", "not-an-email", "--role", "admin"}},
		{name: "user-create-bad-role", setup: acme, code: 1, stdin: "a long enough passphrase 9\n",
			args: []string{"user", "create", "--email", "ann@example.com", "--role", "owner",
				"--tenant", "acme", "--password-stdin"}},
		{name: "user-create-role-without-tenant", code: 2,
			args: []string{"user", "create", "--email", "ann@example.com", "--role", "auditor"}},
		{name: "user-create-unknown-tenant", code: 1, stdin: "a long enough passphrase 9\n",
			args: []string{"user", "create", "--email", "ann@example.com", "--role", "admin",
				"--tenant", "nope", "--password-stdin"}},
		{name: "user-create-missing-flags", code: 2, args: []string{"user", "create"}},
		{name: "user-create-empty-stdin", code: 2, args: []string{"user", "create", "--email",
			"ann@example.com", "--role", "admin", "--password-stdin"}},
		{name: "user-list", setup: append(acme, []string{"user", "create", "--email",
			"ann@example.com", "--role", "standard", "--tenant", "acme"}),
			args: []string{"user", "list"}},
		{name: "user-list-empty-tenant", setup: acme,
			args: []string{"user", "list", "--tenant", "acme", "--json"}},
		{name: "user-disable-unknown", code: 1, args: []string{"user", "disable", "x@y.z"}},
		{name: "user-reset-unknown", code: 1, args: []string{"user", "reset-password", "x@y.z"}},
		{name: "user-alone", code: 2, args: []string{"user"}},
		{name: "audit-verify", setup: acme, args: []string{"audit", "verify"}},
		{name: "audit-verify-tenant-json", setup: acme,
			args: []string{"audit", "verify", "--tenant", "acme", "--json"}},
		{name: "audit-verify-unknown-tenant", code: 1,
			args: []string{"audit", "verify", "--tenant", "nope"}},

		// version
		{name: "version", args: []string{"version"}},
		{name: "version-json", args: []string{"version", "--json"}},
		{name: "version-extra-arg", args: []string{"version", "now"}, code: 2},

		// create
		{name: "create", args: tenant("create", "acme", "--name", "Acme Corp")},
		{name: "create-default-name", args: tenant("create", "acme")},
		{name: "create-json", args: tenant("create", "acme", "--name", "Acme Corp", "--json")},
		{name: "create-json-default-name", args: tenant("create", "acme", "--json")},
		{name: "create-data-dir-flag", args: tenant("create", "acme",
			"--data-dir", "<TMP>/via-flag")},
		{name: "create-duplicate-slug", setup: acme, args: tenant("create", "acme"), code: 1},
		{name: "create-slug-too-short", args: tenant("create", "ab"), code: 1},
		{name: "create-slug-uppercase", args: tenant("create", "Acme"), code: 1},
		{name: "create-slug-41-chars", args: tenant("create", strings.Repeat("a", 41)),
			code: 1},
		{name: "create-slug-40-chars", args: tenant("create", strings.Repeat("a", 40))},
		{name: "create-slug-double-hyphen", args: tenant("create", "a--b"), code: 1},
		{name: "create-slug-leading-hyphen", args: tenant("create", "--", "-abc"), code: 1},
		{name: "create-slug-leading-hyphen-no-dashdash", args: tenant("create", "-abc"),
			code: 2},
		{name: "create-slug-path-traversal", args: tenant("create", "../x"), code: 1},
		{name: "create-slug-invalid-utf8", args: tenant("create", "ac\xffme"), code: 1},
		{name: "create-slug-empty", args: tenant("create", ""), code: 1},
		{name: "create-name-empty-means-slug", args: tenant("create", "acme", "--name", "")},
		{name: "create-name-too-long", args: tenant("create", "acme", "--name",
			strings.Repeat("n", 201)), code: 1},
		{name: "create-name-control-chars",
			args: tenant("create", "acme", "--name", "Evil\nacme  active\x1b[31m"), code: 1},
		{name: "create-name-invalid-utf8", args: tenant("create", "acme", "--name", "\xff\xfe"),
			code: 1},
		{name: "create-missing-arg", args: tenant("create"), code: 2},
		{name: "create-too-many-args", args: tenant("create", "acme", "beta"), code: 2},
		{name: "create-name-needs-value", args: tenant("create", "acme", "--name"), code: 2},

		// list
		{name: "list-empty", args: tenant("list")},
		{name: "list-empty-json", args: tenant("list", "--json")},
		{name: "list-sorted", setup: three, args: tenant("list")},
		{name: "list-sorted-json", setup: three, args: tenant("list", "--json")},
		{name: "list-extra-arg", args: tenant("list", "acme"), code: 2},

		// show
		{name: "show-by-slug", setup: acme, args: tenant("show", "acme")},
		{name: "show-by-slug-json", setup: acme, args: tenant("show", "acme", "--json")},
		{name: "show-by-id", setup: acme, args: tenant("show", "<ID>")},
		{name: "show-by-id-json", setup: acme, args: tenant("show", "<ID>", "--json")},
		{name: "show-unknown", setup: acme, args: tenant("show", "nobody"), code: 1},
		{name: "show-unknown-empty-dir", args: tenant("show", "nobody"), code: 1},
		{name: "show-missing-arg", args: tenant("show"), code: 2},
		{name: "show-too-many-args", args: tenant("show", "acme", "beta"), code: 2},

		// suspend and resume
		{name: "suspend", setup: acme, args: tenant("suspend", "acme")},
		{name: "suspend-json", setup: acme, args: tenant("suspend", "acme", "--json")},
		{name: "suspend-then-show", setup: append(acme, tenant("suspend", "acme")),
			args: tenant("show", "acme")},
		{name: "suspend-then-list", setup: append(acme, tenant("suspend", "acme")),
			args: tenant("list")},
		{name: "resume", setup: append(acme, tenant("suspend", "acme")),
			args: tenant("resume", "acme")},
		{name: "resume-by-id-json", setup: append(acme, tenant("suspend", "acme")),
			args: tenant("resume", "<ID>", "--json")},
		{name: "suspend-unknown", args: tenant("suspend", "nobody"), code: 1},
		{name: "resume-missing-arg", args: tenant("resume"), code: 2},

		// delete
		{name: "delete", setup: acme, args: tenant("delete", "acme", "--yes")},
		{name: "delete-json", setup: acme, args: tenant("delete", "acme", "--yes", "--json")},
		{name: "delete-by-id", setup: acme, args: tenant("delete", "<ID>", "--yes")},
		{name: "delete-then-list", setup: append(acme, tenant("delete", "acme", "--yes")),
			args: tenant("list")},
		{name: "delete-then-recreate", setup: append(acme, tenant("delete", "acme", "--yes")),
			args: tenant("create", "acme")},
		{name: "delete-without-yes", setup: acme, args: tenant("delete", "acme"), code: 2},
		{name: "delete-unknown", args: tenant("delete", "nobody", "--yes"), code: 1},
		{name: "delete-missing-arg", args: tenant("delete", "--yes"), code: 2},

		// usage errors
		{name: "tenant-alone", args: tenant(), code: 2},
		{name: "tenant-unknown-subcommand", args: tenant("rename", "acme"), code: 2},
		{name: "unknown-command", args: []string{"tenants"}, code: 2},
		{name: "unknown-flag", args: tenant("list", "--bogus"), code: 2},
		{name: "unknown-shorthand-flag", args: tenant("list", "-x"), code: 2},

		// configuration
		{name: "config-missing-file", args: tenant("list", "--config", "<TMP>/nope.yaml"),
			code: 1},
		{name: "config-unknown-key", prep: writeFile("<TMP>/tenantra.yaml",
			"log:\n  level: info\nlisten: :8443\nlisten_port: 8443\n"),
			prepNote: "write <TMP>/tenantra.yaml with an unknown key on line 4",
			args:     tenant("list", "--config", "<TMP>/tenantra.yaml"), code: 1},
		{name: "config-invalid-yaml", prep: writeFile("<TMP>/tenantra.yaml",
			"listen: [:8443\nlog: {level: info\n"),
			prepNote: "write <TMP>/tenantra.yaml with unclosed brackets",
			env:      map[string]string{"TENA_CONFIG": "<TMP>/tenantra.yaml"},
			args:     tenant("list"), code: 1},
		{name: "config-invalid-value", prep: writeFile("<TMP>/tenantra.yaml",
			"max_open_tenants: 0\n"),
			prepNote: "write <TMP>/tenantra.yaml with max_open_tenants: 0",
			args:     tenant("list", "--config", "<TMP>/tenantra.yaml"), code: 1},
		// the credential vault: secrets come from standard input and are never printed
		{name: "cred-add-v2c", setup: acme, stdin: "golden-community-secret\n",
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "snmp-v2c", "--name",
				"core", "--community-stdin"}},
		{name: "cred-add-v3-json", setup: acme, stdin: "golden-auth-pass\ngolden-priv-pass\n",
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "snmp-v3", "--name",
				"core-v3", "--user", "monitor", "--auth-proto", "SHA-256", "--priv-proto", "AES",
				"--password-stdin", "--json"}},
		{name: "cred-add-v3-weak", setup: acme, stdin: "short\ngolden-priv-pass\n", code: 1,
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "snmp-v3", "--name",
				"weak", "--user", "monitor", "--password-stdin"}},
		{name: "cred-add-v3-one-line", setup: acme, stdin: "golden-auth-pass\n", code: 2,
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "snmp-v3", "--name",
				"half", "--user", "monitor", "--password-stdin"}},
		{name: "cred-add-unknown-kind", setup: acme, code: 1,
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "telnet", "--name", "x"}},
		{name: "cred-list-empty", setup: acme,
			args: []string{"cred", "list", "--tenant", "acme"}},
		{name: "cred-rm-missing", setup: acme, code: 1,
			args: []string{"cred", "rm", "--tenant", "acme", "nope"}},
		{name: "cred-add-ldap-no-url", setup: acme, stdin: "golden-bind-pass\n", code: 1,
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "ldap", "--name", "dc",
				"--bind-dn", "svc@corp.example", "--secret-stdin"}},
		{name: "cred-add-ldap", setup: acme, stdin: "golden-bind-pass\n",
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "ldap", "--name", "dc",
				"--url", "ldaps://127.0.0.1", "--bind-dn", "svc@corp.example",
				"--secret-stdin"}},
		{name: "cred-add-fortigate-no-secret", setup: acme, code: 2,
			args: []string{"cred", "add", "--tenant", "acme", "--kind", "fortigate", "--name",
				"fw", "--url", "https://127.0.0.1"}},
		{name: "scan-unknown-source", setup: acme, code: 1,
			args: []string{"scan", "--tenant", "acme", "--source", "ldap:nope"}},

		// the module catalog, findings and compliance
		{name: "modules-show", args: []string{"modules", "show", "telnet-exposed"}},
		{name: "modules-show-unknown", args: []string{"modules", "show", "nope"}, code: 1},
		{name: "modules-check", setup: [][]string{{"modules", "list"}},
			args: []string{"modules", "check"}},
		{name: "modules-check-unseeded", args: []string{"modules", "check"}, code: 1},
		{name: "findings-list-empty", setup: acme,
			args: []string{"findings", "list", "--tenant", "acme"}},
		{name: "findings-list-bad-status", setup: acme, code: 1,
			args: []string{"findings", "list", "--tenant", "acme", "--status", "fixed"}},
		{name: "findings-list-no-tenant", args: []string{"findings", "list"}, code: 2},
		{name: "compliance-empty", setup: acme,
			args: []string{"compliance", "--tenant", "acme"}},
		{name: "compliance-unknown-framework", setup: acme, code: 1,
			args: []string{"compliance", "--tenant", "acme", "--framework", "SOX"}},
		{name: "compliance-report-no-output", setup: acme, code: 2,
			args: []string{"compliance", "--tenant", "acme", "--report", "pdf"}},
		{name: "log-level-invalid", args: tenant("list", "--log-level", "loud"), code: 1},
		{name: "data-dir-empty", args: tenant("list", "--data-dir", ""), code: 1},

		// master key and keyring
		{name: "master-key-not-base64",
			env:  map[string]string{"TENA_MASTER_KEY": notBase64Key},
			args: tenant("list"), code: 1},
		{name: "master-key-wrong-length",
			env:  map[string]string{"TENA_MASTER_KEY": shortMasterKey},
			args: tenant("list"), code: 1},
		{name: "master-key-from-env", env: map[string]string{"TENA_MASTER_KEY": otherMasterKey},
			args: tenant("create", "acme")},
		{name: "master-key-wrong", setup: acme,
			env:  map[string]string{"TENA_MASTER_KEY": otherMasterKey},
			args: tenant("list"), code: 1},
		{name: "master-key-file-missing", setup: acme,
			prep: removeFile("<DATA_DIR>/master.key"), prepNote: "remove <DATA_DIR>/master.key",
			args: tenant("list"), code: 1},
		{name: "master-key-file-corrupt", setup: acme,
			prep:     writeFile("<DATA_DIR>/master.key", "garbage\n"),
			prepNote: "overwrite <DATA_DIR>/master.key with garbage",
			args:     tenant("list"), code: 1},
		{name: "master-key-file-flag-missing", setup: acme,
			args: tenant("list", "--master-key-file", "<TMP>/elsewhere.key"), code: 1},
		{name: "keyring-corrupt", setup: acme,
			prep:     writeFile("<DATA_DIR>/keyring.json", "{not json"),
			prepNote: "overwrite <DATA_DIR>/keyring.json with {not json",
			args:     tenant("list"), code: 1},
		{name: "keyring-missing", setup: acme,
			prep: removeFile("<DATA_DIR>/keyring.json"), prepNote: "remove <DATA_DIR>/keyring.json",
			args: tenant("list"), code: 1},

		// data dir
		{name: "data-dir-is-file", prep: writeFile("<TMP>/file", "x"),
			prepNote: "write a regular file <TMP>/file",
			args:     tenant("list", "--data-dir", "<TMP>/file"), code: 1},
		{name: "data-dir-under-file", prep: writeFile("<TMP>/file", "x"),
			prepNote: "write a regular file <TMP>/file",
			args:     tenant("create", "acme", "--data-dir", "<TMP>/file/data"), code: 1},
	}
}

func writeFile(path, content string) func(*testing.T, string, string) {
	return func(t *testing.T, dataDir, tmpDir string) {
		t.Helper()
		p := expand(path, dataDir, tmpDir, "")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func removeFile(path string) func(*testing.T, string, string) {
	return func(t *testing.T, dataDir, tmpDir string) {
		t.Helper()
		if err := os.Remove(expand(path, dataDir, tmpDir, "")); err != nil {
			t.Fatal(err)
		}
	}
}

func expand(s, dataDir, tmpDir, id string) string {
	return strings.NewReplacer("<DATA_DIR>", dataDir, "<TMP>", tmpDir, "<ID>", id).Replace(s)
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	keyIDRE = regexp.MustCompile(`\(id [0-9a-f]{12}\)`)
	pidRE   = regexp.MustCompile(`\(pid \d+`)
	// Generated passwords: 24 characters of lowercase base32.
	passwordRE = regexp.MustCompile(`(shown once\): |"password": ")[a-z2-7]{24}`)
)

// normalise replaces what changes from run to run. Every volatile value sits in the last
// column of tabwriter output or inside a sentence, so replacing it after formatting keeps the
// alignment of the other columns.
func normalise(s, dataDir, tmpDir string) string {
	s = strings.ReplaceAll(s, dataDir, "<DATA_DIR>")
	s = strings.ReplaceAll(s, tmpDir, "<TMP>")
	s = uuidRE.ReplaceAllString(s, "<ID>")
	s = timeRE.ReplaceAllString(s, "<TIME>")
	s = keyIDRE.ReplaceAllString(s, "(id <KEY_ID>)")
	s = pidRE.ReplaceAllString(s, "(pid <PID>")
	s = passwordRE.ReplaceAllString(s, "${1}<PASSWORD>")
	s = strings.ReplaceAll(s, runtime.Version(), "<GO>")
	s = strings.ReplaceAll(s, runtime.GOOS+"/"+runtime.GOARCH, "<PLATFORM>")
	s = strings.ReplaceAll(s, "tenantra "+version+" (", "tenantra <VERSION> (")
	return strings.ReplaceAll(s, `"version": "`+version+`"`, `"version": "<VERSION>"`)
}

// runCLI runs one command in-process with a hermetic environment.
func runCLI(args []string, env map[string]string, stdin string) (code int, stdout,
	stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut, func(k string) string {
		return env[k]
	})
	return code, out.String(), errOut.String()
}

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases() {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir, tmpDir := t.TempDir(), t.TempDir()
			id := ""
			baseEnv := map[string]string{"TENA_DATA_DIR": dataDir}
			for _, args := range tc.setup {
				code, out, errOut := runCLI(expandAll(args, dataDir, tmpDir, id), baseEnv, "")
				if code != 0 || errOut != "" {
					t.Fatalf("setup %q: exit %d, stderr %q", args, code, errOut)
				}
				if m := uuidRE.FindString(out); m != "" {
					id = m
				}
			}
			if tc.prep != nil {
				tc.prep(t, dataDir, tmpDir)
			}
			env := map[string]string{"TENA_DATA_DIR": dataDir}
			for k, v := range tc.env {
				env[k] = expand(v, dataDir, tmpDir, id)
			}
			code, out, errOut := runCLI(expandAll(tc.args, dataDir, tmpDir, id), env, tc.stdin)

			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			checkStreams(t, tc, code, out, errOut)
			got := render(tc, code, normalise(out, dataDir, tmpDir),
				normalise(errOut, dataDir, tmpDir))
			compareGolden(t, filepath.Join("testdata", "golden", tc.name+".golden"), got)
		})
	}
	t.Run("no-orphans", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if name := strings.TrimSuffix(filepath.Base(f), ".golden"); !seen[name] {
				t.Errorf("%s belongs to no case; delete it", f)
			}
		}
	})
}

// checkStreams asserts the CLI's output contract: a failure prints nothing on stdout and
// exactly one line "tenantra: ..." on stderr; a success prints nothing on stderr, and valid
// JSON when --json is given.
func checkStreams(t *testing.T, tc goldenCase, code int, out, errOut string) {
	t.Helper()
	if code != 0 {
		if out != "" {
			t.Errorf("stdout not empty on failure: %q", out)
		}
		if !strings.HasPrefix(errOut, "tenantra: ") || strings.Count(errOut, "\n") != 1 ||
			!strings.HasSuffix(errOut, "\n") {
			t.Errorf("stderr is not one line \"tenantra: ...\": %q", errOut)
		}
		return
	}
	if errOut != "" {
		t.Errorf("stderr not empty on success: %q", errOut)
	}
	if slices.Contains(tc.args, "--json") && !json.Valid([]byte(out)) {
		t.Errorf("--json output is not valid JSON: %q", out)
	}
}

func expandAll(args []string, dataDir, tmpDir, id string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, dataDir, tmpDir, id)
	}
	return out
}

// render writes a case and its result in the golden file's format.
func render(tc goldenCase, code int, stdout, stderr string) string {
	var b strings.Builder
	for _, args := range tc.setup {
		fmt.Fprintf(&b, "# setup: %s\n", cmdLine(args))
	}
	if tc.prepNote != "" {
		fmt.Fprintf(&b, "# then: %s\n", tc.prepNote)
	}
	for _, k := range slices.Sorted(maps.Keys(tc.env)) {
		fmt.Fprintf(&b, "# env: %s=%s\n", k, quoteArg(tc.env[k]))
	}
	fmt.Fprintf(&b, "$ %s\n", cmdLine(tc.args))
	fmt.Fprintf(&b, "-- exit code --\n%d\n", code)
	fmt.Fprintf(&b, "-- stdout --\n%s", stdout)
	fmt.Fprintf(&b, "-- stderr --\n%s", stderr)
	return b.String()
}

var plainArgRE = regexp.MustCompile(`^[A-Za-z0-9_./:=@<>,+-]+$`)

func cmdLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quoteArg(a)
	}
	return strings.TrimSpace("tenantra " + strings.Join(q, " "))
}

func quoteArg(a string) string {
	if plainArgRE.MatchString(a) {
		return a
	}
	return strconv.Quote(a)
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test -update to create it", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update and review the diff)\n"+
			"--- got ---\n%s--- want ---\n%s", path, got, want)
	}
}
