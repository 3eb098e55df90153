-- A user's groups (read on every full user read) are found through this
-- index alone: with the group id in it, SQLite's planner uses it instead of
-- walking every membership of the tenant.
DROP INDEX group_members_user_idx;
CREATE INDEX group_members_user_idx ON group_members (tenant_id, user_id, group_id);
