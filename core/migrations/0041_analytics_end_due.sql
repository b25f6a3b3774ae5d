-- Analytics (issue #6): a condition found after it already ended (a stopped
-- belt drawing energy between two evaluations, a closed CUSUM episode) is
-- first written with end NULL and its real end here, so that the alarms
-- engine, which takes rows with end NULL as present, sees it at least once;
-- the next evaluation moves end_due into end.
ALTER TABLE ana_condition ADD COLUMN end_due INTEGER;
