package results

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// StepResealBatch is the fault point after a re-seal pass wrote its first batch (see
// keys.Faultpoint): part of the tenant's values are under the new key, part under old ones.
const StepResealBatch = "tenant-resealing"

// resealBatch is how many values one re-seal transaction rewrites.
const resealBatch = 256

// ResealStats reports a re-seal pass over one tenant's values.
type ResealStats struct {
	// Current is the key version values are sealed under now.
	Current int `json:"current"`
	// Scanned and Resealed count the values seen and rewritten under Current.
	Scanned  int `json:"scanned"`
	Resealed int `json:"resealed"`
	// Remaining counts, by key version, the values still sealed under a version other than
	// Current after the pass: those whose key is destroyed or missing (unreadable), and any
	// a writer holding stale keys sealed meanwhile. A version absent here protects nothing.
	Remaining map[int]int `json:"remaining,omitempty"`
}

// Reseal rewrites every value of the tenant that is sealed under a key version other than
// the current one, so that old versions can be retired and later destroyed. It reads the
// tenant's keys afresh (call it after a rotation), works in batches of a few hundred values,
// and may run while the store is in use: a value is rewritten only if it still holds what the
// pass read, so a newer write is not replaced by an old one (Badger runs here without
// conflict detection, so a write landing between that check and the batch's commit can still
// lose; result keys are written once in practice).
func (s *Store) Reseal(ctx context.Context, tenantID string) (ResealStats, error) {
	return s.reseal(ctx, tenantID, func() { keys.Faultpoint(StepResealBatch) })
}

func (s *Store) reseal(ctx context.Context, tenantID string, afterFirst func()) (ResealStats,
	error) {
	st := ResealStats{Remaining: map[int]int{}}
	if err := validate(tenantID, "x"); err != nil {
		return st, err
	}
	s.Forget(tenantID)
	current, _, err := s.keys.TenantKeys(ctx, tenantID)
	if err != nil {
		return st, err
	}
	st.Current = current
	sl, err := s.sealer(ctx, tenantID)
	if err != nil {
		return st, err
	}
	type pending struct{ key, old, sealed []byte }
	var batch []pending
	batches := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		txn := s.db.NewTransaction(true)
		defer func() { txn.Discard() }()
		put := func(p pending) error {
			item, err := txn.Get(p.key)
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil // deleted meanwhile
			}
			if err != nil {
				return err
			}
			same := false
			if err := item.Value(func(v []byte) error {
				same = bytes.Equal(v, p.old)
				return nil
			}); err != nil || !same {
				return err // rewritten meanwhile, under the current key
			}
			if err := txn.Set(p.key, p.sealed); err != nil {
				return err
			}
			st.Resealed++
			return nil
		}
		for _, p := range batch {
			err := put(p)
			if errors.Is(err, badger.ErrTxnTooBig) { // large values: commit and go on
				if err = txn.Commit(); err == nil {
					txn = s.db.NewTransaction(true)
					err = put(p)
				}
			}
			if err != nil {
				return fmt.Errorf("re-seal results of tenant %s: %w", tenantID, err)
			}
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("re-seal results of tenant %s: %w", tenantID, err)
		}
		batch = batch[:0]
		if batches++; batches == 1 && afterFirst != nil {
			afterFirst()
		}
		return nil
	}
	prefix := []byte(tenantID + "/")
	err = s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(prefix); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			sealed, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			st.Scanned++
			v, err := keys.SealedVersion(sealed)
			if err != nil || int(v) == current {
				continue
			}
			k := item.KeyCopy(nil)
			plain, err := sl.Open(sealed, k)
			if err != nil {
				st.Remaining[int(v)]++ // its key is gone: it stays unreadable
				continue
			}
			resealed, err := sl.Seal(plain, k)
			if err != nil {
				return err
			}
			batch = append(batch, pending{key: k, old: sealed, sealed: resealed})
			if len(batch) >= resealBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return st, err
	}
	// Count what is left, including values written under stale keys during the pass.
	st.Remaining, err = s.versionCounts(ctx, tenantID, current)
	return st, err
}

// versionCounts counts a tenant's values by key version, leaving out version current.
func (s *Store) versionCounts(ctx context.Context, tenantID string, current int) (map[int]int,
	error) {
	out := map[int]int{}
	prefix := []byte(tenantID + "/")
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(prefix); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var v uint32
			err := it.Item().Value(func(b []byte) error {
				var err error
				v, err = keys.SealedVersion(b)
				return err
			})
			if errors.Is(err, store.ErrCorrupt) {
				continue
			}
			if err != nil {
				return err
			}
			if int(v) != current {
				out[int(v)]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count results of tenant %s by key version: %w", tenantID, err)
	}
	return out, nil
}
