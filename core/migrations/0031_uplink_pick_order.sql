-- Uplink: the sender picks the oldest (or newest) due record of a destination;
-- an index in that order avoids sorting the whole backlog on every request.
CREATE INDEX uplink_delivery_order ON uplink_delivery(dest, state, seq);
DROP INDEX uplink_delivery_due;
