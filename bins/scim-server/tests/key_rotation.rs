//! Signing-key rotation with real `serve` processes: a server started with a
//! new `--signing-key` and the old one as `--previous-signing-key` accepts
//! tokens of both (including a token without `kid`, from before key ids),
//! signs new ones with the new key, tells which tenants still hold an old
//! token, and refuses the old tokens once the grace period is over. The CLI
//! still refuses to sign with a key the server does not run with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Server, cli, request, run};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

const OLD: &str = "the-old-signing-key-0123456789abcdef";
const NEW: &str = "the-new-signing-key-0123456789abcdef";
const ADMIN: &str = "rotation-admin-token-0123456789";
const GRACE_SECS: u64 = 15;

fn start(url: &str, args: &[&str]) -> Server {
    common::start(url, args, &["--admin-token", ADMIN])
}

fn users(port: u16, slug: &str, token: &str) -> u16 {
    request(
        port,
        &format!("/scim/v2/{slug}/Users?filter=userName%20eq%20%22nobody%22"),
        Some(token),
    )
    .0
}

fn kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).unwrap().kid
}

/// A token of `slug` signed with `key` the way servers did before key ids:
/// no `kid` in the header. It replaces the tenant's live token.
fn legacy_token(db: &TestDb, slug: &str, key: &str) -> String {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        tid: &'a str,
        jti: &'a str,
        iat: i64,
        aud: &'a str,
    }
    let store = db.store();
    let t = store
        .transaction(|c| store_diesel::tenants::get_by_slug(c, slug))
        .unwrap();
    store
        .transaction(|c| {
            store_diesel::tokens::issue_with(c, &t.id, |jti, now| {
                jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &Claims {
                        tid: &t.id,
                        jti,
                        iat: now.timestamp(),
                        aud: "scim",
                    },
                    &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()).unwrap(),
                )
            })
        })
        .unwrap()
        .token
}

fn rotation(db: &TestDb) {
    let url = db.url();
    let old_key = ["--signing-key", OLD];
    let token = |v: serde_json::Value| v["secretToken"].as_str().unwrap().to_owned();
    cli(url, &["--signing-key", OLD, "migrate"]);
    let acme_old = token(cli(
        url,
        &["--signing-key", OLD, "tenant", "create", "acme"],
    ));
    let beta_old = token(cli(
        url,
        &["--signing-key", OLD, "tenant", "create", "beta"],
    ));
    cli(url, &["--signing-key", OLD, "tenant", "create", "legacy"]);
    let legacy = legacy_token(db, "legacy", OLD);
    assert_eq!(
        kid(&acme_old).as_deref(),
        Some(&scim_http::auth::key_id(OLD.as_bytes())[..])
    );
    assert_eq!(kid(&legacy), None);
    {
        let before = start(url, &old_key);
        for (slug, t) in [
            ("acme", &acme_old),
            ("beta", &beta_old),
            ("legacy", &legacy),
        ] {
            assert_eq!(
                users(before.port, slug, t),
                200,
                "{slug} before the rotation"
            );
        }
    }

    let grace = format!("{GRACE_SECS}s");
    let rotated_flags = [
        "--signing-key",
        NEW,
        "--previous-signing-key",
        OLD,
        "--previous-signing-key-grace",
        &grace,
    ];
    let started = Instant::now();
    let server = start(url, &rotated_flags);
    for (slug, t) in [
        ("acme", &acme_old),
        ("beta", &beta_old),
        ("legacy", &legacy),
    ] {
        assert_eq!(
            users(server.port, slug, t),
            200,
            "{slug}: old key in its grace period"
        );
    }
    // A command with the old key is still refused: the server runs the new one.
    let refused = run(url, &["--signing-key", OLD, "token", "generate", "acme"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not the one the server runs with"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let acme_new = token(cli(
        url,
        &[&rotated_flags[..], &["token", "generate", "acme"]].concat(),
    ));
    assert_eq!(
        kid(&acme_new).as_deref(),
        Some(&scim_http::auth::key_id(NEW.as_bytes())[..])
    );
    assert_eq!(users(server.port, "acme", &acme_new), 200);
    assert_eq!(
        users(server.port, "acme", &acme_old),
        401,
        "revoked by generate"
    );

    // Who still holds a token of the old key: the CLI and the admin API agree.
    let report = cli(url, &[&rotated_flags[..], &["signing-keys"]].concat());
    let (status, body) = request(server.port, "/admin/v1/signing-keys", Some(ADMIN));
    assert_eq!(status, 200, "{body}");
    let admin: serde_json::Value = serde_json::from_str(&body).unwrap();
    for r in [&report, &admin] {
        assert_eq!(
            r["keys"][0]["kid"],
            scim_http::auth::key_id(NEW.as_bytes()),
            "{r}"
        );
        assert_eq!(r["keys"][0]["current"], true, "{r}");
        assert_eq!(r["keys"][0]["tenants"], serde_json::json!(["acme"]), "{r}");
        assert_eq!(
            r["keys"][1]["kid"],
            scim_http::auth::key_id(OLD.as_bytes()),
            "{r}"
        );
        assert_eq!(r["keys"][1]["current"], false, "{r}");
        assert!(r["keys"][1]["verifyUntil"].is_string(), "{r}");
        // The legacy token was attributed to the old key at the first start.
        assert_eq!(
            r["keys"][1]["tenants"],
            serde_json::json!(["beta", "legacy"]),
            "{r}"
        );
        assert_eq!(r["otherTenants"], serde_json::json!([]), "{r}");
    }

    // After the grace period the old key's tokens are refused.
    let deadline = Instant::now() + Duration::from_secs(GRACE_SECS + 60);
    while users(server.port, "beta", &beta_old) == 200 {
        assert!(Instant::now() < deadline, "the old token still works");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(GRACE_SECS),
        "refused before the grace period ended"
    );
    assert_eq!(users(server.port, "beta", &beta_old), 401);
    assert_eq!(users(server.port, "legacy", &legacy), 401);
    assert_eq!(users(server.port, "acme", &acme_new), 200);
    // A restart does not restart the grace period.
    drop(server);
    let again = start(url, &rotated_flags);
    assert_eq!(users(again.port, "beta", &beta_old), 401);
    assert_eq!(users(again.port, "acme", &acme_new), 200);
}

