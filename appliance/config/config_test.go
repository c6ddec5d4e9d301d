package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/tenantra/tenantra/appliance/config"
)

// flagSet declares the flags Load reads, as the CLI does, and parses args.
func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	for _, name := range []string{"data-dir", "master-key-file", "listen", "http-listen", "tls",
		"tls-hosts", "tls-min", "domain", "acme-email", "acme-ca", "acme-ca-root", "tls-cert",
		"tls-key", "log-level", "log-format", "shutdown-timeout"} {
		fs.String(name, "flag-default-must-be-ignored", "")
	}
	fs.Int("max-open-tenants", 12345, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenantra.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// load runs Load with a file holding yaml (none when empty), the env and the flag args.
func load(t *testing.T, yaml string, env map[string]string, args ...string) (config.Config,
	error) {
	t.Helper()
	src := config.Sources{Getenv: envFunc(env), Flags: flagSet(t, args...)}
	if yaml != "" {
		src.File = writeConfig(t, yaml)
	}
	return config.Load(src)
}

func TestLoadDefaults(t *testing.T) {
	got, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Defaults()
	want.MasterKeyFile = filepath.Join(want.DataDir, "master.key")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load with nothing set:\n got %+v\nwant %+v", got, want)
	}
	if err := config.Defaults().Validate(); err != nil {
		t.Errorf("Defaults().Validate() = %v", err)
	}
}

