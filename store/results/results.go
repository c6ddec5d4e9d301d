// Package results owns the results store: raw module results and their history in Badger v4,
// opened with Badger's own encryption and with every value additionally sealed under the
// owning tenant's data key (AES-256-GCM, key version in a header), so that destroying a
// tenant's keys makes its results unreadable at once. No Badger type leaves this package.
package results

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// KeySource gives a tenant's current key version and its live key versions.
type KeySource interface {
	TenantKeys(ctx context.Context, tenantID string) (int, map[int]keys.Key, error)
}

// Options configures the results store. The sizes bound memory: Badger's defaults take
// gigabytes of RSS under sustained writes, which an appliance beside a scanner cannot spare.
type Options struct {
	Dir  string
	Key  keys.Key // Badger's encryption key, 32 bytes
	Keys KeySource
	// MemTableMiB, BlockCacheMiB and IndexCacheMiB tune memory; zero picks the defaults.
	MemTableMiB   int
	BlockCacheMiB int
	IndexCacheMiB int
	// ReclaimInterval is how often the store checks whether Badger's memory-mapped files
	// have grown in RSS and, if so, writes their pages back and has the kernel drop them
	// (Linux; reclaim_linux.go). Zero means 250 ms; negative turns it off.
	ReclaimInterval time.Duration
	Logger          *slog.Logger
}

// Store is the Badger-backed implementation of store.Results.
type Store struct {
	db      *badger.DB
	keys    KeySource
	reclaim *reclaimer

	mu      sync.Mutex
	sealers map[string]*keys.Sealer
}

var _ store.Results = (*Store)(nil)

