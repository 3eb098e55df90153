ALTER TABLE tenants DROP COLUMN rate_limit;
