package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// driftError is `modules check`'s failure: one line that says what differs, with a few
// examples of each kind, and what to do.
func driftError(d web.CatalogDrift) error {
	var parts []string
	for _, l := range []struct {
		what string
		list []string
	}{{"missing from the database", d.Missing}, {"only in the database", d.Extra},
		{"with a changed checksum", d.Changed}, {"not loading", d.Invalid}} {
		if len(l.list) == 0 {
			continue
		}
		ex := l.list[:min(3, len(l.list))]
		more := ""
		if len(l.list) > len(ex) {
			more = fmt.Sprintf(", … %d more", len(l.list)-len(ex))
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s%s)", len(l.list), l.what,
			strings.Join(ex, ", "), more))
	}
	return errors.New("the module catalog differs from the fixtures compiled into this " +
		"binary: " + strings.Join(parts, "; ") + ". Start `tenantra serve` to seed new " +
		"versions; publish changes to released modules as new versions")
}

func (c *cli) newModulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "modules",
		Short: "List, show and check the module catalog (collectors and checks)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown modules subcommand %q; use list, show or check", args[0])
			}
			return usagef("modules needs a subcommand: list, show or check")
		},
	}
	cmd.AddCommand(c.newModulesListCmd(), c.newModulesShowCmd(), c.newModulesCheckCmd())
	return cmd
}

func (c *cli) newModulesListCmd() *cobra.Command {
	var f store.ModuleFilter
	cmd := &cobra.Command{
		Use:   "list [--kind check|collector] [--category C] [--state S] [--framework F]",
		Short: "List module versions, newest first within a module",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				items, _, err := svc.ListModules(cmdContext(cmd), f, store.Page{Page: 1,
					Size: 100000})
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(items)
				}
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SLUG\tVERSION\tKIND\tSTATE\tSEVERITY\tCATEGORY\tFRAMEWORKS")
				for _, m := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Slug, m.Version, m.Kind,
						m.State, dash(m.Severity), m.Category,
						dash(strings.Join(m.Frameworks, ",")))
				}
				fmt.Fprintf(tw, "\n%d module versions\n", len(items))
				return tw.Flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Kind, "kind", "", "check or collector")
	fl.StringVar(&f.Category, "category", "", "e.g. network-exposure, tls, identity, firewall")
	fl.StringVar(&f.State, "state", "", "draft, qa, released, deprecated or retired")
	fl.StringVar(&f.Framework, "framework", "", "CIS, NIST-800-53, ISO-27001 or HIPAA")
	fl.StringVar(&f.Q, "q", "", "text in the slug or name")
	return cmd
}

func (c *cli) newModulesShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show SLUG",
		Short: "Show every version of one module",
		Args:  exactArgs("a module slug"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				items, _, err := svc.ListModules(cmdContext(cmd),
					store.ModuleFilter{Q: args[0]}, store.Page{Page: 1, Size: 100000})
				if err != nil {
					return err
				}
				found := items[:0]
				for _, m := range items {
					if m.Slug == args[0] {
						found = append(found, m)
					}
				}
				if len(found) == 0 {
					return store.Errorf(store.ErrNotFound, "module %q is not in the catalog; "+
						"`tenantra modules list` shows what is", args[0])
				}
				if c.json {
					return c.printJSON(found)
				}
				m := found[0]
				fmt.Fprintf(c.out, "%s: %s\nkind: %s, category: %s, severity: %s\n", m.Slug,
					m.Name, m.Kind, m.Category, dash(m.Severity))
				fmt.Fprintf(c.out, "frameworks: %s\nplatforms: %s\n",
					dash(strings.Join(m.Frameworks, ", ")), strings.Join(m.Platforms, ", "))
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "\nVERSION\tSTATE\tSUNSET\tCHECKSUM\tCHANGELOG")
				for _, v := range found {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%.12s\t%s\n", v.Version, v.State,
						dash(v.Sunset), v.Checksum, oneLine(v.Changelog))
				}
				return tw.Flush()
			})
		},
	}
}

func (c *cli) newModulesCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Compare the database catalog with the fixtures (exit 1 on drift)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				d, err := svc.CheckModules(cmdContext(cmd))
				if err != nil {
					return err
				}
				if d.Drifted() {
					return driftError(d)
				}
				if c.json {
					return c.printJSON(d)
				}
				fmt.Fprintf(c.out, "fixtures: %d module versions, database: %d\n", d.Fixtures,
					d.Database)
				fmt.Fprintln(c.out, "The catalog matches the fixtures.")
				return nil
			})
		},
	}
}

