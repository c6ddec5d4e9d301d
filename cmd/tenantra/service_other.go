//go:build !windows

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newServiceCmd is the Windows service entry point, which on this system only says where to
// look instead: the appliance runs as `tenantra serve`, under systemd from the .deb.
func (c *cli) newServiceCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "service",
		Short:              "Run under the Windows service control manager (Windows only)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("the service command works only on Windows, where the MSI " +
				"registers it; here run tenantra serve, as the .deb's tenantra.service does")
		},
	}
}
