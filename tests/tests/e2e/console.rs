//! The web console over HTTP: sign-in and sign-out, CSRF refusal, idle
//! expiry, security headers, Generate (token shown once, the old one refused
//! over SCIM) and SCIM settings, on both backends.

use std::time::{Duration, Instant};

use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{Response, Server};

pub const OPERATOR_TOKEN: &str = "console-operator-token";

/// Starts a server with an admin token (plus `extra` flags) on each backend.
pub(crate) fn on_both_with(extra: &[&str], body: impl Fn(&Server)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let mut args = vec!["--admin-token", OPERATOR_TOKEN];
        args.extend_from_slice(extra);
        let server = Server::start(db, &args);
        body(&server);
    }
}

/// Every `Set-Cookie` of a response.
pub(crate) fn set_cookies(res: &Response) -> Vec<&str> {
    res.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `name=value` of the cookie `name` a response sets.
pub(crate) fn cookie_pair(res: &Response, name: &str) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// The text of the first `<tag ... id="id">...</tag>`-style element content.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let open_end = rest.find('>')? + 1;
    let close = rest[open_end..].find('<')?;
    Some(rest[open_end..open_end + close].trim().to_owned())
}

/// The value of the first hidden `csrf` input.
pub(crate) fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf input") + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

pub(crate) fn text(res: &Response) -> String {
    String::from_utf8_lossy(&res.body).into_owned()
}

/// A signed-in console session.
pub(crate) struct Console<'a> {
    pub(crate) server: &'a Server,
    pub(crate) cookie: String,
}

pub(crate) fn form(server: &Server, cookie: &str, path: &str, body: &str) -> Response {
    server
        .request()
        .header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("POST", path, Some(body.as_bytes()))
}

/// Posts the sign-in form with `token`; returns the response.
pub(crate) fn try_sign_in(server: &Server, token: &str) -> Response {
    let page = server.request().get("/console/login");
    assert_eq!(page.status, 200);
    let login_cookie = cookie_pair(&page, "scim_console_login").expect("login cookie");
    let csrf = csrf_of(&text(&page));
    form(
        server,
        &login_cookie,
        "/console/login",
        &format!("csrf={csrf}&token={token}"),
    )
}

pub(crate) fn sign_in(server: &Server) -> Console<'_> {
    let res = try_sign_in(server, OPERATOR_TOKEN);
    assert_eq!(res.status, 303, "{}", text(&res));
    assert_eq!(res.header("location"), Some("/console/tenants"));
    let cookie = cookie_pair(&res, "scim_console").expect("session cookie");
    Console { server, cookie }
}

impl Console<'_> {
    pub(crate) fn get(&self, path: &str) -> Response {
        self.server
            .request()
            .header("Cookie", &self.cookie)
            .get(path)
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> Response {
        form(self.server, &self.cookie, path, body)
    }

    /// The CSRF token of this session (read from a page).
    pub(crate) fn csrf(&self) -> String {
        let page = self.get("/console/tenants");
        assert_eq!(page.status, 200);
        csrf_of(&text(&page))
    }
}

pub(crate) fn assert_to_login(res: &Response) {
    assert_eq!(res.status, 303, "{}", text(res));
    assert_eq!(res.header("location"), Some("/console/login"));
}

fn scim_users_status(server: &Server, slug: &str, token: &str) -> u16 {
    server
        .request()
        .bearer(token)
        .get(&format!("/scim/v2/{slug}/Users"))
        .status
}

#[test]
fn sign_in_headers_and_sign_out() {
    on_both_with(&[], |s| {
        assert_to_login(&s.request().get("/console"));
        assert_to_login(&s.request().get("/console/tenants"));
        assert_to_login(
            &s.request()
                .header("Cookie", &format!("scim_console={}", "0".repeat(64)))
                .get("/console/tenants"),
        );

        let wrong = try_sign_in(s, "not-the-token");
        assert_eq!(wrong.status, 401);
        assert!(text(&wrong).contains("Sign-in failed"));
        assert!(cookie_pair(&wrong, "scim_console").is_none());

        let res = try_sign_in(s, OPERATOR_TOKEN);
        assert_eq!(res.status, 303);
        let session = set_cookies(&res)
            .into_iter()
            .find(|c| c.starts_with("scim_console="))
            .unwrap()
            .to_owned();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/console", "Secure"] {
            assert!(session.contains(attr), "{session} lacks {attr}");
        }
        let console = Console {
            server: s,
            cookie: session.split(';').next().unwrap().to_owned(),
        };

        let page = console.get("/console/tenants");
        assert_eq!(page.status, 200);
        let csp = page.header("content-security-policy").expect("CSP");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        // Every console response has it: sign-in page, assets, errors.
        for path in [
            "/console/login",
            "/console/assets/console.css",
            "/console/nope",
        ] {
            let r = console.get(path);
            assert!(r.header("content-security-policy").is_some(), "{path}");
        }
        let missing = console.get("/console/tenants/nope/settings/integrations");
        assert_eq!(missing.status, 404);
        assert!(
            missing
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        // No inline script or style in the pages.
        assert!(!text(&page).contains("<script>"));
        assert!(!text(&page).contains("style="));

        let csrf = console.csrf();
        // Sign-out needs the CSRF token too.
        assert_eq!(console.post("/console/logout", "csrf=").status, 403);
        let out = console.post("/console/logout", &format!("csrf={csrf}"));
        assert_to_login(&out);
        assert!(
            set_cookies(&out)
                .iter()
                .any(|c| c.starts_with("scim_console=;") && c.contains("Max-Age=0"))
        );
        // The session is gone from the database: the old cookie opens nothing.
        assert_to_login(&console.get("/console/tenants"));
    });
}

