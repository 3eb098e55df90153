DROP TABLE oauth_assertion_ids;
DROP TABLE oauth_clients;
ALTER TABLE tenants DROP COLUMN oauth_only;
