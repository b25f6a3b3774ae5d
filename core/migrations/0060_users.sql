-- Users of the dashboard and API (issue #8). Sessions live in the daemon's
-- memory (a restart logs everyone out); this table is the source of truth for
-- role and state, read on every authenticated request so that a role change
-- or a disable takes effect at once.
CREATE TABLE web_user (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'dispatcher', 'engineer', 'admin')),
    -- "pbkdf2-sha256$<iterations>$<salt base64>$<key base64>"
    pw_hash TEXT NOT NULL,
    -- bumped on every password change or disable: sessions of an older
    -- generation are no longer valid
    pw_gen INTEGER NOT NULL DEFAULT 1,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_login_ms INTEGER
);
