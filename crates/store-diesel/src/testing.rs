//! Test support (cargo feature `testing`): a fresh, migrated database per test
//! on either backend, removed again on `Drop`; and [`crate::store_test!`], which
//! runs one test body on every backend of the build. Used by this crate's tests and meant
//! for the end-to-end tests (`store-diesel = { …, features = ["testing"] }`).
//!
//! PostgreSQL tests need `SCIM_TEST_PG_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates
//! `scim_test_<uuid>` and drops it `WITH (FORCE)`. Without the variable they print
//! `SKIPPED: …` to stderr and pass, unless `SCIM_TEST_PG_REQUIRED=1` (CI), where
//! they fail. SQLite tests exist only with the `sqlite` feature.

// Test support fails loudly: a broken fixture must stop the test.
#![allow(clippy::panic, clippy::expect_used)]

#[cfg(feature = "sqlite")]
use std::path::PathBuf;

#[cfg(feature = "postgres")]
use diesel::connection::{Connection, SimpleConnection};
#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;

use crate::{Backend, Store};

/// Env var with the PostgreSQL admin URL for tests.
pub const PG_URL_VAR: &str = "SCIM_TEST_PG_URL";
/// Env var that turns a missing [`PG_URL_VAR`] into a failure (set by CI).
pub const PG_REQUIRED_VAR: &str = "SCIM_TEST_PG_REQUIRED";

enum Cleanup {
    #[cfg(feature = "sqlite")]
    Nothing,
    #[cfg(feature = "sqlite")]
    SqliteFile(PathBuf),
    #[cfg(feature = "postgres")]
    PgDatabase { admin_url: String, name: String },
}

/// A throw-away database with a migrated [`Store`] on it.
pub struct TestDb {
    store: Option<Store>,
    url: String,
    cleanup: Cleanup,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestDb {
    /// A fresh SQLite file in the temp directory (WAL, a real pool).
    #[cfg(feature = "sqlite")]
    pub fn sqlite() -> Self {
        let path =
            std::env::temp_dir().join(format!("scim-test-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display());
        Self::migrated(url, Cleanup::SqliteFile(path))
    }

    /// A fresh in-memory SQLite database.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_memory() -> Self {
        Self::migrated("sqlite::memory:".to_owned(), Cleanup::Nothing)
    }

    /// A fresh PostgreSQL database, or `None` (after printing `SKIPPED`) when
    /// `SCIM_TEST_PG_URL` is unset.
    ///
    /// # Panics
    /// When the variable is unset but `SCIM_TEST_PG_REQUIRED=1`, or the server
    /// refuses to create the database.
    pub fn postgres() -> Option<Self> {
        let Some(admin_url) = std::env::var(PG_URL_VAR).ok().filter(|u| !u.is_empty()) else {
            if std::env::var(PG_REQUIRED_VAR).is_ok_and(|v| v == "1") {
                panic!("{PG_URL_VAR} is unset but {PG_REQUIRED_VAR}=1: PostgreSQL tests must run");
            }
            eprintln!("SKIPPED: PostgreSQL tests need {PG_URL_VAR}");
            return None;
        };
        #[cfg(not(feature = "postgres"))]
        panic!(
            "{PG_URL_VAR} is set ({admin_url}) but store-diesel was built without its `postgres` feature"
        );
        #[cfg(feature = "postgres")]
        {
            let name = format!("scim_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("cannot connect to {PG_URL_VAR}: {e}"));
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
            let url = with_database(&admin_url, &name);
            Some(Self::migrated(url, Cleanup::PgDatabase { admin_url, name }))
        }
    }

    /// A fresh migrated database of `backend` (`None`: PostgreSQL skipped, or
    /// SQLite in a build without the `sqlite` feature).
    pub fn of(backend: Backend) -> Option<Self> {
        match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Some(Self::sqlite()),
            #[cfg(not(feature = "sqlite"))]
            Backend::Sqlite => {
                eprintln!("SKIPPED: SQLite tests need store-diesel's `sqlite` feature");
                None
            }
            Backend::Postgres => Self::postgres(),
        }
    }

    fn migrated(url: String, cleanup: Cleanup) -> Self {
        let mut db = Self {
            store: None,
            url,
            cleanup,
        };
        // Statistics change when a test says so: no background ANALYZE
        // (store_diesel::statistics) under a test's feet.
        let options = crate::StoreOptions {
            background_analyze: false,
            ..Default::default()
        };
        let store = Store::connect_with(&db.url, &options)
            .and_then(|store| store.run_migrations().map(|_| store))
            .unwrap_or_else(|e| panic!("cannot open test database: {e}"));
        db.store = Some(store);
        db
    }

    /// The migrated store.
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("the store lives until drop")
    }

    /// The database URL (to open more stores on the same database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.store().backend()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.store.take());
        match &self.cleanup {
            #[cfg(feature = "sqlite")]
            Cleanup::Nothing => {}
            #[cfg(feature = "sqlite")]
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            #[cfg(feature = "postgres")]
            Cleanup::PgDatabase { admin_url, name } => {
                let dropped = PgConnection::establish(admin_url).map(|mut admin| {
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                });
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("warning: could not drop test database {name}");
                }
            }
        }
    }
}

/// `admin_url` with its database name replaced by `name`.
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Defines a test module `$name` with one `#[test]` per backend (`sqlite`,
/// `postgres`), each running `$body` with `$db` bound to a fresh migrated
/// [`TestDb`]. The PostgreSQL test skips itself (see [`TestDb::postgres`]);
/// the SQLite test exists only with the `sqlite` feature.
///
/// ```ignore
/// store_diesel::store_test!(creates_tenant, |db| {
///     let store = db.store();
///     // …
/// });
/// ```
#[macro_export]
macro_rules! store_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $crate::__store_test_sqlite!($db, $body);

            #[test]
            fn postgres() {
                let Some($db) = $crate::testing::TestDb::postgres() else {
                    return;
                };
                $body
            }
        }
    };
}

/// The `sqlite` test of [`store_test!`]: nothing in a build without the
/// `sqlite` feature (decided here, by store-diesel's features, not by those of
/// the crate that calls the macro).
#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __store_test_sqlite {
    ($db:ident, $body:block) => {
        #[test]
        fn sqlite() {
            let $db = $crate::testing::TestDb::sqlite();
            $body
        }
    };
}

/// The `sqlite` test of [`store_test!`]: nothing in a build without the
/// `sqlite` feature (decided here, by store-diesel's features, not by those of
/// the crate that calls the macro).
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __store_test_sqlite {
    ($db:ident, $body:block) => {};
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            super::with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
    }
}
