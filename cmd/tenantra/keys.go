package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/web"
)

func (c *cli) newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show the age of every key and rotate the master key and tenant keys",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown keys subcommand %q; use status or rotate", args[0])
			}
			return usagef("keys needs a subcommand: status or rotate")
		},
	}
	cmd.AddCommand(c.newKeysStatusCmd(), c.newKeysRotateCmd())
	return cmd
}

func (c *cli) newKeysStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List every key with its version, age and rotation due date",
		Long: fmt.Sprintf("List the master key, the appliance's own keys (registry, "+
			"control, results,\njwt) and each tenant's data key, with version, creation "+
			"date, age and the date\nthe %d-day rotation policy wants it rotated by. For "+
			"tenants, RETAINED counts\nolder key versions kept until their results are "+
			"re-sealed.", appliance.KeyPolicyDays),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				st, err := svc.KeyStatus(cmdContext(cmd))
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(st)
				}
				return c.printKeyStatus(st)
			})
		},
	}
}

func (c *cli) printKeyStatus(st web.KeyStatus) error {
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVERSION\tCREATED\tAGE\tROTATE BY\tRETAINED")
	for _, k := range st.Keys {
		name := k.Kind
		switch k.Kind {
		case "master":
			name = "master (" + k.Source + ", id " + k.ID + ")"
		case "tenant":
			name = "tenant " + k.Tenant
		}
		by := k.RotateBy.Format("2006-01-02")
		if k.Due {
			by += " (due)"
		}
		retained := "-"
		if k.RetainedVersions > 0 {
			retained = fmt.Sprint(k.RetainedVersions)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%dd\t%s\t%s\n", name, k.Version,
			k.CreatedAt.Format("2006-01-02"), k.AgeDays, by, retained)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "Policy: rotate every %d days; a running server rotates tenant keys "+
		"that are due.\n", st.PolicyDays)
	return nil
}

func (c *cli) newKeysRotateCmd() *cobra.Command {
	var master, all bool
	var tenants []string
	cmd := &cobra.Command{
		Use:   "rotate --master | --tenant T... | --all",
		Short: "Rotate the master key (and JWT signing key) or tenant data keys",
		Long: "Rotate keys without downtime; every step is safe to interrupt, and the next\n" +
			"start finishes or undoes a rotation that was cut short.\n\n" +
			"--master makes a new master key and re-wraps the keyring under it (tenant keys\n" +
			"are wrapped by the registry key and need no change), and rotates the JWT\n" +
			"signing key; tokens signed with the old one stay valid. With a master key file,\n" +
			"the file is replaced. With TENA_MASTER_KEY, the new key is written to\n" +
			"<data-dir>/master.key.new: set TENA_MASTER_KEY to its contents before tenantra\n" +
			"next starts (it refuses to start until then), then delete the file.\n\n" +
			"--tenant (repeatable) and --all give tenants a new data key and re-encrypt their\n" +
			"databases; users of a tenant wait only while its file is swapped. Results stay\n" +
			"readable under the old key version and are re-sealed under the new one (at once,\n" +
			"or in the background when a server runs); old versions are then retired.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case !master && !all && len(tenants) == 0:
				return usagef("say which keys to rotate: --master, --tenant T or --all")
			case all && len(tenants) > 0:
				return usagef("--all rotates every tenant; do not combine it with --tenant")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				res, err := svc.RotateKeys(cmdContext(cmd), web.KeyRotateRequest{
					Master: master, Tenants: tenants, All: all})
				if err != nil {
					return err
				}
				if c.json {
					if err := c.printJSON(res); err != nil {
						return err
					}
				} else {
					c.printRotation(res)
				}
				if n := len(res.Failed); n > 0 {
					return fmt.Errorf("%d of %d tenant keys could not be rotated; retry "+
						"them with tenantra keys rotate --tenant", n, n+len(res.Tenants))
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&master, "master", false, "rotate the master key and the JWT signing key")
	f.StringArrayVar(&tenants, "tenant", nil, "rotate this tenant's data key (slug or id; "+
		"repeatable)")
	f.BoolVar(&all, "all", false, "rotate every tenant's data key")
	return cmd
}

func (c *cli) printRotation(res web.KeyRotateResult) {
	if m := res.Master; m != nil {
		fmt.Fprintf(c.out, "Rotated the master key: id %s → %s (version %d); the JWT signing "+
			"key is now version %d, and tokens signed with the old one stay valid.\n",
			m.OldID, m.NewID, m.Version, m.JWTVersion)
		if m.PendingFile != "" {
			fmt.Fprintf(c.out, "The new master key is in %s. Set TENA_MASTER_KEY to its "+
				"contents before tenantra next starts (it will not start with the old key), "+
				"then delete the file.\n", m.PendingFile)
		}
	}
	for _, t := range res.Tenants {
		reseal := fmt.Sprintf("%d results re-sealed", t.Resealed)
		if t.ResealQueued {
			reseal = "results are re-sealed in the background"
		}
		fmt.Fprintf(c.out, "Rotated tenant %s: key version %d → %d (database re-encrypted "+
			"in %.2f s; %s).\n", t.Tenant, t.From, t.To, t.Seconds, reseal)
	}
	for _, f := range res.Failed {
		fmt.Fprintf(c.errOut, "tenantra: tenant %s: %s\n", f.Tenant,
			strings.Join(strings.Fields(f.Error), " "))
	}
}
