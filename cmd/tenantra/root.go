package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/config"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// cli carries what every command needs: the streams, the environment and the global flags.
type cli struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	getenv func(string) string
	json   bool
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func run(args []string, in io.Reader, out, errOut io.Writer, getenv func(string) string) int {
	c := &cli{in: in, out: out, errOut: errOut, getenv: getenv}
	root := c.newRootCmd()
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	msg := oneLine(err.Error())
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(errOut, "tenantra: %s (see '%s --help')\n", msg, cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(errOut, "tenantra: %s\n", msg)
	return exitFailure
}

var didYouMean = regexp.MustCompile(`\s*Did you mean this\?\s+(\S+)`)

// oneLine folds a message onto one line, turning cobra's suggestion into a short clause.
func oneLine(msg string) string {
	msg = didYouMean.ReplaceAllString(msg, `; did you mean "$1"?`)
	return strings.Join(strings.Fields(msg), " ")
}

// isCobraUsage recognises the usage errors cobra produces itself.
func isCobraUsage(err error) bool {
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"accepts ", "requires at least", "requires at most", "invalid argument",
		"flag needs an argument", "bad flag syntax", "required flag"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}

func (c *cli) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantra",
		Short: "Tenantra: multi-tenant IT discovery, security and compliance appliance",
		Long: "Tenantra discovers and assesses the networks of many tenants from one appliance.\n" +
			"Run `tenantra serve` to start it; the other commands administer it, through the\n" +
			"running server's admin socket or, when none runs, on the data dir directly.",
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: true,
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.String("data-dir", config.Defaults().DataDir, "data directory (env TENA_DATA_DIR)")
	pf.String("config", "", "YAML configuration file (env TENA_CONFIG)")
	pf.String("master-key-file", "", "master key file (env TENA_MASTER_KEY_FILE; "+
		"default <data-dir>/master.key; TENA_MASTER_KEY overrides it)")
	pf.String("log-level", "info", "log level: debug, info, warn, error (env TENA_LOG_LEVEL)")
	pf.String("log-format", "json", "log format: json or text (env TENA_LOG_FORMAT)")
	pf.BoolVar(&c.json, "json", false, "print machine-readable JSON")
	root.AddCommand(c.newServeCmd(), c.newVersionCmd(), c.newTenantCmd(), c.newUserCmd(),
		c.newAuditCmd(), c.newBackupCmd(), c.newRestoreCmd(), c.newExportCmd(),
		c.newKeysCmd(), c.newServiceCmd(), c.newScanCmd(), c.newLabCmd(), c.newCredCmd(),
		c.newModulesCmd(), c.newFindingsCmd(), c.newComplianceCmd())
	return root
}

// loadConfig merges flags, environment, file and defaults.
func (c *cli) loadConfig(cmd *cobra.Command) (config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		file = c.getenv("TENA_CONFIG")
	}
	fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
	fs.AddFlagSet(cmd.Flags())
	fs.AddFlagSet(cmd.InheritedFlags())
	return config.Load(config.Sources{File: file, Getenv: c.getenv, Flags: fs})
}

// logger builds the process's logger: JSON (or text) on stderr at the configured level.
// Admin commands log only warnings, so their output stays what the command prints.
func (c *cli) logger(cfg config.Config, admin bool) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	if admin {
		lvl = max(lvl, slog.LevelWarn)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "text" || admin {
		return slog.New(slog.NewTextHandler(c.errOut, opts))
	}
	return slog.New(slog.NewJSONHandler(c.errOut, opts))
}

// cmdContext is the context of an admin command: whoever can run it on the data dir (or its
// 0600 socket) owns the appliance, so it acts as the local admin, and audit entries say so.
func cmdContext(cmd *cobra.Command) context.Context {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return authz.WithPrincipal(ctx, authz.LocalAdmin())
}

func (c *cli) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			info := versionInfo()
			if c.json {
				return c.printJSON(info)
			}
			fmt.Fprintf(c.out, "tenantra %s (%s, %s)\n", info.Version, info.Go, info.Platform)
			return nil
		},
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args[0])
	}
	return nil
}

// exactArgs wants one argument, described by what (e.g. "a tenant slug or id").
func exactArgs(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		path := strings.TrimPrefix(cmd.CommandPath(), "tenantra ")
		switch {
		case len(args) == 0:
			return usagef("%s needs %s", path, what)
		case len(args) > 1:
			return usagef("%s takes exactly one argument (%s), got %d", path, what, len(args))
		}
		return nil
	}
}
