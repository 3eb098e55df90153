-- Change events (docs/events.md), PostgreSQL flavour. Keep it column-for-column
-- identical to ../../sqlite/2026-12-03-000001_events/up.sql.

-- The last event sequence number handed out in the tenant. An event's writer
-- increments it in its own transaction (`UPDATE ... RETURNING`), so the row lock
-- makes the tenant's events commit in sequence order: a reader that resumes
-- after seq N never skips an event that commits late.
ALTER TABLE tenants ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE events (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    id            TEXT COLLATE "C" NOT NULL,
    event_type    TEXT COLLATE "C" NOT NULL,
    occurred_at   TIMESTAMP NOT NULL,
    -- `directory`, `admin` or `activation`.
    actor         TEXT NOT NULL,
    -- `User`, `Group` or `Tenant`, and the resource's id.
    resource_type TEXT NOT NULL,
    resource_id   TEXT COLLATE "C" NULL,
    -- The event's payload (JSON text); never a secret.
    data          TEXT NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (tenant_id, seq),
    CONSTRAINT events_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX events_id_uq ON events (tenant_id, id);
-- Retention prunes by time, tenant by tenant.
CREATE INDEX events_occurred_at_idx ON events (tenant_id, occurred_at);
