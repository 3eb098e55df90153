//! Database URL → backend, decided from the scheme alone (never by trying each
//! backend in turn, which hides the real error).

use crate::StoreError;

/// The database engine behind a [`crate::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL: several stateless replicas may share it.
    Postgres,
    /// Embedded SQLite (bundled): the default, one process.
    Sqlite,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        })
    }
}

/// A parsed database URL: which backend, and what to hand to its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A PostgreSQL URL (`postgres://` or `postgresql://`), passed to libpq with
    /// a `connect_timeout` added when the URL has none.
    Postgres {
        /// The libpq connection URL.
        url: String,
    },
    /// An SQLite database file (created if missing).
    SqliteFile {
        /// A path or `file:` URI for `sqlite3_open_v2`.
        path: String,
    },
    /// An in-memory SQLite database, private to one [`crate::Store`].
    SqliteMemory {
        /// A `file:…?mode=memory&cache=shared` URI unique to this store.
        uri: String,
    },
}

/// Seconds libpq waits for a TCP connection before giving up (added to
/// PostgreSQL URLs that do not set `connect_timeout` themselves).
pub const PG_CONNECT_TIMEOUT_SECS: u32 = 5;

impl DatabaseTarget {
    /// Parses a database URL.
    ///
    /// * `postgres://…`, `postgresql://…` → PostgreSQL;
    /// * `sqlite://relative.db`, `sqlite:///abs/path.db`, `sqlite:path.db`,
    ///   `file:…` URIs and plain paths → an SQLite file;
    /// * `:memory:`, `sqlite::memory:`, `sqlite://:memory:` and `file:` URIs with
    ///   `mode=memory` → in-memory SQLite;
    /// * any other `scheme://` (`mysql://`, `postgress://`) → [`StoreError::InvalidUrl`].
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for an empty URL or an unknown scheme.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::InvalidUrl(
                "the database URL is empty".to_owned(),
            ));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres {
                url: with_connect_timeout(url),
            });
        }
        if matches!(url, ":memory:" | "sqlite::memory:" | "sqlite://:memory:") {
            return Ok(Self::memory());
        }
        if let Some(rest) = url.strip_prefix("sqlite://") {
            return Ok(Self::sqlite_uri(format!("file:{rest}")));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return Ok(Self::sqlite_uri(format!("file:{rest}")));
        }
        if url.starts_with("file:") {
            return Ok(Self::sqlite_uri(url.to_owned()));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(StoreError::InvalidUrl(format!(
                "unsupported scheme `{scheme}://`: use postgres://, postgresql://, sqlite:// or a file path"
            )));
        }
        Ok(Self::SqliteFile {
            path: url.to_owned(),
        })
    }

    /// A fresh, uniquely named in-memory SQLite database.
    pub fn memory() -> Self {
        Self::SqliteMemory {
            uri: format!(
                "file:scim-mem-{}?mode=memory&cache=shared",
                uuid::Uuid::new_v4().simple()
            ),
        }
    }

    fn sqlite_uri(uri: String) -> Self {
        if uri.starts_with("file::memory:") {
            // A bare `file::memory:` would be private to each pooled connection.
            Self::memory()
        } else if uri.contains("mode=memory") {
            Self::SqliteMemory { uri }
        } else {
            Self::SqliteFile { path: uri }
        }
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres { .. } => Backend::Postgres,
            Self::SqliteFile { .. } | Self::SqliteMemory { .. } => Backend::Sqlite,
        }
    }
}

fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
    } else {
        format!("{url}?connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_a_connect_timeout() {
        assert_eq!(
            DatabaseTarget::parse("postgres://u@h/db").ok(),
            Some(DatabaseTarget::Postgres {
                url: "postgres://u@h/db?connect_timeout=5".to_owned()
            })
        );
        assert_eq!(
            DatabaseTarget::parse("postgresql://u@h/db?sslmode=disable").ok(),
            Some(DatabaseTarget::Postgres {
                url: "postgresql://u@h/db?sslmode=disable&connect_timeout=5".to_owned()
            })
        );
        assert_eq!(
            DatabaseTarget::parse("postgres://h/db?connect_timeout=1").ok(),
            Some(DatabaseTarget::Postgres {
                url: "postgres://h/db?connect_timeout=1".to_owned()
            })
        );
    }

    #[test]
    fn sqlite_forms() {
        let file = |p: &str| Some(DatabaseTarget::SqliteFile { path: p.to_owned() });
        assert_eq!(
            DatabaseTarget::parse("sqlite://data.db").ok(),
            file("file:data.db")
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:///var/x.db").ok(),
            file("file:/var/x.db")
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite:data.db").ok(),
            file("file:data.db")
        );
        assert_eq!(
            DatabaseTarget::parse("file:x.db?mode=rwc").ok(),
            file("file:x.db?mode=rwc")
        );
        assert_eq!(
            DatabaseTarget::parse("data/db.sqlite3").ok(),
            file("data/db.sqlite3")
        );
        for m in [
            ":memory:",
            "sqlite::memory:",
            "sqlite://:memory:",
            "file::memory:?cache=shared",
        ] {
            assert!(
                matches!(
                    DatabaseTarget::parse(m),
                    Ok(DatabaseTarget::SqliteMemory { .. })
                ),
                "{m}"
            );
        }
        assert_ne!(
            DatabaseTarget::parse(":memory:").ok(),
            DatabaseTarget::parse(":memory:").ok()
        );
    }

    #[test]
    fn unknown_schemes_are_rejected() {
        for bad in ["mysql://u@h/db", "postgress://u@h/db", "", "   "] {
            assert!(
                matches!(DatabaseTarget::parse(bad), Err(StoreError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
