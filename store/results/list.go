package results

import (
	"context"
	"fmt"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tenantra/tenantra/store"
)

// List returns a tenant's values whose keys start with prefix, in key order, opened; at most
// limit of them (all when limit <= 0). Keys come back without the tenant part.
func (s *Store) List(ctx context.Context, tenantID, prefix string, limit int) ([]store.KV,
	error) {
	if err := validate(tenantID, "x"); err != nil {
		return nil, err
	}
	full := dbKey(tenantID, prefix)
	var sealed []store.KV
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = full
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(full); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			sealed = append(sealed, store.KV{Key: string(it.Item().KeyCopy(nil)), Value: v})
			if limit > 0 && len(sealed) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list results: %w", err)
	}
	if len(sealed) == 0 {
		return nil, nil
	}
	sl, err := s.sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]store.KV, 0, len(sealed))
	for _, kv := range sealed {
		v, err := sl.Open(kv.Value, []byte(kv.Key))
		if err != nil {
			return nil, err
		}
		out = append(out, store.KV{Key: strings.TrimPrefix(kv.Key, tenantID+"/"), Value: v})
	}
	return out, nil
}
