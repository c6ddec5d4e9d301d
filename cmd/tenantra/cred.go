package main

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/appliance"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

func (c *cli) newCredCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cred",
		Short: "Add, list, test and remove credentials in a tenant's vault",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown cred subcommand %q; use add, list, test or rm", args[0])
			}
			return usagef("cred needs a subcommand: add, list, test or rm")
		},
	}
	cmd.AddCommand(c.newCredAddCmd(), c.newCredListCmd(), c.newCredTestCmd(),
		c.newCredRmCmd())
	return cmd
}

// readSecretLines reads n lines from standard input; secrets never go on the command line,
// where ps and shell history would show them.
func (c *cli) readSecretLines(flag string, n int) ([]string, error) {
	rd := bufio.NewReader(c.in)
	out := make([]string, 0, n)
	for i := range n {
		line, _ := rd.ReadString('\n') // a last line without a newline still counts
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return nil, usagef("%s: expected %d non-empty line(s) on standard input, got %d",
				flag, n, i)
		}
		out = append(out, line)
	}
	return out, nil
}

func (c *cli) newCredAddCmd() *cobra.Command {
	var tenant, kind, name string
	var req web.CredentialRequest
	var communityStdin, passwordStdin, secretStdin bool
	var caFile string
	cmd := &cobra.Command{
		Use: "add --tenant T --kind snmp-v2c|snmp-v3|ldap|fortigate|omada --name N " +
			"[--community-stdin | --user U --password-stdin | --url URL --secret-stdin …]",
		Short: "Add a credential; its secrets are read from standard input",
		Long: "Add a credential to a tenant's vault. Secrets are read from standard input, " +
			"never\nfrom flags:\n" +
			"  snmp-v2c with --community-stdin: one line, the community;\n" +
			"  snmp-v3 with --password-stdin: the first line is the authentication\n" +
			"  passphrase, the second the privacy passphrase (8 characters or more each);\n" +
			"  ldap with --secret-stdin: the bind password (--url ldaps://dc.corp.example\n" +
			"  --bind-dn svc@corp.example [--base-dn …] [--starttls] [--ca-file F | --pin P]);\n" +
			"  fortigate with --secret-stdin: the REST API token (--url https://fw\n" +
			"  [--ca-file F | --pin P] [--vdom V] [--baseline 7.2.8]);\n" +
			"  omada with --secret-stdin: the client secret (--url https://controller\n" +
			"  --omadac-id ID --client-id ID [--ca-file F | --pin P]).\n" +
			"Secrets are sealed with the tenant's data key and never shown again.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" || kind == "" || name == "" {
				return usagef("cred add needs --tenant, --kind and --name")
			}
			req.Name, req.Kind = name, kind
			switch kind {
			case store.CredSNMPv2c:
				if !communityStdin {
					return usagef("snmp-v2c reads its community from standard input: " +
						"add --community-stdin")
				}
				lines, err := c.readSecretLines("--community-stdin", 1)
				if err != nil {
					return err
				}
				req.Community = lines[0]
			case store.CredSNMPv3:
				if !passwordStdin {
					return usagef("snmp-v3 reads its passphrases from standard input: " +
						"add --password-stdin")
				}
				lines, err := c.readSecretLines("--password-stdin", 2)
				if err != nil {
					return err
				}
				req.AuthPassword, req.PrivPassword = lines[0], lines[1]
			case store.CredLDAP, store.CredFortiGate, store.CredOmada:
				if !secretStdin {
					return usagef("%s reads its secret from standard input: add "+
						"--secret-stdin", kind)
				}
				lines, err := c.readSecretLines("--secret-stdin", 1)
				if err != nil {
					return err
				}
				switch kind {
				case store.CredLDAP:
					req.Password = lines[0]
				case store.CredFortiGate:
					req.Token = lines[0]
				default:
					req.ClientSecret = lines[0]
				}
				if caFile != "" {
					b, err := os.ReadFile(caFile)
					if err != nil {
						return fmt.Errorf("--ca-file: %w", err)
					}
					req.CAPEM = string(b)
				}
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				cr, err := svc.CreateCredential(cmdContext(cmd), tenant, req)
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(cr)
				}
				fmt.Fprintf(c.out, "Added %s credential %s to tenant %s.\n", cr.Kind, cr.Name,
					tenant)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant slug or id")
	f.StringVar(&kind, "kind", "", "credential kind: snmp-v2c, snmp-v3, ldap, fortigate "+
		"or omada")
	f.StringVar(&name, "name", "", "credential name, unique in the tenant")
	f.StringVar(&req.User, "user", "", "SNMPv3 user")
	f.StringVar(&req.AuthProto, "auth-proto", "", "SNMPv3 authentication: SHA or SHA-256 "+
		"(default SHA-256)")
	f.StringVar(&req.PrivProto, "priv-proto", "", "SNMPv3 privacy: AES (default)")
	f.BoolVar(&communityStdin, "community-stdin", false,
		"read the snmp-v2c community from standard input")
	f.BoolVar(&passwordStdin, "password-stdin", false,
		"read the snmp-v3 auth and priv passphrases (two lines) from standard input")
	f.BoolVar(&secretStdin, "secret-stdin", false, "read the ldap password, fortigate "+
		"token or omada client secret (one line) from standard input")
	f.StringVar(&req.URL, "url", "", "ldap: ldap:// or ldaps:// URL; fortigate, omada: "+
		"https:// URL")
	f.StringVar(&req.BindDN, "bind-dn", "", "ldap: bind DN, UPN or DOMAIN\\user")
	f.StringVar(&req.BaseDN, "base-dn", "", "ldap: base DN (default: the server's)")
	f.StringVar(&req.NTLMDomain, "ntlm-domain", "", "ldap: bind with NTLM in this domain "+
		"instead of a simple bind")
	f.BoolVar(&req.StartTLS, "starttls", false, "ldap: upgrade ldap:// with StartTLS")
	f.IntVar(&req.StaleDays, "stale-days", 0, "ldap: days without logon that make an "+
		"account stale (default 90)")
	f.StringVar(&caFile, "ca-file", "", "PEM file of the CA that signs the server's "+
		"certificate")
	f.StringVar(&req.Pin, "pin", "", "SHA-256 pin of the server's key (ldap) or "+
		"certificate (fortigate, omada)")
	f.StringVar(&req.VDOM, "vdom", "", "fortigate: virtual domain")
	f.StringVar(&req.BaselineVersion, "baseline", "", "fortigate: minimum FortiOS version")
	f.StringVar(&req.OmadacID, "omadac-id", "", "omada: controller id")
	f.StringVar(&req.ClientID, "client-id", "", "omada: OpenAPI client id")
	return cmd
}

func (c *cli) newCredListCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's credentials (metadata only; secrets are never shown)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return usagef("cred list needs --tenant")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				items, err := svc.ListCredentials(cmdContext(cmd), tenant)
				if err != nil {
					return err
				}
				if items == nil {
					items = []store.Credential{}
				}
				if c.json {
					return c.printJSON(items)
				}
				if len(items) == 0 {
					fmt.Fprintln(c.out, "No credentials yet; add one with: tenantra cred add")
					return nil
				}
				tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tKIND\tUSER\tCREATED\tBY")
				for _, cr := range items {
					user := cmp.Or(cr.Metadata["user"], cr.Metadata["bind_dn"],
						cr.Metadata["client_id"], cr.Metadata["url"], "-")
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cr.Name, cr.Kind, user,
						cr.Created.Format(time.RFC3339), cr.CreatedBy)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id")
	return cmd
}

