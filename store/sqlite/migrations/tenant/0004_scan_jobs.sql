-- Scan jobs: the tenant's persisted discovery queue, and cron schedules that feed it.
-- request never holds SNMP communities: ad-hoc communities live only in the memory of the
-- process that accepted the job. summary is the report (or the partial one) as JSON.
CREATE TABLE scan_jobs (
  id            TEXT PRIMARY KEY,
  state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed',
                  'cancelled', 'interrupted')),
  request       TEXT NOT NULL,
  created       TEXT NOT NULL,
  started       TEXT NOT NULL DEFAULT '',
  finished      TEXT NOT NULL DEFAULT '',
  stage         TEXT NOT NULL DEFAULT '',
  done          INTEGER NOT NULL DEFAULT 0,
  total         INTEGER NOT NULL DEFAULT 0,
  summary       TEXT NOT NULL DEFAULT '',
  error         TEXT NOT NULL DEFAULT '',
  requested_by  TEXT NOT NULL DEFAULT '',
  schedule_id   TEXT NOT NULL DEFAULT '',
  interruptions INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX scan_jobs_state ON scan_jobs (state, created);
CREATE INDEX scan_jobs_created ON scan_jobs (created);

CREATE TABLE scan_schedules (
  id         TEXT PRIMARY KEY,
  cron       TEXT NOT NULL,
  request    TEXT NOT NULL,
  created    TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  last_fired TEXT NOT NULL DEFAULT ''
) STRICT;
