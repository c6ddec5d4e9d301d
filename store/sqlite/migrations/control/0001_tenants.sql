-- Tenants and their data keys. A tenant row in state 'creating' or 'deleting' is finished or
-- rolled back by recovery when the store opens.
CREATE TABLE tenants (
  id          TEXT PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('creating', 'active', 'suspended', 'deleting')),
  key_version INTEGER NOT NULL DEFAULT 1,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
) STRICT;

-- Wrapped DEKs, one row per version. Destroying a key sets wrapped to NULL (crypto-shredding);
-- the row remains until the tenant is gone so that the version history stays visible.
CREATE TABLE tenant_keys (
  tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  version      INTEGER NOT NULL,
  wrapped      BLOB,
  created_at   TEXT NOT NULL,
  destroyed_at TEXT,
  PRIMARY KEY (tenant_id, version)
) STRICT;
