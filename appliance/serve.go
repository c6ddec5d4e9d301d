package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tenantra/tenantra/appliance/tlsconf"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/ui"
)

// Serve runs the HTTPS console and API, the optional HTTP redirect listener and the admin
// socket until ctx is cancelled, then shuts them down gracefully: in-flight requests finish
// within the configured timeout. It prints where it listens and the TLS banner to out.
func (a *Appliance) Serve(ctx context.Context, out io.Writer) error {
	cfg := a.cfg
	tlsMode := tlsconf.Config{
		Mode: tlsconf.Mode(cfg.TLS.Mode), Dir: filepath.Join(cfg.DataDir, "certs"),
		Hosts: cfg.TLS.Hosts, MinVersion: cfg.TLS.MinVersion, Domain: cfg.TLS.Domain,
		Email: cfg.TLS.Email, CA: cfg.TLS.CA, CARootFile: cfg.TLS.CARoot,
		CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key,
		HTTPAddr: cfg.HTTPListen, HTTPSAddr: cfg.Listen,
	}
	defer a.StartKeyPolicy(ctx)() // key rotation policy and re-seal loop (keys.go)
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	go a.results.RunGC(gcCtx, 10*time.Minute, func(err error) {
		a.log.Warn("results store garbage collection", "error", err)
	})
	ln, err := listen("tcp", cfg.Listen, "--listen")
	if err != nil {
		return err
	}
	defer ln.Close()
	var httpLn net.Listener
	if cfg.HTTPListen != "" {
		if httpLn, err = listen("tcp", cfg.HTTPListen, "--http-listen"); err != nil {
			return err
		}
		defer httpLn.Close()
	}
	sockLn, err := a.listenSocket()
	if err != nil {
		return err
	}
	defer sockLn.Close()

	// The module catalog is seeded from the fixtures compiled in (idempotent; checks.go).
	seed, err := a.SeedModules(ctx)
	if err != nil {
		return err
	}
	for _, e := range seed.Errors {
		a.log.Warn("module catalog: a module was not seeded", "error", e)
	}
	a.log.Info("module catalog seeded", "created", seed.Created, "updated", seed.Updated,
		"unchanged", seed.Unchanged, "refused", len(seed.Errors))

	// The first admin is made only once the listeners are ours, so that a busy port cannot
	// swallow the one-time password.
	generated, err := a.Bootstrap(ctx, a.adminPassword)
	if err != nil {
		return err
	}
	tm, err := tlsconf.New(ctx, tlsMode, a.log)
	if err != nil {
		return err
	}
	if err := tm.Start(ctx); err != nil {
		return err
	}
	defer tm.Stop()
	a.tlsMgr.Store(tm)
	defer a.tlsMgr.Store(nil)

	api := web.New(a, web.Options{Logger: a.log, Registry: a.metrics, TLS: true,
		UI: ui.Handler()})
	errLog := slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	servers := []*http.Server{
		{Handler: api, TLSConfig: tm.TLSConfig(), ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: 2 * time.Minute, ErrorLog: errLog},
		{Handler: web.New(a, web.Options{Logger: a.log, Trusted: true}),
			ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog},
	}
	listeners := []net.Listener{ln, sockLn}
	if httpLn != nil {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		servers = append(servers, &http.Server{Handler: tm.HTTPHandler(port),
			ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog})
		listeners = append(listeners, httpLn)
	}
	if err := a.lock.setListen(ln.Addr().String()); err != nil {
		return err
	}

	defer a.StartJobs(ctx)() // scan job queue, crash recovery and schedules (jobs.go)
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			var err error
			if i == 0 {
				err = srv.ServeTLS(listeners[i], "", "")
			} else {
				err = srv.Serve(listeners[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	fmt.Fprintf(out, "Tenantra %s serving https://%s (data dir %s)\n", a.version,
		displayAddr(ln.Addr()), cfg.DataDir)
	for _, line := range tm.Banner() {
		fmt.Fprintln(out, "  "+line)
	}
	if httpLn != nil {
		fmt.Fprintf(out, "  HTTP %s redirects to HTTPS\n", httpLn.Addr())
	}
	fmt.Fprintf(out, "  admin socket %s\n", sockLn.Addr())
	if generated != "" {
		fmt.Fprintf(out, "  first platform admin: %s, password %s\n"+
			"  (shown this once; sign in and change it, or reset it with "+
			"tenantra user reset-password)\n", BootstrapEmail, generated)
	}
	a.log.Info("serving", "listen", ln.Addr().String(), "version", a.version)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			a.log.Warn("shutdown", "error", err)
		}
	}
	_ = os.Remove(filepath.Join(cfg.DataDir, SocketFile))
	return serveErr
}

func displayAddr(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func listen(network, addr, flag string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("cannot listen on %s: the address is already in use; stop the "+
			"program using it or choose another with %s", addr, flag)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("cannot listen on %s: permission denied; ports below 1024 need "+
			"CAP_NET_BIND_SERVICE, or choose another with %s", addr, flag)
	case err != nil:
		return nil, fmt.Errorf("cannot listen on %s: %w; fix %s", addr, unwrapOp(err), flag)
	}
	return ln, nil
}

func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// listenSocket opens the admin socket. The data dir lock is held, so a socket file left by a
// killed server is stale and safe to replace.
func (a *Appliance) listenSocket() (net.Listener, error) {
	path := filepath.Join(a.cfg.DataDir, SocketFile)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot open admin socket %s: %w (a path longer than about "+
			"100 bytes is too long for a socket; choose a shorter --data-dir)", path,
			unwrapOp(err))
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("secure admin socket: %w", err)
	}
	return ln, nil
}
