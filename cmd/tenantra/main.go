// Command tenantra is the Tenantra appliance: `tenantra serve` runs it, and the other
// commands administer it (see README.md).
package main

import "os"

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
