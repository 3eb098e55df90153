-- Initial schema, SQLite flavour. Keep it column-for-column identical to
-- ../../postgres/2026-11-28-000001_initial/up.sql: one `schema.rs` serves both.
-- Rule: every primary key, unique key and index starts with tenant_id; the few
-- exceptions are commented where they are made (see docs/store.md).
-- Text columns use SQLite's default BINARY (byte-wise) collation; the PostgreSQL
-- flavour declares COLLATE "C" on them so both backends order text alike.
-- Booleans are stored as 0/1; timestamps as text written by diesel (UTC).

CREATE TABLE tenants (
    id                         TEXT NOT NULL,
    slug                       TEXT NOT NULL,
    name                       TEXT NOT NULL,
    created_at                 TIMESTAMP NOT NULL,
    automatic_invitation       BOOLEAN NOT NULL DEFAULT 0,
    require_mobile_auth_users  BOOLEAN NOT NULL DEFAULT 1,
    require_mobile_auth_groups BOOLEAN NOT NULL DEFAULT 1,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    -- Exception: the slug names the tenant in URLs, so it is unique globally.
    CONSTRAINT tenants_slug_uq UNIQUE (slug)
);

-- Exception: server-wide settings (the JWT signing key) belong to no tenant;
-- every replica must read the same row.
CREATE TABLE server_settings (
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT server_settings_pkey PRIMARY KEY (name)
);

CREATE TABLE scim_tokens (
    tenant_id  TEXT NOT NULL,
    token_id   TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP NULL,
    CONSTRAINT scim_tokens_pkey PRIMARY KEY (tenant_id, token_id),
    CONSTRAINT scim_tokens_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
-- At most one live token per tenant, enforced by the database.
CREATE UNIQUE INDEX scim_tokens_one_live_uq ON scim_tokens (tenant_id) WHERE revoked_at IS NULL;

CREATE TABLE users (
    tenant_id                     TEXT NOT NULL,
    id                            TEXT NOT NULL,
    user_name                     TEXT NOT NULL,
    user_name_folded              TEXT NOT NULL,
    external_id                   TEXT NULL,
    display_name                  TEXT NULL,
    display_name_folded           TEXT NULL,
    active                        BOOLEAN NOT NULL DEFAULT 1,
    status                        TEXT NOT NULL DEFAULT 'Staged',
    status_before_suspend         TEXT NULL,
    override_automatic_invitation BOOLEAN NULL,
    override_require_mobile_auth  BOOLEAN NULL,
    mobile_device_enrolled        BOOLEAN NOT NULL DEFAULT 0,
    mobile_device_name            TEXT NULL,
    created_at                    TIMESTAMP NOT NULL,
    last_modified                 TIMESTAMP NOT NULL,
    version                       BIGINT NOT NULL DEFAULT 1,
    document                      TEXT NOT NULL,
    -- provisioning-core's LifecycleRecord as JSON, opaque to the store.
    lifecycle                     TEXT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_user_name_uq UNIQUE (tenant_id, user_name_folded),
    CONSTRAINT users_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT users_status_ck CHECK (status IN ('Staged', 'Invited', 'Active', 'Suspended')),
    CONSTRAINT users_status_before_suspend_ck
        CHECK (status_before_suspend IS NULL OR status_before_suspend IN ('Staged', 'Invited', 'Active'))
);
CREATE INDEX users_external_id_idx   ON users (tenant_id, external_id);
CREATE INDEX users_display_name_idx  ON users (tenant_id, display_name_folded);
CREATE INDEX users_active_idx        ON users (tenant_id, active);
CREATE INDEX users_status_idx        ON users (tenant_id, status);
CREATE INDEX users_last_modified_idx ON users (tenant_id, last_modified);
CREATE INDEX users_created_at_idx    ON users (tenant_id, created_at);

CREATE TABLE user_emails (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    position     INTEGER NOT NULL,
    value        TEXT NOT NULL,
    value_folded TEXT NOT NULL,
    email_type   TEXT NULL,
    email_type_folded TEXT NULL,
    is_primary   BOOLEAN NOT NULL DEFAULT 0,
    -- The primary key doubles as the (tenant_id, user_id) index.
    CONSTRAINT user_emails_pkey PRIMARY KEY (tenant_id, user_id, position),
    CONSTRAINT user_emails_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_emails_value_idx ON user_emails (tenant_id, value_folded);

CREATE TABLE groups (
    tenant_id                    TEXT NOT NULL,
    id                           TEXT NOT NULL,
    display_name                 TEXT NOT NULL,
    display_name_folded          TEXT NOT NULL,
    external_id                  TEXT NULL,
    override_require_mobile_auth BOOLEAN NULL,
    members_can_store_data       BOOLEAN NOT NULL DEFAULT 1,
    created_at                   TIMESTAMP NOT NULL,
    last_modified                TIMESTAMP NOT NULL,
    version                      BIGINT NOT NULL DEFAULT 1,
    document                     TEXT NOT NULL,
    CONSTRAINT groups_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT groups_display_name_uq UNIQUE (tenant_id, display_name_folded),
    CONSTRAINT groups_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX groups_external_id_idx   ON groups (tenant_id, external_id);
CREATE INDEX groups_last_modified_idx ON groups (tenant_id, last_modified);
CREATE INDEX groups_created_at_idx    ON groups (tenant_id, created_at);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    CONSTRAINT group_members_pkey PRIMARY KEY (tenant_id, group_id, user_id),
    CONSTRAINT group_members_group_fk FOREIGN KEY (tenant_id, group_id)
        REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT group_members_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user_idx ON group_members (tenant_id, user_id);

CREATE TABLE invitations (
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
    CONSTRAINT invitations_state_ck CHECK (state IN ('queued', 'sent', 'accepted', 'expired', 'cancelled')),
    CONSTRAINT invitations_trigger_ck CHECK (trigger_kind IN ('automatic', 'explicit', 'reactivation'))
);
CREATE INDEX invitations_state_idx ON invitations (tenant_id, state, next_attempt_at);
CREATE INDEX invitations_user_idx  ON invitations (tenant_id, user_id);
-- Admin listing: keyset paging on (created_at, id), optionally by state.
CREATE INDEX invitations_created_idx ON invitations (tenant_id, created_at, id);
-- Activation looks the link up by the hash of its secret (never the secret).
CREATE INDEX invitations_secret_idx ON invitations (tenant_id, secret_hash);

-- seq is allocated per tenant as MAX(seq) + 1 inside the inserting statement.
-- SQLite has a single writer (and we BEGIN IMMEDIATE), so two inserts never see
-- the same MAX; the primary key starts with tenant_id as everywhere else.
-- (PostgreSQL uses one global identity instead; both are strictly increasing
-- within a tenant, which is all the audit cursor relies on.)
CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NULL,
    details     TEXT NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (tenant_id, seq),
    CONSTRAINT audit_log_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE TABLE outbox (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    available_at  TIMESTAMP NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_by    TEXT NULL,
    claimed_until TIMESTAMP NULL,
    done_at       TIMESTAMP NULL,
    last_error    TEXT NULL,
    CONSTRAINT outbox_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT outbox_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX outbox_tenant_pending_idx ON outbox (tenant_id, done_at, available_at);
-- Exception: the background sender claims due work across all tenants; this
-- small partial index holds only pending rows.
CREATE INDEX outbox_pending_idx ON outbox (available_at) WHERE done_at IS NULL;
