//go:build windows

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
)

// serviceName is the service and event source the MSI registers
// (packaging/windows/tenantra.wxs); the two must agree.
const serviceName = "Tenantra"

// serviceLogFile, in the data dir, receives what serve prints: its banner, the first admin's
// generated password and the JSON logs. It is set aside once it grows past serviceLogMax.
const (
	serviceLogFile = "tenantra.log"
	serviceLogMax  = 64 << 20
)

// dataDirSDDL lets only SYSTEM and Administrators into the data dir, and protects it from the
// inherited ACL of %ProgramData%, which lets every user read: file modes such as the master
// key's 0600 mean nothing on Windows, the directory's ACL is what keeps the keys private.
const dataDirSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// serviceStopWait bounds a stop: serve's shutdown_timeout (10s by default) for requests in
// flight, then closing the stores. Windows itself gives services about 20s at shutdown.
const serviceStopWait = 30 * time.Second

// newServiceCmd is `tenantra service run`, the command line the MSI registers with the
// service control manager. It takes every flag of serve and runs serve's own code, with a
// context that the manager's Stop and Shutdown requests cancel, which is serve's graceful
// shutdown. In a console window, `tenantra serve` is the way to run the appliance.
func (c *cli) newServiceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "service",
		Short:  "Run under the Windows service control manager",
		Hidden: true,
		Args:   noArgs,
	}
	run := c.newServeCmd()
	run.Use = "run"
	run.Short = "Run the appliance as the " + serviceName + " Windows service"
	run.Long = "Run the appliance under the Windows service control manager, as the MSI\n" +
		"registers it. It takes the flags of `tenantra serve`, writes what serve prints to\n" +
		"<data-dir>\\" + serviceLogFile + " and reports start failures to the event log.\n" +
		"Stop and system shutdown shut it down gracefully."
	serve := run.RunE
	run.RunE = func(cmd *cobra.Command, args []string) error {
		isService, err := svc.IsWindowsService()
		if err != nil {
			return fmt.Errorf("detect the service control manager: %w", err)
		}
		if !isService {
			return usagef("service run is started by the Windows service control manager "+
				"(service %s); in a console run tenantra serve", serviceName)
		}
		elog, err := eventlog.Open(serviceName)
		if err != nil {
			return fmt.Errorf("open the event log: %w", err)
		}
		defer func() { _ = elog.Close() }()
		h := &serviceHandler{serve: func(ctx context.Context) error {
			return c.serveAsService(ctx, cmd, func() error { return serve(cmd, args) })
		}}
		if err := svc.Run(serviceName, h); err != nil {
			return fmt.Errorf("run as service %s: %w", serviceName, err)
		}
		if h.err != nil {
			_ = elog.Error(1, "Tenantra stopped: "+oneLine(h.err.Error()))
			return h.err
		}
		_ = elog.Info(1, "Tenantra stopped")
		return nil
	}
	cmd.AddCommand(run)
	return cmd
}

// serveAsService prepares the data dir and its log file, then runs serve with ctx, which the
// service handler cancels to stop it.
func (c *cli) serveAsService(ctx context.Context, cmd *cobra.Command,
	serve func() error) error {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := restrictDir(cfg.DataDir); err != nil {
		return err
	}
	logf, err := openServiceLog(filepath.Join(cfg.DataDir, serviceLogFile))
	if err != nil {
		return err
	}
	defer logf.Close()
	c.out, c.errOut = logf, logf
	cmd.SetContext(ctx)
	if err := serve(); err != nil {
		fmt.Fprintf(logf, "tenantra: %s\n", oneLine(err.Error()))
		return err
	}
	return nil
}

// restrictDir replaces the ACL of dir, and by inheritance of everything in it, with one that
// admits only SYSTEM and Administrators.
func restrictDir(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(dataDirSDDL)
	if err != nil {
		return fmt.Errorf("parse data dir ACL: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("parse data dir ACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict data dir %s to SYSTEM and Administrators: %w", dir, err)
	}
	return nil
}

// openServiceLog opens the log for appending, first setting a log past serviceLogMax aside
// as <name>.1 (replacing the previous one).
func openServiceLog(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > serviceLogMax {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open service log: %w", err)
	}
	return f, nil
}

// serviceHandler runs serve under the service control manager.
type serviceHandler struct {
	serve func(context.Context) error
	err   error // why serve ended, if it failed
}

var _ svc.Handler = (*serviceHandler)(nil)

// Execute starts serve, reports the service running, and on Stop or Shutdown cancels serve's
// context and reports the stop pending until serve has shut down. When serve ends by itself
// it failed, and the service ends with a service-specific exit code, so that the recovery
// actions the MSI configures restart it.
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest,
	status chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.serve(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: accepts}

	var deadline <-chan time.Time
	stopping := false
	for {
		select {
		case err := <-done:
			if err == nil && !stopping {
				err = errors.New("serve ended without being asked to stop")
			}
			if err != nil {
				h.err = err
				return true, exitFailure
			}
			return false, 0
		case <-deadline:
			h.err = fmt.Errorf("serve did not stop within %s", serviceStopWait)
			return true, exitFailure
		case r := <-req:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if stopping {
					continue
				}
				stopping = true
				status <- svc.Status{State: svc.StopPending,
					WaitHint: uint32(serviceStopWait / time.Millisecond)}
				cancel()
				deadline = time.After(serviceStopWait)
			}
		}
	}
}
