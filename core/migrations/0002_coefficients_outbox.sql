-- Coefficients with history (ACQ-4): a value is in force from valid_from until
-- the next row of the same name. Nothing is updated in place.
CREATE TABLE coefficient (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,                 -- raw_to_gross, scale_factor:<device>, ...
    value REAL NOT NULL,
    valid_from INTEGER NOT NULL,        -- epoch seconds
    set_by TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX coefficient_by_name ON coefficient(name, valid_from);

-- Records produced for upload (uplink.md §3), written in the same transaction
-- as the data they describe. The uplink module fans them out to destinations.
CREATE TABLE outbox_record (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    body TEXT NOT NULL,                 -- the record as JSON text
    produced_ms INTEGER NOT NULL,
    UNIQUE (record_type, record_id)
);
