-- Foundation: devices, points, readings, aggregates, audit. Times are UTC epoch.
CREATE TABLE device (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,          -- configuration name, e.g. "gate-transport"
    kind TEXT NOT NULL,                 -- meter, station, sensor, weighbridge, camera
    model TEXT,
    serial TEXT,
    location TEXT,
    install_date TEXT,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE TABLE device_comm (
    device_id INTEGER PRIMARY KEY REFERENCES device(id),
    state TEXT NOT NULL CHECK (state IN ('online', 'degraded', 'offline', 'unknown')),
    since_ms INTEGER NOT NULL,
    last_ok_ms INTEGER,
    detail TEXT
);
CREATE TABLE device_event (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES device(id),
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,                 -- comm, fault, counter_reset, counter_jump, ...
    state TEXT,
    detail TEXT
);
CREATE INDEX device_event_by_device ON device_event(device_id, ts_ms);
CREATE TABLE point (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES device(id),
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity TEXT,
    UNIQUE (device_id, name)
);
CREATE TABLE reading (
    point_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    value REAL NOT NULL,
    quality INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (point_id, ts_ms)
) WITHOUT ROWID;
CREATE INDEX reading_by_time ON reading(ts_ms);
CREATE TABLE agg_minute (
    point_id INTEGER NOT NULL,
    minute INTEGER NOT NULL,            -- epoch seconds of the minute's start
    n INTEGER NOT NULL,
    vmin REAL NOT NULL,
    vmax REAL NOT NULL,
    vsum REAL NOT NULL,
    vlast REAL NOT NULL,
    last_ts_ms INTEGER NOT NULL,
    PRIMARY KEY (point_id, minute)
) WITHOUT ROWID;
CREATE TABLE point_latest (
    point_id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    value REAL NOT NULL,
    quality INTEGER NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL DEFAULT (unixepoch()),
    actor TEXT NOT NULL,
    channel TEXT NOT NULL,              -- cli, api, station, config
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    reason TEXT
);
