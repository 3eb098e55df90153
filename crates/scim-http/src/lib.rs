//! actix-web services for the SCIM 2.0 endpoints and the admin API.
//!
//! This crate is being built (issue 6); it will be mountable in any actix `App`.
