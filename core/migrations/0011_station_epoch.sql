-- A station whose record numbering starts again (replaced, reset, firmware
-- update) must not collide with the records already stored under the same
-- numbers: stored seq = the station's seq + seq_offset of its epoch.
ALTER TABLE station_cursor ADD COLUMN seq_offset INTEGER NOT NULL DEFAULT 0;
