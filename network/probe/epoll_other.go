//go:build !linux

package probe

// newConnectEngine returns nil: outside Linux, TCP probes go through the Dialer.
func newConnectEngine() connectEngine { return nil }
