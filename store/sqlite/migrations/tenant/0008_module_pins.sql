-- A tenant may pin a module to one of its schedulable versions (the newest released one and
-- the few released versions before it); '' follows the newest.
ALTER TABLE tenant_modules ADD COLUMN version TEXT NOT NULL DEFAULT '';
