//go:build windows

package probe

// descriptorLimit on Windows: sockets are kernel handles with no small per-process cap, so
// the bound that matters is the ephemeral port range (16,384 by default) and TIME_WAIT;
// 4,096 concurrent connects stays well inside it.
func descriptorLimit() (uint64, bool) { return 4096 + descriptorReserve, true }
