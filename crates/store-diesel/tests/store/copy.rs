//! `store_diesel::copy`: SQLite → PostgreSQL. Each table gets one row built
//! from its own column types (so a new table or column is covered without
//! editing this test), every foreign key pointing at the id `a`.

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use store_diesel::copy::{CopyError, CopyOptions, TABLES, copy_sqlite_to_postgres};
use store_diesel::testing::TestDb;
use store_diesel::{DbConnection, audit, tenants};

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    type_: String,
}

/// One row per table, values chosen by column type; `id_suffix` makes the
/// primary keys of a second call differ (text columns other than ids and
/// references take `text`).
fn fill(db: &TestDb, id: &str, text: &str) {
    db.store()
        .with_conn(|c| {
            let DbConnection::Sqlite(c) = c else {
                panic!("source must be SQLite")
            };
            for table in TABLES {
                let cols = diesel::sql_query(format!(
                    "SELECT name, type AS type_ FROM pragma_table_info('{table}')"
                ))
                .load::<Column>(c)
                .unwrap();
                let names = cols
                    .iter()
                    .map(|c| format!("\"{}\"", c.name))
                    .collect::<Vec<_>>();
                let values = cols
                    .iter()
                    .map(|col| {
                        let ty = col.type_.to_ascii_uppercase();
                        let reference = col.name == "id"
                            || col.name.ends_with("_id")
                            || col.name == "name" && *table == "server_settings";
                        let checked = match (*table, col.name.as_str()) {
                            ("users", "status" | "status_before_suspend") => Some("'Active'"),
                            ("invitations", "state") => Some("'queued'"),
                            ("invitations", "trigger_kind") => Some("'automatic'"),
                            ("webhook_endpoints", "state") => Some("'healthy'"),
                            _ => None,
                        };
                        if let Some(v) = checked {
                            v.to_owned()
                        } else if ty.starts_with("BOOL") {
                            "1".to_owned()
                        } else if ty.starts_with("TIMESTAMP") {
                            "'2026-11-30 10:11:12.345678'".to_owned()
                        } else if ty.contains("INT") {
                            "7".to_owned()
                        } else if reference {
                            format!("'{id}'")
                        } else {
                            // Unique per row: slugs, hashes, emails, ...
                            format!("'{text}-{id}-{}'", col.name)
                        }
                    })
                    .collect::<Vec<_>>();
                c.batch_execute(&format!(
                    "INSERT INTO \"{table}\" ({}) VALUES ({})",
                    names.join(", "),
                    values.join(", ")
                ))
                .unwrap_or_else(|e| panic!("fill {table}: {e}"));
            }
            Ok(())
        })
        .unwrap();
}

fn counts(db: &TestDb) -> Vec<(String, i64)> {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    db.store()
        .with_conn(|c| {
            Ok(TABLES
                .iter()
                .map(|t| {
                    let n = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM \"{t}\""))
                        .get_result::<N>(c)
                        .unwrap()
                        .n;
                    ((*t).to_owned(), n)
                })
                .collect())
        })
        .unwrap()
}

fn pg() -> Option<TestDb> {
    TestDb::postgres()
}

#[test]
fn the_table_list_is_every_table_of_both_schemas() {
    let sqlite = TestDb::sqlite();
    let mut names: Vec<String> = sqlite
        .store()
        .with_conn(|c| {
            #[derive(diesel::QueryableByName)]
            struct Name {
                #[diesel(sql_type = Text)]
                name: String,
            }
            Ok(diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
            )
            .load::<Name>(c)
            .unwrap())
        })
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    let mut known: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    names.sort();
    known.sort();
    assert_eq!(names, known, "add new tables to store_diesel::copy::TABLES");
}

#[test]
fn copies_every_table_with_its_values_and_moves_the_sequences() {
    let Some(target) = pg() else { return };
    let source = TestDb::sqlite();
    fill(&source, "a", "one");
    let before = counts(&source);
    assert!(before.iter().all(|(_, n)| *n == 1), "{before:?}");

    let mut batches = 0;
    let report = copy_sqlite_to_postgres(
        source.url(),
        target.url(),
        &CopyOptions::default(),
        &mut |_, _| batches += 1,
    )
    .unwrap();
    assert_eq!(batches, TABLES.len());
    assert_eq!(
        report
            .tables
            .iter()
            .map(|t| (t.table.to_owned(), t.target))
            .collect::<Vec<_>>(),
        before
    );
    assert_eq!(report.sequences, vec!["audit_log.seq".to_owned()]);
    assert_eq!(counts(&target), before);

    // Typed values survived: booleans, timestamps, integers, text.
    let t = target
        .store()
        .transaction(|c| tenants::get_by_slug(c, "one-a-slug"))
        .unwrap();
    assert_eq!(t.id, "a");
    assert!(t.settings.automatic_invitation);
    assert_eq!(
        t.created_at.format("%F %T%.6f").to_string(),
        "2026-11-30 10:11:12.345678"
    );
    // The audit log's identity continues after the copied seq (7).
    let seq = target
        .store()
        .transaction(|c| {
            audit::append(
                c,
                "a",
                &audit::NewAuditRecord {
                    actor: "test",
                    action: "test.after-copy",
                    target_type: "Tenant",
                    target_id: None,
                    details: &serde_json::json!({}),
                },
            )
        })
        .unwrap();
    assert!(seq > 7, "seq {seq}");
}

