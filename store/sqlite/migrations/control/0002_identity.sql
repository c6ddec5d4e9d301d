-- Users of the appliance. platform_role 'admin' is the operator (MSP staff); tenant roles live
-- in memberships. Emails are unique regardless of case.
CREATE TABLE users (
  id              TEXT PRIMARY KEY,
  email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash   TEXT NOT NULL,
  platform_role   TEXT NOT NULL DEFAULT '' CHECK (platform_role IN ('', 'admin')),
  disabled        INTEGER NOT NULL DEFAULT 0,
  totp_secret     TEXT NOT NULL DEFAULT '',
  totp_enabled    INTEGER NOT NULL DEFAULT 0,
  totp_last_step  INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
  user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  role      TEXT NOT NULL CHECK (role IN ('admin', 'standard', 'auditor')),
  PRIMARY KEY (user_id, tenant_id)
) STRICT;
CREATE INDEX memberships_tenant ON memberships (tenant_id);

-- Hashed single-use recovery codes for users who lose their authenticator.
CREATE TABLE recovery_codes (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  hash    BLOB NOT NULL,
  used_at TEXT,
  PRIMARY KEY (user_id, hash)
) STRICT;

-- A session is one login; its refresh tokens form a family. Replaying a spent refresh token
-- revokes the session, which ends every token of the family.
CREATE TABLE sessions (
  id          TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  ip          TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL,
  last_seen   TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  revoked_at  TEXT,
  mfa         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
  hash       BLOB PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  used_at    TEXT
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- API tokens for automation: scoped to one tenant and one role, stored hashed.
CREATE TABLE api_tokens (
  id         TEXT PRIMARY KEY,
  hash       BLOB NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('admin', 'standard', 'auditor')),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  last_used  TEXT,
  revoked_at TEXT
) STRICT;
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

-- Per-tenant settings the control plane enforces before a tenant handle is given out.
ALTER TABLE tenants ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