#[test]
fn posts_without_the_sessions_csrf_token_are_refused() {
    on_both_with(&[], |s| {
        let old = s.tenant("acme");
        let console = sign_in(s);
        let other = sign_in(s);
        let other_csrf = other.csrf();
        for body in [
            String::new(),
            "csrf=".to_owned(),
            "csrf=forged".to_owned(),
            // Another session's token is not this session's.
            format!("csrf={other_csrf}&confirm=yes"),
        ] {
            let r = console.post("/console/tenants/acme/settings/integrations/token", &body);
            assert_eq!(r.status, 403, "{body}");
            let r = console.post(
                "/console/tenants/acme/settings/scim",
                &format!("{body}&automaticInvitation=on"),
            );
            assert_eq!(r.status, 403, "{body}");
        }
        // Nothing changed.
        assert_eq!(scim_users_status(s, "acme", &old), 200);
        let settings = s
            .request()
            .bearer(OPERATOR_TOKEN)
            .get("/admin/v1/tenants/acme/scim-settings")
            .json();
        assert_eq!(settings["automaticInvitation"], false);

        // The sign-in form: its token must match the pre-session cookie.
        let page = s.request().get("/console/login");
        let csrf = csrf_of(&text(&page));
        let r = form(
            s,
            "",
            "/console/login",
            &format!("csrf={csrf}&token={OPERATOR_TOKEN}"),
        );
        assert_eq!(r.status, 403);
        assert!(cookie_pair(&r, "scim_console").is_none());
    });
}

#[test]
fn idle_sessions_expire() {
    on_both_with(&["--console-idle-secs", "1"], |s| {
        let console = sign_in(s);
        assert_eq!(console.get("/console/tenants").status, 200);
        std::thread::sleep(Duration::from_millis(2200));
        assert_to_login(&console.get("/console/tenants"));
    });
}

#[test]
fn generate_shows_the_token_once_and_the_old_one_stops_working() {
    on_both_with(&[], |s| {
        let old = s.tenant("acme");
        assert_eq!(scim_users_status(s, "acme", &old), 200);
        let console = sign_in(s);
        let page = text(&console.get("/console/tenants/acme/settings/integrations"));
        assert_eq!(
            element_text(&page, "tenant-url").as_deref(),
            Some("https://scim.example.net/scim/v2/acme")
        );
        assert!(page.contains("A Secret Token exists"), "{page}");
        assert!(page.contains("Regenerate"));
        assert!(page.contains("stops working at once"));
        assert!(element_text(&page, "secret-token").is_none());
        let csrf = csrf_of(&page);

        // Regenerate without the confirmation changes nothing.
        let r = console.post(
            "/console/tenants/acme/settings/integrations/token",
            &format!("csrf={csrf}"),
        );
        assert_eq!(r.status, 400);
        assert_eq!(scim_users_status(s, "acme", &old), 200);

        let r = console.post(
            "/console/tenants/acme/settings/integrations/token",
            &format!("csrf={csrf}&confirm=yes"),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let new = element_text(&text(&r), "secret-token").expect("the new token");
        assert_ne!(new, old);
        assert_eq!(scim_users_status(s, "acme", &old), 401);
        assert_eq!(scim_users_status(s, "acme", &new), 200);

        // Shown exactly once.
        let again = text(&console.get("/console/tenants/acme/settings/integrations"));
        assert!(!again.contains(&new));
        assert!(element_text(&again, "secret-token").is_none());

        // Audited under the console operator, through the admin API's code.
        let audit = s
            .request()
            .bearer(OPERATOR_TOKEN)
            .get("/admin/v1/tenants/acme/audit?limit=500")
            .json();
        let ev = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["action"] == "token.generate")
            .expect("token.generate audited");
        assert_eq!(ev["actor"], "console:operator");
        assert!(!audit.to_string().contains(&new));
    });
}

