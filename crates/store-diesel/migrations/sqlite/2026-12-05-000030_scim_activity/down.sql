DROP TABLE scim_activity_errors;
DROP TABLE scim_activity;
