package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/store"
)

func (c *cli) newTenantCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Create, list, show, suspend, resume and delete tenants",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown tenant subcommand %q; use create, list, show, "+
					"suspend, resume or delete", args[0])
			}
			return usagef("tenant needs a subcommand: create, list, show, suspend, resume " +
				"or delete")
		},
	}
	cmd.AddCommand(c.newTenantCreateCmd(), c.newTenantListCmd(), c.newTenantShowCmd(),
		c.newTenantStatusCmd("suspend", store.TenantSuspended),
		c.newTenantStatusCmd("resume", store.TenantActive), c.newTenantDeleteCmd())
	return cmd
}

// withAdmin runs fn against the admin service of the configured data dir.
func (c *cli) withAdmin(cmd *cobra.Command, fn func(appliance.Admin) error) error {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return err
	}
	svc, closeFn, err := appliance.Connect(cmdContext(cmd), cfg, appliance.Options{
		Version: version, Logger: c.logger(cfg, true), Role: cmd.CommandPath()[len("tenantra "):],
	})
	if err != nil {
		return err
	}
	err = fn(svc)
	if cerr := closeFn(); err == nil && cerr != nil {
		err = fmt.Errorf("close data dir: %w", cerr)
	}
	return err
}

func (c *cli) newTenantCreateCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create a tenant with its own encrypted database and key",
		Args:  exactArgs("a tenant slug, e.g. tenantra tenant create acme --name \"Acme\""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				t, err := svc.CreateTenant(cmdContext(cmd), args[0], name)
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(t)
				}
				fmt.Fprintf(c.out, "Created tenant %s (%q, id %s).\n", t.Slug, t.Name, t.ID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name (default: the slug)")
	return cmd
}

func (c *cli) newTenantListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				var all []store.Tenant
				for page := 1; ; page++ {
					items, total, err := svc.ListTenants(cmdContext(cmd),
						store.Page{Page: page, Size: store.MaxPageSize})
					if err != nil {
						return err
					}
					all = append(all, items...)
					if len(items) == 0 || len(all) >= total {
						break
					}
				}
				if all == nil {
					all = []store.Tenant{}
				}
				if c.json {
					return c.printJSON(all)
				}
				if len(all) == 0 {
					fmt.Fprintln(c.out, "No tenants yet; create one with: tenantra tenant "+
						"create SLUG")
					return nil
				}
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SLUG\tNAME\tSTATUS\tCREATED")
				for _, t := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Slug, t.Name, t.Status,
						t.CreatedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
}

func (c *cli) newTenantShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show SLUG|ID",
		Short: "Show one tenant",
		Args:  exactArgs("a tenant slug or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				t, err := svc.GetTenant(cmdContext(cmd), args[0])
				if err != nil {
					return err
				}
				return c.printTenant(t)
			})
		},
	}
}

func (c *cli) printTenant(t store.Tenant) error {
	if c.json {
		return c.printJSON(t)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "Slug:\t%s\nName:\t%s\nID:\t%s\nStatus:\t%s\nKey version:\t%d\n"+
		"Created:\t%s\nUpdated:\t%s\n", t.Slug, t.Name, t.ID, t.Status, t.KeyVersion,
		t.CreatedAt.Format(time.RFC3339), t.UpdatedAt.Format(time.RFC3339))
	return tw.Flush()
}

func (c *cli) newTenantStatusCmd(verb string, status store.TenantStatus) *cobra.Command {
	short := map[string]string{
		"suspend": "Suspend a tenant: its data stays, scans and logins stop",
		"resume":  "Resume a suspended tenant",
	}[verb]
	return &cobra.Command{
		Use:   verb + " SLUG|ID",
		Short: short,
		Args:  exactArgs("a tenant slug or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				t, err := svc.UpdateTenant(cmdContext(cmd), args[0],
					store.TenantUpdate{Status: &status})
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(t)
				}
				fmt.Fprintf(c.out, "Tenant %s is %s.\n", t.Slug, t.Status)
				return nil
			})
		},
	}
}

func (c *cli) newTenantDeleteCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete SLUG|ID --yes",
		Short: "Delete a tenant for good: its keys are destroyed first (crypto-shredding)",
		Args:  exactArgs("a tenant slug or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("deleting tenant %s destroys its keys and data for good; add "+
					"--yes to confirm", args[0])
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				t, err := svc.GetTenant(cmdContext(cmd), args[0])
				if err != nil {
					return err
				}
				if err := svc.DeleteTenant(cmdContext(cmd), t.ID); err != nil {
					return err
				}
				if c.json {
					return c.printJSON(map[string]string{"deleted": t.Slug, "id": t.ID})
				}
				fmt.Fprintf(c.out, "Deleted tenant %s (id %s): its keys are destroyed and its "+
					"data removed.\n", t.Slug, t.ID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}
