package auth

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenantra/tenantra/store"
)

// clock is a settable time source for tests; it never sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestThrottle(t *testing.T, cfg ThrottleConfig) (*Throttle, *clock) {
	t.Helper()
	c := newClock()
	cfg.Now = c.Now
	th, err := NewThrottle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return th, c
}

func TestThrottlePerIP(t *testing.T) {
	th, c := newTestThrottle(t, ThrottleConfig{PerIP: rate.Every(10 * time.Second), IPBurst: 3,
		PerAccount: rate.Inf})
	for i := range 3 {
		if _, ok := th.Allow("192.0.2.1", fmt.Sprintf("user%d@x", i)); !ok {
			t.Fatalf("attempt %d within burst refused", i)
		}
	}
	retry, ok := th.Allow("192.0.2.1", "other@x")
	if ok || retry != 10*time.Second {
		t.Fatalf("over burst: retry %v, ok %v; want 10s, false", retry, ok)
	}
	if _, ok := th.Allow("192.0.2.2", "other@x"); !ok {
		t.Fatal("another address was limited")
	}
	c.Advance(4 * time.Second)
	if retry, ok := th.Allow("192.0.2.1", "other@x"); ok || retry != 6*time.Second {
		t.Fatalf("partly refilled: retry %v, ok %v; want 6s", retry, ok)
	}
	c.Advance(6 * time.Second)
	if _, ok := th.Allow("192.0.2.1", "other@x"); !ok {
		t.Fatal("refilled token refused")
	}
	if _, ok := th.Allow("192.0.2.1", "other@x"); ok {
		t.Fatal("second attempt after one refill allowed")
	}
}

func TestThrottlePerAccount(t *testing.T) {
	th, c := newTestThrottle(t, ThrottleConfig{PerIP: rate.Inf, PerAccount: rate.Every(time.Minute),
		AccountBurst: 2})
	// Spreading attempts over addresses does not escape the account's limit, nor does
	// changing case or padding the name.
	for i, acct := range []string{"alice@example.com", " ALICE@example.com "} {
		if _, ok := th.Allow(fmt.Sprintf("198.51.100.%d", i), acct); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	retry, ok := th.Allow("198.51.100.9", "Alice@Example.com")
	if ok || retry != time.Minute {
		t.Fatalf("third attempt: retry %v, ok %v", retry, ok)
	}
	if _, ok := th.Allow("198.51.100.9", "bob@example.com"); !ok {
		t.Fatal("another account was limited")
	}
	c.Advance(time.Minute)
	if _, ok := th.Allow("198.51.100.9", "alice@example.com"); !ok {
		t.Fatal("refilled account refused")
	}
}

func TestThrottleLockout(t *testing.T) {
	th, c := newTestThrottle(t, ThrottleConfig{PerIP: rate.Inf, PerAccount: rate.Inf,
		LockAfter: 3, LockBase: time.Minute, LockMax: 8 * time.Minute})
	const acct = "alice@example.com"
	steps := []time.Duration{0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute,
		8 * time.Minute, 8 * time.Minute, 8 * time.Minute}
	for i, want := range steps {
		got := th.Failure(acct)
		if got != want {
			t.Fatalf("failure %d: locked for %v, want %v", i+1, got, want)
		}
		left, locked := th.Locked(acct)
		if locked != (want > 0) || left != want {
			t.Fatalf("failure %d: Locked = %v, %v", i+1, left, locked)
		}
		if want == 0 {
			continue
		}
		retry, ok := th.Allow("192.0.2.1", acct)
		if ok || retry != want {
			t.Fatalf("failure %d: Allow while locked = %v, %v", i+1, retry, ok)
		}
		c.Advance(want - time.Second)
		if left, locked := th.Locked(acct); !locked || left != time.Second {
			t.Fatalf("failure %d: lock ended early (%v, %v)", i+1, left, locked)
		}
		c.Advance(time.Second)
		if _, locked := th.Locked(acct); locked {
			t.Fatalf("failure %d: lock did not expire", i+1)
		}
		if _, ok := th.Allow("192.0.2.1", acct); !ok {
			t.Fatalf("failure %d: refused after the lock expired", i+1)
		}
	}
	// Success ends the streak: the next failures start from scratch.
	th.Success(" ALICE@example.com")
	if d := th.Failure(acct); d != 0 {
		t.Fatalf("after success the first failure locked for %v", d)
	}
	// Other accounts were never affected.
	if _, locked := th.Locked("bob@example.com"); locked {
		t.Fatal("bob locked")
	}
	th.Success("nobody@example.com") // unknown accounts are fine
}

func TestThrottleForget(t *testing.T) {
	th, c := newTestThrottle(t, ThrottleConfig{LockAfter: 3, ForgetAfter: time.Hour})
	th.Failure("a")
	th.Failure("a")
	c.Advance(time.Hour)
	if d := th.Failure("a"); d != 0 {
		t.Fatalf("stale failures counted: locked for %v", d)
	}
	th.Failure("a")
	if d := th.Failure("a"); d != DefaultLockBase {
		t.Fatalf("third recent failure: locked for %v, want %v", d, DefaultLockBase)
	}
}

func TestThrottleLockNoOverflow(t *testing.T) {
	th, _ := newTestThrottle(t, ThrottleConfig{LockAfter: 1, LockBase: 7 * time.Minute,
		LockMax: maxLock})
	var d time.Duration
	for range 200 {
		d = th.Failure("a")
		if d <= 0 {
			t.Fatalf("lock duration overflowed to %v", d)
		}
	}
	if d != maxLock {
		t.Fatalf("lock %v, want the cap", d)
	}
}

func TestThrottleMemoryBound(t *testing.T) {
	const max = 1000
	th, c := newTestThrottle(t, ThrottleConfig{MaxEntries: max, PerIP: rate.Inf,
		PerAccount: rate.Inf, LockAfter: 1})
	// A victim locked out before the flood stays locked through it: eviction prefers
	// accounts with no failures.
	th.Failure("victim@example.com")
	for i := range 100_000 {
		th.Allow(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255),
			fmt.Sprintf("spray%d@example.com", i))
		if i%10_000 == 0 {
			c.Advance(time.Millisecond)
		}
	}
	th.mu.Lock()
	ips, accts := th.ips.len(), th.accounts.len()
	idx, acctIdx := len(th.ips.index), len(th.accounts.index)
	th.mu.Unlock()
	if ips > max || accts > max || idx != ips || acctIdx != accts {
		t.Fatalf("tracking %d (%d) addresses and %d (%d) accounts, bound %d", ips, idx, accts,
			acctIdx, max)
	}
	if _, locked := th.Locked("victim@example.com"); !locked {
		t.Fatal("the flood evicted a locked account")
	}
	// Keys are bounded in size too: a megabyte name is stored as a short hash.
	huge := strings.Repeat("x", 1<<20)
	th.Failure(huge)
	th.mu.Lock()
	for k := range th.accounts.index {
		if len(k) > maxThrottleKey {
			t.Errorf("stored a %d-byte key", len(k))
		}
	}
	th.mu.Unlock()
	if th.Failure(huge) == 0 {
		t.Fatal("the hashed key did not accumulate failures")
	}
}