func TestLoadNilFlagsAndGetenv(t *testing.T) {
	t.Setenv("TENA_LISTEN", ":7001")
	cfg, err := config.Load(config.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":7001" {
		t.Errorf("Listen = %q, want :7001 from the process environment", cfg.Listen)
	}
}

func TestLoadPrecedence(t *testing.T) {
	const file = "data_dir: /from/file\nlisten: \":1001\"\nmax_open_tenants: 11\n" +
		"shutdown_timeout: 11s\nlog:\n  level: warn\n  format: text\n" +
		"tls:\n  hosts: [file.example]\n"
	env := map[string]string{"TENA_DATA_DIR": "/from/env", "TENA_LISTEN": ":2002",
		"TENA_MAX_OPEN_TENANTS": "22", "TENA_SHUTDOWN_TIMEOUT": "22s", "TENA_LOG_LEVEL": "error",
		"TENA_TLS_HOSTS": "env.example, 10.0.0.2 ,"}
	flags := []string{"--data-dir", "/from/flag", "--listen", ":3003", "--max-open-tenants",
		"33", "--shutdown-timeout", "33s", "--log-level", "debug", "--tls-hosts", "flag.example"}
	type view struct {
		DataDir  string
		Listen   string
		MaxOpen  int
		Shutdown time.Duration
		Level    string
		Format   string
		Hosts    []string
	}
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  view
	}{
		{"defaults", "", nil, nil,
			view{"./tenantra-data", ":8443", 64, 10 * time.Second, "info", "json", nil}},
		{"file over defaults", file, nil, nil,
			view{"/from/file", ":1001", 11, 11 * time.Second, "warn", "text",
				[]string{"file.example"}}},
		{"env over file", file, env, nil,
			view{"/from/env", ":2002", 22, 22 * time.Second, "error", "text",
				[]string{"env.example", "10.0.0.2"}}},
		{"flags over env and file", file, env, flags,
			view{"/from/flag", ":3003", 33, 33 * time.Second, "debug", "text",
				[]string{"flag.example"}}},
		{"flags over defaults", "", nil, flags,
			view{"/from/flag", ":3003", 33, 33 * time.Second, "debug", "json",
				[]string{"flag.example"}}},
		{"empty env values do not override", file,
			map[string]string{"TENA_LISTEN": "", "TENA_LOG_LEVEL": ""}, nil,
			view{"/from/file", ":1001", 11, 11 * time.Second, "warn", "text",
				[]string{"file.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.file, tt.env, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			got := view{c.DataDir, c.Listen, c.MaxOpenTenants, c.ShutdownTimeout, c.Log.Level,
				c.Log.Format, c.TLS.Hosts}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestLoadUnsetFlagsIgnored checks that a declared flag counts only when it was given: its
// default never overrides the environment, the file or the built-in defaults.
func TestLoadUnsetFlagsIgnored(t *testing.T) {
	c, err := load(t, "listen: \":1001\"\n", map[string]string{"TENA_LOG_LEVEL": "warn"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":1001" || c.Log.Level != "warn" || c.MaxOpenTenants != 64 {
		t.Errorf("unset flags leaked: listen %q, log level %q, max open %d", c.Listen,
			c.Log.Level, c.MaxOpenTenants)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  []string // substrings of the error

		yamlTypeErr bool // the message comes from a *yaml.TypeError
	}{
		{name: "listen without port", flags: []string{"--listen", "8443"},
			want: []string{`--listen (TENA_LISTEN) "8443" is not a listen address`, "host:port"}},
		{name: "listen port out of range", flags: []string{"--listen", ":70000"},
			want: []string{`--listen (TENA_LISTEN) ":70000"`}},
		{name: "listen port not a number", env: map[string]string{"TENA_LISTEN": ":https"},
			want: []string{`--listen (TENA_LISTEN) ":https"`}},
		{name: "http-listen bad", flags: []string{"--http-listen", "localhost"},
			want: []string{`--http-listen (TENA_HTTP_LISTEN) "localhost" is not a listen address`}},
		{name: "unknown tls mode", flags: []string{"--tls", "letsencrypt"},
			want: []string{`--tls (TENA_TLS) "letsencrypt" is not a TLS mode`,
				"self-signed, acme or files"}},
		{name: "acme without domain", flags: []string{"--tls", "acme", "--acme-email", "a@b.c"},
			want: []string{"--tls acme needs --domain and --acme-email"}},
		{name: "acme without email", flags: []string{"--tls", "acme", "--domain", "x.example"},
			want: []string{"--tls acme needs --domain and --acme-email"}},
		{name: "files without key", flags: []string{"--tls", "files", "--tls-cert", "c.pem"},
			want: []string{"--tls files needs --tls-cert and --tls-key"}},
		{name: "files without cert", file: "tls:\n  mode: files\n  key: k.pem\n",
			want: []string{"--tls files needs --tls-cert and --tls-key"}},
		{name: "tls-min 1.1", flags: []string{"--tls-min", "1.1"},
			want: []string{`--tls-min (TENA_TLS_MIN) "1.1" is not allowed`,
				"1.3 (default) or 1.2"}},
		{name: "bad log level", env: map[string]string{"TENA_LOG_LEVEL": "verbose"},
			want: []string{`--log-level (TENA_LOG_LEVEL) "verbose" is unknown`}},
		{name: "bad log format", file: "log:\n  format: xml\n",
			want: []string{`--log-format (TENA_LOG_FORMAT) "xml" is unknown`, "json or text"}},
		{name: "max-open-tenants 0", flags: []string{"--max-open-tenants", "0"},
			want: []string{"--max-open-tenants (TENA_MAX_OPEN_TENANTS) 0 is out of range",
				"1 to 100000"}},
		{name: "scan-workers 0", file: "scan_workers: 0\n",
			want: []string{"--scan-workers (TENA_SCAN_WORKERS) 0 is out of range"}},
		{name: "scan-workers not a number", env: map[string]string{"TENA_SCAN_WORKERS": "x"},
			want: []string{"environment TENA_SCAN_WORKERS", `whole number, got "x"`}},
		{name: "max-open-tenants too many", file: "max_open_tenants: 100001\n",
			want: []string{"--max-open-tenants (TENA_MAX_OPEN_TENANTS) 100001 is out of range"}},
		{name: "max-open-tenants not a number",
			env:  map[string]string{"TENA_MAX_OPEN_TENANTS": "lots"},
			want: []string{"environment TENA_MAX_OPEN_TENANTS", `whole number, got "lots"`}},
		{name: "duration not a duration", flags: []string{"--shutdown-timeout", "soon"},
			want: []string{"flag --shutdown-timeout", `duration such as 10s, got "soon"`}},
		{name: "duration without unit", env: map[string]string{"TENA_SHUTDOWN_TIMEOUT": "10"},
			want: []string{"environment TENA_SHUTDOWN_TIMEOUT", `got "10"`}},
		{name: "duration zero", flags: []string{"--shutdown-timeout", "0s"},
			want: []string{"--shutdown-timeout (TENA_SHUTDOWN_TIMEOUT) must be positive"}},
		{name: "duration negative", env: map[string]string{"TENA_SHUTDOWN_TIMEOUT": "-1s"},
			want: []string{"--shutdown-timeout (TENA_SHUTDOWN_TIMEOUT) must be positive"}},
		{name: "duration bad in file", file: "shutdown_timeout: soon\n",
			want: []string{"config file", "line 1"}, yamlTypeErr: true},
		{name: "empty data dir", flags: []string{"--data-dir", ""},
			want: []string{"data dir is empty"}},
		{name: "unknown yaml key", file: "listen: \":8443\"\n\nlisten_port: 8443\n",
			want:        []string{"config file", "line 3", "listen_port"},
			yamlTypeErr: true},
		{name: "unknown nested yaml key", file: "tls:\n  mode: acme\n  emial: a@b.c\n",
			want: []string{"line 3", "emial"}, yamlTypeErr: true},
		{name: "master key in yaml is not a setting", file: "master_key: c2VjcmV0\n",
			want: []string{"line 1", "master_key"}, yamlTypeErr: true},
		{name: "invalid yaml", file: "listen: [\":8443\"\n",
			want: []string{"config file", "line 1"}},
		{name: "yaml of the wrong shape", file: "- listen\n",
			want: []string{"config file", "line 1"}, yamlTypeErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.file, tt.env, tt.flags...)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			// yaml.v3 type errors span lines (one per problem); the CLI flattens them, so
			// only the messages Load writes itself are held to one line here.
			if !tt.yamlTypeErr && strings.ContainsAny(msg, "\n\t") {
				t.Errorf("error %q is not one line", msg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(config.Sources{File: path, Getenv: envFunc(nil)})
	if err == nil || !strings.Contains(err.Error(), path+" does not exist") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestLoadFileWithoutSettings(t *testing.T) {
	for name, content := range map[string]string{
		"empty":         "",
		"comments only": "# nothing here yet\n\n",
		"document mark": "---\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, content)
			c, err := config.Load(config.Sources{File: path, Getenv: envFunc(nil)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Listen != config.Defaults().Listen {
				t.Errorf("Listen = %q, want the default", c.Listen)
			}
		})
	}
}

func TestLoadValidSettings(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
	}{
		{"acme complete", []string{"--tls", "acme", "--domain", "x.example", "--acme-email",
			"ops@x.example"}},
		{"files complete", []string{"--tls", "files", "--tls-cert", "c.pem", "--tls-key",
			"k.pem"}},
		{"tls 1.2", []string{"--tls-min", "1.2"}},
		{"listen host and port", []string{"--listen", "127.0.0.1:9443", "--http-listen", ":80"}},
		{"listen ipv6", []string{"--listen", "[::1]:8443"}},
		{"max open tenants bounds", []string{"--max-open-tenants", "100000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := load(t, "", nil, tt.flags...); err != nil {
				t.Errorf("Load(%q) = %v", tt.flags, err)
			}
		})
	}
}

func TestMasterKeyFile(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  string
	}{
		{"default from default data dir", "", nil, nil,
			filepath.Join("tenantra-data", "master.key")},
		{"default from file data dir", "data_dir: /srv/t\n", nil, nil, "/srv/t/master.key"},
		{"default from env data dir", "", map[string]string{"TENA_DATA_DIR": "/env/t"}, nil,
			"/env/t/master.key"},
		{"default from flag data dir", "data_dir: /srv/t\n",
			map[string]string{"TENA_DATA_DIR": "/env/t"}, []string{"--data-dir", "/flag/t"},
			"/flag/t/master.key"},
		{"explicit in file", "data_dir: /srv/t\nmaster_key_file: /keys/m.key\n", nil, nil,
			"/keys/m.key"},
		{"explicit in env", "", map[string]string{"TENA_MASTER_KEY_FILE": "/env/m.key"}, nil,
			"/env/m.key"},
		{"explicit flag wins", "", map[string]string{"TENA_MASTER_KEY_FILE": "/env/m.key"},
			[]string{"--master-key-file", "/flag/m.key"}, "/flag/m.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.file, tt.env, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			if c.MasterKeyFile != tt.want {
				t.Errorf("MasterKeyFile = %q, want %q", c.MasterKeyFile, tt.want)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	const secret = "c2VjcmV0LW1hc3Rlci1rZXktdmFsdWUtMzItYnl0ZXM="
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"from env", map[string]string{"TENA_MASTER_KEY": secret},
			"# master key: from TENA_MASTER_KEY (redacted)"},
		{"from file", nil, "# master key: from master_key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, "", tt.env, "--data-dir", "/srv/t")
			if err != nil {
				t.Fatal(err)
			}
			if tt.env != nil && c.MasterKey != secret {
				t.Errorf("MasterKey not read from TENA_MASTER_KEY")
			}
			out := c.Redacted()
			for _, leak := range []string{secret, secret[:16], "c2VjcmV0"} {
				if strings.Contains(out, leak) {
					t.Errorf("Redacted() contains the master key (%q):\n%s", leak, out)
				}
			}
			for _, w := range []string{tt.want, "data_dir: /srv/t",
				"master_key_file: /srv/t/master.key", "listen: :8443"} {
				if !strings.Contains(out, w) {
					t.Errorf("Redacted() lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestMasterKeyNeverFromFile checks that TENA_MASTER_KEY is only ever read from the
// environment: a file cannot set it, even under its field name.
func TestMasterKeyNeverFromFile(t *testing.T) {
	if _, err := load(t, "masterkey: c2VjcmV0\n", nil); err == nil {
		t.Error("a YAML key masterkey was accepted")
	}
	if _, err := load(t, "MasterKey: c2VjcmV0\n", nil); err == nil {
		t.Error("a YAML key MasterKey was accepted")
	}
}
