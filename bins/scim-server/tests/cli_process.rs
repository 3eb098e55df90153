//! The real binary, run as a subprocess: how it exits, what it prints where.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use store_diesel::Backend;
use store_diesel::testing::TestDb;

/// The `scim-server` binary Cargo built for these tests.
fn scim_server(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scim-server"))
        .env_remove("SCIM_PUBLIC_URL")
        .env_remove("SCIM_SIGNING_KEY")
        .env("DATABASE_URL", db.url())
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn assert_clean_exit(out: &Output, what: &str) {
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what}: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The CLI used to die with SIGSEGV about one run in six on PostgreSQL: it
/// exited while a pool thread was still opening a connection.
#[test]
fn cli_commands_on_postgres_exit_cleanly_every_time() {
    let Some(db) = TestDb::of(Backend::Postgres) else {
        return;
    };
    assert_clean_exit(&scim_server(&db, &["migrate"]), "migrate");
    assert_clean_exit(
        &scim_server(&db, &["tenant", "create", "acme"]),
        "tenant create",
    );
    for i in 0..100 {
        let out = scim_server(&db, &["tenant", "list"]);
        assert_clean_exit(&out, &format!("tenant list, run {i}"));
        assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));
    }
    for i in 0..5 {
        assert_clean_exit(
            &scim_server(&db, &["token", "generate", "acme"]),
            &format!("token generate, run {i}"),
        );
    }
}
