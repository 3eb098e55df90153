//! The real binary, run as a subprocess: how it exits, what it prints where.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

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

/// A command of the real binary with a clean environment (no colour hints).
fn command(db_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-server"));
    cmd.env_remove("SCIM_PUBLIC_URL")
        .env_remove("SCIM_SIGNING_KEY")
        .env_remove("SCIM_SMTP_URL")
        .env_remove("SCIM_MAIL_FROM")
        .env_remove("SCIM_BIND")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env("DATABASE_URL", db_url)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must end on its own within 30 s (killed otherwise).
fn finish(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after 30 s (killed)\nstdout: {}\nstderr: {}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A `serve` child process; killed on drop.
struct Served {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    seen: Vec<String>,
}

impl Served {
    fn start(db_url: &str, args: &[&str]) -> Served {
        let mut argv = vec!["serve", "--bind", "127.0.0.1:0", "--workers", "1"];
        argv.extend_from_slice(args);
        let mut child = command(db_url, &argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Served {
            child,
            stdout: rx,
            stderr,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `needle`; returns it.
    fn line_with(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stdout line with {needle:?}\nstdout: {}\nstderr: {}",
                    self.seen.join("\n"),
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Waits until stderr contains `needle`; returns all of stderr.
    fn stderr_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.stderr.lock().unwrap().clone();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "stderr has no {needle:?}: {s}\nstdout: {}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value after `label` on a line such as `  Secret Token: ey...`.
fn value_after(line: &str, label: &str) -> String {
    line.split_once(label).unwrap().1.trim().to_owned()
}

#[test]
fn cli_commands_print_the_public_url_the_server_runs_with() {
    let db = TestDb::sqlite();
    let mut served = Served::start(db.url(), &["--public-url", "https://scim.example.net/"]);
    let first = served.line_with("Tenant URL:");
    assert_eq!(
        value_after(&first, "Tenant URL:"),
        "https://scim.example.net/scim/v2/default"
    );
    served.line_with("Secret Token:");
    // Without --public-url the commands use the one the server recorded.
    let list = finish(command(db.url(), &["tenant", "list"]));
    assert_clean_exit(&list, "tenant list");
    assert!(
        text(&list.stdout).contains("https://scim.example.net/scim/v2/default"),
        "{}",
        text(&list.stdout)
    );
    let created = finish(command(db.url(), &["tenant", "create", "acme"]));
    assert_clean_exit(&created, "tenant create");
    assert!(
        text(&created.stdout).contains("Tenant URL:   https://scim.example.net/scim/v2/acme"),
        "{}",
        text(&created.stdout)
    );
    // An explicit --public-url still wins.
    let other = finish(command(
        db.url(),
        &[
            "tenant",
            "list",
            "--public-url",
            "https://other.example.net",
        ],
    ));
    assert!(text(&other.stdout).contains("https://other.example.net/scim/v2/acme"));
}

#[test]
fn a_malformed_public_url_is_refused_and_changes_nothing() {
    let db = TestDb::sqlite();
    for bad in [
        "scim.example.net",
        "https://scim.example.net?tenant=1",
        "https://scim.example.net/#top",
        "ftp://scim.example.net",
        "https://",
        "https://user:secret@scim.example.net",
        "https://scim example.net",
    ] {
        let out = finish(command(
            db.url(),
            &["tenant", "create", "acme", "--public-url", bad],
        ));
        assert!(!out.status.success(), "{bad}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(err.contains("--public-url"), "{bad}: {err}");
        assert!(!text(&out.stdout).contains("Secret Token"), "{bad}");
    }
    let tenants = db.store().transaction(store_diesel::tenants::list).unwrap();
    assert!(tenants.is_empty(), "{tenants:?}");
}

const KEY: &str = "0123456789abcdef0123456789abcdef-server";
const OTHER_KEY: &str = "fedcba9876543210fedcba9876543210-other";

#[test]
fn a_signing_key_other_than_the_servers_is_refused_before_revoking_anything() {
    let db = TestDb::sqlite();
    let mut served = Served::start(db.url(), &["--signing-key", KEY]);
    let token = value_after(&served.line_with("Secret Token:"), "Secret Token:");
    let live = || {
        let store = db.store();
        let t = store
            .transaction(|c| store_diesel::tenants::get_by_slug(c, "default"))
            .unwrap();
        store
            .transaction(|c| store_diesel::tokens::live(c, &t.id))
            .unwrap()
            .unwrap()
            .token_hash
    };
    assert_eq!(live(), store_diesel::tokens::hash_token(&token));
    // The key kept in the database (no --signing-key) and another key both
    // differ from the server's.
    for args in [
        vec!["token", "generate", "default"],
        vec!["token", "generate", "default", "--signing-key", OTHER_KEY],
        vec!["tenant", "create", "acme", "--signing-key", OTHER_KEY],
    ] {
        let out = finish(command(db.url(), &args));
        assert!(!out.status.success(), "{args:?}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains("signing key"),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stdout).contains("Secret Token"), "{args:?}");
        assert_eq!(live(), store_diesel::tokens::hash_token(&token), "{args:?}");
    }
    let none = db
        .store()
        .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"));
    assert!(none.is_err());
    // The server's key works.
    let out = finish(command(
        db.url(),
        &["token", "generate", "default", "--signing-key", KEY],
    ));
    assert_clean_exit(&out, "token generate with the server's key");
    assert_ne!(live(), store_diesel::tokens::hash_token(&token));
}

#[test]
fn a_short_signing_key_is_refused() {
    let db = TestDb::sqlite();
    let short = "only-31-bytes-long-signing-key!";
    assert_eq!(short.len(), 31);
    let out = finish(command(
        db.url(),
        &["tenant", "create", "acme", "--signing-key", short],
    ));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 32 bytes"),
        "{}",
        text(&out.stderr)
    );
    let serve = finish(command(
        db.url(),
        &["serve", "--bind", "127.0.0.1:0", "--signing-key", short],
    ));
    assert!(!serve.status.success());
    assert!(text(&serve.stderr).contains("at least 32 bytes"));
    let tenants = db.store().transaction(store_diesel::tenants::list).unwrap();
    assert!(tenants.is_empty(), "{tenants:?}");
}

#[test]
fn serve_checks_every_flag_before_creating_the_first_tenant() {
    let db = TestDb::sqlite();
    for (flags, expect) in [
        (vec!["--smtp-url", "bogus://mail.example.net"], "--smtp-url"),
        (vec!["--mail-from", "not an address"], "--mail-from"),
        (vec!["--bind", "8080"], "HOST:PORT"),
        (vec!["--public-url", "scim.example.net"], "--public-url"),
        (vec!["--signing-key", "short"], "--signing-key"),
    ] {
        let mut argv = vec!["serve"];
        argv.extend_from_slice(&flags);
        if !flags.contains(&"--bind") {
            argv.extend_from_slice(&["--bind", "127.0.0.1:0"]);
        }
        let out = finish(command(db.url(), &argv));
        assert!(!out.status.success(), "{flags:?}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains(expect),
            "{flags:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stdout).contains("Secret Token"), "{flags:?}");
        let tenants = db.store().transaction(store_diesel::tenants::list).unwrap();
        assert!(tenants.is_empty(), "{flags:?}: {tenants:?}");
    }
}

#[test]
fn a_missing_database_folder_is_named() {
    let dir = std::env::temp_dir().join(format!("scim-missing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = finish({
        let mut c = command("sqlite://no-such-folder/scim.db", &["tenant", "list"]);
        c.current_dir(&dir);
        c
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let resolved = dir.join("no-such-folder");
    assert!(err.contains(&resolved.display().to_string()), "{err}");
}

#[test]
fn cli_actions_are_audited_like_the_admin_api() {
    let db = TestDb::sqlite();
    assert_clean_exit(
        &finish(command(db.url(), &["tenant", "create", "acme"])),
        "tenant create",
    );
    assert_clean_exit(
        &finish(command(db.url(), &["token", "generate", "acme"])),
        "token generate",
    );
    let store = db.store();
    let t = store
        .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
        .unwrap();
    let log = store
        .transaction(|c| store_diesel::audit::page(c, &t.id, None, 100))
        .unwrap();
    let seen: Vec<_> = log
        .iter()
        .map(|r| (r.actor.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("cli", "tenant.create"), ("cli", "token.generate")],
        "{log:?}"
    );
    // The token id only, never the token.
    assert!(log[1].details["tokenId"].is_string(), "{log:?}");
}

#[test]
fn the_first_token_goes_to_stdout_and_logs_carry_no_colour_codes() {
    let db = TestDb::sqlite();
    let mut served = Served::start(db.url(), &["--public-url", "https://scim.example.net"]);
    let line = served.line_with("Secret Token:");
    let token = value_after(&line, "Secret Token:");
    assert!(!line.contains('\u{1b}'), "{line:?}");
    let logs = served.stderr_with("listening");
    assert!(!logs.contains('\u{1b}'), "colour codes in logs: {logs:?}");
    assert!(!logs.contains(&token), "the token is in the logs: {logs}");
    assert!(
        served.seen.iter().all(|l| !l.contains("listening")),
        "log lines on stdout: {:?}",
        served.seen
    );
}

#[test]
fn status_reports_the_last_scim_write_invitations_and_the_outbox() {
    let db = TestDb::sqlite();
    assert_clean_exit(
        &finish(command(db.url(), &["tenant", "create", "acme"])),
        "tenant create",
    );
    let quiet = finish(command(db.url(), &["status"]));
    assert_clean_exit(&quiet, "status");
    let quiet = text(&quiet.stdout);
    assert!(quiet.contains("acme\n  last SCIM write:  never"), "{quiet}");
    assert!(quiet.contains("outbox:           empty"), "{quiet}");
    assert!(
        quiet.contains("webhooks:         no deliveries pending"),
        "{quiet}"
    );

    let store = db.store();
    let t = store
        .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
        .unwrap();
    let an_hour_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    store
        .transaction(|c| {
            store_diesel::audit::append(
                c,
                &t.id,
                &store_diesel::audit::NewAuditRecord {
                    actor: "scim",
                    action: "user.create",
                    target_type: "User",
                    target_id: Some("u1"),
                    details: &serde_json::json!({}),
                },
            )?;
            store_diesel::outbox::push(c, &t.id, "test", &serde_json::json!({}), an_hour_ago)
        })
        .unwrap();
    // A webhook endpoint with two deliveries waiting, dispatched an hour ago.
    store
        .transaction(|c| {
            store_diesel::webhooks::create(
                c,
                &t.id,
                "https://hooks.example.net/x",
                &[],
                "sealed",
                an_hour_ago,
            )?;
            for user in ["u1", "u2"] {
                store_diesel::events::append(
                    c,
                    &t.id,
                    store_diesel::events::NewEvent {
                        event_type: "user.provisioned".to_owned(),
                        time: an_hour_ago,
                        actor: "directory".to_owned(),
                        resource_type: "User".to_owned(),
                        resource_id: Some(user.to_owned()),
                        data: serde_json::json!({"id": user}),
                    },
                )?;
            }
            Ok::<_, store_diesel::StoreError>(())
        })
        .unwrap();
    assert_eq!(
        store
            .with_conn(|c| store_diesel::webhooks::dispatch(c, 10, an_hour_ago))
            .unwrap(),
        2
    );
    let busy = finish(command(db.url(), &["status", "--json"]));
    assert_clean_exit(&busy, "status --json");
    let v: serde_json::Value = serde_json::from_slice(&busy.stdout).unwrap();
    let item = &v["items"][0];
    assert_eq!(item["tenant"], "acme");
    assert!(item["lastScimWriteAt"].is_string(), "{v}");
    assert_eq!(item["invitations"]["queued"], 0, "{v}");
    assert_eq!(item["outbox"]["pending"], 1, "{v}");
    let age = item["outbox"]["oldestPendingAgeSeconds"].as_i64().unwrap();
    assert!((3590..3700).contains(&age), "{v}");
    assert_eq!(item["webhooks"]["pending"], 2, "{v}");
    assert_eq!(item["webhooks"]["endpointsFailing"], 0, "{v}");
    let age = item["webhooks"]["oldestPendingAgeSeconds"]
        .as_i64()
        .unwrap();
    assert!((3590..3700).contains(&age), "{v}");
    let text_out = text(&finish(command(db.url(), &["status"])).stdout);
    assert!(
        text_out.contains("webhooks:         2 deliveries pending, oldest dispatched"),
        "{text_out}"
    );
    assert!(text_out.contains("1 pending, oldest written"), "{text_out}");
    assert!(text_out.contains("(1h ago)"), "{text_out}");
}

/// A reader that stops early (`scim-server tenant list | head -1`) closes the
/// CLI's stdout: the command still exits 0 instead of panicking on the
/// broken pipe (`println!` did, with exit code 101).
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let db = TestDb::sqlite();
    assert_clean_exit(&scim_server(&db, &["migrate"]), "migrate");
    for i in 0..5 {
        assert_clean_exit(
            &scim_server(&db, &["tenant", "create", &format!("t{i}")]),
            "tenant create",
        );
    }
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scim-server"))
            .env("DATABASE_URL", db.url())
            .env_remove("SCIM_SIGNING_KEY")
            .args(["tenant", "list"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary runs");
        drop(child.stdout.take());
        let status = child.wait().expect("it ends");
        assert!(
            status.success(),
            "tenant list with a closed stdout: {status:?}"
        );
    }
}

#[test]
fn client_protocol_errors_are_warnings_not_errors() {
    use std::io::{Read, Write};
    let db = TestDb::sqlite();
    let served = Served::start(db.url(), &["--public-url", "https://scim.example.net"]);
    let logs = served.stderr_with("listening");
    let addr = logs
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("the listening line names the address")
        .to_owned();
    for raw in [
        "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_owned(),
        "POST /scim/v2/default/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
            .to_owned(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)),
    ] {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(raw.as_bytes());
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
    let logs = served.stderr_with("client protocol error");
    assert!(
        !logs.lines().any(|l| l.contains(" ERROR ")),
        "a client's malformed request is logged as a server error:\n{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains(" WARN ") && l.contains("client protocol error"))
    );
}

#[test]
fn admin_create_prints_a_single_use_set_password_link_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        assert_clean_exit(
            &finish(command(db.url(), &["tenant", "create", "acme"])),
            "tenant create",
        );
        let args = [
            "admin",
            "create",
            "--tenant",
            "acme",
            "--email",
            "ops@example.net",
            "--public-url",
            "https://scim.example.net",
            "--json",
        ];
        let out = finish(command(db.url(), &args));
        assert_clean_exit(&out, "admin create");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["tenant"], "acme");
        assert_eq!(v["email"], "ops@example.net");
        let link = v["setPasswordLink"].as_str().unwrap();
        let token = link
            .strip_prefix("https://scim.example.net/console/set-password?token=")
            .unwrap_or_else(|| panic!("{link}"));
        assert!(v["linkExpiresAt"].is_string());
        let store = db.store();
        assert!(matches!(
            store
                .with_conn(|c| store_diesel::tenant_admins::link_state(c, token))
                .unwrap(),
            store_diesel::tenant_admins::LinkState::Valid(a) if a.email == "ops@example.net"
        ));
        // Audited like the admin API, without the link's secret.
        let t = store
            .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
            .unwrap();
        let log = store
            .transaction(|c| store_diesel::audit::page(c, &t.id, None, 100))
            .unwrap();
        let created = log.iter().find(|r| r.action == "admin.create").unwrap();
        assert_eq!(created.actor, "cli");
        assert!(!created.details.to_string().contains(token));

        // The same email again, or an unknown tenant: a clear error, no change.
        let again = finish(command(db.url(), &args));
        assert!(!again.status.success());
        assert!(
            text(&again.stderr).contains("already an administrator"),
            "{}",
            text(&again.stderr)
        );
        let mut other = args;
        other[3] = "nope";
        let missing = finish(command(db.url(), &other));
        assert!(!missing.status.success());
        assert!(
            text(&missing.stderr).contains("no tenant \"nope\""),
            "{}",
            text(&missing.stderr)
        );
        let bad = finish(command(
            db.url(),
            &[
                "admin",
                "create",
                "--tenant",
                "acme",
                "--email",
                "not-an-email",
            ],
        ));
        assert!(!bad.status.success());
        assert!(text(&bad.stderr).contains("email"), "{}", text(&bad.stderr));
        let admins = store
            .with_conn(|c| store_diesel::tenant_admins::list(c, &t.id))
            .unwrap();
        assert_eq!(admins.len(), 1);

        // Text output prints the link too.
        let out = finish(command(
            db.url(),
            &[
                "admin",
                "create",
                "--tenant",
                "acme",
                "--email",
                "second@example.net",
                "--public-url",
                "https://scim.example.net",
            ],
        ));
        assert_clean_exit(&out, "admin create (text)");
        assert!(
            text(&out.stdout).contains(
                "Set-password link: https://scim.example.net/console/set-password?token="
            )
        );
    }
}
