-- Asset identity for reconciliation: every identifying value (serial, MAC, AD object, machine
-- id, host name, IP) an asset was seen with, and when; services found on it; and the log of
-- how observations were matched and assets merged.
ALTER TABLE assets ADD COLUMN type TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN firmware TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN serial TEXT NOT NULL DEFAULT '';

CREATE TABLE asset_identifiers (
  kind       TEXT NOT NULL,
  value      TEXT NOT NULL,
  asset_id   TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
  short      TEXT NOT NULL DEFAULT '', -- first label of a host name, for short-name matches
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  PRIMARY KEY (kind, value, asset_id)
) STRICT;
CREATE INDEX asset_identifiers_asset ON asset_identifiers (asset_id);
CREATE INDEX asset_identifiers_short ON asset_identifiers (kind, short);

CREATE TABLE asset_services (
  asset_id   TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
  port       INTEGER NOT NULL,
  protocol   TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
  service    TEXT NOT NULL DEFAULT '',
  product    TEXT NOT NULL DEFAULT '',
  version    TEXT NOT NULL DEFAULT '',
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  PRIMARY KEY (asset_id, port, protocol)
) STRICT;

CREATE TABLE asset_merges (
  seq         INTEGER PRIMARY KEY,
  ts          TEXT NOT NULL,
  asset_id    TEXT NOT NULL,
  merged_from TEXT NOT NULL DEFAULT '',
  source      TEXT NOT NULL DEFAULT '',
  confidence  REAL NOT NULL,
  reason      TEXT NOT NULL
) STRICT;
CREATE INDEX asset_merges_asset ON asset_merges (asset_id);
