package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

func (c *cli) newScanCmd() *cobra.Command {
	var req web.ScanRequest
	var tenant, targetsFlag, excludeFlag string
	var detach bool
	cmd := &cobra.Command{
		Use: "scan --tenant T --targets SPEC [--ports top100] [--snmp-community C] " +
			"[--credential NAME] [--source ldap:NAME]",
		Short: "Discover a tenant's hosts, ports, services, SNMP devices, AD and firewalls",
		Long: "Scan queues a discovery job and follows it: it finds live hosts, their open\n" +
			"ports and services, reads SNMP agents with the given communities, and records\n" +
			"one asset per device in the tenant's inventory. Targets: CIDRs, ranges\n" +
			"(10.0.0.5-20), host names, comma-separated; more than a /16 needs --force.\n" +
			"Sources from the vault (--source ldap:corp, fortigate:hq-fw, omada:site)\n" +
			"add AD computers, users and policy, firewall configuration and controller\n" +
			"devices; a scan may name sources only. Checks run over the inventory after\n" +
			"every scan: tenantra findings list shows what they found.\n" +
			"With a running server the job runs there (--detach returns at once); alone,\n" +
			"this command runs the queue itself until its job ends. Interrupting the\n" +
			"command cancels the job.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" || (targetsFlag == "" && len(req.Sources) == 0) {
				return usagef("scan needs --tenant and --targets (or --source)")
			}
			req.Targets = splitComma(targetsFlag)
			req.Exclude = splitComma(excludeFlag)
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				ctx := cmdContext(cmd)
				if a, ok := svc.(*appliance.Appliance); ok && !detach {
					defer a.StartJobs(ctx)()
				}
				j, err := svc.SubmitScan(ctx, tenant, req)
				if err != nil {
					return err
				}
				if detach {
					if c.json {
						return c.printJSON(j)
					}
					fmt.Fprintf(c.out, "Queued scan job %s.\n", j.ID)
					return nil
				}
				if j, err = c.followScan(ctx, svc, tenant, j); err != nil {
					return err
				}
				return c.printScan(j)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug or id")
	f.StringVar(&targetsFlag, "targets", "", "CIDRs, ranges and host names, comma-separated")
	f.StringVar(&excludeFlag, "exclude", "", "addresses or ranges to leave out")
	f.StringVar(&req.Ports, "ports", "top100", "top100, top1000 or a list like 22,80,8000-8100")
	f.StringSliceVar(&req.SNMPCommunities, "snmp-community", nil,
		"SNMP v2c community to try (repeatable; kept in memory only, never stored)")
	f.StringSliceVar(&req.Credentials, "credential", nil,
		"SNMP credential from the tenant's vault to try (repeatable)")
	f.StringSliceVar(&req.Sources, "source", nil,
		"discovery source from the vault as kind:name, e.g. ldap:corp (repeatable)")
	f.BoolVar(&req.Force, "force", false, "allow more than a /16 of addresses")
	f.IntVar(&req.Rate, "rate", 0, "probes per second for this scan (0: no extra limit)")
	f.BoolVar(&detach, "detach", false, "queue the job in the running server and return")
	cmd.AddCommand(c.newScanStatusCmd())
	return cmd
}

func (c *cli) newScanStatusCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "status JOB --tenant T",
		Short: "Show a scan job: its state, progress and summary",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("scan status needs --tenant")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				j, err := svc.GetScan(cmdContext(cmd), tenant, args[0])
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(j)
				}
				fmt.Fprintf(c.out, "Job %s: %s", j.ID, j.State)
				if j.Stage != "" {
					fmt.Fprintf(c.out, " (%s %d/%d)", j.Stage, j.Done, j.Total)
				}
				if j.Error != "" {
					fmt.Fprintf(c.out, ": %s", j.Error)
				}
				fmt.Fprintln(c.out)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id")
	return cmd
}

// followScan shows a job's progress until it ends; interrupting the command cancels it.
func (c *cli) followScan(ctx context.Context, svc appliance.Admin, tenant string,
	j store.ScanJob) (store.ScanJob, error) {
	ch, err := svc.WatchScan(ctx, tenant, j.ID)
	if err != nil {
		return j, err
	}
	bar := c.progress("scan", -1)
	for next := range ch {
		j = next
		if bar != nil {
			bar.Describe(fmt.Sprintf("%s %s %d/%d", j.State, j.Stage, j.Done, j.Total))
			_ = bar.Add(1)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if ctx.Err() != nil && !j.State.Final() {
		cctx := context.WithoutCancel(ctx)
		if _, err := svc.CancelScan(cctx, tenant, j.ID); err != nil {
			return j, fmt.Errorf("interrupted; cancelling scan job %s: %w", j.ID, err)
		}
		return j, fmt.Errorf("interrupted; scan job %s cancelled", j.ID)
	}
	if !j.State.Final() {
		return j, fmt.Errorf("lost track of scan job %s (%s); see tenantra scan status %s",
			j.ID, j.State, j.ID)
	}
	return j, nil
}

// printScan prints a finished job's report: the assets it saw, as the scan always did.
func (c *cli) printScan(j store.ScanJob) error {
	var rep web.ScanReport
	if len(j.Summary) > 0 {
		if err := json.Unmarshal(j.Summary, &rep); err != nil {
			return fmt.Errorf("scan job %s: unreadable summary: %w", j.ID, err)
		}
	}
	if j.State != store.JobSucceeded {
		if c.json {
			_ = c.printJSON(rep)
		}
		return fmt.Errorf("scan job %s %s: %s", j.ID, j.State, dash(j.Error))
	}
	if c.json {
		return c.printJSON(rep)
	}
	fmt.Fprintf(c.out, "Scanned (job %s): %d live hosts, %d open ports, %d assets (%s).\n",
		j.ID, rep.Hosts, rep.OpenPorts, len(rep.Assets),
		rep.Finished.Sub(rep.Started).Round(1e6))
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tNEW\tTYPE\tVENDOR\tMODEL\tOS\tSERVICES")
	for _, a := range rep.Assets {
		var svcs []string
		for _, s := range a.Services {
			svcs = append(svcs, fmt.Sprintf("%d/%s %s", s.Port, s.Service,
				strings.TrimSpace(s.Product+" "+s.Version)))
		}
		addr := ""
		if len(a.Addresses) > 0 {
			addr = a.Addresses[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(addr), yesNo(a.New),
			dash(a.Type), dash(a.Vendor), dash(a.Model), dash(a.OS),
			dash(strings.Join(svcs, ", ")))
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(tw, "%s\terror\t\t\t\t\t%s\n", dash(e.Target), e.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(c.out, "Note: %s.\n", n)
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
