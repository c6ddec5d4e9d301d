-- Credential vault: what the discovery modules log in with. secret is sealed with the
-- tenant's data key (keys.Sealer: key version in its header, AAD = tenant id and credential
-- id), on top of the page encryption of this file, so it never lies in the clear anywhere.
-- metadata holds only non-secret fields as a JSON object.
CREATE TABLE credentials (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  kind       TEXT NOT NULL,
  metadata   TEXT NOT NULL DEFAULT '{}',
  secret     BLOB NOT NULL,
  created    TEXT NOT NULL,
  updated    TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  updated_by TEXT NOT NULL DEFAULT ''
) STRICT;
