DROP TABLE oauth_clients;
ALTER TABLE tenants DROP COLUMN oauth_only;
