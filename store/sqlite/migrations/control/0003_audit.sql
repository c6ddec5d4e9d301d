-- The platform audit trail: one hash chain of platform actions (tenants, users, keys,
-- logins). Each row carries the SHA-256 of the row before it (store.AuditHash).
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY, -- assigned by Append from the chain, never reused
  ts        TEXT NOT NULL,       -- UTC, fixed nine fraction digits so text order is time order
  actor     TEXT NOT NULL,
  actor_ip  TEXT NOT NULL DEFAULT '',
  tenant    TEXT NOT NULL DEFAULT '',
  action    TEXT NOT NULL,
  target    TEXT NOT NULL DEFAULT '',
  outcome   TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  diff      TEXT,                -- canonical JSON, secrets redacted; NULL when there is none
  trace_id  TEXT NOT NULL DEFAULT '',
  prev_hash BLOB NOT NULL,
  hash      BLOB NOT NULL
) STRICT;
-- List filters by actor or action and pages newest first, so seq follows in each index.
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_ts ON audit_log (ts);

-- The trail is append-only. These triggers stop the application's own mistakes; someone with
-- the key can drop them, and then the hash chain is what shows the change.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
