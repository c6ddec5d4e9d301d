package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/store/backup"
)

// readPassphrase reads a backup passphrase from a file: the first line, at least 12
// characters. An empty path means no passphrase.
func readPassphrase(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--passphrase-file: %w", unwrapPathErr(err))
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if len([]rune(line)) < 12 {
		return nil, usagef("--passphrase-file: the passphrase must be at least 12 characters " +
			"on the file's first line")
	}
	return []byte(line), nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// progress shows a byte progress bar on a terminal and nothing otherwise.
func (c *cli) progress(desc string, total int64) *progressbar.ProgressBar {
	f, ok := c.errOut.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	if total <= 0 {
		total = -1
	}
	return progressbar.NewOptions64(total, progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(desc), progressbar.OptionShowBytes(true),
		progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
}

// createOutput opens a temporary file beside path; commit renames it into place (mode 0600),
// so an interrupted command never leaves a partial file under the final name.
func createOutput(path string) (f *os.File, commit func() error, abort func(), err error) {
	dir := filepath.Dir(path)
	f, err = os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cannot write %s: %w", path, unwrapPathErr(err))
	}
	abort = func() { f.Close(); os.Remove(f.Name()) }
	commit = func() error {
		if err := f.Chmod(0o600); err != nil {
			abort()
			return err
		}
		if err := f.Sync(); err != nil {
			abort()
			return err
		}
		if err := f.Close(); err != nil {
			os.Remove(f.Name())
			return err
		}
		return os.Rename(f.Name(), path)
	}
	return f, commit, abort, nil
}

func (c *cli) newBackupCmd() *cobra.Command {
	var out, passFile string
	cmd := &cobra.Command{
		Use:   "backup --out FILE [--passphrase-file F]",
		Short: "Write an online, consistent, sealed backup of the whole appliance",
		Long: "Back up every database, the results store and the keys into one archive sealed\n" +
			"with AES-256-GCM (minio/sio), while tenantra serve keeps running. With\n" +
			"--passphrase-file the archive also carries the master key, so the passphrase alone\n" +
			"restores it; without, it is sealed with the master key and a restore needs that key.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("backup needs --out FILE")
			}
			pass, err := readPassphrase(passFile)
			if err != nil {
				return err
			}
			if _, err := os.Stat(out); err == nil {
				return usagef("%s exists already; choose another --out", out)
			}
			f, commit, abort, err := createOutput(out)
			if err != nil {
				return err
			}
			var bar *progressbar.ProgressBar
			w := io.Writer(f)
			err = c.withAdmin(cmd, func(svc appliance.Admin) error {
				return svc.BackupTo(cmdContext(cmd), pass, &barWriter{w: w, bar: &bar},
					func(size int64) { bar = c.progress("backup", size) })
			})
			if err != nil {
				abort()
				return err
			}
			if err := commit(); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fi, _ := os.Stat(out)
			if c.json {
				return c.printJSON(map[string]any{"file": out, "bytes": fi.Size()})
			}
			fmt.Fprintf(c.out, "Backup written to %s (%d bytes).\n", out, fi.Size())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the archive to write (mode 0600)")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file whose first line is the "+
		"passphrase that seals the archive")
	return cmd
}

// barWriter advances a progress bar (when there is one) as bytes pass.
type barWriter struct {
	w   io.Writer
	bar **progressbar.ProgressBar
}

func (b *barWriter) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if *b.bar != nil {
		_ = (*b.bar).Add(n)
	}
	return n, err
}

