-- Which tenant this file belongs to, checked on every open.
CREATE TABLE tenant_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- The inventory. The discovery issue adds services, interfaces and history.
CREATE TABLE assets (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL DEFAULT '',
  address    TEXT NOT NULL DEFAULT '',
  mac        TEXT NOT NULL DEFAULT '',
  vendor     TEXT NOT NULL DEFAULT '',
  os         TEXT NOT NULL DEFAULT '',
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL
) STRICT;
CREATE INDEX assets_address ON assets (address);