func (c *cli) newFindingsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List a tenant's findings",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown findings subcommand %q; use list", args[0])
			}
			return usagef("findings needs a subcommand: list")
		},
	}
	var tenant string
	var f store.FindingFilter
	list := &cobra.Command{
		Use:   "list --tenant T [--severity S] [--status open|waived|resolved] [--check ID]",
		Short: "List findings, most severe first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return usagef("findings list needs --tenant")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				items, total, err := svc.ListFindings(cmdContext(cmd), tenant, f,
					store.Page{Page: 1, Size: 100000})
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(items)
				}
				if total == 0 {
					fmt.Fprintln(c.out, "No findings. Scan the tenant's network first: "+
						"tenantra scan --tenant "+tenant+" --targets …")
					return nil
				}
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEVERITY\tSTATUS\tCHECK\tRESOURCE\tEVIDENCE")
				for _, fd := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fd.Severity, fd.Status, fd.Check,
						fd.Resource, store.Truncate(oneLine(fd.Evidence), 80))
				}
				fmt.Fprintf(tw, "\n%d findings\n", total)
				return tw.Flush()
			})
		},
	}
	fl := list.Flags()
	fl.StringVar(&tenant, "tenant", "", "tenant slug or id")
	fl.StringVar(&f.Severity, "severity", "", "info, low, medium, high or critical")
	fl.StringVar(&f.Status, "status", "", "open, waived or resolved")
	fl.StringVar(&f.Check, "check", "", "a check id, e.g. telnet-exposed")
	fl.StringVar(&f.Q, "q", "", "text in the title, resource or evidence")
	cmd.AddCommand(list)
	return cmd
}

func (c *cli) newComplianceCmd() *cobra.Command {
	var tenant, framework, report, output string
	cmd := &cobra.Command{
		Use: "compliance --tenant T [--framework F] [--report csv|pdf --output FILE]",
		Short: "Show a tenant's compliance scores, one framework's controls, or write " +
			"a report",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return usagef("compliance needs --tenant")
			}
			if report != "" && output == "" {
				return usagef("--report needs --output FILE (- for standard output)")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				ctx := cmdContext(cmd)
				switch {
				case report != "":
					return c.writeReport(svc, cmd, tenant, report, output)
				case framework != "":
					fw, err := svc.ComplianceFramework(ctx, tenant, framework)
					if err != nil {
						return err
					}
					if c.json {
						return c.printJSON(fw)
					}
					fmt.Fprintf(c.out, "%s: %s\n", fw.Framework.Name, score(fw.Framework.Score))
					tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "CONTROL\tSTATUS\tFAILING ASSETS\tTITLE")
					for _, ctl := range fw.Controls {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", ctl.ID, ctl.Status,
							len(ctl.FailingAssets), ctl.Title)
					}
					return tw.Flush()
				default:
					s, err := svc.ComplianceSummary(ctx, tenant)
					if err != nil {
						return err
					}
					if c.json {
						return c.printJSON(s)
					}
					fmt.Fprintf(c.out, "Tenant score: %s\n", score(s.Score))
					tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "FRAMEWORK\tSCORE\tPASSED\tFAILED\tN/A")
					for _, fw := range s.Frameworks {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", fw.ID, score(fw.Score),
							fw.Passed, fw.Failed, fw.NotApplicable)
					}
					return tw.Flush()
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "tenant slug or id")
	fl.StringVar(&framework, "framework", "", "CIS, NIST-800-53, ISO-27001 or HIPAA")
	fl.StringVar(&report, "report", "", "write a report: csv or pdf")
	fl.StringVarP(&output, "output", "o", "", "the report's file (- for standard output)")
	return cmd
}

func (c *cli) writeReport(svc appliance.Admin, cmd *cobra.Command, tenant, format,
	output string) error {
	if output == "-" {
		return svc.ComplianceReport(cmdContext(cmd), tenant, format, c.out)
	}
	f, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("report file: %w (choose a path that does not exist yet)", err)
	}
	if err := svc.ComplianceReport(cmdContext(cmd), tenant, format, f); err != nil {
		_ = f.Close()
		_ = os.Remove(output)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "Wrote the %s compliance report of %s to %s.\n", format, tenant,
		output)
	return nil
}

func score(p *float64) string {
	if p == nil {
		return "n/a (no check applied yet)"
	}
	return fmt.Sprintf("%.1f%%", *p)
}
