//! The console mounted under a prefix at a non-default path
//! (`/identity/admin-ui`): signing in, walking pages, posting forms, errors
//! and signing out, every link, form action, asset URL, redirect and cookie
//! path carries the mounted path, and nothing points at `/console`.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::{App, HttpResponse, test, web};
use scim_http::{AdminConfig, ConsoleConfig, ScimService, TokenKeys};
use store_diesel::testing::TestDb;
use store_diesel::{Store, tenants};

const ADMIN: &str = "console-operator-token-0123456789";
const BASE: &str = "/identity/admin-ui";

struct Answer {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

async fn call<S, B>(svc: &S, req: test::TestRequest) -> Answer
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(svc, req.to_request()).await;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = String::from_utf8_lossy(&test::read_body(res).await).into_owned();
    Answer {
        status,
        location,
        cookies,
        body,
    }
}

/// The `Set-Cookie` value of cookie `name`.
fn set_cookie<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", a.cookies))
}

/// The value of a cookie from its `Set-Cookie`.
fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v)
        .unwrap()
}

/// The value of the first `name="csrf"` input.
fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a CSRF input") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

/// Every `href`, `action` and `src` that is a path starts with the mounted
/// path, and nothing names `/console`.
fn assert_under_base(page: &str, body: &str) {
    assert!(
        !body.contains("\"/console"),
        "{page} links to /console: {body}"
    );
    let mut seen = 0;
    for attr in ["href=\"", "action=\"", "src=\""] {
        for (i, _) in body.match_indices(attr) {
            let value = body[i + attr.len()..].split('"').next().unwrap();
            if value.starts_with('/') {
                seen += 1;
                assert!(
                    value == BASE || value.starts_with(&format!("{BASE}/")),
                    "{page}: {attr}{value}\" is not under {BASE}"
                );
            }
        }
    }
    assert!(seen >= 3, "{page}: too few links checked ({seen})");
}

fn service(store: &Store) -> ScimService {
    let key = store
        .transaction(store_diesel::settings::get_or_create_signing_key)
        .unwrap();
    ScimService::builder(store.clone(), TokenKeys::new(&key).unwrap())
        .public_url("https://app.example.net/identity")
        .prefix("/identity")
        .admin(AdminConfig::new(Some(ADMIN.to_owned())))
        .console(ConsoleConfig::new(Some(ADMIN), None).unwrap())
        .console_path("/admin-ui")
        .build()
        .unwrap()
}