// Open opens (creating if needed) the results store in opt.Dir.
func Open(opt Options) (*Store, error) {
	if len(opt.Key) != keys.KeySize {
		return nil, store.Errorf(store.ErrInvalid, "results key must be %d bytes", keys.KeySize)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	bo := badger.DefaultOptions(opt.Dir).
		WithEncryptionKey(opt.Key).
		// Two 16 MiB memtables and 16 MiB caches: with the values in the value log the tree
		// holds only keys and pointers, so these keep the write rate of 3 × 32 MiB and
		// 32 MiB caches, with a lower bound on the heap (peak anon 221 → 209 MiB at 1M
		// values). The rest of RSS is Badger's mapped files, which no option changes and
		// the reclaimer gives back (reclaim_linux.go,
		// docs/adr/0010-storage-performance-targets.md).
		WithMemTableSize(int64(orDefault(opt.MemTableMiB, 16)) << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(int64(orDefault(opt.BlockCacheMiB, 16)) << 20).
		WithIndexCacheSize(int64(orDefault(opt.IndexCacheMiB, 16)) << 20).
		WithBaseTableSize(8 << 20).
		// Sealed values of 256 bytes or more go to the value log and the LSM tree keeps only
		// keys and pointers, so compaction no longer rewrites (decrypting and re-encrypting)
		// every value several times. With values in the tree (threshold 4 KiB) writing 1M
		// sealed 500-byte results peaked at 1.4 GiB of anonymous memory; now 265 MiB, and
		// writes are 1.8× faster (docs/PERFORMANCE.md). Space of dropped or overwritten
		// values comes back only through value-log GC (DB.RunValueLogGC), which therefore has
		// to run periodically; 64 MiB log files keep each GC pass small.
		WithValueThreshold(256).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithCompression(options.None). // sealed values do not compress
		WithDetectConflicts(false).
		WithLogger(badgerLogger{opt.Logger})
	db, err := badger.Open(bo)
	if err != nil && strings.HasSuffix(err.Error(), z.NewFile.Error()) { // not wrapped with %w
		// A process killed right after Badger created a memtable file leaves it empty, and
		// the next Open fails once with z.NewFile after initialising it
		// (dgraph-io/badger#2207); the retry opens normally with no data lost.
		db, err = badger.Open(bo)
	}
	if err != nil {
		if strings.Contains(err.Error(), "Encryption key mismatch") {
			return nil, store.Errorf(store.ErrWrongKey,
				"the results store cannot be opened with the keyring's "+
					"results key; restore the matching keyring")
		}
		return nil, fmt.Errorf("open results store: %w", err)
	}
	if opt.ReclaimInterval == 0 {
		opt.ReclaimInterval = 250 * time.Millisecond
	}
	return &Store{db: db, keys: opt.Keys, sealers: map[string]*keys.Sealer{},
		reclaim: startReclaimer(opt.Dir, opt.ReclaimInterval, reclaimGrowth, opt.Logger)}, nil
}

// reclaimGrowth is how far the mapped files' resident pages may grow before they are
// reclaimed: at ~50 MB/s of sealed values, a pass every ~300 ms.
const reclaimGrowth = 16 << 20

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

func dbKey(tenantID, key string) []byte { return []byte(tenantID + "/" + key) }

func (s *Store) sealer(ctx context.Context, tenantID string) (*keys.Sealer, error) {
	s.mu.Lock()
	sl, ok := s.sealers[tenantID]
	s.mu.Unlock()
	if ok {
		return sl, nil
	}
	current, versions, err := s.keys.TenantKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if sl, err = keys.NewSealer(current, versions); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.sealers[tenantID] = sl
	s.mu.Unlock()
	return sl, nil
}

// Forget drops the cached keys of a tenant, after its keys changed.
func (s *Store) Forget(tenantID string) {
	s.mu.Lock()
	delete(s.sealers, tenantID)
	s.mu.Unlock()
}

func validate(tenantID, key string) error {
	if tenantID == "" || strings.Contains(tenantID, "/") || key == "" {
		return store.Errorf(store.ErrInvalid,
			"result keys need a tenant id without '/' and a non-empty key")
	}
	return nil
}

// Put stores one sealed value.
func (s *Store) Put(ctx context.Context, tenantID, key string, value []byte) error {
	return s.PutBatch(ctx, tenantID, []store.KV{{Key: key, Value: value}})
}

// PutBatch seals and writes many values through one Badger write batch.
func (s *Store) PutBatch(ctx context.Context, tenantID string, kvs []store.KV) error {
	sl, err := s.sealer(ctx, tenantID)
	if err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, kv := range kvs {
		if err := validate(tenantID, kv.Key); err != nil {
			return err
		}
		k := dbKey(tenantID, kv.Key)
		sealed, err := sl.Seal(kv.Value, k)
		if err != nil {
			return err
		}
		if err := wb.Set(k, sealed); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// Get reads and opens one value.
func (s *Store) Get(ctx context.Context, tenantID, key string) ([]byte, error) {
	if err := validate(tenantID, key); err != nil {
		return nil, err
	}
	k := dbKey(tenantID, key)
	var sealed []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		sealed, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, store.Errorf(store.ErrNotFound, "result %q", key)
	}
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	sl, err := s.sealer(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Errorf(store.ErrWrongKey, "the keys of tenant %s are destroyed",
			tenantID)
	}
	if err != nil {
		return nil, err
	}
	return sl.Open(sealed, k)
}

// DropTenant removes every key of the tenant.
func (s *Store) DropTenant(_ context.Context, tenantID string) error {
	s.Forget(tenantID)
	if err := validate(tenantID, "x"); err != nil {
		return err
	}
	if err := s.db.DropPrefix([]byte(tenantID + "/")); err != nil {
		return fmt.Errorf("drop tenant results: %w", err)
	}
	return nil
}

// CountPrefix counts the keys of a tenant (tests and diagnostics).
func (s *Store) CountPrefix(tenantID string) (int, error) {
	n := 0
	prefix := []byte(tenantID + "/")
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = prefix
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(prefix); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Ping checks that the store is open and can read.
func (s *Store) Ping(_ context.Context) error {
	if s.db.IsClosed() {
		return errors.New("results store is closed")
	}
	return s.db.View(func(*badger.Txn) error { return nil })
}

// Close stops reclaiming mapped pages, then flushes and closes Badger.
func (s *Store) Close() error {
	s.reclaim.stop()
	return s.db.Close()
}

// badgerLogger forwards Badger's warnings and errors to slog and drops its chatter.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error("results store: " + string(bytes.TrimSpace([]byte(fmt.Sprintf(f, a...)))))
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn("results store: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
