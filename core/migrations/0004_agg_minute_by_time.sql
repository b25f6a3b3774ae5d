-- The hourly prune deletes minute aggregates older than the retention window
-- in chunks (core/store.c, store_prune); without this index each chunk's
-- "minute < ?" scanned the whole table.
CREATE INDEX agg_minute_by_time ON agg_minute(minute);
