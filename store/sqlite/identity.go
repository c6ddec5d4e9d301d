package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/ncruces/go-sqlite3"

	"github.com/tenantra/tenantra/store"
)

var _ store.Identity = (*Store)(nil)

func fmtT(t time.Time) string { return t.UTC().Format(timeFormat) }

const userCols = "id, email, platform_role, disabled, totp_enabled, created_at, updated_at"

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var created, updated string
	err := row.Scan(&u.ID, &u.Email, &u.PlatformRole, &u.Disabled, &u.MFAEnabled, &created,
		&updated)
	u.CreatedAt, u.UpdatedAt = parseTime(created), parseTime(updated)
	return u, err
}

// CreateUser adds a user; the email must be normalised and unique.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string,
	role store.PlatformRole) (store.User, error) {
	if role != store.PlatformNone && role != store.PlatformAdmin {
		return store.User{}, store.Errorf(store.ErrInvalid, "platform role %q is unknown; "+
			"use admin or none", role)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.User{}, err
	}
	ts := now()
	_, err = s.control.w(ctx).ExecContext(ctx, `INSERT INTO users (id, email, password_hash,
		platform_role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id.String(), email, passwordHash, role, ts, ts)
	if errors.Is(err, sqlite3.CONSTRAINT_UNIQUE) {
		return store.User{}, store.Errorf(store.ErrConflict, "a user with email %q exists "+
			"already", email)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	return store.User{ID: id.String(), Email: email, PlatformRole: role,
		Memberships: []store.Membership{}, CreatedAt: parseTime(ts),
		UpdatedAt: parseTime(ts)}, nil
}

// GetUser finds a user by id or email, with memberships.
func (s *Store) GetUser(ctx context.Context, ref string) (store.User, error) {
	u, err := scanUser(s.control.r(ctx).QueryRowContext(ctx, "SELECT "+userCols+
		" FROM users WHERE id = ? OR email = ?", ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.Errorf(store.ErrNotFound, "user %q does not exist",
			store.Truncate(ref, 80))
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	u.Memberships, err = s.memberships(ctx, u.ID)
	return u, err
}

func (s *Store) memberships(ctx context.Context, userID string) ([]store.Membership, error) {
	rows, err := s.control.r(ctx).QueryContext(ctx, `SELECT m.tenant_id, t.slug, m.role
		FROM memberships m JOIN tenants t ON t.id = m.tenant_id
		WHERE m.user_id = ? AND t.status IN ('active', 'suspended') ORDER BY t.slug`, userID)
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	defer rows.Close()
	out := []store.Membership{}
	for rows.Next() {
		var m store.Membership
		if err := rows.Scan(&m.TenantID, &m.TenantSlug, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UserSecrets returns the login secrets of a user.
func (s *Store) UserSecrets(ctx context.Context, userID string) (store.UserSecrets, error) {
	var sec store.UserSecrets
	err := s.control.r(ctx).QueryRowContext(ctx, `SELECT password_hash, totp_secret,
		totp_last_step FROM users WHERE id = ?`, userID).Scan(&sec.PasswordHash,
		&sec.TOTPSecret, &sec.TOTPLastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return sec, store.Errorf(store.ErrNotFound, "user does not exist")
	}
	return sec, err
}

// ListUsers lists users, all of them or the members of one tenant.
func (s *Store) ListUsers(ctx context.Context, tenantID string, p store.Page) ([]store.User,
	int, error) {
	where, args := "", []any{}
	if tenantID != "" {
		where = " WHERE id IN (SELECT user_id FROM memberships WHERE tenant_id = ?)"
		args = append(args, tenantID)
	}
	var total int
	if err := s.control.r(ctx).QueryRowContext(ctx, "SELECT count(*) FROM users"+where,
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	rows, err := s.control.r(ctx).QueryContext(ctx, "SELECT "+userCols+" FROM users"+where+
		" ORDER BY email LIMIT ? OFFSET ?", append(args, p.Size, p.Offset())...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, u)
	}
	rows.Close()
	for i := range out {
		if out[i].Memberships, err = s.memberships(ctx, out[i].ID); err != nil {
			return nil, 0, err
		}
	}
	if out == nil {
		out = []store.User{}
	}
	return out, total, nil
}

// CountUsers counts every user (bootstrap needs to know whether there is any).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.control.r(ctx).QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}

func (s *Store) updateUser(ctx context.Context, userID, set string, args ...any) error {
	res, err := s.control.w(ctx).ExecContext(ctx, "UPDATE users SET "+set+
		", updated_at = ? WHERE id = ?", append(args, now(), userID)...)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "user does not exist")
	}
	return nil
}

// SetUserDisabled disables or enables a user.
func (s *Store) SetUserDisabled(ctx context.Context, userID string, disabled bool) error {
	return s.updateUser(ctx, userID, "disabled = ?", disabled)
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, userID, hash string) error {
	return s.updateUser(ctx, userID, "password_hash = ?", hash)
}

// SetMembership gives a user a role in a tenant, replacing any earlier role there.
func (s *Store) SetMembership(ctx context.Context, userID, tenantID string,
	role store.TenantRole) error {
	if !role.Valid() {
		return store.Errorf(store.ErrInvalid, "tenant role %q is unknown; use admin, standard "+
			"or auditor", role)
	}
	_, err := s.control.w(ctx).ExecContext(ctx, `INSERT INTO memberships (user_id, tenant_id,
		role) VALUES (?, ?, ?) ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = excluded.role`,
		userID, tenantID, role)
	if errors.Is(err, sqlite3.CONSTRAINT_FOREIGNKEY) {
		return store.Errorf(store.ErrNotFound, "user or tenant does not exist")
	}
	return err
}

// RemoveMembership takes a user out of a tenant.
func (s *Store) RemoveMembership(ctx context.Context, userID, tenantID string) error {
	res, err := s.control.w(ctx).ExecContext(ctx, "DELETE FROM memberships WHERE user_id = ? "+
		"AND tenant_id = ?", userID, tenantID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "the user is not a member of this tenant")
	}
	return nil
}

// SetTOTP stores a user's TOTP secret and whether it is enforced at login.
func (s *Store) SetTOTP(ctx context.Context, userID, secret string, enabled bool) error {
	return s.updateUser(ctx, userID, "totp_secret = ?, totp_enabled = ?, totp_last_step = 0",
		secret, enabled)
}

// UseTOTPStep records a TOTP time step as spent, refusing a step not newer than the last.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	res, err := s.control.w(ctx).ExecContext(ctx, "UPDATE users SET totp_last_step = ? "+
		"WHERE id = ? AND totp_last_step < ?", step, userID, step)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrReplay
	}
	return nil
}

// SetRecoveryCodes replaces a user's recovery codes.
func (s *Store) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return s.control.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.control.w(ctx).ExecContext(ctx,
			"DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := s.control.w(ctx).ExecContext(ctx, "INSERT INTO recovery_codes "+
				"(user_id, hash) VALUES (?, ?)", userID, h); err != nil {
				return err
			}
		}
		return nil
	})
}

// UseRecoveryCode spends one unused recovery code.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	res, err := s.control.w(ctx).ExecContext(ctx, "UPDATE recovery_codes SET used_at = ? "+
		"WHERE user_id = ? AND hash = ? AND used_at IS NULL", now(), userID, hash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "recovery code is not valid")
	}
	return nil
}

// CreateSession records a new session and its first refresh token.
func (s *Store) CreateSession(ctx context.Context, se store.Session, refresh []byte) error {
	return s.control.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.control.w(ctx).ExecContext(ctx, `INSERT INTO sessions (id, user_id, ip,
			user_agent, created_at, last_seen, expires_at, mfa) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			se.ID, se.UserID, se.IP, se.UserAgent, fmtT(se.CreatedAt), fmtT(se.LastSeen),
			fmtT(se.ExpiresAt), se.MFA); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		_, err := s.control.w(ctx).ExecContext(ctx, "INSERT INTO refresh_tokens (hash, "+
			"session_id, created_at) VALUES (?, ?, ?)", refresh, se.ID, fmtT(se.CreatedAt))
		return err
	})
}