#[test]
fn scim_settings_are_saved_through_the_admin_code() {
    on_both_with(&[], |s| {
        s.tenant("acme");
        let console = sign_in(s);
        let page = text(&console.get("/console/tenants/acme/settings/scim"));
        for words in [
            "Automatic invitation",
            "Require mobile authentication for users provisioned via SCIM",
            "Require mobile authentication for groups provisioned via SCIM",
            "Enabled = yes",
            "Enabled = no",
        ] {
            assert!(page.contains(words), "{words}");
        }
        let csrf = csrf_of(&page);
        let r = console.post(
            "/console/tenants/acme/settings/scim",
            &format!("csrf={csrf}&automaticInvitation=on&requireMobileAuthForGroups=on"),
        );
        assert_eq!(r.status, 303);
        assert_eq!(
            r.header("location"),
            Some("/console/tenants/acme/settings/scim?saved=1")
        );
        let settings = s
            .request()
            .bearer(OPERATOR_TOKEN)
            .get("/admin/v1/tenants/acme/scim-settings")
            .json();
        assert_eq!(settings["automaticInvitation"], true);
        assert_eq!(settings["requireMobileAuthForUsers"], false);
        assert_eq!(settings["requireMobileAuthForGroups"], true);
        let page = text(&console.get("/console/tenants/acme/settings/scim?saved=1"));
        assert!(page.contains("Saved."));
        let audit = s
            .request()
            .bearer(OPERATOR_TOKEN)
            .get("/admin/v1/tenants/acme/audit?limit=500")
            .json();
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(
                    |e| e["action"] == "tenant.settings.update" && e["actor"] == "console:operator"
                )
        );
    });
}

#[test]
fn failed_sign_ins_are_slowed_down() {
    let Some(db) = TestDb::of(Backend::Sqlite) else {
        return;
    };
    let s = Server::start(db, &["--admin-token", OPERATOR_TOKEN]);
    assert_eq!(try_sign_in(&s, "wrong").status, 401);
    assert_eq!(try_sign_in(&s, "wrong").status, 401);
    let t = Instant::now();
    assert_eq!(try_sign_in(&s, "wrong").status, 401);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    // The right token still works (after its wait), and clears the record.
    sign_in(&s);
    let t = Instant::now();
    assert_eq!(try_sign_in(&s, "wrong").status, 401);
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn the_admin_token_may_be_configured_as_its_sha256() {
    let Some(db) = TestDb::of(Backend::Sqlite) else {
        return;
    };
    // printf 'hashed-operator-token' | sha256sum
    let hash = store_diesel::invitations::hash_secret("hashed-operator-token");
    let s = Server::start(db, &["--admin-token-sha256", &hash]);
    assert_eq!(try_sign_in(&s, OPERATOR_TOKEN).status, 401);
    let r = try_sign_in(&s, "hashed-operator-token");
    assert_eq!(r.status, 303);
    assert!(cookie_pair(&r, "scim_console").is_some());
}

#[test]
fn a_malformed_admin_token_hash_stops_serve_before_anything_changes() {
    use clap::Parser;
    let db = TestDb::sqlite();
    let cli = scim_server::cli::Cli::parse_from([
        "scim-server",
        "--database-url",
        db.url(),
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--admin-token-sha256",
        "not-a-hash",
    ]);
    let scim_server::cli::Command::Serve(args) = &cli.command else {
        unreachable!()
    };
    let Err(err) = scim_server::start(&cli, args) else {
        panic!("a malformed hash must be refused")
    };
    assert!(err.to_string().contains("--admin-token-sha256"), "{err}");
    let tenants = db.store().transaction(store_diesel::tenants::list).unwrap();
    assert!(tenants.is_empty(), "no first tenant was created");
}

#[test]
fn users_page_lists_filters_and_pages_through_the_admin_code() {
    on_both_with(&[], |s| {
        let token = s.tenant("acme");
        for name in ["ann", "bob", "cy"] {
            let r = s.request().bearer(&token).json(
                "POST",
                "/scim/v2/acme/Users",
                &serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("{name}@acme.example"),
                    "displayName": format!("{name} <b>"),
                }),
            );
            assert_eq!(r.status, 201);
        }
        let console = sign_in(s);
        let page = text(&console.get("/console/tenants/acme/users"));
        for name in ["ann", "bob", "cy"] {
            assert!(page.contains(&format!("{name}@acme.example")), "{page}");
        }
        // Escaped, never markup.
        assert!(page.contains("ann &#60;b&#62;") || page.contains("ann &lt;b&gt;"));
        assert_eq!(page.matches("<td class=\"status\">Staged</td>").count(), 3);

        let active = text(&console.get("/console/tenants/acme/users?status=Active"));
        assert!(active.contains("id=\"no-users\""), "{active}");

        // Keyset pages of two.
        let first = text(&console.get("/console/tenants/acme/users?limit=2"));
        assert_eq!(first.matches("<td class=\"status\">").count(), 2);
        let marker = "id=\"next-page\" href=\"";
        let start = first.find(marker).unwrap() + marker.len();
        let href = first[start..start + first[start..].find('"').unwrap()].replace("&amp;", "&");
        let second = text(&console.get(&href));
        assert_eq!(
            second.matches("<td class=\"status\">").count(),
            1,
            "{second}"
        );
        assert!(!second.contains("id=\"next-page\""));

        let bad = console.get("/console/tenants/acme/users?status=Gone");
        assert_eq!(bad.status, 400);
        assert!(text(&bad).contains("status"));
        assert_to_login(&s.request().get("/console/tenants/acme/users"));
    });
}

