-- OAuth 2.0 client credentials (RFC 6749 §4.4), PostgreSQL flavour. Keep it
-- column-for-column identical to ../../sqlite/2026-12-02-000001_oauth_clients/up.sql.

-- "OAuth only": the tenant's SCIM API refuses its Secret Token and accepts only
-- access tokens from the token endpoint.
ALTER TABLE tenants ADD COLUMN oauth_only BOOLEAN NOT NULL DEFAULT FALSE;

-- At most one OAuth client per tenant: the key is the tenant id. The client id
-- starts with the tenant id (`<tenant_id>.<random>`), so the token endpoint
-- finds the row by its primary key.
CREATE TABLE oauth_clients (
    tenant_id                  TEXT COLLATE "C" NOT NULL,
    client_id                  TEXT COLLATE "C" NOT NULL,
    -- Hex SHA-256 of the current client secret; the secret itself is shown once.
    secret_hash                TEXT NOT NULL,
    -- The secret replaced by the last rotation, valid until its expiry (the
    -- grace period the admin chose); both NULL when there is none.
    previous_secret_hash       TEXT NULL,
    previous_secret_expires_at TIMESTAMP NULL,
    -- Bumped by every rotation; access tokens carry the generation of the secret
    -- that obtained them, so rotation refuses older tokens on their next request.
    generation                 BIGINT NOT NULL,
    -- Public keys for private_key_jwt (RFC 7523) as a JWK Set (JSON text);
    -- nothing is ever fetched.
    jwks                       TEXT NULL,
    created_at                 TIMESTAMP NOT NULL,
    rotated_at                 TIMESTAMP NULL,
    CONSTRAINT oauth_clients_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT oauth_clients_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT oauth_clients_grace_ck
        CHECK ((previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL))
);

-- The `jti` of every private_key_jwt client assertion (RFC 7523 §3) already
-- used, kept until the assertion expires, so an assertion works once.
CREATE TABLE oauth_assertion_ids (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    jti        TEXT COLLATE "C" NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    CONSTRAINT oauth_assertion_ids_pkey PRIMARY KEY (tenant_id, jti),
    CONSTRAINT oauth_assertion_ids_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX oauth_assertion_ids_expiry_idx ON oauth_assertion_ids (tenant_id, expires_at);
