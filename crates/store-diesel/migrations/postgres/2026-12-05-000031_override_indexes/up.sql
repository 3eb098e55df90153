-- The console's SCIM settings page counts the users and groups that carry
-- their own override of a tenant setting: partial indexes of just those rows
-- keep the counts cheap at any number of users. Keep identical on both backends.
CREATE INDEX users_override_invitation_idx ON users (tenant_id) WHERE override_automatic_invitation IS NOT NULL;
CREATE INDEX users_override_mobile_idx ON users (tenant_id) WHERE override_require_mobile_auth IS NOT NULL;
CREATE INDEX groups_override_mobile_idx ON groups (tenant_id) WHERE override_require_mobile_auth IS NOT NULL;
