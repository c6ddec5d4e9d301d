package auth

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenantra/tenantra/store"
)

// Throttle defaults. Per IP is looser than per account because offices share one address
// behind NAT; per account is tight because a person types a password a few times a minute at
// most.
const (
	DefaultPerIP        = rate.Limit(0.5) // one attempt every 2 s on average
	DefaultIPBurst      = 30
	DefaultPerAccount   = rate.Limit(0.1) // one attempt every 10 s on average
	DefaultAccountBurst = 10
	DefaultLockAfter    = 5
	DefaultLockBase     = time.Minute
	DefaultLockMax      = time.Hour
	DefaultForgetAfter  = 24 * time.Hour
	DefaultMaxEntries   = 50_000
)

// maxLock caps LockMax: a longer lockout is an outage, not a defence, and an administrator
// can disable an account outright.
const maxLock = 30 * 24 * time.Hour

// maxThrottleKey bounds the memory one key can hold; longer keys are replaced by their hash,
// so a flood of megabyte-long "emails" costs no more than short ones.
const maxThrottleKey = 256

// evictScan is how many of the oldest account entries eviction looks through for one that
// holds no failures, before it gives up and evicts the oldest anyway.
const evictScan = 16

// ThrottleConfig configures a Throttle. Zero values mean the Default… constants; use rate.Inf
// to switch a rate limit off.
type ThrottleConfig struct {
	// PerIP and IPBurst limit login attempts from one client address.
	PerIP   rate.Limit
	IPBurst int
	// PerAccount and AccountBurst limit attempts on one account from anywhere.
	PerAccount   rate.Limit
	AccountBurst int
	// LockAfter consecutive failures lock the account for LockBase; each further failure
	// doubles the lock, up to LockMax.
	LockAfter int
	LockBase  time.Duration
	LockMax   time.Duration
	// ForgetAfter without a failure clears an unlocked account's failure streak, so that a
	// few typos spread over weeks never add up to a lockout.
	ForgetAfter time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxEntries bounds how many addresses, and separately how many accounts, are tracked;
	// the least recently seen are forgotten first.
	MaxEntries int
}

// Throttle rate-limits login attempts per client address and per account, and locks accounts
// out for growing periods after repeated failures. It is safe for concurrent use.
//
// Accounts that do not exist are throttled exactly like real ones, so the answers do not
// reveal which accounts exist. Memory is bounded by MaxEntries: when full, the entries seen
// least recently are dropped, preferring accounts without failures so that an attacker cannot
// cheaply flush a lockout by spraying made-up account names.
type Throttle struct {
	cfg ThrottleConfig

	mu       sync.Mutex
	ips      lru[*rate.Limiter]
	accounts lru[*accountState]
}

type accountState struct {
	limiter     *rate.Limiter
	failures    int
	lastFailure time.Time
	lockedUntil time.Time
}

// NewThrottle returns a Throttle for cfg with defaults filled in.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	if cfg.PerIP < 0 || cfg.PerAccount < 0 || cfg.IPBurst < 0 || cfg.AccountBurst < 0 ||
		cfg.LockAfter < 0 || cfg.LockBase < 0 || cfg.LockMax < 0 || cfg.ForgetAfter < 0 ||
		cfg.MaxEntries < 0 {
		return nil, store.Errorf(store.ErrInvalid, "login throttle settings must not be negative")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.PerIP == 0 {
		cfg.PerIP = DefaultPerIP
	}
	if cfg.PerAccount == 0 {
		cfg.PerAccount = DefaultPerAccount
	}
	def(&cfg.IPBurst, DefaultIPBurst)
	def(&cfg.AccountBurst, DefaultAccountBurst)
	def(&cfg.LockAfter, DefaultLockAfter)
	def(&cfg.MaxEntries, DefaultMaxEntries)
	defDur(&cfg.LockBase, DefaultLockBase)
	defDur(&cfg.LockMax, DefaultLockMax)
	defDur(&cfg.ForgetAfter, DefaultForgetAfter)
	if cfg.LockMax > maxLock {
		return nil, store.Errorf(store.ErrInvalid,
			"login lockout maximum must be at most %s, got %s", maxLock, cfg.LockMax)
	}
	if cfg.LockMax < cfg.LockBase {
		return nil, store.Errorf(store.ErrInvalid,
			"login lockout maximum (%s) must not be below its base (%s)", cfg.LockMax,
			cfg.LockBase)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Throttle{cfg: cfg}
	t.ips.init(cfg.MaxEntries)
	t.accounts.init(cfg.MaxEntries)
	return t, nil
}

// Allow reports whether a login attempt from ip on account may go ahead. When it may not,
// retryAfter says when to try again (for a Retry-After header). A locked account is refused
// without spending the address's allowance; an attempt that is allowed spends one token of
// each limiter.
func (t *Throttle) Allow(ip, account string) (retryAfter time.Duration, ok bool) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.account(account, false); a != nil {
		if left := a.lockedUntil.Sub(now); left > 0 {
			return left, false
		}
	}
	ipl := t.ips.get(throttleKey(ip), func() *rate.Limiter {
		return rate.NewLimiter(t.cfg.PerIP, t.cfg.IPBurst)
	}, nil)
	if !ipl.AllowN(now, 1) {
		return t.retry(ipl, now), false
	}
	// The account entry is made only once the address is within its limit, so a flood from
	// one address cannot churn the account table.
	a := t.account(account, true)
	if !a.limiter.AllowN(now, 1) {
		return t.retry(a.limiter, now), false
	}
	return 0, true
}

