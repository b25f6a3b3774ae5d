-- Intake (issue #9): weighbridge tickets, exit captures, sales, inventory,
-- contracts, coal types, and the mine's own production-transport-sales
-- figures. Times are UTC epoch seconds; everything shown is Beijing time.

-- Coal types; a ticket's material is one of these codes, or gangue / other.
CREATE TABLE coal_type (
    code TEXT PRIMARY KEY,              -- e.g. raw, clean, lump
    name TEXT NOT NULL UNIQUE,          -- Chinese name, e.g. 原煤
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
INSERT INTO coal_type(code, name) VALUES
    ('raw', '原煤'), ('clean', '精煤'), ('lump', '块煤'), ('slack', '末煤'), ('mixed', '混煤');

-- Weighbridge tickets (ACQ-6). A ticket id re-sent with other values is a
-- correction: a new row with the next version; nothing is updated in place.
CREATE TABLE weigh_ticket (
    ticket_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    plate TEXT NOT NULL,                -- normalised: no spaces, dots or dashes, upper case
    vehicle_type TEXT,
    material TEXT NOT NULL,             -- coal_type.code, 'gangue' or 'other'
    direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    tare_time INTEGER NOT NULL,
    gross_time INTEGER NOT NULL,
    gross REAL NOT NULL,                -- t
    tare REAL NOT NULL,
    net REAL NOT NULL,
    weighbridge_id TEXT NOT NULL,
    operator TEXT,
    contract_id TEXT,
    photo_front TEXT,
    photo_top TEXT,
    photo_rear TEXT,
    source TEXT NOT NULL,               -- API key name, or cli:<user>
    received_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, version)
);
-- The time a ticket counts in a period: when the truck crossed the bridge loaded
-- (gross for a sale, gross too for a receipt).
CREATE INDEX weigh_ticket_by_time ON weigh_ticket(gross_time);
CREATE INDEX weigh_ticket_by_plate ON weigh_ticket(plate);
CREATE VIEW weigh_ticket_current AS
    SELECT t.* FROM weigh_ticket t
    WHERE t.version = (SELECT max(version) FROM weigh_ticket u WHERE u.ticket_id = t.ticket_id);

-- Exit capture points (ESC-2).
CREATE TABLE exit_point (
    code TEXT PRIMARY KEY,              -- number, e.g. "E1"
    name TEXT NOT NULL,
    location TEXT,
    camera_ip TEXT,
    direction TEXT NOT NULL DEFAULT 'out' CHECK (direction IN ('out', 'in', 'both')),
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);

-- Exit captures (ESC-1). state: pending (not decided yet), matched, escape
-- (loaded, no ticket), unverified (load unknown, no ticket), empty, inbound.
CREATE TABLE exit_capture (
    capture_id TEXT PRIMARY KEY,
    point_code TEXT NOT NULL REFERENCES exit_point(code),
    direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    plate TEXT NOT NULL,                -- as recognised (normalised), may be wrong
    capture_time INTEGER NOT NULL,
    load TEXT NOT NULL CHECK (load IN ('empty', 'loaded', 'unknown')),
    photos TEXT,                        -- comma-separated file names
    state TEXT NOT NULL DEFAULT 'pending',
    ticket_id TEXT,                     -- matched ticket
    confidence REAL,                    -- 0..1, how sure the plate match is
    decided_at INTEGER,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX exit_capture_by_time ON exit_capture(capture_time);
CREATE INDEX exit_capture_by_state ON exit_capture(state, capture_time);
CREATE UNIQUE INDEX exit_capture_by_ticket ON exit_capture(ticket_id) WHERE ticket_id IS NOT NULL;

-- Escaping-vehicle events: a loaded exit without a matching outbound ticket.
-- The alarms module turns each row into ALM-9 (alarmType 9).
CREATE TABLE escape_event (
    id INTEGER PRIMARY KEY,
    capture_id TEXT NOT NULL UNIQUE REFERENCES exit_capture(capture_id),
    plate TEXT NOT NULL,
    point_code TEXT NOT NULL,
    capture_time INTEGER NOT NULL,
    best_ticket_id TEXT,                -- closest candidate that was not good enough
    best_confidence REAL,
    detail TEXT NOT NULL,               -- Chinese text for the alarm screen
    created_at INTEGER NOT NULL,
    resolved_at INTEGER,                -- a matching ticket arrived late (alarm may clear)
    resolved_ticket_id TEXT
);

-- Contracts (buyer, coal type, quantity).
CREATE TABLE contract (
    contract_id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    coal_type TEXT NOT NULL REFERENCES coal_type(code),
    quantity REAL NOT NULL,             -- t
    valid_from INTEGER,
    valid_to INTEGER,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);

-- Rail sales, by train or wagon batch.
CREATE TABLE rail_sale (
    batch_id TEXT PRIMARY KEY,
    train_no TEXT,
    wagons INTEGER NOT NULL,
    coal_type TEXT NOT NULL REFERENCES coal_type(code),
    tons REAL NOT NULL,
    loaded_at INTEGER NOT NULL,
    contract_id TEXT,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX rail_sale_by_time ON rail_sale(loaded_at);

-- Stockpile surveys. Inventory at a time = for each stockpile and coal type,
-- the latest survey at or before it.
CREATE TABLE inventory_survey (
    id INTEGER PRIMARY KEY,
    surveyed_at INTEGER NOT NULL,
    stockpile TEXT NOT NULL,
    coal_type TEXT NOT NULL REFERENCES coal_type(code),
    tons REAL NOT NULL,
    surveyor TEXT,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch()),
    UNIQUE (stockpile, coal_type, surveyed_at)
);

-- The mine's own production-transport-sales system's figures (ANA-4): a
-- separate source, never merged into ours. Re-sent with other values = a new
-- version.
CREATE TABLE pts_summary (
    period TEXT NOT NULL CHECK (period IN ('shift', 'day', 'month', 'quarter', 'year')),
    period_start INTEGER NOT NULL,      -- epoch of the period's start
    shift TEXT NOT NULL DEFAULT '',     -- shift name for period 'shift'
    coal_type TEXT NOT NULL DEFAULT '', -- '' = all coal types
    version INTEGER NOT NULL,
    output REAL NOT NULL,
    truck_sales REAL NOT NULL,
    rail_sales REAL NOT NULL,
    inventory REAL NOT NULL,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (period, period_start, coal_type, version)
);

-- API keys of the sources that post to intake (weighbridge system, cameras,
-- the sales system). Only the SHA-256 of a key is kept.
CREATE TABLE intake_api_key (
    name TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL,           -- hex
    created_at INTEGER NOT NULL DEFAULT (unixepoch()),
    revoked_at INTEGER
);
