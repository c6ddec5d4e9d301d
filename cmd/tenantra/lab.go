package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantra/tenantra/network/lab"
)

// newLabCmd is `tenantra lab`: the loopback lab network for demos and screenshots.
func (c *cli) newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a lab network of fake hosts on loopback addresses",
		Long: "The lab stands up fake hosts on 127.x.y.z addresses (all of 127.0.0.0/8 is\n" +
			"loopback on Linux), each serving services that discovery identifies, with a\n" +
			"ground truth to compare a scan against. Nothing leaves the machine.",
		Args: noArgs,
	}
	cmd.AddCommand(c.newLabUpCmd())
	return cmd
}

func (c *cli) newLabUpCmd() *cobra.Command {
	var (
		hosts  int
		base   string
		offset int
		snmp   bool
		snmpPt uint16
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the lab in the foreground until Ctrl-C",
		Example: "  tenantra lab up --hosts 24\n" +
			"  tenantra lab up --base 127.77.0.1 --port-offset 20000 --json",
		Args:         noArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hosts < 1 || hosts > 4096 {
				return usagef("--hosts must be 1-4096, got %d", hosts)
			}
			b, err := netip.ParseAddr(base)
			if err != nil || !b.Is4() || !b.IsLoopback() {
				return usagef("--base must be an IPv4 address in 127.0.0.0/8, got %q", base)
			}
			spec := lab.Default(hosts)
			spec.Base, spec.PortOffset = b, offset
			if snmp {
				spec.SNMP = &lab.SNMPSpec{Snmpd: lookPath("snmpd"),
					Snmpsimd: lookPath("snmpsimd"), Port: snmpPt}
				if spec.SNMP.Snmpd == "" && spec.SNMP.Snmpsimd == "" {
					return fmt.Errorf("--snmp: neither snmpd nor snmpsimd is installed")
				}
			}
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			l, err := lab.Start(ctx, spec)
			if err != nil {
				return err
			}
			if err := c.printLab(l); err != nil {
				_ = l.Close()
				return err
			}
			if !c.json {
				fmt.Fprintln(c.errOut, "lab running; press Ctrl-C to stop")
			}
			<-ctx.Done()
			stop() // a second Ctrl-C now ends the process at once
			return l.Close()
		},
	}
	f := cmd.Flags()
	f.IntVar(&hosts, "hosts", 12, "number of fake hosts (12 or more includes every service "+
		"kind and the tarpit and firehose hosts)")
	f.StringVar(&base, "base", lab.DefaultBase.String(), "address of the first host, in "+
		"127.0.0.0/8")
	f.IntVar(&offset, "port-offset", 0, "added to every well-known port (e.g. 20000 serves "+
		"SSH on 20022), for running without privileges")
	f.BoolVar(&snmp, "snmp", false, "also start SNMP agents (FortiGate, TP-Link, Linux) "+
		"with snmpsimd and snmpd from PATH")
	f.Uint16Var(&snmpPt, "snmp-port", 161, "UDP port of the SNMP agents")
	return cmd
}

func lookPath(program string) string {
	p, err := exec.LookPath(program)
	if err != nil {
		return ""
	}
	return p
}

// printLab prints the truth as JSON, or one line per host with its services.
func (c *cli) printLab(l *lab.Lab) error {
	truth := l.Truth()
	if c.json {
		return c.printJSON(truth)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tNAME\tKIND\tSERVICES")
	for _, h := range truth {
		var svcs []string
		for _, s := range h.Services {
			d := s.Service
			if s.Behaviour != "" {
				d = s.Behaviour
			}
			if p := strings.TrimSpace(s.Product + " " + s.Version); p != "" {
				d += " (" + p + ")"
			}
			if s.Behaviour == "" && string(s.Kind) != s.Service {
				d += " [" + string(s.Kind) + "]"
			}
			svcs = append(svcs, strconv.Itoa(int(s.Port))+"/"+s.Protocol+" "+d)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Addr, h.Name, h.Kind, strings.Join(svcs, ", "))
	}
	return tw.Flush()
}
