-- An undeliverable invitation is 'failed' (its reason in last_error).
-- Keep identical in meaning to the SQLite migration.
ALTER TABLE invitations DROP CONSTRAINT invitations_state_ck;
ALTER TABLE invitations ADD CONSTRAINT invitations_state_ck
    CHECK (state IN ('queued', 'sent', 'accepted', 'expired', 'cancelled', 'failed'));
