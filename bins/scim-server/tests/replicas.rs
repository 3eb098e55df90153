//! Two `scim-server serve` **processes** on one database: a Secret Token
//! regenerated through a third process (the CLI) is refused by both servers
//! on their very next request, though both had just accepted it. The promise
//! holds because every SCIM request checks the token in its own transaction;
//! a cache would break this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use store_diesel::Backend;
use store_diesel::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_scim-server");
const KEY: &str = "replica-test-signing-key-0123456789abcdef";

/// A server process, killed when dropped.
struct Replica {
    child: Child,
    port: u16,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(url: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["--database-url", url, "--signing-key", KEY, "--json"])
        .args(args)
        .env_remove("SCIM_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("{args:?} printed no JSON: {text}"));
    serde_json::from_str(line).unwrap()
}

fn start(url: &str) -> Replica {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "--database-url",
            url,
            "--signing-key",
            KEY,
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let replica = Replica { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/healthz", None) != 200 {
        assert!(Instant::now() < deadline, "replica on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    replica
}

/// The status of `GET path` (0 when the connection fails).
fn get(port: u16, path: &str, token: Option<&str>) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
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