func (c *cli) newCredTestCmd() *cobra.Command {
	var tenant, target string
	cmd := &cobra.Command{
		Use:   "test --tenant T NAME [--target HOST[:PORT]]",
		Short: "Ask an SNMP agent for sysDescr with a stored credential",
		Args:  exactArgs("a credential name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("cred test needs --tenant")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				res, err := svc.TestCredential(cmdContext(cmd), tenant, args[0],
					web.CredentialTestRequest{Target: target})
				if err != nil {
					return err
				}
				if c.json {
					return c.printJSON(res)
				}
				if !res.OK {
					return fmt.Errorf("credential %s against %s: %s", args[0], res.Target,
						res.Error)
				}
				fmt.Fprintf(c.out, "OK: %s answered: %s\n", res.Target,
					cmp.Or(res.SysDescr, res.Detail))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id")
	cmd.Flags().StringVar(&target, "target", "", "SNMP agent (default 127.0.0.1:161)")
	return cmd
}

func (c *cli) newCredRmCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "rm --tenant T NAME",
		Short: "Remove a credential from a tenant's vault",
		Args:  exactArgs("a credential name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("cred rm needs --tenant")
			}
			return c.withAdmin(cmd, func(svc appliance.Admin) error {
				if err := svc.DeleteCredential(cmdContext(cmd), tenant, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.out, "Removed credential %s from tenant %s.\n", args[0], tenant)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id")
	return cmd
}
