-- Provisioning activity of each tenant's directory (SCIM requests), for the
-- console's Provisioning activity page. Every replica counts in memory and
-- adds its counts here every few seconds (one upsert per tenant and bucket),
-- so a row holds the sum of all replicas. Keep identical on both backends.
CREATE TABLE scim_activity (
    tenant_id   TEXT NOT NULL,
    -- Start of the bucket, in Unix seconds (buckets are a minute long by default).
    bucket      BIGINT NOT NULL,
    requests    BIGINT NOT NULL,
    errors      BIGINT NOT NULL,
    -- The first and last request of the bucket (cycles are cut at silences).
    first_at    TIMESTAMP NOT NULL,
    last_at     TIMESTAMP NOT NULL,
    CONSTRAINT scim_activity_pkey PRIMARY KEY (tenant_id, bucket),
    CONSTRAINT scim_activity_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

-- The last refused SCIM requests of each tenant, with the SCIM error sent
-- back (the newest few dozen are kept).
CREATE TABLE scim_activity_errors (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    at          TIMESTAMP NOT NULL,
    request     TEXT NOT NULL,
    status      INTEGER NOT NULL,
    scim_type   TEXT NULL,
    detail      TEXT NOT NULL,
    CONSTRAINT scim_activity_errors_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT scim_activity_errors_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX scim_activity_errors_at_idx ON scim_activity_errors (tenant_id, at);
