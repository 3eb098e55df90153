//! The console in a real browser: Debian's `chromium` driven through
//! `chromedriver` (W3C WebDriver) with a small client over `ureq`.
//!
//! Without chromium/chromedriver the test skips loudly; in CI (`CI=true`) a
//! browser that cannot start fails it. `.ci/run` installs both.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::console::OPERATOR_TOKEN;
use crate::harness::Server;

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMIUM_ARGS: [&str; 5] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
];

/// A chromedriver process and one browser session in it.
struct Browser {
    agent: ureq::Agent,
    base: String,
    session: String,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One WebDriver call: `(HTTP status, JSON body)`.
fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let result = match method {
        "GET" => agent.get(url).call(),
        "DELETE" => agent.delete(url).call(),
        _ => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(serde_json::to_vec(body.unwrap_or(&json!({}))).unwrap()),
    };
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let text = res.body_mut().read_to_string().unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({ "transport": e.to_string() })),
    }
}

impl Browser {
    /// Starts chromedriver and a headless chromium, or says why it cannot.
    fn start() -> Result<Browser, String> {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run chromedriver: {e}"))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            agent,
            base,
            session: String::new(),
            driver,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = call(
                &browser.agent,
                "GET",
                &format!("{}/status", browser.base),
                None,
            );
            if status == 200 && body["value"]["ready"] == true {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("chromedriver did not become ready: {body}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut options = json!({ "args": CHROMIUM_ARGS });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let (status, body) = call(
            &browser.agent,
            "POST",
            &format!("{}/session", browser.base),
            Some(&json!({
                "capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                }}
            })),
        );
        match body["value"]["sessionId"].as_str() {
            Some(id) if status == 200 => {
                browser.session = id.to_owned();
                Ok(browser)
            }
            _ => Err(format!("chromium did not start ({status}): {body}")),
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let (status, res) = call(&self.agent, method, &url, body.as_ref());
        assert_eq!(status, 200, "{method} {path}: {res}");
        res["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT_KEY].as_str().unwrap().to_owned()
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap()
            .trim()
            .to_owned()
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_owned()
    }

    /// The URL once it ends with `suffix` (a form's navigation may still be
    /// under way when the click returns); fails after 10 s.
    fn wait_url(&self, suffix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url();
            if url.ends_with(suffix) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "{url} does not end with {suffix}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The browser, or `None` after a loud skip (outside CI only).
fn browser() -> Option<Browser> {
    match Browser::start() {
        Ok(b) => Some(b),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the browser cannot start: {why}")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED: console browser test: {why} (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

#[test]
fn sign_in_generate_and_use_the_token_over_scim() {
    let Some(db) = TestDb::of(Backend::Sqlite) else {
        return;
    };
    let Some(b) = browser() else {
        return;
    };
    let s = Server::start(db, &["--admin-token", OPERATOR_TOKEN]);
    let old = s.tenant("acme");
    let origin = format!("http://localhost:{}", s.addr.port());

    b.goto(&format!("{origin}/console"));
    assert!(b.url().ends_with("/console/login"), "{}", b.url());
    b.type_into("#token", OPERATOR_TOKEN);
    b.click("#sign-in");
    // The form's navigation may still be under way when the click returns.
    b.wait_url("/console/tenants");

    b.click("a[href='/console/tenants/acme/settings/integrations']");
    assert!(b.text("#token-state").contains("A Secret Token exists"));
    b.click("#confirm");
    b.click("#generate");

    // The script ran under the CSP: it shows the copy buttons.
    let copy = b.find("button[data-copy='secret-token']");
    assert_eq!(
        b.cmd("GET", &format!("/element/{copy}/displayed"), None),
        true,
        "the copy button is shown (console.js loaded)"
    );
    // ... and the stylesheet applies (body background from console.css).
    let body = b.find("body");
    assert_eq!(
        b.cmd(
            "GET",
            &format!("/element/{body}/css/background-color"),
            None
        ),
        "rgba(246, 247, 249, 1)"
    );
    let tenant_url = b.text("#tenant-url");
    let token = b.text("#secret-token");
    assert_ne!(token, old);
    let path = tenant_url
        .strip_prefix("https://scim.example.net")
        .unwrap_or_else(|| panic!("Tenant URL {tenant_url} is under the public URL"));

    // Entra ID's "Test connection", then a provisioned user, with what the page showed.
    let user = s.request().bearer(&token).json(
        "POST",
        &format!("{path}/Users"),
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "browser@acme.example",
            "active": true,
        }),
    );
    assert_eq!(user.status, 201, "{}", String::from_utf8_lossy(&user.body));
    let list = s.request().bearer(&token).get(&format!(
        "{path}/Users?filter=userName%20eq%20%22browser@acme.example%22"
    ));
    assert_eq!(list.json()["totalResults"], 1);
    // The token the page replaced no longer works.
    assert_eq!(
        s.request()
            .bearer(&old)
            .get(&format!("{path}/Users"))
            .status,
        401
    );

    // Shown once: a reload of the page does not show it again.
    b.goto(&format!(
        "{origin}/console/tenants/acme/settings/integrations"
    ));
    assert!(b.text("#token-state").contains("A Secret Token exists"));
    let page = b.cmd("GET", "/source", None);
    assert!(!page.as_str().unwrap().contains(&token));

    // The user is Staged on their page.
    let user_id = user.json()["id"].as_str().unwrap().to_owned();
    b.click("a[href='/console/tenants/acme/users']");
    b.click(&format!("a[href='/console/tenants/acme/users/{user_id}']"));
    assert_eq!(b.text("#user-status"), "Staged");

    // The guide's group step: Organisation → Groups → (Group Name) →
    // Settings, turn off "members may store data", save, see it saved.
    let group = s.request().bearer(&token).json(
        "POST",
        &format!("{path}/Groups"),
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Finance vault",
            "members": [{"value": user_id}],
        }),
    );
    assert_eq!(
        group.status,
        201,
        "{}",
        String::from_utf8_lossy(&group.body)
    );
    let group_id = group.json()["id"].as_str().unwrap().to_owned();
    b.click("a[href='/console/tenants/acme/groups']");
    b.click(&format!(
        "a[href='/console/tenants/acme/groups/{group_id}']"
    ));
    assert_eq!(b.text("#group-name"), "Finance vault");
    assert_eq!(b.text("#member-count"), "1");
    let selected = |b: &Browser| {
        let id = b.find("#membersCanStoreData");
        b.cmd("GET", &format!("/element/{id}/selected"), None)
    };
    assert_eq!(selected(&b), json!(true));
    b.click("#membersCanStoreData");
    b.click("#save-group-settings");
    b.wait_url("?saved=1");
    assert_eq!(b.text("#notice"), "Saved.");
    assert_eq!(b.text("#effective-members-can-store-data"), "no");
    assert_eq!(selected(&b), json!(false));
    // The access check: the user may no longer store data in the group.
    b.type_into("#access-user", &user_id);
    b.click("#check-access");
    b.wait_url(&format!("?user={user_id}"));
    assert_eq!(b.text("#can-store"), "no");
}

/// A tenant administrator's first and second sign-in, in the browser: the
/// set-password link, TOTP enrolment with a code computed from the secret the
/// page shows, the recovery codes, and a later sign-in with a TOTP code.
#[test]
fn tenant_admin_sets_a_password_and_signs_in_with_totp() {
    use scim_http::admin::tenant_admins::{LinkDelivery, create_admin_in};
    use scim_http::totp;

    let Some(db) = TestDb::of(Backend::Sqlite) else {
        return;
    };
    let Some(b) = browser() else {
        return;
    };
    let s = Server::start(db, &["--admin-token", OPERATOR_TOKEN]);
    s.tenant("acme");
    s.tenant("other");
    let store = s.db.store();
    let t = store
        .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
        .unwrap();
    let (_, link) = store
        .transaction_with(|c| {
            create_admin_in(c, &t, "ann@acme.example", "test", LinkDelivery::Return)
        })
        .unwrap();
    let link = link.unwrap();
    let origin = format!("http://localhost:{}", s.addr.port());
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };

    b.goto(&format!(
        "{origin}/console/set-password?token={}",
        link.token
    ));
    b.type_into("#password", "a long browser password");
    b.type_into("#confirm", "a long browser password");
    b.click("#set-password");
    b.wait_url("/console/login?password=set");

    b.type_into("#email", "ann@acme.example");
    b.type_into("#password", "a long browser password");
    b.click("#admin-sign-in");
    b.wait_url("/console/login/enrol");
    let seed = totp::from_base32(&b.text("#totp-secret")).unwrap();
    b.type_into("#code", &totp::code_at(&seed, now()));
    b.click("#verify");
    assert_eq!(
        b.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": "#recovery-codes li"}))
        )
        .as_array()
        .unwrap()
        .len(),
        10
    );
    b.click("#continue");
    b.wait_url("/console/tenants/acme/settings/integrations");
    assert_eq!(
        b.text("#tenant-url"),
        "https://scim.example.net/scim/v2/acme"
    );

    // Another tenant's page does not exist for her.
    b.goto(&format!(
        "{origin}/console/tenants/other/settings/integrations"
    ));
    assert_eq!(b.text("h1"), "Not Found");

    // Sign out, and back in with the next code from the app.
    b.goto(&format!("{origin}/console/tenants"));
    b.click(".signout button");
    b.wait_url("/console/login");
    b.type_into("#email", "ann@acme.example");
    b.type_into("#password", "a long browser password");
    b.click("#admin-sign-in");
    b.wait_url("/console/login/second-factor");
    b.type_into("#code", &totp::code_at(&seed, now() + 30));
    b.click("#verify");
    b.wait_url("/console/tenants/acme/settings/integrations");
}