func (c *cli) newRestoreCmd() *cobra.Command {
	var passFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore FILE --data-dir NEW [--passphrase-file F] [--force]",
		Short: "Check a backup completely, then restore it into a data dir",
		Long: "Restore checks the archive's manifest, every checksum and every authenticated\n" +
			"block before it writes anything; a tampered or truncated archive is refused\n" +
			"naming the entry. A data dir that is not empty is refused without --force.",
		Args: exactArgs("the backup archive to restore"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pass, err := readPassphrase(passFile)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("data-dir") && c.getenv("TENA_DATA_DIR") == "" {
				return usagef("restore needs --data-dir: the directory to restore into")
			}
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			fi, err := os.Stat(args[0])
			if err != nil {
				return fmt.Errorf("cannot read the archive: %w", unwrapPathErr(err))
			}
			bar := c.progress("verify", fi.Size())
			phase := "verify"
			man, err := appliance.Restore(cmdContext(cmd), args[0], cfg,
				appliance.RestoreOptions{Passphrase: pass, Force: force,
					Progress: func(p string, done int64) {
						if bar == nil {
							return
						}
						if p != phase {
							phase = p
							bar.Reset()
							bar.Describe(p)
						}
						_ = bar.Set64(done)
					}})
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			if c.json {
				return c.printJSON(map[string]any{"data_dir": cfg.DataDir,
					"entries": len(man.Entries), "created": man.Meta["created"]})
			}
			fmt.Fprintf(c.out, "Restored %d entries from the backup of %s into %s.\n",
				len(man.Entries), man.Meta["created"], cfg.DataDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file whose first line is the "+
		"archive's passphrase")
	cmd.Flags().BoolVar(&force, "force", false, "replace a data dir that is not empty")
	return cmd
}

func (c *cli) newExportCmd() *cobra.Command {
	var tenant, out, format, passFile string
	cmd := &cobra.Command{
		Use:   "export --tenant T --out DIR [--format csv|json] [--passphrase-file F]",
		Short: "Export one tenant's data (data portability), optionally sealed",
		Long: "Write one tenant's assets, services, audit log and details as CSV or JSON\n" +
			"files into DIR, with MANIFEST.json listing their SHA-256 sums. With\n" +
			"--passphrase-file the files go into one sealed archive in DIR instead.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" || out == "" {
				return usagef("export needs --tenant and --out")
			}
			if format != "csv" && format != "json" {
				return usagef("--format %q is unknown; use csv or json", format)
			}
			pass, err := readPassphrase(passFile)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return fmt.Errorf("cannot create %s: %w", out, unwrapPathErr(err))
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				ctx := cmdContext(cmd)
				t, err := svc.GetTenant(ctx, tenant)
				if err != nil {
					return err
				}
				if pass != nil {
					name := filepath.Join(out, t.Slug+"-export-"+
						time.Now().UTC().Format("20060102-150405")+".tenantra")
					f, commit, abort, err := createOutput(name)
					if err != nil {
						return err
					}
					if err := svc.Export(ctx, t.ID, format, pass, f); err != nil {
						abort()
						return err
					}
					if err := commit(); err != nil {
						return err
					}
					return c.exported(name)
				}
				pr, pw := io.Pipe()
				done := make(chan error, 1)
				go func() {
					err := untar(pr, out)
					pr.CloseWithError(err) // unblocks the writer if unpacking failed
					done <- err
				}()
				err = svc.Export(ctx, t.ID, format, nil, pw)
				pw.CloseWithError(err)
				if uerr := <-done; err == nil {
					err = uerr
				}
				if err != nil {
					return err
				}
				return c.exported(out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug or id")
	f.StringVar(&out, "out", "", "directory to write into (created if needed)")
	f.StringVar(&format, "format", "csv", "csv or json")
	f.StringVar(&passFile, "passphrase-file", "", "seal the export with the passphrase on "+
		"this file's first line")
	return cmd
}

func (c *cli) exported(path string) error {
	if c.json {
		return c.printJSON(map[string]string{"export": path})
	}
	fmt.Fprintf(c.out, "Export written to %s.\n", path)
	return nil
}

// untar writes a plain export's files into dir, refusing any name that would leave it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export stream: %w", err)
		}
		if err := backup.SafeName(h.Name); err != nil || strings.Contains(h.Name, "/") {
			return fmt.Errorf("export stream has an unsafe file name %q", h.Name)
		}
		// The name was checked just above: one plain file name, no separators.
		f, commit, abort, err := createOutput(filepath.Join(dir, h.Name)) //nolint:gosec

		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			abort()
			return err
		}
		if err := commit(); err != nil {
			return err
		}
	}
}
