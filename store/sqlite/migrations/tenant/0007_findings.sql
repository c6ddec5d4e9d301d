-- Module engine state of a tenant: which modules it runs (and with which parameters), the
-- runs, the findings they keep open or resolve, waivers for accepted risks, and one
-- compliance snapshot per day and framework (framework '' is the tenant's overall score).
CREATE TABLE tenant_modules (
  slug    TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL,
  params  TEXT NOT NULL DEFAULT '{}',
  updated TEXT NOT NULL
) STRICT;

CREATE TABLE module_runs (
  id       TEXT PRIMARY KEY,
  started  TEXT NOT NULL,
  finished TEXT NOT NULL DEFAULT '',
  trigger  TEXT NOT NULL DEFAULT '',
  summary  TEXT NOT NULL DEFAULT '{}',
  errors   TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE TABLE findings (
  id          TEXT PRIMARY KEY,
  check_slug  TEXT NOT NULL,
  version     TEXT NOT NULL,
  severity    TEXT NOT NULL,
  title       TEXT NOT NULL,
  resource    TEXT NOT NULL,
  asset_id    TEXT NOT NULL DEFAULT '',
  evidence    TEXT NOT NULL DEFAULT '',
  remediation TEXT NOT NULL DEFAULT '',
  mappings    TEXT NOT NULL DEFAULT '{}',
  status      TEXT NOT NULL,
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL,
  resolved    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX findings_status ON findings (status, severity);
CREATE INDEX findings_asset ON findings (asset_id);

CREATE TABLE waivers (
  finding_id TEXT PRIMARY KEY,
  reason     TEXT NOT NULL,
  approver   TEXT NOT NULL,
  expires    TEXT NOT NULL,
  created    TEXT NOT NULL
) STRICT;

CREATE TABLE compliance_snapshots (
  day       TEXT NOT NULL,
  framework TEXT NOT NULL,
  score     REAL NOT NULL,
  passed    INTEGER NOT NULL,
  failed    INTEGER NOT NULL,
  na        INTEGER NOT NULL,
  PRIMARY KEY (day, framework)
) STRICT;
