package appliance

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tenantra/tenantra/appliance/auth"
	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// Token lifetimes and prefixes.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
	refreshPrefix     = "tnr_"
	apiTokenPrefix    = "tna_"
	jwtKeyName        = "jwt"
	// BootstrapEmail is the first platform admin, created on the first serve.
	BootstrapEmail = "admin@localhost"
)

// identity is the sign-in machinery: token issuer, throttle, and a short-lived cache of
// principals so that authenticating a request is usually one JWT verification.
type identity struct {
	passwords  *auth.Passwords
	issuer     atomic.Pointer[auth.Issuer]
	throttle   *auth.Throttle
	totp       auth.TOTPVerifier
	now        func() time.Time
	refreshTTL time.Duration

	mu    sync.Mutex
	cache map[string]cachedPrincipal // by session id
}

type cachedPrincipal struct {
	p       *authz.Principal
	expires time.Time
}

// principalTTL bounds how long a cached principal may lag behind a change made on another
// node; changes made here invalidate the cache at once.
const principalTTL = 10 * time.Second

func (a *Appliance) openIdentity(kr *keys.Keyring, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	sks, err := signingKeys(kr)
	if err != nil {
		return err
	}
	ttl := a.cfg.AccessTTL
	if ttl == 0 {
		ttl = DefaultAccessTTL
	}
	// Per IP: a burst of 10 sign-ins, then one a second; per account: 10, then one every 5 s.
	// Five failures in a row lock the account for a minute, doubling up to an hour.
	throttle, err := auth.NewThrottle(auth.ThrottleConfig{PerIP: 1, IPBurst: 10,
		PerAccount: 0.2, AccountBurst: 10, LockAfter: 5, LockBase: time.Minute,
		LockMax: time.Hour, Now: now, MaxEntries: 100_000})
	if err != nil {
		return err
	}
	cost := a.passwordCost
	if cost == 0 {
		cost = auth.BcryptCost
	}
	passwords, err := auth.NewPasswords(cost)
	if err != nil {
		return err
	}
	a.id = &identity{
		passwords:  passwords,
		throttle:   throttle,
		totp:       auth.TOTPVerifier{Now: now},
		now:        now,
		refreshTTL: DefaultRefreshTTL,
		cache:      map[string]cachedPrincipal{},
	}
	a.id.issuer.Store(&auth.Issuer{Keys: sks, TTL: ttl, Now: now})
	return nil
}

func signingKeys(kr *keys.Keyring) ([]auth.SigningKey, error) {
	versions, err := kr.Versions(jwtKeyName)
	if err != nil {
		return nil, err
	}
	var sks []auth.SigningKey
	for _, v := range versions {
		sks = append(sks, auth.SigningKey{ID: "jwt-v" + strconv.Itoa(v.Version), Secret: v.Key})
	}
	return sks, nil
}

// reloadSigningKeys makes a running server sign with the current JWT key (after a rotation)
// while still verifying with the retained ones.
func (a *Appliance) reloadSigningKeys() error {
	sks, err := signingKeys(a.keyring)
	if err != nil {
		return err
	}
	old := a.id.issuer.Load()
	a.id.issuer.Store(&auth.Issuer{Keys: sks, TTL: old.TTL, Now: old.Now})
	return nil
}

// invalidate forgets every cached principal; identity changes are rare, so this is simpler
// and safer than tracking which sessions a change touches.
func (id *identity) invalidate() {
	id.mu.Lock()
	clear(id.cache)
	id.mu.Unlock()
}

// Bootstrap creates the first platform admin on a data dir without users: with password
// when given (TENA_ADMIN_PASSWORD), else a generated one that is returned to be printed once.
// It does nothing, and returns "", when any user exists.
func (a *Appliance) Bootstrap(ctx context.Context, password string) (generated string,
	err error) {
	n, err := a.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	if password == "" {
		if password, err = GeneratePassword(); err != nil {
			return "", err
		}
		generated = password
	} else if err := auth.ValidatePassword(password, BootstrapEmail); err != nil {
		return "", fmt.Errorf("TENA_ADMIN_PASSWORD: %w", err)
	}
	hash, err := a.id.passwords.Hash(password)
	if err != nil {
		return "", err
	}
	u, err := a.store.CreateUser(ctx, BootstrapEmail, hash, store.PlatformAdmin)
	if err != nil {
		return "", err
	}
	a.audit(ctx, "", "user.bootstrap", u.Email, "success", nil)
	return generated, nil
}

var errBadLogin = store.Errorf(store.ErrUnauthenticated, "email or password is wrong")

