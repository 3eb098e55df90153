//! `scim-server migrate-to-postgres`: an installation populated over HTTP on
//! SQLite (users, groups, members, tokens, audit, events, invitations and
//! their emails, a webhook, an OAuth client, a tenant administrator, an API
//! key, a console session) is copied into a fresh PostgreSQL database; a
//! server started there serves the same users to the same Secret Token, and
//! keeps writing (the audit log's identity was moved past the copied rows).

use clap::Parser;
use diesel::RunQueryDsl;
use serde_json::{Value, json};
use store_diesel::copy::TABLES;
use store_diesel::testing::TestDb;

use crate::console::{OPERATOR_TOKEN, try_sign_in};
use crate::harness::{Response, Server};

const A: &str = "/admin/v1/tenants";

fn admin(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Response {
    let r = s.request().bearer(OPERATOR_TOKEN);
    match body {
        Some(b) => r.json(method, path, b),
        None => r.send(method, path, None),
    }
}

fn ok(r: &Response, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    }
}

fn counts(url: &str) -> Vec<(String, i64)> {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let store = store_diesel::Store::connect(url).unwrap();
    store
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

fn users(s: &Server, token: &str) -> Vec<(String, String, bool)> {
    let r = s
        .request()
        .bearer(token)
        .get("/scim/v2/acme/Users?count=100&sortBy=userName");
    let body = ok(&r, 200);
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["userName"].as_str().unwrap().to_owned(),
                u["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn run_cli(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["scim-server"];
    argv.extend_from_slice(args);
    scim_server::run(scim_server::cli::Cli::parse_from(argv))
}

#[test]
fn an_sqlite_installation_moves_to_postgresql_and_keeps_its_tokens() {
    let Some(target) = TestDb::postgres() else {
        return;
    };
    let source = Server::start(
        TestDb::sqlite(),
        &["--admin-token", OPERATOR_TOKEN, "--webhook-allow-http"],
    );
    let token = source.tenant("acme");
    let scim = |method: &str, path: &str, body: &Value| {
        source
            .request()
            .bearer(&token)
            .header("Content-Type", "application/scim+json")
            .json(method, &format!("/scim/v2/acme{path}"), body)
    };
    ok(
        &admin(
            &source,
            "PUT",
            &format!("{A}/acme/scim-settings"),
            Some(&json!({"automaticInvitation": true})),
        ),
        200,
    );
    let mut ids = Vec::new();
    for (i, name) in ["ann", "bob", "cyd"].iter().enumerate() {
        let u = ok(
            &scim(
                "POST",
                "/Users",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("{name}@acme.example"),
                    "active": i != 2,
                    "emails": [{"value": format!("{name}@acme.example"), "primary": true}],
                }),
            ),
            201,
        );
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    ok(
        &scim(
            "POST",
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Finance",
                "members": [{"value": ids[0]}, {"value": ids[1]}],
            }),
        ),
        201,
    );
    ok(
        &admin(&source, "POST", &format!("{A}/acme/admin-checkins"), None),
        200,
    );
    ok(
        &admin(
            &source,
            "POST",
            &format!("{A}/acme/webhooks"),
            Some(&json!({"url": "http://127.0.0.1:9/hook"})),
        ),
        201,
    );
    ok(
        &admin(
            &source,
            "POST",
            &format!("{A}/acme/integration/oauth-client"),
            None,
        ),
        201,
    );
    ok(
        &admin(
            &source,
            "POST",
            &format!("{A}/acme/admins"),
            Some(&json!({"email": "it@acme.example"})),
        ),
        201,
    );
    ok(
        &admin(
            &source,
            "POST",
            &format!("{A}/acme/api-keys"),
            Some(&json!({"name": "vault"})),
        ),
        201,
    );
    assert_eq!(try_sign_in(&source, OPERATOR_TOKEN).status, 303);
    let before = users(&source, &token);
    assert_eq!(before.len(), 3);
    source.stop_gracefully().join().unwrap();

    let src_url = source.db.url().to_owned();
    let copied = counts(&src_url);
    for table in [
        "tenants",
        "scim_tokens",
        "users",
        "user_emails",
        "groups",
        "group_members",
        "invitations",
        "audit_log",
        "outbox",
        "events",
        "webhook_endpoints",
        "oauth_clients",
        "tenant_admins",
        "tenant_admin_links",
        "tenant_api_keys",
        "console_sessions",
        "server_settings",
    ] {
        let n = copied.iter().find(|(t, _)| t == table).unwrap().1;
        assert!(n > 0, "the source has no {table} rows: {copied:?}");
    }

    run_cli(&[
        "--database-url",
        &src_url,
        "migrate-to-postgres",
        "--to",
        target.url(),
        "--batch-rows",
        "2",
    ])
    .unwrap();
    assert_eq!(counts(target.url()), copied);

    // Run again: the target is no longer empty, and nothing changes.
    let again = run_cli(&[
        "--database-url",
        &src_url,
        "migrate-to",
        "--to",
        target.url(),
    ])
    .unwrap_err();
    assert!(format!("{again:#}").contains("not empty"), "{again:#}");
    assert_eq!(counts(target.url()), copied);

    let pg_url = target.url().to_owned();
    let moved = Server::start(target, &["--admin-token", OPERATOR_TOKEN]);
    assert_eq!(moved.db.url(), pg_url);
    assert_eq!(users(&moved, &token), before, "same users, same token");
    // Writes go on: a new user (with its audit row and event) and a group.
    let r = moved
        .request()
        .bearer(&token)
        .header("Content-Type", "application/scim+json")
        .json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "dee@acme.example",
            }),
        );
    // (Its audit rows take the identity's next values: had the sequence
    // restarted at 1, the insert would collide with a copied row.)
    ok(&r, 201);
    assert_eq!(users(&moved, &token).len(), 4);
}

#[test]
fn a_missing_sqlite_file_is_refused_without_creating_it() {
    let path = std::env::temp_dir().join(format!("scim-missing-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", path.display());
    let err = run_cli(&[
        "--database-url",
        &url,
        "migrate-to-postgres",
        "--to",
        "postgres://postgres@127.0.0.1:1/none",
    ])
    .unwrap_err();
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
    assert!(!path.exists());
}
