//! Persistence for the SCIM server with diesel + r2d2: embedded SQLite (bundled)
//! by default, PostgreSQL for deployments with several stateless replicas, and one
//! behaviour on both. This is the only crate of the workspace that knows SQL.
//!
//! * [`Store`] holds the pool; [`Store::connect`] picks the backend from the URL
//!   scheme ([`DatabaseTarget::parse`]) and fails at once, with the driver's
//!   message, when the database cannot be reached.
//! * Migrations are embedded per backend (`migrations/sqlite`,
//!   `migrations/postgres`) and share one [`schema`].
//! * Repositories are modules of free functions over `&mut` [`DbConnection`], so
//!   callers compose several of them in one [`Store::transaction`]. Writes inside
//!   a repository function are already atomic on their own.
//! * Errors are [`StoreError`]; unique violations become
//!   [`StoreError::Conflict`] on both backends.
//! * Cargo features: `sqlite` (SQLite connections, the bundled SQLite) and
//!   `postgres` (PostgreSQL connections, libpq), both default; at least one
//!   must be on. A URL of a backend the build lacks is refused when connecting
//!   ([`ConnectError::NoSqlite`], [`ConnectError::NoPostgres`]). `testing`
//!   adds `store_diesel::testing` (a fresh database per test).
//!
//! See `docs/store.md` for the schema decisions.
//!
//! ```
//! use store_diesel::{Store, tenants};
//!
//! # #[cfg(feature = "sqlite")] // the example runs on SQLite
//! # fn main() -> Result<(), store_diesel::StoreError> {
//! let store = Store::connect_and_migrate("sqlite::memory:")?;
//! let acme = store.transaction(|conn| tenants::create(conn, "acme", "Acme Corp"))?;
//! assert_eq!(acme.slug, "acme");
//! assert!(!acme.settings.automatic_invitation);
//!
//! let again = store.transaction(|conn| tenants::create(conn, "acme", "Another"));
//! assert!(matches!(again, Err(store_diesel::StoreError::Conflict { .. })));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```

#![warn(missing_docs)]

#[cfg(not(any(feature = "postgres", feature = "sqlite")))]
compile_error!(
    "store-diesel needs a database backend: enable its `sqlite` feature, its `postgres` feature, or both"
);

#[cfg(feature = "sqlite")]
pub mod checkpoint;
mod connection;
mod error;
mod filter_sql;
mod hex;
mod macros;
mod render;
pub mod schema;
mod single;
#[cfg(feature = "postgres")]
pub mod statistics;
mod store;
mod time;
mod url;

pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod console_sessions;
/// Copying an SQLite installation into PostgreSQL (features `postgres` and `sqlite`).
#[cfg(all(feature = "postgres", feature = "sqlite"))]
pub mod copy;
pub mod events;
pub mod groups;
pub mod invitations;
pub mod list;
pub mod oauth;
pub mod outbox;
pub mod retention;
pub mod settings;
pub mod status;
pub mod tenant_admins;
pub mod tenants;
pub mod tokens;
pub mod user_pages;
pub mod users;
pub mod webhooks;

#[cfg(feature = "testing")]
pub mod testing;

pub use connection::{
    ConnectError, ConnectionManager, ConnectionSetup, DbConnection, MultiBackend, SQLITE_PRAGMAS,
};
pub use error::StoreError;
pub use list::{Keyset, ListQuery, Page};
pub use store::{
    PooledDbConnection, Store, StoreOptions, read_transaction_with, write_transaction,
    write_transaction_with,
};
pub use url::{Backend, DatabaseTarget, PG_CONNECT_TIMEOUT_SECS};
