-- Key rotation (issue #8). A tenant key version is 'pending' from the moment a rotation
-- records it until the tenant's database is re-encrypted under it and tenants.key_version
-- points at it; recovery finishes or rolls back a pending version by trying which key opens
-- the file. Versions older than the current one stay 'active' (live) while results sealed
-- under them may exist, become 'retired' once a re-seal pass finds no value under them, and
-- are destroyed (wrapped = NULL) when a later pass confirms that.
ALTER TABLE tenant_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
  CHECK (state IN ('pending', 'active', 'retired'));
ALTER TABLE tenant_keys ADD COLUMN retired_at TEXT;
CREATE INDEX tenant_keys_pending ON tenant_keys (tenant_id) WHERE state = 'pending';

-- Master keys (KEKs) by public id, so that `tenantra keys status` can tell the master key's
-- version and age; the key itself is never stored here.
CREATE TABLE master_keys (
  kek_id     TEXT PRIMARY KEY,
  version    INTEGER NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
