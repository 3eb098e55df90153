use std::time::{Duration, Instant};

#[cfg(feature = "sqlite")]
use diesel::RunQueryDsl;
#[cfg(feature = "sqlite")]
use diesel::sql_types::{BigInt, Text};
use store_diesel::{Backend, DatabaseTarget};

use super::*;

#[test]
fn unknown_schemes_fail_at_once() {
    for url in [
        "mysql://root@localhost/db",
        "postgress://postgres@127.0.0.1/x",
    ] {
        let started = Instant::now();
        let err = Store::connect(url).unwrap_err();
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{url}: {err}");
        assert!(err.to_string().contains("unsupported scheme"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn unreachable_postgres_fails_fast_with_the_cause() {
    let started = Instant::now();
    let err = Store::connect("postgres://postgres@127.0.0.1:1/x").unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("postgres"), "{err}");
    // Guards against r2d2's 30 s default connection timeout.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_url_forms_open_the_sqlite_backend() {
    let dir = std::env::temp_dir().join(format!("scim-url-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let abs = dir.join("abs.db");
    let plain = dir.join("plain.db");
    let uri = dir.join("uri.db");
    for url in [
        format!("sqlite://{}", abs.display()),
        plain.display().to_string(),
        format!("file:{}?mode=rwc", uri.display()),
        "sqlite::memory:".to_owned(),
        ":memory:".to_owned(),
    ] {
        let store = Store::connect_and_migrate(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(store.backend(), Backend::Sqlite, "{url}");
        store
            .transaction(|c| store_diesel::tenants::create(c, "t", "T"))
            .unwrap();
    }
    assert!(abs.exists() && plain.exists() && uri.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "sqlite")]
#[test]
fn in_memory_stores_are_private_and_survive_in_the_pool() {
    let a = Store::connect_and_migrate("sqlite::memory:").unwrap();
    let b = Store::connect_and_migrate("sqlite::memory:").unwrap();
    a.transaction(|c| store_diesel::tenants::create(c, "only-in-a", "A"))
        .unwrap();
    assert_eq!(a.with_conn(store_diesel::tenants::list).unwrap().len(), 1);
    assert!(b.with_conn(store_diesel::tenants::list).unwrap().is_empty());
    // A clone shares the pool, hence the database.
    let a2 = a.clone();
    assert_eq!(a2.with_conn(store_diesel::tenants::list).unwrap().len(), 1);
}

#[test]
fn postgres_urls_select_postgres() {
    assert_eq!(
        DatabaseTarget::parse("postgresql://u@h/db")
            .unwrap()
            .backend(),
        Backend::Postgres
    );
    let Some(db) = TestDb::postgres() else { return };
    assert_eq!(db.backend(), Backend::Postgres);
    let alt = db.url().replacen("postgres://", "postgresql://", 1);
    assert_eq!(Store::connect(&alt).unwrap().backend(), Backend::Postgres);
}

#[cfg(feature = "sqlite")]
#[derive(diesel::QueryableByName)]
struct Pragma {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

#[cfg(feature = "sqlite")]
#[derive(diesel::QueryableByName)]
struct PragmaText {
    #[diesel(sql_type = Text)]
    v: String,
}

#[cfg(feature = "sqlite")]
fn pragma_int(store: &Store, pragma: &str, column: &str) -> i64 {
    let sql = format!("SELECT {column} AS v FROM pragma_{pragma}");
    store
        .with_conn(|c| Ok(diesel::sql_query(&sql).get_result::<Pragma>(c)?.v))
        .unwrap()
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_pragmas_are_in_effect_on_every_pooled_connection() {
    let db = TestDb::sqlite();
    let store = db.store();
    // Hold several connections at once so more than one is checked.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = store.conn().unwrap();
        let fk = diesel::sql_query("SELECT foreign_keys AS v FROM pragma_foreign_keys")
            .get_result::<Pragma>(&mut *conn)
            .unwrap()
            .v;
        assert_eq!(fk, 1);
        let mode = diesel::sql_query("SELECT journal_mode AS v FROM pragma_journal_mode")
            .get_result::<PragmaText>(&mut *conn)
            .unwrap()
            .v;
        assert_eq!(mode, "wal");
        held.push(conn);
    }
    drop(held);
    assert_eq!(pragma_int(store, "busy_timeout", "timeout"), 5000);
    assert_eq!(pragma_int(store, "synchronous", "synchronous"), 1, "NORMAL");
}

#[cfg(feature = "sqlite")]
/// Writes about 2 MB (some 500 pages: under SQLite's own automatic
/// checkpoint of 1,000 pages) in one transaction; returns the database file.
fn write_two_megabytes(options: &store_diesel::StoreOptions) -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("scim-ckpt-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let store = Store::connect_with(&format!("sqlite://{}", path.display()), options).unwrap();
    store
        .transaction(|c| {
            diesel::sql_query("CREATE TABLE filler (x BLOB)").execute(c)?;
            diesel::sql_query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                 INSERT INTO filler SELECT randomblob(1000) FROM n",
            )
            .execute(c)?;
            Ok(())
        })
        .unwrap();
    (store, path)
}

/// `PRAGMA wal_autocheckpoint` of a pooled connection (it has no
/// table-valued form).
#[cfg(feature = "sqlite")]
fn wal_autocheckpoint(store: &Store) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        wal_autocheckpoint: i64,
    }
    store
        .with_conn(|c| {
            Ok(diesel::sql_query("PRAGMA wal_autocheckpoint")
                .get_result::<Row>(c)?
                .wal_autocheckpoint)
        })
        .unwrap()
}

#[cfg(feature = "sqlite")]
fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(feature = "sqlite")]
#[test]
fn the_background_checkpointer_copies_the_log_into_the_database_file() {
    let (store, path) = write_two_megabytes(&store_diesel::StoreOptions::default());
    assert_eq!(
        wal_autocheckpoint(&store),
        i64::from(store_diesel::checkpoint::FALLBACK_AUTOCHECKPOINT_PAGES),
        "writers keep only the fallback checkpoint"
    );
    // No commit of a pool connection checkpointed (500 pages are under both
    // thresholds): the pages reach the database file through the thread.
    let deadline = Instant::now() + Duration::from_secs(10);
    while file_len(&path) < 2_000_000 {
        assert!(
            Instant::now() < deadline,
            "the database file stayed at {} bytes: nothing checkpointed the log",
            file_len(&path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[cfg(feature = "sqlite")]
#[test]
fn without_the_checkpointer_the_log_waits_for_sqlites_own_threshold() {
    let mut options = store_diesel::StoreOptions::default();
    options.background_checkpoint = false;
    let (store, path) = write_two_megabytes(&options);
    assert_eq!(wal_autocheckpoint(&store), 1000);
    // The control for the test above: the same write, and nothing copies it.
    std::thread::sleep(store_diesel::checkpoint::CHECKPOINT_INTERVAL * 5);
    assert!(
        file_len(&path) < 1_000_000,
        "{} bytes: the log was checkpointed without the thread",
        file_len(&path)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[cfg(not(feature = "sqlite"))]
#[test]
fn sqlite_urls_are_refused_without_the_sqlite_feature() {
    use r2d2::ManageConnection;
    use store_diesel::{ConnectError, ConnectionManager};

    let dir = std::env::temp_dir().join(format!("scim-url-{}", uuid::Uuid::new_v4().simple()));
    let file = dir.join("never.db");
    for url in [
        format!("sqlite://{}", file.display()),
        file.display().to_string(),
        "sqlite::memory:".to_owned(),
    ] {
        let target = DatabaseTarget::parse(&url).unwrap();
        assert_eq!(target.backend(), Backend::Sqlite, "{url}");
        let refused = ConnectionManager::new(target).connect();
        assert!(matches!(refused, Err(ConnectError::NoSqlite)), "{url}");
        let err = Store::connect(&url).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{url}: {err}");
        assert!(err.to_string().contains("`sqlite` feature"), "{err}");
    }
    assert!(!dir.exists(), "nothing is created");
}

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_urls_are_refused_without_the_postgres_feature() {
    use r2d2::ManageConnection;
    use store_diesel::{ConnectError, ConnectionManager};

    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    let target = DatabaseTarget::parse(url).unwrap();
    assert_eq!(target.backend(), Backend::Postgres);
    let refused = ConnectionManager::new(target).connect();
    assert!(matches!(refused, Err(ConnectError::NoPostgres)));
    let err = Store::connect(url).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("`postgres` feature"), "{err}");
}
