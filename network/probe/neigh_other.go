//go:build !linux

package probe

// readNeighTable returns nil off Linux: the table cannot be read here, and on-link
// addresses are paced at OnLinkRate.
func readNeighTable() func() (tableSample, error) { return nil }
