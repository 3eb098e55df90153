-- Webhooks and tenant API keys, SQLite flavour. Keep it column-for-column
-- identical to ../../postgres/2026-12-04-000001_webhooks/up.sql.

-- A tenant's webhook endpoints. The dispatcher copies the tenant's events after
-- `cursor_seq` into `webhook_deliveries` (one row per matching event) and moves
-- the cursor, under the endpoint row's lock.
CREATE TABLE webhook_endpoints (
    tenant_id                  TEXT NOT NULL,
    id                         TEXT NOT NULL,
    url                        TEXT NOT NULL,
    -- JSON array of event types; [] = every type.
    event_types                TEXT NOT NULL,
    enabled                    BOOLEAN NOT NULL,
    -- The signing secret (`whsec_...`), sealed with the server key.
    secret_sealed              TEXT NOT NULL,
    -- The secret replaced by the last rotation, still signed with until its expiry.
    previous_secret_sealed     TEXT NULL,
    previous_secret_expires_at TIMESTAMP NULL,
    -- `healthy`, or `failing` once a delivery was retried for too long (then
    -- nothing is delivered until a replay).
    state                      TEXT NOT NULL,
    -- Every event with seq <= cursor_seq has its delivery row (or did not match).
    cursor_seq                 BIGINT NOT NULL,
    created_at                 TIMESTAMP NOT NULL,
    updated_at                 TIMESTAMP NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhook_endpoints_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT webhook_endpoints_state_ck CHECK (state IN ('healthy', 'failing')),
    CONSTRAINT webhook_endpoints_grace_ck
        CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL))
);

-- One event to deliver to one endpoint: claimed with a lease like the outbox.
CREATE TABLE webhook_deliveries (
    tenant_id     TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    id            TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    -- `User/<id>`, `Group/<id>` or `Tenant`: deliveries of one resource go out
    -- in seq order (a pending one holds back the later ones of that resource).
    resource_key  TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    available_at  TIMESTAMP NOT NULL,
    attempts      INTEGER NOT NULL,
    -- The first failed attempt: retries stop (and the endpoint is marked
    -- failing) once it is older than the retry window.
    first_failed_at TIMESTAMP NULL,
    claimed_by    TEXT NULL,
    claimed_until TIMESTAMP NULL,
    done_at       TIMESTAMP NULL,
    -- `delivered`, `failed` (given up), `superseded` (a replay replaced it) or
    -- `expired` (the event was pruned before it could be sent).
    outcome       TEXT NULL,
    last_error    TEXT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, endpoint_id, id),
    CONSTRAINT webhook_deliveries_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
-- The claim: due rows, and "is an earlier row of this resource still pending".
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (available_at) WHERE done_at IS NULL;
CREATE INDEX webhook_deliveries_resource_idx
    ON webhook_deliveries (tenant_id, endpoint_id, resource_key, seq) WHERE done_at IS NULL;
CREATE INDEX webhook_deliveries_done_idx ON webhook_deliveries (done_at) WHERE done_at IS NOT NULL;

-- The delivery log: one row per attempt.
CREATE TABLE webhook_attempts (
    tenant_id    TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    id           TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    event_id     TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    -- The receiver's HTTP status; NULL when no response came.
    status_code  INTEGER NULL,
    latency_ms   BIGINT NOT NULL,
    error        TEXT NULL,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (tenant_id, endpoint_id, id),
    CONSTRAINT webhook_attempts_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_page_idx ON webhook_attempts (tenant_id, endpoint_id, attempted_at, id);

-- Tenant-scoped API keys: open the tenant's events feed and webhook routes.
-- Only the hex SHA-256 of the key is kept.
CREATE TABLE tenant_api_keys (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT tenant_api_keys_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT tenant_api_keys_hash_uq UNIQUE (key_hash),
    CONSTRAINT tenant_api_keys_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
