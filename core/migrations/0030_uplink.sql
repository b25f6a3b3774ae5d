-- Uplink (issue 5, UPL-1..4): delivery state per destination, the upload log,
-- builders' progress, and on the platform side the enterprise registry, the
-- records received, and the replay guard. Times are UTC epoch (ms where named).

-- Records forwarded upward by a platform keep the enterprise they came from
-- (NULL for records this installation produced itself).
ALTER TABLE outbox_record ADD COLUMN origin TEXT;

-- Destinations seen in the configuration; fanned_seq is how far outbox_record
-- has been fanned out to this destination.
CREATE TABLE uplink_dest (
    name TEXT PRIMARY KEY,
    fanned_seq INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

-- One row per (destination, record): removed from the queue (state 'sent')
-- only when the receiver answered code 200.
CREATE TABLE uplink_delivery (
    dest TEXT NOT NULL,
    seq INTEGER NOT NULL,               -- outbox_record.seq
    record_type TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'aside')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_ms INTEGER NOT NULL DEFAULT 0,
    last_try_ms INTEGER,
    last_code INTEGER,
    last_message TEXT,                  -- the receiver's answer, kept for the operator
    sent_ms INTEGER,
    PRIMARY KEY (dest, seq)
) WITHOUT ROWID;
CREATE INDEX uplink_delivery_due ON uplink_delivery(dest, state, next_try_ms, seq);
CREATE INDEX uplink_delivery_type ON uplink_delivery(dest, state, record_type, seq);

-- A producer replacing a record's body (store_outbox_put with replace) makes
-- it due again everywhere.
CREATE TRIGGER outbox_record_replaced AFTER UPDATE OF body ON outbox_record
BEGIN
    UPDATE uplink_delivery SET state = 'pending', attempts = 0, next_try_ms = 0
     WHERE seq = NEW.seq;
END;

-- Every attempt and its answer (UPL-3).
CREATE TABLE uplink_log (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    dest TEXT NOT NULL,
    record_type TEXT NOT NULL,
    n_records INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    http_status INTEGER,                -- 0: no HTTP answer (refused, timeout)
    code INTEGER,                       -- the body's code, 0 when none
    message TEXT,
    elapsed_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL               -- delivered, retry, aside
);
CREATE INDEX uplink_log_by_dest ON uplink_log(dest, ts_ms);

-- How far each record builder has got (e.g. powerGate: end of the last interval built).
CREATE TABLE uplink_builder (
    name TEXT PRIMARY KEY,
    done_until INTEGER NOT NULL         -- epoch seconds, or a row id for change feeds
);

-- Platform role: the enterprises that report to us, with their issued key and IV.
CREATE TABLE enterprise (
    code TEXT PRIMARY KEY,              -- 9 digits for Shanxi coal mines (seed §5.4)
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'mine' CHECK (kind IN ('mine', 'platform')),
    aes_key TEXT,
    aes_iv TEXT,
    capacity_t REAL,                    -- approved annual capacity, t
    created_ms INTEGER NOT NULL,
    last_contact_ms INTEGER
);

-- Records received, once per (enterprise, type, id). via is the sender when it
-- is a platform forwarding upward; ent is the enterprise the record is about.
CREATE TABLE uplink_received (
    id INTEGER PRIMARY KEY,
    ent TEXT NOT NULL,
    via TEXT NOT NULL,
    prefix TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 0,
    series TEXT,                        -- interval records: gateId / stationId
    start_s INTEGER,
    end_s INTEGER,
    UNIQUE (ent, prefix, record_type, record_id)
);
CREATE INDEX uplink_received_interval ON uplink_received(ent, record_type, series, start_s);
CREATE INDEX uplink_received_time ON uplink_received(ent, record_type, received_ms);

-- Tokens accepted within their validity window, with a digest of the data
-- they came with, so a captured request cannot be replayed.
CREATE TABLE uplink_token_seen (
    digest TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uplink_token_seen_exp ON uplink_token_seen(expires_ms);
