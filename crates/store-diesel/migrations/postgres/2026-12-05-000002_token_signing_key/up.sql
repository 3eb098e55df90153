-- The id of the server key that signed a Secret Token (its JWT kid), so an
-- operator rotating the key can see which tenants still hold a token of the
-- old key. NULL: issued before key ids; `serve` fills it with the id of the
-- key it last started with (the only key the CLI would sign with).
ALTER TABLE scim_tokens ADD COLUMN signing_key_id TEXT NULL;
