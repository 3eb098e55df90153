-- Tenant administrators of the web console (sqlite flavour; keep it
-- column-for-column identical to the other backend's file): accounts of one
-- tenant that sign in with email + password and, unless the operator switched
-- it off for the tenant, a TOTP second factor.
CREATE TABLE tenant_admins (
    id               TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    -- As entered; email_folded (lower case) is unique per tenant and what
    -- sign-in looks up.
    email            TEXT NOT NULL,
    email_folded     TEXT NOT NULL,
    -- Argon2id PHC string; NULL until set through a set-password link.
    password_hash    TEXT NULL,
    -- The TOTP seed sealed with the server key (purpose "totp-seed"); NULL
    -- until enrolled. totp_pending holds a seed being enrolled.
    totp_seed        TEXT NULL,
    totp_pending     TEXT NULL,
    -- The last accepted 30-second step: a code works once.
    totp_last_step   BIGINT NULL,
    disabled_at      TIMESTAMP NULL,
    created_at       TIMESTAMP NOT NULL,
    created_by       TEXT NOT NULL,
    CONSTRAINT tenant_admins_pkey PRIMARY KEY (id),
    CONSTRAINT tenant_admins_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX tenant_admins_email_idx ON tenant_admins (tenant_id, email_folded);
CREATE INDEX tenant_admins_sign_in_idx ON tenant_admins (email_folded);

-- Recovery codes: hex SHA-256 of each code (random, 50 bits), single use.
CREATE TABLE tenant_admin_recovery_codes (
    admin_id   TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    used_at    TIMESTAMP NULL,
    CONSTRAINT tenant_admin_recovery_codes_pkey PRIMARY KEY (admin_id, code_hash),
    CONSTRAINT tenant_admin_recovery_codes_admin_fk FOREIGN KEY (admin_id) REFERENCES tenant_admins (id) ON DELETE CASCADE
);

-- Set-password links: hex SHA-256 of the link's token, single use, expiring.
CREATE TABLE tenant_admin_links (
    token_hash TEXT NOT NULL,
    admin_id   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP NULL,
    CONSTRAINT tenant_admin_links_pkey PRIMARY KEY (token_hash),
    CONSTRAINT tenant_admin_links_admin_fk FOREIGN KEY (admin_id) REFERENCES tenant_admins (id) ON DELETE CASCADE
);
CREATE INDEX tenant_admin_links_admin_idx ON tenant_admin_links (admin_id);

-- Console settings of a tenant, switched by the operator. No row: the
-- defaults (second factor required).
CREATE TABLE tenant_console_settings (
    tenant_id              TEXT NOT NULL,
    second_factor_required BOOLEAN NOT NULL DEFAULT 1,
    updated_at             TIMESTAMP NOT NULL,
    CONSTRAINT tenant_console_settings_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT tenant_console_settings_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

-- Who a console session belongs to: NULL tenant_id/admin_id is the operator.
-- pending is NULL for a signed-in session, or 'totp' / 'enrol' while the
-- second factor is still outstanding after the password was accepted.
ALTER TABLE console_sessions ADD COLUMN tenant_id TEXT NULL;
ALTER TABLE console_sessions ADD COLUMN admin_id TEXT NULL;
ALTER TABLE console_sessions ADD COLUMN pending TEXT NULL;
CREATE INDEX console_sessions_admin_idx ON console_sessions (admin_id);
