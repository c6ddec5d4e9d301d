// Package config owns the appliance's configuration: the struct and its defaults, merging from
// flags, environment (TENA_*), a YAML file and defaults in that order of precedence, validation
// with messages that say what to change, and the redacted view `serve --print-config` prints.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Config is the appliance's whole configuration.
type Config struct {
	DataDir         string        `yaml:"data_dir"`
	MasterKeyFile   string        `yaml:"master_key_file"`
	Listen          string        `yaml:"listen"`
	HTTPListen      string        `yaml:"http_listen"`
	TLS             TLS           `yaml:"tls"`
	Log             Log           `yaml:"log"`
	MaxOpenTenants  int           `yaml:"max_open_tenants"`
	ScanWorkers     int           `yaml:"scan_workers"` // scan jobs running at once
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	AccessTTL       time.Duration `yaml:"access_ttl"`

	// MasterKey is the contents of TENA_MASTER_KEY; never read from a file or printed.
	MasterKey string `yaml:"-"`
}

// TLS selects how the console's certificate is obtained.
type TLS struct {
	Mode       string   `yaml:"mode"`        // self-signed, acme or files
	Hosts      []string `yaml:"hosts"`       // self-signed: names and addresses
	MinVersion string   `yaml:"min_version"` // 1.3 or 1.2
	Domain     string   `yaml:"domain"`      // acme
	Email      string   `yaml:"email"`       // acme
	CA         string   `yaml:"ca"`          // acme directory URL
	CARoot     string   `yaml:"ca_root"`     // acme: PEM roots trusted for the directory
	Cert       string   `yaml:"cert"`        // files
	Key        string   `yaml:"key"`         // files
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Defaults returns the configuration used when nothing else is given.
func Defaults() Config {
	return Config{
		DataDir:         "./tenantra-data",
		Listen:          ":8443",
		TLS:             TLS{Mode: "self-signed", MinVersion: "1.3"},
		Log:             Log{Level: "info", Format: "json"},
		MaxOpenTenants:  64,
		ScanWorkers:     2,
		ShutdownTimeout: 10 * time.Second,
		AccessTTL:       15 * time.Minute,
	}
}

// field ties one setting to its flag and environment variable. Every setting that can be
// given on the command line or in the environment is listed here once.
type field struct {
	flag, env string
	set       func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

var fields = []field{
	{"data-dir", "TENA_DATA_DIR", str(func(c *Config) *string { return &c.DataDir })},
	{"master-key-file", "TENA_MASTER_KEY_FILE",
		str(func(c *Config) *string { return &c.MasterKeyFile })},
	{"listen", "TENA_LISTEN", str(func(c *Config) *string { return &c.Listen })},
	{"http-listen", "TENA_HTTP_LISTEN", str(func(c *Config) *string { return &c.HTTPListen })},
	{"tls", "TENA_TLS", str(func(c *Config) *string { return &c.TLS.Mode })},
	{"tls-hosts", "TENA_TLS_HOSTS", func(c *Config, v string) error {
		c.TLS.Hosts = splitList(v)
		return nil
	}},
	{"tls-min", "TENA_TLS_MIN", str(func(c *Config) *string { return &c.TLS.MinVersion })},
	{"domain", "TENA_ACME_DOMAIN", str(func(c *Config) *string { return &c.TLS.Domain })},
	{"acme-email", "TENA_ACME_EMAIL", str(func(c *Config) *string { return &c.TLS.Email })},
	{"acme-ca", "TENA_ACME_CA", str(func(c *Config) *string { return &c.TLS.CA })},
	{"acme-ca-root", "TENA_ACME_CA_ROOT", str(func(c *Config) *string { return &c.TLS.CARoot })},
	{"tls-cert", "TENA_TLS_CERT", str(func(c *Config) *string { return &c.TLS.Cert })},
	{"tls-key", "TENA_TLS_KEY", str(func(c *Config) *string { return &c.TLS.Key })},
	{"log-level", "TENA_LOG_LEVEL", str(func(c *Config) *string { return &c.Log.Level })},
	{"log-format", "TENA_LOG_FORMAT", str(func(c *Config) *string { return &c.Log.Format })},
	{"max-open-tenants", "TENA_MAX_OPEN_TENANTS", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("must be a whole number, got %q", v)
		}
		c.MaxOpenTenants = n
		return nil
	}},
	{"scan-workers", "TENA_SCAN_WORKERS", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("must be a whole number, got %q", v)
		}
		c.ScanWorkers = n
		return nil
	}},
	{"access-ttl", "TENA_ACCESS_TTL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("must be a duration such as 15m, got %q", v)
		}
		c.AccessTTL = d
		return nil
	}},
	{"shutdown-timeout", "TENA_SHUTDOWN_TIMEOUT", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("must be a duration such as 10s, got %q", v)
		}
		c.ShutdownTimeout = d
		return nil
	}},
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Sources are where Load reads from. Flags may be nil; only flags that were set count.
type Sources struct {
	File   string // the YAML file; empty means none (TENA_CONFIG is read by the caller)
	Getenv func(string) string
	Flags  *pflag.FlagSet
}