const sessionCols = "id, user_id, ip, user_agent, created_at, last_seen, expires_at, " +
	"revoked_at, mfa"

func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var se store.Session
	var created, seen, expires string
	var revoked sql.NullString
	err := row.Scan(&se.ID, &se.UserID, &se.IP, &se.UserAgent, &created, &seen, &expires,
		&revoked, &se.MFA)
	se.CreatedAt, se.LastSeen, se.ExpiresAt = parseTime(created), parseTime(seen),
		parseTime(expires)
	if revoked.Valid {
		t := parseTime(revoked.String)
		se.RevokedAt = &t
	}
	return se, err
}

// RotateRefresh spends a refresh token and records its successor in one transaction. A token
// spent before is a replay: the whole session is revoked.
func (s *Store) RotateRefresh(ctx context.Context, oldHash, newHash []byte,
	at time.Time) (store.Session, error) {
	var se store.Session
	var replay bool
	err := s.control.WithTx(ctx, func(ctx context.Context) error {
		var sessionID string
		var used sql.NullString
		err := s.control.w(ctx).QueryRowContext(ctx, "SELECT session_id, used_at FROM "+
			"refresh_tokens WHERE hash = ?", oldHash).Scan(&sessionID, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Errorf(store.ErrNotFound, "refresh token is not valid")
		}
		if err != nil {
			return err
		}
		se, err = scanSession(s.control.w(ctx).QueryRowContext(ctx, "SELECT "+sessionCols+
			" FROM sessions WHERE id = ?", sessionID))
		if err != nil {
			return err
		}
		if used.Valid {
			replay = true
			_, err := s.control.w(ctx).ExecContext(ctx, "UPDATE sessions SET revoked_at = "+
				"coalesce(revoked_at, ?) WHERE id = ?", fmtT(at), sessionID)
			return err
		}
		if se.RevokedAt != nil || !at.Before(se.ExpiresAt) {
			return store.Errorf(store.ErrNotFound, "session has ended")
		}
		if _, err := s.control.w(ctx).ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ? "+
			"WHERE hash = ?", fmtT(at), oldHash); err != nil {
			return err
		}
		if _, err := s.control.w(ctx).ExecContext(ctx, "INSERT INTO refresh_tokens (hash, "+
			"session_id, created_at) VALUES (?, ?, ?)", newHash, sessionID, fmtT(at)); err != nil {
			return err
		}
		se.LastSeen = at
		_, err = s.control.w(ctx).ExecContext(ctx, "UPDATE sessions SET last_seen = ? WHERE "+
			"id = ?", fmtT(at), sessionID)
		return err
	})
	if err != nil {
		return store.Session{}, err
	}
	if replay {
		return se, store.ErrReplay
	}
	return se, nil
}

