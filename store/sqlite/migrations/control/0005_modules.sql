-- The module catalog (ARCHITECTURE §6): one row per module, one per version. Seeded from
-- fixtures/modules at start-up (upsert by slug + version); source is the version's file and
-- checksum its SHA-256, so a released version can be proven unchanged.
CREATE TABLE modules (
  id       TEXT PRIMARY KEY,
  slug     TEXT NOT NULL UNIQUE,
  kind     TEXT NOT NULL,
  name     TEXT NOT NULL,
  category TEXT NOT NULL,
  created  TEXT NOT NULL
) STRICT;

CREATE TABLE module_versions (
  module_id      TEXT NOT NULL REFERENCES modules (id),
  version        TEXT NOT NULL,
  checksum       TEXT NOT NULL,
  state          TEXT NOT NULL,
  sunset         TEXT NOT NULL DEFAULT '',
  profile        TEXT NOT NULL DEFAULT '',
  platforms      TEXT NOT NULL DEFAULT '[]',
  requires_admin INTEGER NOT NULL DEFAULT 0,
  params_schema  TEXT NOT NULL DEFAULT '{}',
  changelog      TEXT NOT NULL DEFAULT '',
  severity       TEXT NOT NULL DEFAULT '',
  frameworks     TEXT NOT NULL DEFAULT '[]',
  source         BLOB NOT NULL,
  created        TEXT NOT NULL,
  updated        TEXT NOT NULL,
  PRIMARY KEY (module_id, version)
) STRICT;