func TestThrottleConfig(t *testing.T) {
	for _, cfg := range []ThrottleConfig{
		{PerIP: -1}, {IPBurst: -1}, {PerAccount: -1}, {AccountBurst: -1}, {LockAfter: -1},
		{LockBase: -time.Second}, {LockMax: -time.Second}, {MaxEntries: -1},
		{ForgetAfter: -1}, {LockBase: time.Hour, LockMax: time.Minute},
		{LockMax: maxLock + 1}, {LockBase: 1<<63 - 1, LockMax: 1<<63 - 1},
	} {
		if _, err := NewThrottle(cfg); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("NewThrottle(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
	th, err := NewThrottle(ThrottleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if th.cfg.LockAfter != DefaultLockAfter || th.cfg.LockBase != DefaultLockBase ||
		th.cfg.LockMax != DefaultLockMax || th.cfg.MaxEntries != DefaultMaxEntries ||
		th.cfg.PerIP != DefaultPerIP || th.cfg.AccountBurst != DefaultAccountBurst {
		t.Fatalf("defaults not applied: %+v", th.cfg)
	}
	if _, ok := th.Allow("192.0.2.1", "a"); !ok { // real clock
		t.Fatal("first attempt refused")
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th, c := newTestThrottle(t, ThrottleConfig{MaxEntries: 64, LockAfter: 3})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				acct := fmt.Sprintf("user%d", (g*31+i)%100)
				th.Allow(fmt.Sprintf("ip%d", i%70), acct)
				switch i % 3 {
				case 0:
					th.Failure(acct)
				case 1:
					th.Success(acct)
				default:
					th.Locked(acct)
				}
				if i%50 == 0 {
					c.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	if th.ips.len() > 64 || th.accounts.len() > 64 {
		t.Fatalf("bound exceeded: %d addresses, %d accounts", th.ips.len(), th.accounts.len())
	}
}
