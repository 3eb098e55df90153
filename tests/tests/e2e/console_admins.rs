//! Tenant administrators in the console over HTTP, on both backends: the
//! set-password link (single use, expiring), sign-in with password, TOTP
//! enrolment and sign-in with a computed code, recovery codes (once each),
//! isolation from other tenants, the operator disabling an account (its
//! session ends) and switching the second-factor requirement, and every
//! action in the audit log under the person's email.

use std::time::{SystemTime, UNIX_EPOCH};

use scim_http::totp;
use serde_json::Value;

use crate::console::{
    Console, OPERATOR_TOKEN, assert_to_login, cookie_pair, csrf_of, element_text, form,
    on_both_with, sign_in, text,
};
use crate::harness::{Response, Server};

fn unescape(s: &str) -> String {
    s.replace("&#61;", "=")
        .replace("&#x3d;", "=")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The operator adds `email` to tenant `slug`; returns the link's path.
pub(crate) fn create_admin(op: &Console<'_>, slug: &str, email: &str) -> String {
    let res = op.post(
        &format!("/console/tenants/{slug}/admins"),
        &format!("csrf={}&email={}", op.csrf(), enc(email)),
    );
    assert_eq!(res.status, 200, "{}", text(&res));
    let url = unescape(&element_text(&text(&res), "set-password-link").expect("link shown"));
    let path = url
        .strip_prefix("https://scim.example.net")
        .unwrap_or_else(|| panic!("{url}"));
    assert!(path.starts_with("/console/set-password?token="), "{path}");
    path.to_owned()
}

/// Opens the set-password link and sends the form.
pub(crate) fn set_password(s: &Server, link: &str, password: &str, confirm: &str) -> Response {
    let page = s.request().get(link);
    assert_eq!(page.status, 200, "{}", text(&page));
    let cookie = cookie_pair(&page, "scim_console_setpw").expect("form cookie");
    let token = link.rsplit('=').next().unwrap();
    form(
        s,
        &cookie,
        "/console/set-password",
        &format!(
            "csrf={}&token={token}&password={}&confirm={}",
            csrf_of(&text(&page)),
            enc(password),
            enc(confirm)
        ),
    )
}

/// Sends the email + password sign-in form.
pub(crate) fn password_sign_in(s: &Server, email: &str, password: &str) -> Response {
    let page = s.request().get("/console/login");
    let login_cookie = cookie_pair(&page, "scim_console_login").unwrap();
    form(
        s,
        &login_cookie,
        "/console/login",
        &format!(
            "csrf={}&email={}&password={}",
            csrf_of(&text(&page)),
            enc(email),
            enc(password)
        ),
    )
}

/// Sends a second-factor `code` with the half-signed-in `cookie`.
fn send_code(s: &Server, cookie: &str, path: &str, code: &str) -> Response {
    let page = s.request().header("Cookie", cookie).get(path);
    assert_eq!(page.status, 200, "{}", text(&page));
    form(
        s,
        cookie,
        path,
        &format!("csrf={}&code={}", csrf_of(&text(&page)), enc(code)),
    )
}

pub(crate) fn session(res: &Response) -> String {
    cookie_pair(res, "scim_console").expect("a session cookie")
}

fn audit(s: &Server, slug: &str) -> Vec<Value> {
    let res = s
        .request()
        .bearer(OPERATOR_TOKEN)
        .get(&format!("/admin/v1/tenants/{slug}/audit?limit=500"));
    assert_eq!(res.status, 200);
    res.json()["items"].as_array().unwrap().clone()
}

fn audited(items: &[Value], actor: &str, action: &str) -> bool {
    items
        .iter()
        .any(|r| r["actor"] == actor && r["action"] == action)
}

pub(crate) const PASSWORD: &str = "a long enough password";

#[test]
fn set_password_link_totp_enrolment_recovery_codes_and_isolation() {
    on_both_with(&[], |s| {
        s.tenant("acme");
        s.tenant("other");
        let op = sign_in(s);
        let link = create_admin(&op, "acme", "Ann@Example.com");

        // The link: refused input changes nothing, then it works once.
        let differ = set_password(s, &link, PASSWORD, "something else entirely");
        assert_eq!(differ.status, 400);
        assert!(text(&differ).contains("differ"));
        let short = set_password(s, &link, "short", "short");
        assert_eq!(short.status, 400);
        assert!(text(&short).contains("at least 12"));
        assert_eq!(password_sign_in(s, "ann@example.com", PASSWORD).status, 401);
        let ok = set_password(s, &link, PASSWORD, PASSWORD);
        assert_eq!(ok.status, 303, "{}", text(&ok));
        assert_eq!(ok.header("location"), Some("/console/login?password=set"));
        let used = s.request().get(&link);
        assert_eq!(used.status, 410);
        assert!(text(&used).contains("already used"));
        assert!(
            s.request()
                .get("/console/set-password?token=nonsense")
                .status
                == 410
        );

        // Wrong password, unknown email: refused alike.
        let wrong = password_sign_in(s, "ann@example.com", "not the password at all");
        assert_eq!(wrong.status, 401);
        assert!(text(&wrong).contains("wrong email or password"));
        assert!(cookie_pair(&wrong, "scim_console").is_none());
        assert_eq!(
            password_sign_in(s, "nobody@example.com", PASSWORD).status,
            401
        );

        // Right password: a second factor is required by default, and the
        // half-signed-in session opens no page.
        let first = password_sign_in(s, "ANN@example.com", PASSWORD);
        assert_eq!(first.status, 303, "{}", text(&first));
        assert_eq!(first.header("location"), Some("/console/login/enrol"));
        let half = session(&first);
        assert_to_login(
            &s.request()
                .header("Cookie", &half)
                .get("/console/tenants/acme/settings/integrations"),
        );
        let enrol = s
            .request()
            .header("Cookie", &half)
            .get("/console/login/enrol");
        assert_eq!(enrol.status, 200);
        let page = text(&enrol);
        let secret = element_text(&page, "totp-secret").unwrap();
        assert!(page.contains("otpauth://totp/"), "{page}");
        // Reloading keeps the same secret.
        let again = text(
            &s.request()
                .header("Cookie", &half)
                .get("/console/login/enrol"),
        );
        assert_eq!(element_text(&again, "totp-secret").unwrap(), secret);
        let seed = totp::from_base32(&secret).unwrap();
        let bad = send_code(
            s,
            &half,
            "/console/login/enrol",
            &totp::code_at(&seed, now() + 3600),
        );
        assert_eq!(bad.status, 400);
        let done = send_code(
            s,
            &half,
            "/console/login/enrol",
            &totp::code_at(&seed, now()),
        );
        assert_eq!(done.status, 200, "{}", text(&done));
        let codes_page = text(&done);
        let list_start = codes_page.find("id=\"recovery-codes\"").unwrap();
        let codes: Vec<String> = codes_page[list_start..]
            .split("<code>")
            .skip(1)
            .map(|c| c[..c.find('<').unwrap()].to_owned())
            .collect();
        assert_eq!(codes.len(), 10, "{codes_page}");
        let ann = Console {
            server: s,
            cookie: session(&done),
        };
        assert_ne!(ann.cookie, half, "a new session id after the second factor");
        assert_to_login(&s.request().header("Cookie", &half).get("/console/tenants"));

        // Ann sees her tenant only: another tenant's pages are 404 like a
        // tenant that does not exist, by URL and by form tampering; the
        // operator's pages are 403.
        assert_eq!(
            ann.get("/console/tenants/acme/settings/integrations")
                .status,
            200
        );
        let list = text(&ann.get("/console/tenants"));
        assert!(list.contains("/console/tenants/acme/"), "{list}");
        assert!(!list.contains("/console/tenants/other/"), "{list}");
        for path in [
            "/console/tenants/other/settings/integrations",
            "/console/tenants/other/settings/scim",
            "/console/tenants/other/users",
            "/console/tenants/other/admins",
        ] {
            assert_eq!(ann.get(path).status, 404, "{path}");
        }
        let csrf = ann.csrf();
        let tamper = ann.post(
            "/console/tenants/other/settings/integrations/token",
            &format!("csrf={csrf}"),
        );
        assert_eq!(tamper.status, 404);
        assert_eq!(
            ann.post(
                "/console/tenants/other/settings/scim",
                &format!("csrf={csrf}&automaticInvitation=on")
            )
            .status,
            404
        );
        assert_eq!(ann.get("/console/tenants/acme/admins").status, 403);
        assert_eq!(
            ann.post(
                "/console/tenants/acme/admins",
                &format!("csrf={csrf}&email=eve%40example.com")
            )
            .status,
            403
        );
        // A form without the session's CSRF token is refused.
        assert_eq!(
            ann.post("/console/tenants/acme/settings/integrations/token", "")
                .status,
            403
        );

        // Her actions are audited under her email.
        let generated = ann.post(
            "/console/tenants/acme/settings/integrations/token",
            &format!("csrf={csrf}&confirm=yes"),
        );
        assert_eq!(generated.status, 200);
        let log = audit(s, "acme");
        for (actor, action) in [
            ("console:operator", "admin.create"),
            ("console:Ann@Example.com", "admin.password.set"),
            ("console:Ann@Example.com", "admin.second_factor.enrol"),
            ("console:Ann@Example.com", "console.sign_in"),
            ("console:Ann@Example.com", "token.generate"),
        ] {
            assert!(audited(&log, actor, action), "{actor} {action}: {log:?}");
        }
        assert!(
            audit(s, "other")
                .iter()
                .all(|r| r["actor"] != "console:Ann@Example.com")
        );
        let logged = serde_json::to_string(&log).unwrap();
        assert!(!logged.contains(&secret) && !logged.contains(&codes[0]));

        // Sign out; next time a TOTP code (a later step than the one used).
        let out = ann.post("/console/logout", &format!("csrf={csrf}"));
        assert_eq!(out.status, 303);
        assert_to_login(&ann.get("/console/tenants"));
        let next = password_sign_in(s, "ann@example.com", PASSWORD);
        assert_eq!(
            next.header("location"),
            Some("/console/login/second-factor")
        );
        let half = session(&next);
        let code = totp::code_at(&seed, now() + 30);
        let signed = send_code(s, &half, "/console/login/second-factor", &code);
        assert_eq!(signed.status, 303, "{}", text(&signed));
        assert_eq!(
            signed.header("location"),
            Some("/console/tenants/acme/settings/integrations")
        );
        // The same code again is refused (a code works once).
        let next = password_sign_in(s, "ann@example.com", PASSWORD);
        let half = session(&next);
        let replay = send_code(s, &half, "/console/login/second-factor", &code);
        assert_eq!(replay.status, 401);

        // A recovery code works, once.
        let rec = send_code(
            s,
            &half,
            "/console/login/second-factor",
            &codes[2].to_lowercase(),
        );
        assert_eq!(rec.status, 303, "{}", text(&rec));
        let next = password_sign_in(s, "ann@example.com", PASSWORD);
        let half = session(&next);
        let reuse = send_code(s, &half, "/console/login/second-factor", &codes[2]);
        assert_eq!(reuse.status, 401);
        assert!(audited(
            &audit(s, "acme"),
            "console:Ann@Example.com",
            "admin.recovery_code.use"
        ));
        // Too many wrong codes end the half-signed-in session.
        for _ in 0..3 {
            let r = send_code(s, &half, "/console/login/second-factor", "000000");
            assert_eq!(r.status, 401);
        }
        let last = send_code(s, &half, "/console/login/second-factor", "000000");
        assert!(text(&last).contains("sign in again"), "{}", text(&last));
        assert_to_login(
            &s.request()
                .header("Cookie", &half)
                .get("/console/login/second-factor"),
        );

        // Lost phone and codes: the operator resets the second factor; Ann's
        // sessions end and she enrols again at the next sign-in.
        let signed = password_sign_in(s, "ann@example.com", PASSWORD);
        let half = session(&signed);
        let admins = text(&op.get("/console/tenants/acme/admins"));
        let end = admins.find("/reset-second-factor\"").unwrap();
        let id = &admins[admins[..end].rfind('/').unwrap() + 1..end];
        let reset = op.post(
            &format!("/console/tenants/acme/admins/{id}/reset-second-factor"),
            &format!("csrf={}", op.csrf()),
        );
        assert_eq!(reset.status, 303);
        assert_to_login(
            &s.request()
                .header("Cookie", &half)
                .get("/console/login/second-factor"),
        );
        let again = password_sign_in(s, "ann@example.com", PASSWORD);
        assert_eq!(again.header("location"), Some("/console/login/enrol"));
        assert!(audited(
            &audit(s, "acme"),
            "console:operator",
            "admin.second_factor.reset"
        ));
    });
}

#[test]
fn operator_disables_an_admin_switches_the_second_factor_and_links_expire() {
    on_both_with(&[], |s| {
        s.tenant("acme");
        let op = sign_in(s);
        let link = create_admin(&op, "acme", "bob@example.com");
        assert_eq!(set_password(s, &link, PASSWORD, PASSWORD).status, 303);

        // A CSRF-less switch is refused; with it, the 2FA requirement goes off.
        assert_eq!(
            op.post("/console/tenants/acme/admins/second-factor", "")
                .status,
            403
        );
        let off = op.post(
            "/console/tenants/acme/admins/second-factor",
            &format!("csrf={}", op.csrf()),
        );
        assert_eq!(off.status, 303);
        let page = text(&op.get("/console/tenants/acme/admins"));
        assert!(
            !page.contains("id=\"second-factor-required\" checked"),
            "{page}"
        );

        // Without the requirement, password only.
        let res = password_sign_in(s, "bob@example.com", PASSWORD);
        assert_eq!(
            res.header("location"),
            Some("/console/tenants/acme/settings/integrations")
        );
        let bob = Console {
            server: s,
            cookie: session(&res),
        };
        assert_eq!(bob.get("/console/tenants/acme/users").status, 200);

        // The operator disables Bob: his session ends at once, sign-in fails.
        let end = page.find("/disable\"").unwrap();
        let id = page[page[..end].rfind('/').unwrap() + 1..end].to_owned();
        let dis = op.post(
            &format!("/console/tenants/acme/admins/{id}/disable"),
            &format!("csrf={}", op.csrf()),
        );
        assert_eq!(dis.status, 303);
        assert_to_login(&bob.get("/console/tenants/acme/users"));
        assert_eq!(password_sign_in(s, "bob@example.com", PASSWORD).status, 401);
        assert!(text(&op.get("/console/tenants/acme/admins")).contains("Disabled"));
        // Enabled again, the same password works.
        let en = op.post(
            &format!("/console/tenants/acme/admins/{id}/enable"),
            &format!("csrf={}", op.csrf()),
        );
        assert_eq!(en.status, 303);
        assert_eq!(
            password_sign_in(s, "bob@example.com", PASSWORD).header("location"),
            Some("/console/tenants/acme/settings/integrations")
        );
        let dis = op.post(
            &format!("/console/tenants/acme/admins/{id}/disable"),
            &format!("csrf={}", op.csrf()),
        );
        assert_eq!(dis.status, 303);
        assert!(audited(
            &audit(s, "acme"),
            "console:operator",
            "admin.disable"
        ));
        assert!(audited(
            &audit(s, "acme"),
            "console:operator",
            "tenant.console_settings.update"
        ));

        // An expired link is refused and changes nothing.
        let store = s.db.store();
        let t = store
            .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
            .unwrap();
        let carol = store
            .transaction(|c| {
                store_diesel::tenant_admins::create(c, &t.id, "carol@example.com", "test")
            })
            .unwrap();
        let expired = store
            .transaction(|c| {
                store_diesel::tenant_admins::issue_link(
                    c,
                    &carol.id,
                    chrono::TimeDelta::seconds(-1),
                )
            })
            .unwrap();
        let res = s
            .request()
            .get(&format!("/console/set-password?token={}", expired.token));
        assert_eq!(res.status, 410);
        assert!(text(&res).contains("expired"));

        // The admin API drives the same code.
        let created = s.request().bearer(OPERATOR_TOKEN).json(
            "POST",
            "/admin/v1/tenants/acme/admins",
            &serde_json::json!({"email": "dan@example.com"}),
        );
        assert_eq!(created.status, 201);
        let link = created.json()["setPasswordLink"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(link.starts_with("https://scim.example.net/console/set-password?token="));
        let dup = s.request().bearer(OPERATOR_TOKEN).json(
            "POST",
            "/admin/v1/tenants/acme/admins",
            &serde_json::json!({"email": "DAN@example.com"}),
        );
        assert_eq!(dup.status, 409);
        let listed = s
            .request()
            .bearer(OPERATOR_TOKEN)
            .get("/admin/v1/tenants/acme/admins");
        assert_eq!(listed.json()["items"].as_array().unwrap().len(), 3);
        assert_eq!(listed.json()["secondFactorRequired"], false);
        // Ids that no account has, a NUL among them: 404 on both backends.
        for id in ["nope", "%00"] {
            let r = s.request().bearer(OPERATOR_TOKEN).send(
                "POST",
                &format!("/admin/v1/tenants/acme/admins/{id}/disable"),
                None,
            );
            assert_eq!(r.status, 404, "{id}");
        }
    });
}

#[test]
fn the_set_password_link_can_be_emailed() {
    use std::time::Duration;
    use store_diesel::Backend;
    use store_diesel::testing::TestDb;

    use crate::smtp::SmtpServer;

    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let smtp = SmtpServer::start();
        let url = smtp.url();
        let s = Server::start(
            db,
            &[
                "--admin-token",
                OPERATOR_TOKEN,
                "--smtp-url",
                &url,
                "--mail-from",
                "scim@example.net",
                "--outbox-poll-ms",
                "100",
            ],
        );
        s.tenant("acme");
        let op = sign_in(&s);
        let res = op.post(
            "/console/tenants/acme/admins",
            &format!("csrf={}&email=erin%40example.com&send_email=on", op.csrf()),
        );
        assert_eq!(res.status, 303, "{}", text(&res));
        let page = text(&op.get(res.header("location").unwrap()));
        assert!(page.contains("id=\"notice\""), "{page}");
        assert!(!page.contains("set-password-link"), "no link on the page");

        let mails = smtp.wait_for(1, Duration::from_secs(30));
        assert_eq!(mails.len(), 1);
        assert!(mails[0].to.iter().any(|t| t.contains("erin@example.com")));
        let body = mails[0].decoded();
        let marker = "https://scim.example.net/console/set-password?token=";
        let start = body.find(marker).expect("the link in the email") + marker.len();
        let token: String = body[start..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        assert_eq!(token.len(), 64, "{body}");
        let link = format!("/console/set-password?token={token}");
        assert_eq!(set_password(&s, &link, PASSWORD, PASSWORD).status, 303);
        assert_eq!(s.request().get(&link).status, 410);
        let log = audit(&s, "acme");
        assert!(
            audited(&log, "system:mailer", "admin.link.delivered"),
            "{log:?}"
        );
        assert!(!serde_json::to_string(&log).unwrap().contains(&token));
    }
}
