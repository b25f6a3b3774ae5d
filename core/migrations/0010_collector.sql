-- Collector (issue 4): gate types, device registry details, counter-derived
-- interval quantities, and the belt-scale station's record buffer (ACQ-1, ACQ-2,
-- ACQ-8, ACQ-9). Times are UTC epoch; minutes are epoch seconds of the minute's start.

-- The power gate a meter measures: mine_total, underground, transport, other.
-- NULL for devices that are not meters.
ALTER TABLE device ADD COLUMN gate_type TEXT;
ALTER TABLE device ADD COLUMN firmware TEXT;
CREATE INDEX device_by_gate ON device(gate_type);

-- Interval quantities derived from counters (energy kWh, kvarh, per tariff
-- rate), per point and minute: the sum of the good increments whose later
-- reading falls in the minute. A counter that went backwards or jumped
-- implausibly contributes nothing for that step (a device_event records it).
CREATE TABLE counter_minute (
    point_id INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    delta REAL NOT NULL,
    steps INTEGER NOT NULL,
    PRIMARY KEY (point_id, minute)
) WITHOUT ROWID;

-- Every record the station kept, by its own sequence number: fetched live or
-- backfilled after an outage (ACQ-8). (device_id, seq) is unique: no duplicates.
CREATE TABLE station_record (
    device_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,             -- the station's clock when it took the record
    total_t REAL NOT NULL,              -- cumulative tonnage, t
    flow_tph REAL NOT NULL,             -- instantaneous flow, t/h
    speed_ms REAL NOT NULL,             -- belt speed, m/s
    backfilled INTEGER NOT NULL DEFAULT 0, -- 1 when fetched after a gap in the link
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
CREATE INDEX station_record_by_time ON station_record(device_id, ts_ms);

-- Output per station and minute, from the cumulative counter of consecutive
-- records (so a missed poll loses no tonnage). The table analytics reads.
CREATE TABLE station_output_minute (
    device_id INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    tonnes REAL NOT NULL,
    records INTEGER NOT NULL,
    PRIMARY KEY (device_id, minute)
) WITHOUT ROWID;

-- Where backfill resumes: the last record stored per station, kept in the
-- same transaction as the records so a restart neither skips nor repeats.
CREATE TABLE station_cursor (
    device_id INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    last_total_t REAL NOT NULL,
    last_ts_ms INTEGER NOT NULL
);
