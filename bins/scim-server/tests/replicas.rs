//! Two `scim-server serve` **processes** on one database: a Secret Token
//! regenerated through a third process (the CLI) is refused by both servers
//! on their very next request, though both had just accepted it. The promise
//! holds because every SCIM request checks the token in its own transaction;
//! a cache would break this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use store_diesel::Backend;
use store_diesel::testing::TestDb;

const KEY: &str = "replica-test-signing-key-0123456789abcdef";

fn cli(url: &str, args: &[&str]) -> serde_json::Value {
    common::cli(url, &[&["--signing-key", KEY][..], args].concat())
}

fn start(url: &str) -> common::Server {
    common::start(url, &["--signing-key", KEY], &[])
}

/// The status of `GET path` (0 when the connection fails).
fn get(port: u16, path: &str, token: Option<&str>) -> u16 {
    common::request(port, path, token).0
}

fn regenerated_token_is_refused_by_every_replica(db: &TestDb) {
    let url = db.url();
    cli(url, &["migrate"]);
    let old = cli(url, &["tenant", "create", "acme"])["secretToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = start(url);
    let b = start(url);
    let users = "/scim/v2/acme/Users?filter=userName%20eq%20%22nobody%22";
    for r in [&a, &b] {
        // Twice each: anything cached from the first would serve the second.
        assert_eq!(get(r.port, users, Some(&old)), 200);
        assert_eq!(get(r.port, users, Some(&old)), 200);
    }
    let new = cli(url, &["token", "generate", "acme"])["secretToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    for r in [&a, &b] {
        assert_eq!(
            get(r.port, users, Some(&old)),
            401,
            "old token on {}",
            r.port
        );
        assert_eq!(
            get(r.port, "/scim/v2/acme/ServiceProviderConfig", Some(&old)),
            401
        );
        assert_eq!(
            get(r.port, users, Some(&new)),
            200,
            "new token on {}",
            r.port
        );
    }
}

#[test]
fn two_server_processes_on_postgres_refuse_a_regenerated_token_at_once() {
    let Some(db) = TestDb::of(Backend::Postgres) else {
        return;
    };
    regenerated_token_is_refused_by_every_replica(&db);
}

#[test]
fn two_server_processes_on_one_sqlite_file_refuse_a_regenerated_token_at_once() {
    let Some(db) = TestDb::of(Backend::Sqlite) else {
        return;
    };
    regenerated_token_is_refused_by_every_replica(&db);
}
