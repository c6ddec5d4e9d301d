package appliance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/tenantra/tenantra/appliance/authz"
	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

// clock is a settable time source: tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const idPassword = "identity test passphrase 2026"

type idEnv struct {
	a     *Appliance
	clk   *clock
	local context.Context
	dir   string
}

func newIDEnv(t *testing.T) *idEnv {
	t.Helper()
	e := &idEnv{clk: &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		local: authz.WithPrincipal(context.Background(), authz.LocalAdmin()), dir: t.TempDir()}
	e.open(t)
	if _, err := e.a.CreateTenant(e.local, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.CreateUser(e.local, web.NewUser{Email: "ann@example.com",
		Password: idPassword, Tenant: "acme", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *idEnv) open(t *testing.T) {
	t.Helper()
	a, err := Open(context.Background(), testConfig(t, e.dir), Options{Role: "test",
		Now: e.clk.Now, PasswordCost: testCost})
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	t.Cleanup(func() { _ = e.a.Close() })
}

func (e *idEnv) login(t *testing.T, email, pw, code string) (web.Tokens, error) {
	t.Helper()
	return e.a.Login(context.Background(), web.LoginRequest{Email: email, Password: pw,
		TOTP: code, IP: "127.0.0.1"})
}

func (e *idEnv) auth(tok web.Tokens) (*authz.Principal, error) {
	return e.a.Authenticate(context.Background(), tok.AccessToken)
}

func TestLoginAndTokens(t *testing.T) {
	e := newIDEnv(t)
	tok, err := e.login(t, "ANN@example.com ", idPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || tok.RefreshToken == "" {
		t.Fatalf("tokens: %+v", tok)
	}
	p, err := e.auth(tok)
	if err != nil || p.Email != "ann@example.com" || len(p.Roles) != 1 {
		t.Fatalf("authenticate: %+v %v", p, err)
	}

	t.Run("unknown user and wrong password look the same", func(t *testing.T) {
		_, e1 := e.login(t, "nobody@example.com", idPassword, "")
		_, e2 := e.login(t, "ann@example.com", "wrong password entirely", "")
		if e1 == nil || e2 == nil || e1.Error() != e2.Error() ||
			!errors.Is(e1, store.ErrUnauthenticated) {
			t.Fatalf("answers differ: %v / %v", e1, e2)
		}
	})
	t.Run("tampered token", func(t *testing.T) {
		parts := strings.Split(tok.AccessToken, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(claims), `"sub":"`, `"sub":"x`, 1)
		bad := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." +
			parts[2]
		if _, err := e.a.Authenticate(context.Background(), bad); !errors.Is(err,
			store.ErrUnauthenticated) {
			t.Fatalf("forged claims accepted: %v", err)
		}
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) +
			"." + parts[1] + "."
		if _, err := e.a.Authenticate(context.Background(), none); err == nil {
			t.Fatal("alg none accepted")
		}
	})
	t.Run("expiry", func(t *testing.T) {
		e.clk.Add(16 * time.Minute)
		defer e.clk.Add(-16 * time.Minute)
		if _, err := e.auth(tok); !errors.Is(err, store.ErrUnauthenticated) {
			t.Fatalf("expired token accepted: %v", err)
		}
	})
	t.Run("refresh rotation and replay", func(t *testing.T) {
		t2, err := e.a.Refresh(context.Background(), tok.RefreshToken)
		if err != nil || t2.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := e.auth(t2); err != nil {
			t.Fatalf("refreshed access token: %v", err)
		}
		// Replaying the spent token ends the whole family, the new token included.
		if _, err := e.a.Refresh(context.Background(), tok.RefreshToken); !errors.Is(err,
			store.ErrUnauthenticated) || !strings.Contains(err.Error(), "used before") {
			t.Fatalf("replay: %v", err)
		}
		if _, err := e.a.Refresh(context.Background(), t2.RefreshToken); err == nil {
			t.Fatal("the successor of a replayed token still works")
		}
		if _, err := e.auth(t2); err == nil {
			t.Fatal("access token of a revoked family still works")
		}
	})
	t.Run("logout revokes", func(t *testing.T) {
		t3, _ := e.login(t, "ann@example.com", idPassword, "")
		p, err := e.auth(t3)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.a.Logout(authz.WithPrincipal(context.Background(), p)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.auth(t3); err == nil {
			t.Fatal("access token works after logout")
		}
		if _, err := e.a.Refresh(context.Background(), t3.RefreshToken); err == nil {
			t.Fatal("refresh works after logout")
		}
	})
	t.Run("disable revokes", func(t *testing.T) {
		t4, _ := e.login(t, "ann@example.com", idPassword, "")
		if _, err := e.auth(t4); err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		if _, err := e.a.UpdateUser(e.local, "ann@example.com",
			web.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.auth(t4); err == nil {
			t.Fatal("access token works for a disabled user")
		}
		if _, err := e.login(t, "ann@example.com", idPassword, ""); err == nil {
			t.Fatal("a disabled user signed in")
		}
		_, _ = e.a.UpdateUser(e.local, "ann@example.com", web.UserUpdate{Disabled: &no})
	})
}

func TestSigningKeyRotation(t *testing.T) {
	e := newIDEnv(t)
	before, _ := e.login(t, "ann@example.com", idPassword, "")
	if _, err := e.a.keyring.Rotate(jwtKeyName, 1); err != nil {
		t.Fatal(err)
	}
	_ = e.a.Close()
	e.open(t)
	// Nobody is logged out: tokens signed with the previous key still verify.
	if _, err := e.auth(before); err != nil {
		t.Fatalf("token from before the rotation: %v", err)
	}
	after, _ := e.login(t, "ann@example.com", idPassword, "")
	if kid(t, after.AccessToken) == kid(t, before.AccessToken) {
		t.Fatal("new tokens are signed with the old key")
	}
	// Two rotations later the first key is retired and its tokens stop working.
	_, _ = e.a.keyring.Rotate(jwtKeyName, 1)
	_ = e.a.Close()
	e.open(t)
	if _, err := e.auth(before); err == nil {
		t.Fatal("a token signed with a retired key verified")
	}
	if _, err := e.auth(after); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
}

func kid(t *testing.T, token string) string {
	t.Helper()
	head, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(head, &h); err != nil || h.Kid == "" {
		t.Fatalf("no kid in %s", head)
	}
	return h.Kid
}

func TestLockoutAndRateLimit(t *testing.T) {
	e := newIDEnv(t)
	for i := range 5 {
		if _, err := e.login(t, "ann@example.com", "not the password at all", ""); !errors.Is(
			err, store.ErrUnauthenticated) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, err := e.login(t, "ann@example.com", idPassword, "")
	var rl *store.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("locked account: %v", err)
	}
	// Unknown accounts lock the same way, so lockouts do not reveal which emails exist.
	for range 5 {
		_, _ = e.login(t, "ghost@example.com", "not the password at all", "")
	}
	if _, err := e.login(t, "ghost@example.com", "x password guess 1", ""); !errors.As(err,
		&rl) {
		t.Fatalf("unknown account did not lock: %v", err)
	}
	e.clk.Add(rl.RetryAfter + time.Second)
	if _, err := e.login(t, "ann@example.com", idPassword, ""); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	// Per-IP rate limit: a burst from one address is cut off, and refills with time.
	limited := false
	for i := range 15 {
		_, err := e.a.Login(context.Background(), web.LoginRequest{
			Email: "user" + string(rune('a'+i%26)) + "@example.com", Password: "whatever it is",
			IP: "192.0.2.9"})
		if errors.As(err, &rl) {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("15 sign-ins from one address were not rate limited")
	}
	e.clk.Add(time.Minute)
	if _, err := e.a.Login(context.Background(), web.LoginRequest{Email: "ann@example.com",
		Password: idPassword, IP: "192.0.2.9"}); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

func TestTOTP(t *testing.T) {
	e := newIDEnv(t)
	tok, _ := e.login(t, "ann@example.com", idPassword, "")
	p, _ := e.auth(tok)
	ctx := authz.WithPrincipal(context.Background(), p)
	enr, err := e.a.StartTOTP(ctx)
	if err != nil || enr.Secret == "" || !strings.HasPrefix(enr.URI, "otpauth://totp/") ||
		enr.QRPNG == "" {
		t.Fatalf("enrol: %+v %v", enr, err)
	}
	code := func() string {
		c, err := totp.GenerateCode(enr.Secret, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.a.ConfirmTOTP(ctx, "000000"); err == nil {
		t.Fatal("a wrong code confirmed enrolment")
	}
	recovery, err := e.a.ConfirmTOTP(ctx, code())
	if err != nil || len(recovery) != 10 {
		t.Fatalf("confirm: %d codes, %v", len(recovery), err)
	}
	// The code that confirmed enrolment is spent.
	if _, err := e.login(t, "ann@example.com", idPassword, code()); err == nil {
		t.Fatal("a replayed TOTP code signed in")
	}
	if _, err := e.login(t, "ann@example.com", idPassword, ""); err == nil ||
		!strings.Contains(err.Error(), "authenticator") {
		t.Fatalf("sign-in without the second factor: %v", err)
	}
	e.clk.Add(30 * time.Second)
	mfaTok, err := e.login(t, "ann@example.com", idPassword, code())
	if err != nil {
		t.Fatalf("sign-in with TOTP: %v", err)
	}
	if p, _ := e.auth(mfaTok); !p.MFA {
		t.Fatal("the session does not record its second factor")
	}
	// A tenant that requires MFA refuses sessions without it.
	yes := true
	_, err = e.a.UpdateTenant(e.local, "acme", store.TenantUpdate{RequireMFA: &yes})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(e.a, web.Options{})
	get := func(tok web.Tokens) int {
		r := httptest.NewRequest("GET", "/v1/tenants/acme", nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		return rec.Code
	}
	if code := get(tok); code != http.StatusForbidden {
		t.Fatalf("session without MFA on a tenant that requires it: %d, want 403", code)
	}
	if code := get(mfaTok); code != http.StatusOK {
		t.Fatalf("session with MFA: %d, want 200", code)
	}
	if _, err := e.login(t, "ann@example.com", idPassword, recovery[0]); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := e.login(t, "ann@example.com", idPassword, recovery[0]); err == nil {
		t.Fatal("a recovery code worked twice")
	}
}

func TestBootstrap(t *testing.T) {
	a := openTest(t, testConfig(t, t.TempDir()))
	defer a.Close()
	ctx := authz.WithPrincipal(context.Background(), authz.LocalAdmin())
	if _, err := a.Bootstrap(ctx, "short"); err == nil {
		t.Fatal("a weak TENA_ADMIN_PASSWORD was accepted")
	}
	pw, err := a.Bootstrap(ctx, "")
	if err != nil || len(pw) < 20 {
		t.Fatalf("generated password %q: %v", pw, err)
	}
	if _, err := a.Login(context.Background(), web.LoginRequest{Email: BootstrapEmail,
		Password: pw}); err != nil {
		t.Fatalf("sign in as the bootstrap admin: %v", err)
	}
	if again, err := a.Bootstrap(ctx, ""); err != nil || again != "" {
		t.Fatalf("second bootstrap: %q %v", again, err)
	}
	if n, _ := a.store.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users after two bootstraps", n)
	}
}

func totpCode(secret string, at time.Time) (string, error) { return totp.GenerateCode(secret, at) }
