//go:build unix

package probe

import "golang.org/x/sys/unix"

// descriptorLimit returns the soft RLIMIT_NOFILE. The Go runtime already raises the soft
// limit to the hard limit at start-up on Linux, so this is what the process may really open.
func descriptorLimit() (uint64, bool) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	return uint64(lim.Cur), true //nolint:unconvert // int64 on some BSDs
}
