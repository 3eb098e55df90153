DROP INDEX console_sessions_admin_idx;
ALTER TABLE console_sessions DROP COLUMN pending;
ALTER TABLE console_sessions DROP COLUMN admin_id;
ALTER TABLE console_sessions DROP COLUMN tenant_id;
DROP TABLE tenant_console_settings;
DROP TABLE tenant_admin_links;
DROP TABLE tenant_admin_recovery_codes;
DROP TABLE tenant_admins;
