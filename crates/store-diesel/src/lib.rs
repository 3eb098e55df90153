//! Persistence for the SCIM server with diesel + r2d2: embedded SQLite by default,
//! PostgreSQL for deployments with several stateless replicas.
//!
//! This crate is being built (issue 5); it is the only crate of the workspace that
//! knows SQL.