#[test]
fn refuses_a_target_with_rows_unless_replacing() {
    let Some(target) = pg() else { return };
    let source = TestDb::sqlite();
    fill(&source, "a", "one");
    target
        .store()
        .transaction(|c| tenants::create(c, "already-here", "x"))
        .unwrap();
    let err = copy_sqlite_to_postgres(
        source.url(),
        target.url(),
        &CopyOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, CopyError::TargetNotEmpty(t) if t.iter().any(|(name, n)| name == "tenants" && *n == 1)),
        "{err}"
    );
    assert!(
        target
            .store()
            .transaction(|c| tenants::get_by_slug(c, "already-here"))
            .is_ok()
    );
    let mut replace = CopyOptions::default();
    replace.replace = true;
    let report =
        copy_sqlite_to_postgres(source.url(), target.url(), &replace, &mut |_, _| {}).unwrap();
    assert!(report.replaced_rows >= 1);
    assert_eq!(counts(&target), counts(&source));
    assert!(
        target
            .store()
            .transaction(|c| tenants::get_by_slug(c, "already-here"))
            .is_err()
    );
}

#[test]
fn a_failure_mid_way_leaves_the_target_without_rows() {
    let Some(target) = pg() else { return };
    let source = TestDb::sqlite();
    fill(&source, "a", "one");
    fill(&source, "b", "two");
    // SQLite stores a NUL in text; PostgreSQL refuses it. `users` comes after
    // server_settings, tenants and scim_tokens, which are copied first.
    source
        .store()
        .with_conn(|c| {
            c.batch_execute(
                "UPDATE users SET display_name = 'bad' || char(0) || 'name' WHERE id = 'b'",
            )
            .unwrap();
            Ok(())
        })
        .unwrap();
    let mut seen = Vec::new();
    let mut small = CopyOptions::default();
    small.batch_rows = 1;
    let err = copy_sqlite_to_postgres(source.url(), target.url(), &small, &mut |t, _| {
        seen.push(t.to_owned());
    })
    .unwrap_err();
    assert!(
        matches!(&err, CopyError::Copy { table, .. } if table == "users"),
        "{err}"
    );
    assert!(seen.contains(&"tenants".to_owned()), "{seen:?}");
    assert!(
        counts(&target).iter().all(|(_, n)| *n == 0),
        "{:?}",
        counts(&target)
    );
    // Fixed, the same command completes.
    source
        .store()
        .with_conn(|c| {
            c.batch_execute("UPDATE users SET display_name = 'good name' WHERE id = 'b'")
                .unwrap();
            Ok(())
        })
        .unwrap();
    copy_sqlite_to_postgres(source.url(), target.url(), &small, &mut |_, _| {}).unwrap();
    assert_eq!(counts(&target), counts(&source));
}

#[test]
fn a_write_to_the_source_during_the_copy_rolls_it_back() {
    let Some(target) = pg() else { return };
    let source = TestDb::sqlite();
    fill(&source, "a", "one");
    let writer = source.store().clone();
    let mut wrote = false;
    let err = copy_sqlite_to_postgres(
        source.url(),
        target.url(),
        &CopyOptions::default(),
        &mut |table, _| {
            if table == "users" && !wrote {
                wrote = true;
                writer
                    .transaction(|c| tenants::create(c, "late", "Late"))
                    .unwrap();
            }
        },
    )
    .unwrap_err();
    assert!(matches!(err, CopyError::SourceWritten), "{err}");
    assert!(counts(&target).iter().all(|(_, n)| *n == 0));
}

#[test]
fn refuses_wrong_backends() {
    let source = TestDb::sqlite();
    let other = TestDb::sqlite();
    let err = copy_sqlite_to_postgres(
        source.url(),
        other.url(),
        &CopyOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, CopyError::WrongBackend(_)), "{err}");
}
