-- Console sign-in sessions (sqlite flavour; keep it column-for-column identical to
-- the other backend's file). Not a per-tenant table: operator sessions belong
-- to no tenant (tenant administrators' sessions will add a tenant column).
-- The cookie carries a random session id; the table keeps only its hex SHA-256,
-- so a database dump opens no session.
CREATE TABLE console_sessions (
    id_hash      TEXT NOT NULL,
    -- Who signed in, e.g. 'operator': the audit log's actor is 'console:<subject>'.
    subject      TEXT NOT NULL,
    -- The per-session CSRF token every console form carries.
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    -- Bumped on every request; a session idle for longer than the server's
    -- idle timeout is refused and deleted.
    last_seen_at TIMESTAMP NOT NULL,
    CONSTRAINT console_sessions_pkey PRIMARY KEY (id_hash)
);
CREATE INDEX console_sessions_idle_idx ON console_sessions (last_seen_at);
