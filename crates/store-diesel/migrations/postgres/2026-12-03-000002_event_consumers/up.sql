-- Durable cursors of event consumers that embed the crates
-- (`store_diesel::events::Consumer`), PostgreSQL flavour. Keep it
-- column-for-column identical to ../../sqlite/2026-12-03-000002_event_consumers/up.sql.
CREATE TABLE event_consumers (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    -- The consumer's name, chosen by the embedding service.
    consumer   TEXT COLLATE "C" NOT NULL,
    -- The last seq the consumer has handled.
    last_seq   BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT event_consumers_pkey PRIMARY KEY (tenant_id, consumer),
    CONSTRAINT event_consumers_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