// GetSession returns a session by id.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	se, err := scanSession(s.control.r(ctx).QueryRowContext(ctx, "SELECT "+sessionCols+
		" FROM sessions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return se, store.Errorf(store.ErrNotFound, "session does not exist")
	}
	return se, err
}

// ListSessions returns a user's live sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	rows, err := s.control.r(ctx).QueryContext(ctx, "SELECT "+sessionCols+" FROM sessions "+
		"WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC",
		userID, now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Session{}
	for rows.Next() {
		se, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, se)
	}
	return out, rows.Err()
}

// RevokeSession ends a session.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.control.w(ctx).ExecContext(ctx, "UPDATE sessions SET revoked_at = "+
		"coalesce(revoked_at, ?) WHERE id = ?", fmtT(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "session does not exist")
	}
	return nil
}

// RevokeUserSessions ends every session of a user.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) error {
	_, err := s.control.w(ctx).ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE "+
		"user_id = ? AND revoked_at IS NULL", fmtT(at), userID)
	return err
}

// CreateAPIToken stores a token's metadata and hash.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken, hash []byte) error {
	_, err := s.control.w(ctx).ExecContext(ctx, `INSERT INTO api_tokens (id, hash, name,
		tenant_id, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, hash, t.Name, t.TenantID, t.Role, t.CreatedBy, fmtT(t.CreatedAt),
		fmtT(t.ExpiresAt))
	return err
}

const tokenCols = "id, name, tenant_id, role, created_by, created_at, expires_at, last_used, " +
	"revoked_at"

func scanToken(row interface{ Scan(...any) error }) (store.APIToken, error) {
	var t store.APIToken
	var created, expires string
	var used, revoked sql.NullString
	err := row.Scan(&t.ID, &t.Name, &t.TenantID, &t.Role, &t.CreatedBy, &created, &expires,
		&used, &revoked)
	t.CreatedAt, t.ExpiresAt = parseTime(created), parseTime(expires)
	if used.Valid {
		u := parseTime(used.String)
		t.LastUsed = &u
	}
	if revoked.Valid {
		r := parseTime(revoked.String)
		t.RevokedAt = &r
	}
	return t, err
}

// LookupAPIToken finds a live token by hash and records its use.
func (s *Store) LookupAPIToken(ctx context.Context, hash []byte, at time.Time) (store.APIToken,
	error) {
	t, err := scanToken(s.control.r(ctx).QueryRowContext(ctx, "SELECT "+tokenCols+
		" FROM api_tokens WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?", hash,
		fmtT(at)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.Errorf(store.ErrNotFound, "API token is not valid")
	}
	if err != nil {
		return t, err
	}
	// Last use is informative; a minute's precision spares a write per request.
	if t.LastUsed == nil || at.Sub(*t.LastUsed) > time.Minute {
		_, _ = s.control.writer.ExecContext(ctx, "UPDATE api_tokens SET last_used = ? WHERE "+
			"id = ?", fmtT(at), t.ID)
	}
	return t, nil
}

// ListAPITokens lists a tenant's tokens, revoked ones included.
func (s *Store) ListAPITokens(ctx context.Context, tenantID string) ([]store.APIToken, error) {
	rows, err := s.control.r(ctx).QueryContext(ctx, "SELECT "+tokenCols+" FROM api_tokens "+
		"WHERE tenant_id = ? ORDER BY created_at DESC", tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes one of a tenant's tokens.
func (s *Store) RevokeAPIToken(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := s.control.w(ctx).ExecContext(ctx, "UPDATE api_tokens SET revoked_at = "+
		"coalesce(revoked_at, ?) WHERE id = ? AND tenant_id = ?", fmtT(at), id, tenantID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.Errorf(store.ErrNotFound, "API token %q does not exist",
			store.Truncate(id, 60))
	}
	return nil
}
