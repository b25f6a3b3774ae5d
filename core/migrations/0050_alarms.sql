-- Alarms (ALM-1..10, issue #7). Times are UTC epoch milliseconds.
-- Settings per alarm type; changed only through the audited path (ALM-5).
CREATE TABLE alarm_setting (
    type INTEGER PRIMARY KEY,           -- alarms.h ALARM_T_* (uplink.md §3 dictionary, 11 vibration)
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
    holdoff_s INTEGER NOT NULL CHECK (holdoff_s >= 0),      -- present this long before raising
    clear_after_s INTEGER NOT NULL CHECK (clear_after_s >= 1), -- absent this long before clearing
    threshold REAL,                     -- |value| below it is no condition; NULL: every condition
    manual_clear INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1
);
-- One row per alarm from raising to clearing. A returning condition makes a new row.
CREATE TABLE alarm (
    id INTEGER PRIMARY KEY,
    type INTEGER NOT NULL,
    level INTEGER NOT NULL,
    source TEXT NOT NULL,               -- device name, parameter target, plate, ...
    device TEXT,                        -- device whose data made the condition, if any
    state TEXT NOT NULL CHECK (state IN ('raised', 'acknowledged', 'cleared')),
    first_seen_ms INTEGER NOT NULL,
    raised_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    value REAL,
    worst REAL,
    detail TEXT NOT NULL,
    ack_by TEXT, ack_ms INTEGER, ack_comment TEXT,
    shelved_until_ms INTEGER, shelved_by TEXT, shelve_reason TEXT,
    inhibited TEXT,                     -- why it is held back (device offline), NULL when not
    cleared_ms INTEGER, cleared_by TEXT, clear_reason TEXT
);
-- The guarantee behind "one active alarm per (type, source)".
CREATE UNIQUE INDEX alarm_one_active ON alarm(type, source) WHERE state <> 'cleared';
CREATE INDEX alarm_by_time ON alarm(raised_ms);
-- Every transition, in order: the history and the feed of the event stream.
CREATE TABLE alarm_event (
    id INTEGER PRIMARY KEY,
    alarm_id INTEGER NOT NULL REFERENCES alarm(id),
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,                 -- raised, acknowledged, shelved, unshelved, escalated,
                                        -- inhibited, released, cleared
    actor TEXT,
    detail TEXT
);
CREATE INDEX alarm_event_by_alarm ON alarm_event(alarm_id, id);
-- Conditions seen but not (or no longer) alarmed: hold-off and hysteresis state.
-- Persisted so a restart of the daemon keeps its timers.
CREATE TABLE alarm_pending (
    type INTEGER NOT NULL,
    source TEXT NOT NULL,
    device TEXT,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    level INTEGER,                      -- level the producer asked for, NULL: the type's
    value REAL,
    worst REAL,
    detail TEXT NOT NULL,
    latched INTEGER NOT NULL DEFAULT 0, -- a state condition: present until an 'off' arrives
    held TEXT,                          -- why it is not raised yet
    PRIMARY KEY (type, source)
);
-- Generic conditions any producer may write in its own transaction (alarms.h
-- alarm_condition_put): an observation, or 'off' to end a latched state.
CREATE TABLE alarm_input (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    type INTEGER NOT NULL,
    source TEXT NOT NULL,
    device TEXT,
    state TEXT NOT NULL DEFAULT 'on' CHECK (state IN ('on', 'off', 'event')),
    level INTEGER,
    value REAL,
    detail TEXT
);
-- How far each producer table has been read.
CREATE TABLE alarm_cursor (
    name TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);
-- The parameters found in the configuration at the last start (device settings,
-- meter maps, whole sections), so a change between starts is audited.
CREATE TABLE alarm_param_snapshot (
    target TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    ts INTEGER NOT NULL DEFAULT (unixepoch())
);
