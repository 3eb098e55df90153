-- Failed invitations become cancelled (their link never went out).
UPDATE invitations SET state = 'cancelled' WHERE state = 'failed';
ALTER TABLE invitations DROP CONSTRAINT invitations_state_ck;
ALTER TABLE invitations ADD CONSTRAINT invitations_state_ck
    CHECK (state IN ('queued', 'sent', 'accepted', 'expired', 'cancelled'));
