//! The store's test suite: one binary, every test on SQLite and PostgreSQL
//! (`store_test!`; SQLite with the `sqlite` feature). PostgreSQL needs
//! `SCIM_TEST_PG_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod activity;
mod api_keys_webhooks;
mod audit;
mod connect;
#[cfg(all(feature = "postgres", feature = "sqlite"))]
mod copy;
mod events;
mod invitations;
mod list_props;
mod lists;
mod migrations;
mod oauth;
mod outbox;
mod races;
mod retention;
mod settings;
#[cfg(feature = "postgres")]
mod statistics;
mod status;
mod tenant_admins;
mod tenants;
mod tokens;
mod users_groups;

pub use store_diesel::testing::TestDb;
pub use store_diesel::{DbConnection, Store, StoreError, store_test};
