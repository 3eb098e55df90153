//! SCIM PATCH engine. Being built: issue 3.
