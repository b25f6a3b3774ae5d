-- A one-off event (a counter reset, an identity mismatch) has nothing to
-- confirm: it happened. Hold-off filters states that come and go; an event
-- observed once could never stay present for it and was never raised (#15).
ALTER TABLE alarm_pending ADD COLUMN oneoff INTEGER NOT NULL DEFAULT 0;
