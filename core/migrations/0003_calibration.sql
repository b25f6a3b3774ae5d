-- Calibration and maintenance operation records (ACQ-5): kept, shown,
-- uploaded as `calibration` records (uplink.md §3). Never updated in place.
CREATE TABLE calibration (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,               -- device name (registry) or another identifier
    time INTEGER NOT NULL,              -- when the operation was done, epoch seconds
    operator TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('calibration', 'maintenance', 'parameter')),
    before_value TEXT,
    after_value TEXT,
    note TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX calibration_by_device ON calibration(device, time);
