package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
)

func (c *cli) newServeCmd() *cobra.Command {
	var printConfig bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the appliance: HTTPS console, API and admin socket",
		Long: "Run the appliance. It serves HTTPS (a certificate from a local CA by default),\n" +
			"answers /health, /ready and /metrics, and listens on <data-dir>/tenantra.sock\n" +
			"for admin commands. SIGINT or SIGTERM shut it down gracefully; a second signal\n" +
			"forces exit.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			if printConfig {
				fmt.Fprint(c.out, cfg.Redacted())
				return nil
			}
			log := c.logger(cfg, false)
			ctx, cancel := context.WithCancel(cmdContext(cmd))
			defer cancel()
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			go func() {
				select {
				case <-sigs:
				case <-ctx.Done():
					return
				}
				log.Info("signal received; shutting down (send another to force exit)")
				cancel()
				<-sigs
				fmt.Fprintln(c.errOut, "tenantra: forced exit")
				os.Exit(exitFailure)
			}()
			a, err := appliance.Open(ctx, cfg, appliance.Options{Version: version, Logger: log,
				Role: "serve", AdminPassword: c.getenv("TENA_ADMIN_PASSWORD")})
			if err != nil {
				return err
			}
			serveErr := a.Serve(ctx, c.out)
			if err := a.Close(); err != nil && serveErr == nil {
				serveErr = fmt.Errorf("close data dir: %w", err)
			}
			return serveErr
		},
	}
	f := cmd.Flags()
	f.String("listen", ":8443", "HTTPS listen address (env TENA_LISTEN)")
	f.String("http-listen", "", "HTTP address that only redirects to HTTPS and answers ACME "+
		"HTTP-01 challenges, e.g. :80 (env TENA_HTTP_LISTEN)")
	f.String("tls", "self-signed", "TLS mode: self-signed, acme or files (env TENA_TLS)")
	f.String("tls-hosts", "", "self-signed: comma-separated names and addresses for the "+
		"certificate (default localhost, 127.0.0.1, ::1 and the host name)")
	f.String("tls-min", "1.3", "minimum TLS version: 1.3 or 1.2 (env TENA_TLS_MIN)")
	f.String("domain", "", "acme: the domain to obtain a certificate for")
	f.String("acme-email", "", "acme: account email")
	f.String("acme-ca", "", "acme: directory URL (default Let's Encrypt)")
	f.String("acme-ca-root", "", "acme: PEM file of roots to trust for a private ACME server")
	f.String("tls-cert", "", "files: PEM certificate chain")
	f.String("tls-key", "", "files: PEM private key")
	f.Int("max-open-tenants", 64, "tenant databases kept open while idle")
	f.Int("scan-workers", 2, "scan jobs running at once across all tenants, 1 to 64")
	f.String("shutdown-timeout", "10s", "how long in-flight requests may take on shutdown")
	f.String("access-ttl", "15m", "lifetime of access tokens, 1m to 24h (env TENA_ACCESS_TTL)")
	f.BoolVar(&printConfig, "print-config", false, "print the merged configuration "+
		"(secrets redacted) and exit")
	return cmd
}
