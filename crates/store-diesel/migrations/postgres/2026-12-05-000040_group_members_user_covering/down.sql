DROP INDEX group_members_user_idx;
CREATE INDEX group_members_user_idx ON group_members (tenant_id, user_id);