// Login checks a user's password (and second factor) and opens a session. Unknown users and
// wrong passwords get the same answer after the same work; attempts are throttled per IP and
// per account, and repeated failures lock the account for a growing time.
func (a *Appliance) Login(ctx context.Context, req web.LoginRequest) (web.Tokens, error) {
	id := a.id
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if email == "" || req.Password == "" || len(email) > 254 || len(req.Password) > 1024 {
		return web.Tokens{}, store.Errorf(store.ErrInvalid, "email and password are required")
	}
	if wait, locked := id.throttle.Locked(email); locked {
		a.audit(ctx, "", "auth.login", email, "denied", map[string]any{"reason": "locked"})
		return web.Tokens{}, &store.RateLimitError{RetryAfter: wait, Msg: fmt.Sprintf(
			"this account is locked after repeated failed sign-ins; try again in %s",
			roundUp(wait))}
	}
	if wait, ok := id.throttle.Allow(req.IP, email); !ok {
		// Not audited: a flood would otherwise write a row per attempt.
		return web.Tokens{}, &store.RateLimitError{RetryAfter: wait, Msg: fmt.Sprintf(
			"too many sign-in attempts; try again in %s", roundUp(wait))}
	}
	u, err := a.store.GetUser(ctx, email)
	var sec store.UserSecrets
	if err == nil {
		sec, err = a.store.UserSecrets(ctx, u.ID)
	}
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return web.Tokens{}, err
		}
		a.id.passwords.Dummy(req.Password)
		return web.Tokens{}, a.loginFailed(ctx, email, "unknown user")
	}
	if !a.id.passwords.Check(sec.PasswordHash, req.Password) {
		return web.Tokens{}, a.loginFailed(ctx, email, "wrong password")
	}
	if u.Disabled {
		return web.Tokens{}, a.loginFailed(ctx, email, "disabled")
	}
	mfa := false
	if u.MFAEnabled {
		if req.TOTP == "" {
			return web.Tokens{}, store.Errorf(store.ErrSecondFactorRequired, "a code from "+
				"your authenticator app (or a recovery code) is required: send it as totp")
		}
		if err := a.checkSecondFactor(ctx, u, sec, req.TOTP); err != nil {
			return web.Tokens{}, a.loginFailed(ctx, email, "second factor: "+err.Error())
		}
		mfa = true
	}
	id.throttle.Success(email)
	t, err := a.openSession(ctx, u, req.IP, req.UserAgent, mfa)
	if err == nil {
		a.auditAs(ctx, u.Email, "", "auth.login", u.Email, "success", nil)
	}
	return t, err
}

func (a *Appliance) checkSecondFactor(ctx context.Context, u store.User, sec store.UserSecrets,
	code string) error {
	if strings.Contains(code, "-") || len(strings.TrimSpace(code)) > 8 {
		return a.store.UseRecoveryCode(ctx, u.ID, auth.HashRecoveryCode(code))
	}
	step, err := a.id.totp.Verify(sec.TOTPSecret, code, sec.TOTPLastStep)
	if err != nil {
		return err
	}
	return a.store.UseTOTPStep(ctx, u.ID, step)
}

func (a *Appliance) loginFailed(ctx context.Context, email, reason string) error {
	locked := a.id.throttle.Failure(email)
	detail := map[string]any{"reason": reason}
	if locked > 0 {
		detail["locked_for"] = locked.String()
		a.audit(ctx, "", "auth.lockout", email, "denied", detail)
	}
	a.audit(ctx, "", "auth.login", email, "failure", detail)
	return errBadLogin
}

func roundUp(d time.Duration) string {
	if d < time.Second {
		return "1s"
	}
	return d.Round(time.Second).String()
}

// openSession records a new session and issues its first tokens.
func (a *Appliance) openSession(ctx context.Context, u store.User, ip, ua string,
	mfa bool) (web.Tokens, error) {
	now := a.id.now()
	sid := uuid.NewString()
	refresh, hash, err := auth.NewOpaqueToken(refreshPrefix)
	if err != nil {
		return web.Tokens{}, err
	}
	se := store.Session{ID: sid, UserID: u.ID, IP: ip, UserAgent: truncate(ua, 200),
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(a.id.refreshTTL), MFA: mfa}
	if err := a.store.CreateSession(ctx, se, hash); err != nil {
		return web.Tokens{}, err
	}
	return a.issue(u.ID, se, refresh)
}

func (a *Appliance) issue(userID string, se store.Session, refresh string) (web.Tokens, error) {
	tok, exp, err := a.id.issuer.Load().Issue(userID, se.ID)
	if err != nil {
		return web.Tokens{}, err
	}
	return web.Tokens{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn:    int(exp.Sub(a.id.now()).Round(time.Second).Seconds()),
		RefreshToken: refresh, RefreshExpires: se.ExpiresAt}, nil
}

