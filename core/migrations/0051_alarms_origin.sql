-- Alarms (issue #7): on a platform, alarms received from the enterprises below
-- (uplink_received records of type `alarm`) are shown with the enterprise's
-- code as origin; they are not uploaded again (the receiver forwards the
-- enterprise's own record). NULL: raised here.
ALTER TABLE alarm ADD COLUMN origin TEXT;
ALTER TABLE alarm_pending ADD COLUMN origin TEXT;
CREATE INDEX alarm_by_origin ON alarm(origin) WHERE origin IS NOT NULL;
