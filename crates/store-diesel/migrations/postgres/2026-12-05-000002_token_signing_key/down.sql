ALTER TABLE scim_tokens DROP COLUMN signing_key_id;
