package main

import (
	"bufio"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

func (c *cli) newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create, list, disable and reset the password of users",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown user subcommand %q; use create, list, disable, enable "+
					"or reset-password", args[0])
			}
			return usagef("user needs a subcommand: create, list, disable, enable or " +
				"reset-password")
		},
	}
	cmd.AddCommand(c.newUserCreateCmd(), c.newUserListCmd(), c.newUserDisableCmd(true),
		c.newUserDisableCmd(false), c.newUserResetCmd())
	return cmd
}

// readPassword reads one line from standard input (--password-stdin), or generates a
// password when the flag is not set; generated tells the caller to print it once.
func (c *cli) readPassword(fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		pw, err = appliance.GeneratePassword()
		return pw, true, err
	}
	line, err := bufio.NewReader(c.in).ReadString('\n')
	if err != nil && line == "" {
		return "", false, usagef("--password-stdin: no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

func (c *cli) newUserCreateCmd() *cobra.Command {
	var email, role, tenant string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "create --email E --role R [--tenant T] [--password-stdin]",
		Short: "Create a user: a platform admin (--role admin), or a member of one tenant",
		Long: "Create a user. Without --tenant, --role must be admin and the user becomes a\n" +
			"platform admin (every tenant). With --tenant, --role is the user's role there:\n" +
			"admin, standard or auditor. Without --password-stdin a password is generated\n" +
			"and printed once.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email == "" || role == "" {
				return usagef("user create needs --email and --role")
			}
			nu := web.NewUser{Email: email}
			if tenant == "" {
				if role != "admin" {
					return usagef("--role %q needs --tenant; without a tenant only admin "+
						"(platform admin) is possible", role)
				}
				nu.PlatformRole = store.PlatformAdmin
			} else {
				nu.Tenant, nu.Role = tenant, store.TenantRole(role)
			}
			pw, generated, err := c.readPassword(stdin)
			if err != nil {
				return err
			}
			nu.Password = pw
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				u, err := svc.CreateUser(cmdContext(cmd), nu)
				if err != nil {
					return err
				}
				if c.json {
					out := map[string]any{"user": u}
					if generated {
						out["password"] = pw
					}
					return c.printJSON(out)
				}
				fmt.Fprintf(c.out, "Created user %s (id %s).\n", u.Email, u.ID)
				if generated {
					fmt.Fprintf(c.out, "Password (shown once): %s\n", pw)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&email, "email", "", "the user's email address (their sign-in name)")
	f.StringVar(&role, "role", "", "admin (platform admin without --tenant), or the tenant "+
		"role: admin, standard or auditor")
	f.StringVar(&tenant, "tenant", "", "tenant slug for a tenant user")
	f.BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func (c *cli) newUserListCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List users, or the members of one tenant",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				ctx := cmdContext(cmd)
				tenantID := ""
				if tenant != "" {
					t, err := svc.GetTenant(ctx, tenant)
					if err != nil {
						return err
					}
					tenantID = t.ID
				}
				var all []store.User
				for page := 1; ; page++ {
					items, total, err := svc.ListUsers(ctx, tenantID,
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
					all = []store.User{}
				}
				if c.json {
					return c.printJSON(all)
				}
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tPLATFORM\tTENANTS\tMFA\tSTATUS\tCREATED")
				for _, u := range all {
					var ms []string
					for _, m := range u.Memberships {
						ms = append(ms, m.TenantSlug+":"+string(m.Role))
					}
					status := "active"
					if u.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Email,
						dash(string(u.PlatformRole)), dash(strings.Join(ms, ",")),
						yesNo(u.MFAEnabled), status, u.CreatedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the members of this tenant")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *cli) newUserDisableCmd(disable bool) *cobra.Command {
	verb, short := "enable", "Enable a disabled user"
	if disable {
		verb, short = "disable", "Disable a user: sign-in stops and every session ends at once"
	}
	return &cobra.Command{
		Use:   verb + " EMAIL|ID",
		Short: short,
		Args:  exactArgs("a user's email or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				u, err := svc.UpdateUser(cmdContext(cmd), args[0],
					web.UserUpdate{Disabled: &disable})
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(u)
				}
				fmt.Fprintf(c.out, "User %s is %sd.\n", u.Email, verb)
				return nil
			})
		},
	}
}

func (c *cli) newUserResetCmd() *cobra.Command {
	var stdin bool
	cmd := &cobra.Command{
		Use:   "reset-password EMAIL|ID [--password-stdin]",
		Short: "Set a new password for a user and end the user's sessions",
		Args:  exactArgs("a user's email or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := c.readPassword(stdin)
			if err != nil {
				return err
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				if err := svc.ResetPassword(cmdContext(cmd), args[0], pw); err != nil {
					return err
				}
				if c.json {
					out := map[string]any{"user": args[0]}
					if generated {
						out["password"] = pw
					}
					return c.printJSON(out)
				}
				fmt.Fprintf(c.out, "Password of %s reset; its sessions are ended.\n", args[0])
				if generated {
					fmt.Fprintf(c.out, "New password (shown once): %s\n", pw)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func (c *cli) newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the tamper-evident audit trail",
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("audit needs a subcommand: verify")
		},
	}
	var tenant string
	verify := &cobra.Command{
		Use:   "verify [--tenant T]",
		Short: "Prove that no audit entry was altered, removed or reordered",
		Long: "Verify the hash chains of the audit trail: the platform chain and every\n" +
			"tenant's, or only --tenant's. Exits non-zero naming the first bad entry.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				n, err := svc.VerifyAudit(cmdContext(cmd), tenant)
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(web.AuditVerification{Status: "ok", Chains: n})
				}
				fmt.Fprintf(c.out, "Audit trail intact: %d chain(s) verified.\n", n)
				return nil
			})
		},
	}
	verify.Flags().StringVar(&tenant, "tenant", "", "verify only this tenant's chain")
	cmd.AddCommand(verify)
	return cmd
}