// Refresh spends a refresh token for a new access token and a new refresh token. A token
// spent before revokes its whole session.
func (a *Appliance) Refresh(ctx context.Context, refresh string) (web.Tokens, error) {
	if auth.ParseOpaque(refreshPrefix, refresh) != nil {
		return web.Tokens{}, store.Errorf(store.ErrUnauthenticated, "sign in again: the "+
			"refresh token is missing or not valid")
	}
	next, hash, err := auth.NewOpaqueToken(refreshPrefix)
	if err != nil {
		return web.Tokens{}, err
	}
	se, err := a.store.RotateRefresh(ctx, auth.HashToken(refresh), hash, a.id.now())
	switch {
	case errors.Is(err, store.ErrReplay):
		a.id.invalidate()
		a.audit(ctx, "", "auth.refresh_replay", se.ID, "denied", nil)
		return web.Tokens{}, store.Errorf(store.ErrUnauthenticated, "sign in again: this "+
			"refresh token was used before, so its session has been ended")
	case errors.Is(err, store.ErrNotFound):
		return web.Tokens{}, store.Errorf(store.ErrUnauthenticated, "sign in again: the "+
			"session has ended")
	case err != nil:
		return web.Tokens{}, err
	}
	u, err := a.store.GetUser(ctx, se.UserID)
	if err != nil || u.Disabled {
		return web.Tokens{}, store.Errorf(store.ErrUnauthenticated, "sign in again: the "+
			"account is not active")
	}
	return a.issue(u.ID, se, next)
}

// Logout ends the caller's session.
func (a *Appliance) Logout(ctx context.Context) error {
	p := authz.FromContext(ctx)
	if p == nil || p.SessionID == "" {
		return store.Errorf(store.ErrInvalid, "only a signed-in session can log out")
	}
	if err := a.store.RevokeSession(ctx, p.SessionID, a.id.now()); err != nil {
		return err
	}
	a.id.invalidate()
	a.audit(ctx, "", "auth.logout", p.Email, "success", nil)
	return nil
}

// Authenticate turns a bearer credential (an access token or an API token) into the caller.
func (a *Appliance) Authenticate(ctx context.Context, bearer string) (*authz.Principal,
	error) {
	if strings.HasPrefix(bearer, apiTokenPrefix) {
		return a.authenticateToken(ctx, bearer)
	}
	claims, err := a.id.issuer.Load().Verify(bearer)
	if err != nil {
		return nil, store.Errorf(store.ErrUnauthenticated, "the access token is not valid or "+
			"has expired; sign in or refresh")
	}
	now := a.id.now()
	a.id.mu.Lock()
	c, ok := a.id.cache[claims.SessionID]
	a.id.mu.Unlock()
	if ok && now.Before(c.expires) && c.p.UserID == claims.Subject {
		return c.p, nil
	}
	se, err := a.store.GetSession(ctx, claims.SessionID)
	if err != nil || se.RevokedAt != nil || se.UserID != claims.Subject ||
		!now.Before(se.ExpiresAt) {
		return nil, store.Errorf(store.ErrUnauthenticated, "the session has ended; sign in "+
			"again")
	}
	u, err := a.store.GetUser(ctx, claims.Subject)
	if err != nil || u.Disabled {
		return nil, store.Errorf(store.ErrUnauthenticated, "the account is not active")
	}
	p := &authz.Principal{UserID: u.ID, Email: u.Email, PlatformRole: u.PlatformRole,
		Roles: map[string]store.TenantRole{}, SessionID: se.ID,
		MFA: se.MFA}
	for _, m := range u.Memberships {
		p.Roles[m.TenantID] = m.Role
	}
	a.id.mu.Lock()
	if len(a.id.cache) > 100_000 {
		clear(a.id.cache)
	}
	a.id.cache[se.ID] = cachedPrincipal{p: p, expires: now.Add(principalTTL)}
	a.id.mu.Unlock()
	return p, nil
}

func (a *Appliance) authenticateToken(ctx context.Context, bearer string) (*authz.Principal,
	error) {
	if auth.ParseOpaque(apiTokenPrefix, bearer) != nil {
		return nil, store.Errorf(store.ErrUnauthenticated, "the API token is not valid")
	}
	t, err := a.store.LookupAPIToken(ctx, auth.HashToken(bearer), a.id.now())
	if err != nil {
		return nil, store.Errorf(store.ErrUnauthenticated, "the API token is not valid, "+
			"revoked or expired")
	}
	// A token lives only as long as its creator may act: disabled or removed people's tokens
	// stop working with them.
	if creator, err := a.store.GetUser(ctx, t.CreatedBy); err == nil && creator.Disabled {
		return nil, store.Errorf(store.ErrUnauthenticated, "the API token's creator is "+
			"disabled, so the token no longer works")
	}
	return &authz.Principal{TokenID: t.ID, Email: "token:" + t.Name,
		Roles: map[string]store.TenantRole{t.TenantID: t.Role}}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// GeneratePassword returns a random password of 24 lowercase letters and digits (120 bits).
func GeneratePassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(b)), nil
}