#[test]
fn a_rotated_key_keeps_old_tokens_for_the_grace_period_on_sqlite() {
    rotation(&TestDb::of(Backend::Sqlite).unwrap());
}

#[test]
fn a_rotated_key_keeps_old_tokens_for_the_grace_period_on_postgres() {
    let Some(db) = TestDb::of(Backend::Postgres) else {
        return;
    };
    rotation(&db);
}

/// An installation that ran on the key the server generated (kept in the
/// database) moves to its own `--signing-key`: the generated key's tokens keep
/// working for the grace period, then are refused.
fn from_the_generated_key(db: &TestDb) {
    let url = db.url();
    cli(url, &["migrate"]);
    let old = cli(url, &["tenant", "create", "acme"])["secretToken"]
        .as_str()
        .unwrap()
        .to_owned();
    {
        let before = start(url, &[]);
        assert_eq!(
            users(before.port, "acme", &old),
            200,
            "on the generated key"
        );
    }
    let grace = format!("{GRACE_SECS}s");
    let started = Instant::now();
    let server = start(
        url,
        &["--signing-key", NEW, "--previous-signing-key-grace", &grace],
    );
    assert_eq!(
        users(server.port, "acme", &old),
        200,
        "the generated key's token in its grace period"
    );
    let deadline = Instant::now() + Duration::from_secs(GRACE_SECS + 60);
    while users(server.port, "acme", &old) == 200 {
        assert!(Instant::now() < deadline, "the old token still works");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(GRACE_SECS),
        "refused before the grace period ended"
    );
    assert_eq!(users(server.port, "acme", &old), 401);
}

#[test]
fn moving_from_the_generated_key_keeps_its_tokens_for_the_grace_period_on_sqlite() {
    from_the_generated_key(&TestDb::of(Backend::Sqlite).unwrap());
}

#[test]
fn moving_from_the_generated_key_keeps_its_tokens_for_the_grace_period_on_postgres() {
    let Some(db) = TestDb::of(Backend::Postgres) else {
        return;
    };
    from_the_generated_key(&db);
}
