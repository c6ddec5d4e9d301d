//go:build !linux

package results

import (
	"log/slog"
	"time"
)

// reclaimer does nothing outside Linux: MADV_PAGEOUT and /proc/self/maps are Linux's, and the
// appliance runs on Linux (reclaim_linux.go).
type reclaimer struct{}

func startReclaimer(string, time.Duration, int64, *slog.Logger) *reclaimer { return nil }

func (*reclaimer) stop() {}
