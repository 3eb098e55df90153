//! The provisioning rules. Being built: issue 4.
