-- An undeliverable invitation is 'failed' (its reason in last_error).
-- SQLite cannot change a CHECK constraint: the table is rebuilt with the same
-- columns, keys and indexes. Nothing references invitations.
CREATE TABLE invitations_rebuilt (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    -- The user's invitation number (provisioning-core's Invitation::number).
    number          INTEGER NOT NULL,
    -- What queued it: automatic, explicit or reactivation.
    trigger_kind    TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued',
    created_at      TIMESTAMP NOT NULL,
    released_at     TIMESTAMP NULL,
    sent_at         TIMESTAMP NULL,
    accepted_at     TIMESTAMP NULL,
    expires_at      TIMESTAMP NULL,
    secret_hash     TEXT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NULL,
    last_error      TEXT NULL,
    CONSTRAINT invitations_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT invitations_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT invitations_number_uq UNIQUE (tenant_id, user_id, number),
    CONSTRAINT invitations_state_ck CHECK (state IN ('queued', 'sent', 'accepted', 'expired', 'cancelled', 'failed')),
    CONSTRAINT invitations_trigger_ck CHECK (trigger_kind IN ('automatic', 'explicit', 'reactivation'))
);
INSERT INTO invitations_rebuilt SELECT * FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_rebuilt RENAME TO invitations;
CREATE INDEX invitations_state_idx ON invitations (tenant_id, state, next_attempt_at);
CREATE INDEX invitations_user_idx  ON invitations (tenant_id, user_id);
CREATE INDEX invitations_created_idx ON invitations (tenant_id, created_at, id);
CREATE INDEX invitations_secret_idx ON invitations (tenant_id, secret_hash);
