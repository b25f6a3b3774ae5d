-- Analytics (issue #13): the model in force. A version is either in force
-- (from valid_from on, until a later one in force) or a proposal kept for
-- inspection; a pinned one stays in force until someone unpins it (scheduled
-- refits then only propose). basis says why it may be trusted: engineer
-- (declared by a person), calibration (fitted on data after a calibration
-- record, ACQ-5), bootstrap (the first model), schedule (a quiet gate's
-- scheduled refit), demo. sigma_rel: residual scale as a share of the energy.
ALTER TABLE ana_model ADD COLUMN status TEXT NOT NULL DEFAULT 'in_force'
    CHECK (status IN ('in_force', 'proposed'));
ALTER TABLE ana_model ADD COLUMN valid_from INTEGER;
ALTER TABLE ana_model ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ana_model ADD COLUMN basis TEXT;
ALTER TABLE ana_model ADD COLUMN sigma_rel REAL NOT NULL DEFAULT 0;
CREATE INDEX ana_model_in_force ON ana_model(gate, status, valid_from);
