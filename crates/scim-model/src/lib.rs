//! SCIM 2.0 model (RFC 7643/7644). Being built: issue 2.
pub mod filter;
pub mod path;
