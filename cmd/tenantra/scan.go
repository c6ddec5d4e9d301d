package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/web"
)

func (c *cli) newScanCmd() *cobra.Command {
	var req web.ScanRequest
	var tenant, targetsFlag, excludeFlag string
	cmd := &cobra.Command{
		Use:   "scan --tenant T --targets SPEC [--ports top100] [--snmp-community C]",
		Short: "Discover a tenant's hosts, ports, services and SNMP devices",
		Long: "Scan finds live hosts, their open ports and services, reads SNMP agents with\n" +
			"the given communities, and records one asset per device in the tenant's\n" +
			"inventory. Targets: CIDRs, ranges (10.0.0.5-20), host names, comma-separated;\n" +
			"more than a /16 needs --force.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" || targetsFlag == "" {
				return usagef("scan needs --tenant and --targets")
			}
			req.Targets = splitComma(targetsFlag)
			req.Exclude = splitComma(excludeFlag)
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				bar := c.progress("scan", -1)
				rep, err := svc.Scan(cmdContext(cmd), tenant, req, func(p web.ScanProgress) {
					if bar != nil {
						bar.Describe(p.Stage)
						_ = bar.Add(1)
					}
				})
				if bar != nil {
					_ = bar.Finish()
				}
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(rep)
				}
				fmt.Fprintf(c.out, "Scanned: %d live hosts, %d open ports, %d assets (%s).\n",
					rep.Hosts, rep.OpenPorts, len(rep.Assets),
					rep.Finished.Sub(rep.Started).Round(1e6))
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ADDRESS\tNEW\tVENDOR\tMODEL\tSERVICES")
				for _, a := range rep.Assets {
					var svcs []string
					for _, s := range a.Services {
						svcs = append(svcs, fmt.Sprintf("%d/%s %s", s.Port, s.Service,
							strings.TrimSpace(s.Product+" "+s.Version)))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Address, yesNo(a.New),
						dash(a.Vendor), dash(a.Model), dash(strings.Join(svcs, ", ")))
				}
				for _, e := range rep.Errors {
					fmt.Fprintf(tw, "%s\terror\t\t\t%s\n", dash(e.Target), e.Error)
				}
				return tw.Flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug or id")
	f.StringVar(&targetsFlag, "targets", "", "CIDRs, ranges and host names, comma-separated")
	f.StringVar(&excludeFlag, "exclude", "", "addresses or ranges to leave out")
	f.StringVar(&req.Ports, "ports", "top100", "top100, top1000 or a list like 22,80,8000-8100")
	f.StringSliceVar(&req.SNMPCommunities, "snmp-community", nil,
		"SNMP v2c community to try (repeatable)")
	f.BoolVar(&req.Force, "force", false, "allow more than a /16 of addresses")
	f.IntVar(&req.Rate, "rate", 0, "probes per second for this scan (0: no extra limit)")
	return cmd
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
