package results

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// GC reclaims value-log space left by overwritten values and dropped tenants: Badger keeps
// values over the value threshold in its value log, which only shrinks when rewritten. It
// rewrites files while at least half of a file is garbage and returns how many it rewrote.
func (s *Store) GC() (int, error) {
	n := 0
	for n < 100 { // bounded: one call never runs forever on a busy store
		err := s.db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RunGC calls GC every interval until ctx ends; errors go to onErr.
func (s *Store) RunGC(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.GC(); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
