-- A tenant's own rate limit for its SCIM traffic, in requests per second
-- (burst: twice as many). NULL: the server's default (--tenant-rate-limit);
-- 0: unlimited. Keep identical on both backends.
ALTER TABLE tenants ADD COLUMN rate_limit INTEGER NULL;
