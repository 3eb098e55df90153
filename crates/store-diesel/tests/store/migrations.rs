use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use super::*;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn table_count(store: &Store) -> i64 {
    let sql = match store.backend() {
        store_diesel::Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'"
        }
        store_diesel::Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_name <> '__diesel_schema_migrations'"
        }
    };
    store
        .with_conn(|c| Ok(diesel::sql_query(sql).get_result::<Count>(c)?.n))
        .unwrap()
}

store_test!(up_down_up, |db| {
    let store = db.store();
    assert_eq!(table_count(store), 25, "all tables after the first up");
    assert!(
        store.run_migrations().unwrap().is_empty(),
        "a second run applies nothing"
    );
    assert!(store.pending_migrations().unwrap().is_empty());

    let reverted = store.revert_all_migrations().unwrap();
    assert!(!reverted.is_empty());
    assert_eq!(table_count(store), 0, "down.sql drops every table");
    assert_eq!(store.pending_migrations().unwrap().len(), reverted.len());

    let applied = store.run_migrations().unwrap();
    assert_eq!(applied.len(), reverted.len());
    assert_eq!(table_count(store), 25);

    // The schema works after the round trip.
    store
        .transaction(|c| store_diesel::tenants::create(c, "after-roundtrip", "R"))
        .unwrap();
});

/// Two migrations with one version (the name's part before the first `_`):
/// diesel records versions, so it would run only one of them. Both dialects
/// must also list the same migrations.
#[test]
fn migration_versions_are_unique_and_both_dialects_agree() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |dialect: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(dialect))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    };
    let (sqlite, postgres) = (names("sqlite"), names("postgres"));
    assert_eq!(
        sqlite, postgres,
        "the two dialects list different migrations"
    );
    let mut versions: Vec<&str> = sqlite
        .iter()
        .map(|n| n.split_once('_').map_or(n.as_str(), |(v, _)| v))
        .collect();
    let all = versions.len();
    versions.dedup();
    assert_eq!(
        versions.len(),
        all,
        "duplicate migration versions in {sqlite:?}"
    );
}