#[actix_web::test]
async fn the_console_works_under_a_prefix_at_its_own_path() {
    let db = TestDb::sqlite();
    let store = db.store().clone();
    store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    let service = service(&store);
    assert_eq!(service.config().console_base_path(), BASE);
    let app = test::init_service(
        App::new()
            .route(
                "/console",
                web::get().to(|| async { HttpResponse::Ok().body("the host's page") }),
            )
            .configure(|cfg| service.configure(cfg)),
    )
    .await;

    // Not signed in: the home page and a tenant page send to the sign-in page.
    for path in [BASE.to_owned(), format!("{BASE}/tenants/acme/users")] {
        let a = call(&app, test::TestRequest::get().uri(&path)).await;
        assert_eq!(a.status, 303, "{path}");
        assert_eq!(a.location.as_deref(), Some(&*format!("{BASE}/login")));
    }
    // The host keeps /console.
    let a = call(&app, test::TestRequest::get().uri("/console")).await;
    assert_eq!((a.status, a.body.as_str()), (200, "the host's page"));

    // The sign-in page: its form, assets and pre-session cookie.
    let login = call(&app, test::TestRequest::get().uri(&format!("{BASE}/login"))).await;
    assert_eq!(login.status, 200);
    assert_under_base("login", &login.body);
    assert!(login.body.contains(&format!("action=\"{BASE}/login\"")));
    assert!(
        login
            .body
            .contains(&format!("href=\"{BASE}/assets/console.css\""))
    );
    let login_cookie = set_cookie(&login, "scim_console_login");
    assert!(
        login_cookie.contains(&format!("; Path={BASE}/login;")),
        "{login_cookie}"
    );
    let css = call(
        &app,
        test::TestRequest::get().uri(&format!("{BASE}/assets/console.css")),
    )
    .await;
    assert_eq!(css.status, 200);

    // Signing in as the operator.
    let csrf = csrf_of(&login.body);
    let signed_in = call(
        &app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/login"))
            .insert_header((
                header::COOKIE,
                format!("scim_console_login={}", cookie_value(login_cookie)),
            ))
            .set_form([("csrf", csrf.as_str()), ("token", ADMIN)]),
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(
        signed_in.location.as_deref(),
        Some(&*format!("{BASE}/tenants"))
    );
    let session = set_cookie(&signed_in, "scim_console");
    assert!(session.contains(&format!("; Path={BASE};")), "{session}");
    assert!(session.contains("Secure"), "https public URL: {session}");
    let cleared = set_cookie(&signed_in, "scim_console_login");
    assert!(
        cleared.contains(&format!("; Path={BASE}/login;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let cookie = (
        header::COOKIE,
        format!("scim_console={}", cookie_value(session)),
    );

    // Walking the pages.
    let mut csrf = String::new();
    for page in [
        "/tenants",
        "/tenants/acme/settings/integrations",
        "/tenants/acme/settings/scim",
        "/tenants/acme/users",
        "/tenants/acme/groups",
        "/tenants/acme/invitations",
        "/tenants/acme/webhooks",
        "/tenants/acme/audit",
        "/tenants/acme/activity",
        "/tenants/acme/admins",
    ] {
        let a = call(
            &app,
            test::TestRequest::get()
                .uri(&format!("{BASE}{page}"))
                .insert_header(cookie.clone()),
        )
        .await;
        assert_eq!(a.status, 200, "{page}: {}", a.body);
        assert_under_base(page, &a.body);
        assert!(
            a.body.contains(&format!("action=\"{BASE}/logout\"")),
            "{page}"
        );
        if page == "/tenants/acme/settings/scim" {
            csrf = csrf_of(&a.body);
        }
    }
    let tenants = call(
        &app,
        test::TestRequest::get()
            .uri(&format!("{BASE}/tenants"))
            .insert_header(cookie.clone()),
    )
    .await;
    assert!(
        tenants.body.contains(&format!(
            "href=\"{BASE}/tenants/acme/settings/integrations\""
        )),
        "{}",
        tenants.body
    );

    // A form's redirect.
    let saved = call(
        &app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/tenants/acme/settings/scim"))
            .insert_header(cookie.clone())
            .set_form([("csrf", csrf.as_str()), ("automaticInvitation", "on")]),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some(&*format!("{BASE}/tenants/acme/settings/scim?saved=1"))
    );

    // Error pages (an unknown page, an unknown tenant, a forged form) link
    // under the mounted path too.
    for (req, status) in [
        (
            test::TestRequest::get().uri(&format!("{BASE}/no-such-page")),
            404,
        ),
        (
            test::TestRequest::get().uri(&format!("{BASE}/tenants/nope/users")),
            404,
        ),
        (
            test::TestRequest::post()
                .uri(&format!("{BASE}/tenants/acme/settings/scim"))
                .set_form([("csrf", "forged")]),
            403,
        ),
    ] {
        let a = call(&app, req.insert_header(cookie.clone())).await;
        assert_eq!(a.status, status, "{}", a.body);
        assert_under_base("error page", &a.body);
        assert!(
            a.body
                .contains(&format!("href=\"{BASE}\">Back to the console")),
            "{}",
            a.body
        );
    }

    // Signing out clears the session cookie at its path.
    let out = call(
        &app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/logout"))
            .insert_header(cookie.clone())
            .set_form([("csrf", csrf.as_str())]),
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.location.as_deref(), Some(&*format!("{BASE}/login")));
    let gone = set_cookie(&out, "scim_console");
    assert!(
        gone.contains(&format!("; Path={BASE};")) && gone.contains("Max-Age=0"),
        "{gone}"
    );
    let after = call(
        &app,
        test::TestRequest::get()
            .uri(&format!("{BASE}/tenants"))
            .insert_header(cookie),
    )
    .await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location.as_deref(), Some(&*format!("{BASE}/login")));
}