// Load merges defaults, the file, the environment and the flags, in rising precedence, and
// validates the result.
func Load(src Sources) (Config, error) {
	c := Defaults()
	if src.Getenv == nil {
		src.Getenv = os.Getenv
	}
	if src.File != "" {
		if err := c.mergeFile(src.File); err != nil {
			return Config{}, err
		}
	}
	for _, f := range fields {
		if v := src.Getenv(f.env); v != "" {
			if err := f.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("environment %s: %w", f.env, err)
			}
		}
	}
	if src.Flags != nil {
		for _, f := range fields {
			if fl := src.Flags.Lookup(f.flag); fl != nil && fl.Changed {
				if err := f.set(&c, fl.Value.String()); err != nil {
					return Config{}, fmt.Errorf("flag --%s: %w", f.flag, err)
				}
			}
		}
	}
	c.MasterKey = src.Getenv("TENA_MASTER_KEY")
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	return c, c.Validate()
}

func (c *Config) mergeFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config file %s does not exist; fix --config or TENA_CONFIG", path)
	}
	if err != nil {
		return fmt.Errorf("read config file %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(c)
	var te *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF): // an empty file holds no settings
		return nil
	case errors.As(err, &te):
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			m = unknownKey.ReplaceAllString(m, `unknown setting "$1"`)
			msgs[i] = yamlTag.ReplaceAllString(m, "")
		}
		return fmt.Errorf("config file %s: %s", path, strings.Join(msgs, "; "))
	default:
		return fmt.Errorf("config file %s is not valid YAML: %s", path,
			strings.TrimPrefix(err.Error(), "yaml: "))
	}
}

var (
	unknownKey = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlTag    = regexp.MustCompile(`!!\w+ `)
)

// setting names a setting by its flag and environment variable, since either (or the file
// key of the same name) may have supplied the bad value.
func setting(flag string) string {
	for _, f := range fields {
		if f.flag == flag {
			return "--" + flag + " (" + f.env + ")"
		}
	}
	return "--" + flag
}

// Validate checks every setting and names the first that is wrong and how to fix it.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data dir is empty; set --data-dir or TENA_DATA_DIR")
	}
	if err := checkAddr("listen", c.Listen); err != nil {
		return err
	}
	if c.HTTPListen != "" {
		if err := checkAddr("http-listen", c.HTTPListen); err != nil {
			return err
		}
	}
	switch c.TLS.Mode {
	case "self-signed":
	case "acme":
		if c.TLS.Domain == "" || c.TLS.Email == "" {
			return errors.New("--tls acme needs --domain and --acme-email")
		}
	case "files":
		if c.TLS.Cert == "" || c.TLS.Key == "" {
			return errors.New("--tls files needs --tls-cert and --tls-key")
		}
	default:
		return fmt.Errorf("%s %q is not a TLS mode; use self-signed, acme or files",
			setting("tls"), c.TLS.Mode)
	}
	if c.TLS.MinVersion != "1.2" && c.TLS.MinVersion != "1.3" {
		return fmt.Errorf("%s %q is not allowed; use 1.3 (default) or 1.2",
			setting("tls-min"), c.TLS.MinVersion)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%s %q is unknown; use debug, info, warn or error",
			setting("log-level"), c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		return fmt.Errorf("%s %q is unknown; use json or text", setting("log-format"),
			c.Log.Format)
	}
	if c.MaxOpenTenants < 1 || c.MaxOpenTenants > 100000 {
		return fmt.Errorf("%s %d is out of range; use 1 to 100000",
			setting("max-open-tenants"), c.MaxOpenTenants)
	}
	if c.ScanWorkers < 1 || c.ScanWorkers > 64 {
		return fmt.Errorf("%s %d is out of range; use 1 to 64 (default 2)",
			setting("scan-workers"), c.ScanWorkers)
	}
	if c.AccessTTL < time.Minute || c.AccessTTL > 24*time.Hour {
		return fmt.Errorf("%s %s is out of range; use 1m to 24h (default 15m)",
			setting("access-ttl"), c.AccessTTL)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("%s must be positive, such as 10s", setting("shutdown-timeout"))
	}
	return nil
}

func checkAddr(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%s %q is not a listen address; use host:port or :port, "+
			"such as :8443", setting(name), addr)
	}
	return nil
}

// Redacted renders the configuration as YAML with secrets replaced, for --print-config.
func (c Config) Redacted() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(c)
	if c.MasterKey != "" {
		b.WriteString("# master key: from TENA_MASTER_KEY (redacted)\n")
	} else {
		b.WriteString("# master key: from master_key_file\n")
	}
	return b.String()
}