// Failure records a failed login on account and returns how long the account is now locked
// (zero while the streak is below LockAfter). The LockAfter-th consecutive failure locks it
// for LockBase, and each failure after that doubles the lock, up to LockMax.
func (t *Throttle) Failure(account string) (lockedFor time.Duration) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.account(account, true)
	if a.failures > 0 && !now.Before(a.lockedUntil) &&
		now.Sub(a.lastFailure) >= t.cfg.ForgetAfter {
		a.failures = 0
	}
	a.failures++
	a.lastFailure = now
	if a.failures < t.cfg.LockAfter {
		return 0
	}
	d := t.lockFor(a.failures - t.cfg.LockAfter)
	a.lockedUntil = now.Add(d)
	return d
}

// Success records a successful login on account, ending its failure streak and any lock.
func (t *Throttle) Success(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.account(account, false); a != nil {
		a.failures = 0
		a.lockedUntil = time.Time{}
	}
}

// Locked reports whether account is locked out and for how much longer.
func (t *Throttle) Locked(account string) (time.Duration, bool) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.account(account, false)
	if a == nil {
		return 0, false
	}
	if left := a.lockedUntil.Sub(now); left > 0 {
		return left, true
	}
	return 0, false
}

// lockFor returns LockBase doubled extra times, capped at LockMax without overflowing.
func (t *Throttle) lockFor(extra int) time.Duration {
	d := t.cfg.LockBase
	for ; extra > 0 && d < t.cfg.LockMax; extra-- {
		if d > t.cfg.LockMax/2 {
			return t.cfg.LockMax
		}
		d *= 2
	}
	return min(d, t.cfg.LockMax)
}

// account finds (or, with create, makes) the state of an account. Case and surrounding space
// do not make a new account, so "Admin@X" cannot dodge the limits of "admin@x".
func (t *Throttle) account(name string, create bool) *accountState {
	key := throttleKey(strings.ToLower(strings.TrimSpace(name)))
	var mk func() *accountState
	if create {
		mk = func() *accountState {
			return &accountState{limiter: rate.NewLimiter(t.cfg.PerAccount, t.cfg.AccountBurst)}
		}
	}
	return t.accounts.get(key, mk, func(a *accountState) bool { return a.failures == 0 })
}

// retry returns how long until lim has a whole token again.
func (t *Throttle) retry(lim *rate.Limiter, now time.Time) time.Duration {
	r := lim.Limit()
	if r == rate.Inf {
		return 0
	}
	if r <= 0 {
		return t.cfg.LockMax
	}
	need := 1 - lim.TokensAt(now)
	if need <= 0 {
		// AllowN refused although a token is there: the burst is below one request.
		return t.cfg.LockMax
	}
	secs := need / float64(r)
	if secs > t.cfg.LockMax.Seconds() {
		return t.cfg.LockMax
	}
	return max(time.Duration(math.Ceil(secs*float64(time.Second))), time.Nanosecond)
}

// throttleKey bounds a key's size: long keys are replaced by a hash of themselves.
func throttleKey(s string) string {
	if len(s) <= maxThrottleKey {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// lru is a map bounded to max entries, least recently used first out. It is not safe for
// concurrent use; Throttle's mutex guards it.
type lru[V any] struct {
	max   int
	order *list.List // front is most recent; elements hold *lruEntry[V]
	index map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
}

func (l *lru[V]) init(maxEntries int) {
	l.max = maxEntries
	l.order = list.New()
	l.index = make(map[string]*list.Element)
}

// get returns the value for key and marks it recently used. A missing key is created with mk,
// or nil is returned when mk is nil. When the map is full, the oldest entry for which
// disposable reports true is evicted (looking at up to evictScan entries; a nil disposable
// means any), and failing that the oldest of all.
func (l *lru[V]) get(key string, mk func() V, disposable func(V) bool) V {
	if e, ok := l.index[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*lruEntry[V]).val
	}
	var zero V
	if mk == nil {
		return zero
	}
	if l.order.Len() >= l.max {
		victim := l.order.Back()
		if disposable != nil {
			for e, n := victim, 0; e != nil && n < evictScan; e, n = e.Prev(), n+1 {
				if disposable(e.Value.(*lruEntry[V]).val) {
					victim = e
					break
				}
			}
		}
		delete(l.index, victim.Value.(*lruEntry[V]).key)
		l.order.Remove(victim)
	}
	v := mk()
	l.index[key] = l.order.PushFront(&lruEntry[V]{key: key, val: v})
	return v
}

func (l *lru[V]) len() int { return l.order.Len() }
