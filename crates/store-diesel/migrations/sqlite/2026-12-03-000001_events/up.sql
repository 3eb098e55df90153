-- Change events (docs/events.md), SQLite flavour. Keep it column-for-column
-- identical to ../../postgres/2026-12-03-000001_events/up.sql.

-- The last event sequence number handed out in the tenant. An event's writer
-- increments it in its own transaction (`UPDATE ... RETURNING`); on SQLite the
-- write transaction holds the database lock, so events commit in sequence
-- order: a reader that resumes after seq N never skips an event.
ALTER TABLE tenants ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE events (
    tenant_id     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    id            TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    occurred_at   TIMESTAMP NOT NULL,
    -- `directory`, `admin` or `activation`.
    actor         TEXT NOT NULL,
    -- `User`, `Group` or `Tenant`, and the resource's id.
    resource_type TEXT NOT NULL,
    resource_id   TEXT NULL,
    -- The event's payload (JSON text); never a secret.
    data          TEXT NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (tenant_id, seq),
    CONSTRAINT events_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX events_id_uq ON events (tenant_id, id);
-- Retention prunes by time, tenant by tenant.
CREATE INDEX events_occurred_at_idx ON events (tenant_id, occurred_at);