#[test]
fn integrations_creates_and_rotates_the_oauth_client_with_the_secret_shown_once() {
    on_both_with(&[], |s| {
        s.tenant("acme");
        let console = sign_in(s);
        let page = text(&console.get("/console/tenants/acme/settings/integrations"));
        assert_eq!(
            element_text(&page, "token-endpoint").as_deref(),
            Some("https://scim.example.net/oauth/token")
        );
        assert!(page.contains("No OAuth client yet"), "{page}");
        let csrf = csrf_of(&page);
        // Without the session's CSRF token nothing is created.
        let r = console.post(
            "/console/tenants/acme/settings/integrations/oauth-client",
            "csrf=forged",
        );
        assert_eq!(r.status, 403);

        let created = text(&console.post(
            "/console/tenants/acme/settings/integrations/oauth-client",
            &format!("csrf={csrf}"),
        ));
        let id = element_text(&created, "oauth-client-id").expect("the client id");
        let secret = element_text(&created, "oauth-client-secret").expect("the secret, once");
        let token = |secret: &str| {
            s.request()
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(
                    "POST",
                    "/oauth/token",
                    Some(
                        format!(
                            "grant_type=client_credentials&scope=scim&client_id={id}&client_secret={secret}"
                        )
                        .as_bytes(),
                    ),
                )
                .status
        };
        assert_eq!(token(&secret), 200);
        // Shown once: the page no longer has it.
        let again = text(&console.get("/console/tenants/acme/settings/integrations"));
        assert!(element_text(&again, "oauth-client-secret").is_none());
        assert!(!again.contains(&secret));

        // Rotate with no grace: the old secret stops working at once.
        let rotated = text(&console.post(
            "/console/tenants/acme/settings/integrations/oauth-client",
            &format!("csrf={csrf}&grace=0"),
        ));
        let new = element_text(&rotated, "oauth-client-secret").expect("the new secret");
        assert_ne!(new, secret);
        assert_eq!(token(&secret), 401);
        assert_eq!(token(&new), 200);
        // OAuth only: the Secret Token is refused; then both again.
        let secret_token = s.regenerate("acme");
        assert_eq!(scim_users_status(s, "acme", &secret_token), 200);
        let r = console.post(
            "/console/tenants/acme/settings/integrations/oauth-only",
            &format!("csrf={csrf}&oauth_only=on"),
        );
        assert_eq!(r.status, 200);
        assert_eq!(scim_users_status(s, "acme", &secret_token), 401);
        let r = console.post(
            "/console/tenants/acme/settings/integrations/oauth-only",
            &format!("csrf={csrf}"),
        );
        assert_eq!(r.status, 200);
        assert_eq!(scim_users_status(s, "acme", &secret_token), 200);
        // Delete needs the tick; then the client's secret is dead.
        let r = console.post(
            "/console/tenants/acme/settings/integrations/oauth-client/delete",
            &format!("csrf={csrf}"),
        );
        assert_eq!(r.status, 400);
        assert_eq!(token(&new), 200);
        let r = console.post(
            "/console/tenants/acme/settings/integrations/oauth-client/delete",
            &format!("csrf={csrf}&confirm=yes"),
        );
        assert_eq!(r.status, 200);
        assert!(text(&r).contains("No OAuth client yet"));
        assert_eq!(token(&new), 401);
        // Audited under the person's name.
        let audit = s
            .request()
            .bearer(OPERATOR_TOKEN)
            .get("/admin/v1/tenants/acme/audit?limit=100")
            .json();
        let actions: Vec<(&str, &str)> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .filter(|(a, _)| a.starts_with("oauth_client."))
            .collect();
        assert_eq!(
            actions,
            [
                ("oauth_client.create", "console:operator"),
                ("oauth_client.rotate", "console:operator"),
                ("oauth_client.update", "console:operator"),
                ("oauth_client.update", "console:operator"),
                ("oauth_client.delete", "console:operator")
            ]
        );
    });
}
