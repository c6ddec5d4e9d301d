-- Asset queries: a numeric sort key for addresses, a numeric IPv4 column for subnet filters,
-- and indexes for the list's sort orders and filters.
--
-- address_key orders IPv4 addresses numerically (10.0.0.9 before 10.0.0.10): '4' and the
-- address as a zero-padded 32-bit number; other addresses (IPv6, names) sort after them as
-- text ('6' and the address). Both are virtual generated columns, so no writer has to keep
-- them in step, and SQLite refuses to let them drift. An address is IPv4 only when its four
-- octets, printed back, reproduce it exactly, which rejects leading zeros and junk.
ALTER TABLE assets ADD COLUMN address_key TEXT GENERATED ALWAYS AS (
  CASE
  WHEN address = '' THEN NULL
    WHEN printf('%d.%d.%d.%d', CAST(substr(address, 1, instr(address, '.') - 1) AS INTEGER),
      CAST(substr(substr(address, instr(address, '.') + 1), 1, instr(substr(address,
      instr(address, '.') + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(address,
      instr(address, '.') + 1), instr(substr(address, instr(address, '.') + 1), '.') + 1), 1,
      instr(substr(substr(address, instr(address, '.') + 1), instr(substr(address, instr(address,
      '.') + 1), '.') + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(address,
      instr(address, '.') + 1), instr(substr(address, instr(address, '.') + 1), '.') + 1),
      instr(substr(substr(address, instr(address, '.') + 1), instr(substr(address, instr(address,
      '.') + 1), '.') + 1), '.') + 1) AS INTEGER)) = address
        AND max(CAST(substr(address, 1, instr(address, '.') - 1) AS INTEGER),
        CAST(substr(substr(address, instr(address, '.') + 1), 1, instr(substr(address,
        instr(address, '.') + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(address,
        instr(address, '.') + 1), instr(substr(address, instr(address, '.') + 1), '.') + 1), 1,
        instr(substr(substr(address, instr(address, '.') + 1), instr(substr(address,
        instr(address, '.') + 1), '.') + 1), '.') - 1) AS INTEGER),
        CAST(substr(substr(substr(address, instr(address, '.') + 1), instr(substr(address,
        instr(address, '.') + 1), '.') + 1), instr(substr(substr(address, instr(address, '.') +
        1), instr(substr(address, instr(address, '.') + 1), '.') + 1), '.') + 1) AS INTEGER)) <=
        255 AND min(CAST(substr(address, 1, instr(address, '.') - 1) AS INTEGER),
        CAST(substr(substr(address, instr(address, '.') + 1), 1, instr(substr(address,
        instr(address, '.') + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(address,
        instr(address, '.') + 1), instr(substr(address, instr(address, '.') + 1), '.') + 1), 1,
        instr(substr(substr(address, instr(address, '.') + 1), instr(substr(address,
        instr(address, '.') + 1), '.') + 1), '.') - 1) AS INTEGER),
        CAST(substr(substr(substr(address, instr(address, '.') + 1), instr(substr(address,
        instr(address, '.') + 1), '.') + 1), instr(substr(substr(address, instr(address, '.') +
        1), instr(substr(address, instr(address, '.') + 1), '.') + 1), '.') + 1) AS INTEGER)) >= 0
        THEN printf('4%010d', ((CAST(substr(address, 1, instr(address, '.') - 1) AS INTEGER)) *
        16777216 + (CAST(substr(substr(address, instr(address, '.') + 1), 1, instr(substr(address,
        instr(address, '.') + 1), '.') - 1) AS INTEGER)) * 65536 +
        (CAST(substr(substr(substr(address, instr(address, '.') + 1), instr(substr(address,
        instr(address, '.') + 1), '.') + 1), 1, instr(substr(substr(address, instr(address, '.') +
        1), instr(substr(address, instr(address, '.') + 1), '.') + 1), '.') - 1) AS INTEGER)) *
        256 + (CAST(substr(substr(substr(address, instr(address, '.') + 1), instr(substr(address,
        instr(address, '.') + 1), '.') + 1), instr(substr(substr(address, instr(address, '.') +
        1), instr(substr(address, instr(address, '.') + 1), '.') + 1), '.') + 1) AS INTEGER))))
  ELSE '6' || address
  END) VIRTUAL;
CREATE INDEX assets_address_key ON assets (address_key);
CREATE INDEX assets_name ON assets (name COLLATE NOCASE);
CREATE INDEX assets_last_seen ON assets (last_seen);
CREATE INDEX assets_first_seen ON assets (first_seen);
CREATE INDEX assets_vendor ON assets (vendor COLLATE NOCASE);
CREATE INDEX assets_type ON assets (type COLLATE NOCASE);

-- ip4 is an IP identifier as a number, for subnet filters (BETWEEN the prefix's first and
-- last address).
ALTER TABLE asset_identifiers ADD COLUMN ip4 INTEGER GENERATED ALWAYS AS (
  CASE
    WHEN kind = 'ip' AND printf('%d.%d.%d.%d', CAST(substr(value, 1, instr(value, '.') - 1) AS
      INTEGER), CAST(substr(substr(value, instr(value, '.') + 1), 1, instr(substr(value,
      instr(value, '.') + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(value, instr(value,
      '.') + 1), instr(substr(value, instr(value, '.') + 1), '.') + 1), 1,
      instr(substr(substr(value, instr(value, '.') + 1), instr(substr(value, instr(value, '.') +
      1), '.') + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(value, instr(value, '.') +
      1), instr(substr(value, instr(value, '.') + 1), '.') + 1), instr(substr(substr(value,
      instr(value, '.') + 1), instr(substr(value, instr(value, '.') + 1), '.') + 1), '.') + 1) AS
      INTEGER)) = value
        AND max(CAST(substr(value, 1, instr(value, '.') - 1) AS INTEGER),
        CAST(substr(substr(value, instr(value, '.') + 1), 1, instr(substr(value, instr(value, '.')
        + 1), '.') - 1) AS INTEGER), CAST(substr(substr(substr(value, instr(value, '.') + 1),
        instr(substr(value, instr(value, '.') + 1), '.') + 1), 1, instr(substr(substr(value,
        instr(value, '.') + 1), instr(substr(value, instr(value, '.') + 1), '.') + 1), '.') - 1)
        AS INTEGER), CAST(substr(substr(substr(value, instr(value, '.') + 1), instr(substr(value,
        instr(value, '.') + 1), '.') + 1), instr(substr(substr(value, instr(value, '.') + 1),
        instr(substr(value, instr(value, '.') + 1), '.') + 1), '.') + 1) AS INTEGER)) <= 255 AND
        min(CAST(substr(value, 1, instr(value, '.') - 1) AS INTEGER), CAST(substr(substr(value,
        instr(value, '.') + 1), 1, instr(substr(value, instr(value, '.') + 1), '.') - 1) AS
        INTEGER), CAST(substr(substr(substr(value, instr(value, '.') + 1), instr(substr(value,
        instr(value, '.') + 1), '.') + 1), 1, instr(substr(substr(value, instr(value, '.') + 1),
        instr(substr(value, instr(value, '.') + 1), '.') + 1), '.') - 1) AS INTEGER),
        CAST(substr(substr(substr(value, instr(value, '.') + 1), instr(substr(value, instr(value,
        '.') + 1), '.') + 1), instr(substr(substr(value, instr(value, '.') + 1),
        instr(substr(value, instr(value, '.') + 1), '.') + 1), '.') + 1) AS INTEGER)) >= 0 THEN
        ((CAST(substr(value, 1, instr(value, '.') - 1) AS INTEGER)) * 16777216 +
        (CAST(substr(substr(value, instr(value, '.') + 1), 1, instr(substr(value, instr(value,
        '.') + 1), '.') - 1) AS INTEGER)) * 65536 + (CAST(substr(substr(substr(value, instr(value,
        '.') + 1), instr(substr(value, instr(value, '.') + 1), '.') + 1), 1,
        instr(substr(substr(value, instr(value, '.') + 1), instr(substr(value, instr(value, '.') +
        1), '.') + 1), '.') - 1) AS INTEGER)) * 256 + (CAST(substr(substr(substr(value,
        instr(value, '.') + 1), instr(substr(value, instr(value, '.') + 1), '.') + 1),
        instr(substr(substr(value, instr(value, '.') + 1), instr(substr(value, instr(value, '.') +
        1), '.') + 1), '.') + 1) AS INTEGER)))
  END) VIRTUAL;
CREATE INDEX asset_identifiers_ip4 ON asset_identifiers (ip4, asset_id) WHERE ip4 IS NOT NULL;

-- The port filter finds assets by open port.
CREATE INDEX asset_services_port ON asset_services (port, asset_id);
