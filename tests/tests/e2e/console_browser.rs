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

    /// The element `css`, waiting (up to 10 s) for it while a form's
    /// answer may still be loading.
    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = format!("{}/session/{}/element", self.base, self.session);
        let query = json!({"using": "css selector", "value": css});
        loop {
            let (status, v) = call(&self.agent, "POST", &url, Some(&query));
            if status == 200 {
                return v["value"][ELEMENT_KEY].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "no element {css}: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks the element `css` (found again if the page was replaced
    /// between finding and clicking it).
    fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let id = self.find(css);
            let url = format!("{}/session/{}/element/{id}/click", self.base, self.session);
            let (status, v) = call(&self.agent, "POST", &url, Some(&json!({})));
            if status == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "cannot click {css}: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// The text of the element `css`, waiting (up to 10 s) while the page
    /// is still being replaced by a form's answer (no such element yet, or
    /// the one found belonged to the page before).
    fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let session = format!("{}/session/{}", self.base, self.session);
        loop {
            let (status, found) = call(
                &self.agent,
                "POST",
                &format!("{session}/element"),
                Some(&json!({"using": "css selector", "value": css})),
            );
            if status == 200 {
                let id = found["value"][ELEMENT_KEY].as_str().unwrap_or_default();
                let (status, text) = call(
                    &self.agent,
                    "GET",
                    &format!("{session}/element/{id}/text"),
                    None,
                );
                if status == 200 {
                    return text["value"].as_str().unwrap().trim().to_owned();
                }
            }
            assert!(Instant::now() < deadline, "no text for {css}: {found}");
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// The layout and keyboard checks every page gets, and its screenshot.
impl Browser {
    /// Runs `script` (synchronously) in the page; returns its result.
    fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Emulates a viewport `width` x `height` CSS pixels wide (a phone
    /// when `mobile`), through the DevTools protocol.
    fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
            })),
        );
    }

    /// Presses Tab until the element `css` has the focus; false if it does
    /// not within `max` presses. Starts from the top of a freshly loaded page.
    fn tab_reaches(&self, css: &str, max: usize) -> bool {
        let target = self.find(css);
        for _ in 0..max {
            self.cmd(
                "POST",
                "/actions",
                Some(
                    json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                        {"type": "keyDown", "value": "\u{E004}"},
                        {"type": "keyUp", "value": "\u{E004}"},
                    ]}]}),
                ),
            );
            let active = self.cmd("GET", "/element/active", None);
            if active[ELEMENT_KEY].as_str() == Some(target.as_str()) {
                return true;
            }
        }
        false
    }

    /// Checks the page just loaded: the keyboard reaches `actions` (in
    /// order of the list, each from the top of the page), every form control
    /// has a label, and nothing scrolls sideways at phone width (375 px) or
    /// at 1280 px. With `SCIM_SCREENSHOTS=dir` set, saves `dir/{name}.png`
    /// (1280 px wide).
    fn check_page(&self, name: &str, actions: &[&str]) {
        for (i, css) in actions.iter().enumerate() {
            if i > 0 {
                let url = self.url();
                self.goto(&url);
            }
            assert!(self.tab_reaches(css, 60), "{name}: Tab never reaches {css}");
        }
        self.script("if (document.activeElement) { document.activeElement.blur(); }");
        let unlabelled = self.script(
            "return [...document.querySelectorAll('input:not([type=hidden]):not([hidden]), select, textarea')] \
             .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')) \
             .map(e => e.outerHTML);",
        );
        assert_eq!(
            unlabelled,
            json!([]),
            "{name}: form controls without a label"
        );
        for (width, mobile) in [(375, true), (1280, false)] {
            self.viewport(width, 800, mobile);
            let overflow = self.script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            );
            if overflow.as_i64().is_none_or(|o| o > 0) {
                let wide = self.script(
                    "const w = document.documentElement.clientWidth; \
                     return [...document.querySelectorAll('body *')] \
                     .filter(e => e.getBoundingClientRect().right > w || e.scrollWidth > e.clientWidth) \
                     .map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + e.getBoundingClientRect().right + '/' + e.scrollWidth + '/' + e.clientWidth).slice(0, 20);",
                );
                panic!("{name}: {overflow} px of horizontal scroll at {width} px: {wide}");
            }
        }
        if let Some(dir) = std::env::var_os("SCIM_SCREENSHOTS") {
            use base64::Engine as _;
            let height = self
                .script("return document.documentElement.scrollHeight;")
                .as_u64()
                .unwrap_or(800)
                .clamp(400, 1600);
            self.viewport(1280, u32::try_from(height).unwrap(), false);
            let png = self.cmd("GET", "/screenshot", None);
            let png = base64::engine::general_purpose::STANDARD
                .decode(png.as_str().unwrap())
                .unwrap();
            let path = std::path::Path::new(&dir).join(format!("{name}.png"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, png).unwrap();
            self.viewport(1280, 800, false);
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
    b.check_page("operator-tenants", &["#new-slug", "#create-tenant"]);
    b.goto(&format!("{origin}/console/tenants/acme/admins"));
    b.check_page(
        "admins",
        &["#new-email", "#create-admin", "#save-second-factor"],
    );
    b.goto(&format!("{origin}/console/tenants"));

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
    b.check_page("enrol", &["#code", "#verify"]);
    let seed = totp::from_base32(&b.text("#totp-secret")).unwrap();
    b.type_into("#code", &totp::code_at(&seed, now()));
    b.click("#verify");
    b.find("#recovery-codes li");
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
    b.check_page("recovery-codes", &["#continue"]);
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
    b.check_page("second-factor", &["#code", "#verify"]);
    b.type_into("#code", &totp::code_at(&seed, now() + 30));
    b.click("#verify");
    b.wait_url("/console/tenants/acme/settings/integrations");
}

/// The customer's setup guide, every step in the browser as a tenant
/// administrator, on both backends; each page also gets the layout checks
/// (labels, keyboard, 375 px and 1280 px) and, with `SCIM_SCREENSHOTS` set,
/// its screenshot (`scripts/console-screenshots.sh`).
#[test]
fn the_whole_setup_guide_as_a_tenant_administrator() {
    use crate::smtp::SmtpServer;
    use scim_http::admin::tenant_admins::{LinkDelivery, create_admin_in};

    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let Some(b) = browser() else {
            return;
        };
        let smtp = SmtpServer::start();
        let smtp_url = smtp.url();
        let s = Server::start(
            db,
            &[
                "--admin-token",
                OPERATOR_TOKEN,
                "--smtp-url",
                &smtp_url,
                "--outbox-poll-ms",
                "50",
                "--unauthenticated-rate-limit",
                "0",
                "--activity-flush-ms",
                "100",
            ],
        );
        let admin = |method: &str, path: &str, body: &Value| {
            s.request().bearer(OPERATOR_TOKEN).json(method, path, body)
        };
        // The operator's part: the tenant (no token yet) and its administrator,
        // with the second factor switched off (its browser walk is above).
        let created = admin(
            "POST",
            "/admin/v1/tenants",
            &json!({"slug": "acme", "name": "Acme Corp"}),
        );
        assert_eq!(created.status, 201);
        let off = admin(
            "PUT",
            "/admin/v1/tenants/acme/console-settings",
            &json!({"secondFactorRequired": false}),
        );
        assert_eq!(off.status, 200);
        let store = s.db.store();
        let t = store
            .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
            .unwrap();
        let (_, link) = store
            .transaction_with(|c| {
                create_admin_in(c, &t, "it@acme.example", "test", LinkDelivery::Return)
            })
            .unwrap();
        let link = link.unwrap();
        let origin = format!("http://localhost:{}", s.addr.port());
        b.viewport(1280, 800, false);

        // The administrator sets a password and signs in.
        b.goto(&format!(
            "{origin}/console/set-password?token={}",
            link.token
        ));
        b.check_page("set-password", &["#set-password"]);
        b.type_into("#password", "a long guide password");
        b.type_into("#confirm", "a long guide password");
        b.click("#set-password");
        b.wait_url("/console/login?password=set");
        b.check_page("sign-in", &["#admin-sign-in", "#sign-in"]);
        b.type_into("#email", "it@acme.example");
        b.type_into("#password", "a long guide password");
        b.click("#admin-sign-in");
        b.wait_url("/console/tenants/acme/settings/integrations");

        // Settings → Integrations: Generate, read the Tenant URL and token.
        assert!(b.text("#token-state").starts_with("No Secret Token yet"));
        b.check_page("integrations", &["#generate"]);
        b.click("#generate");
        let tenant_url = b.text("#tenant-url");
        let token = b.text("#secret-token");
        b.check_page("integrations-token-shown", &[]);
        let path = tenant_url
            .strip_prefix("https://scim.example.net")
            .unwrap()
            .to_owned();

        // The directory provisions a user and a group with what the page showed.
        let scim = |token: &str, method: &str, p: &str, body: Option<&Value>| match body {
            Some(body) => s
                .request()
                .bearer(token)
                .json(method, &format!("{path}{p}"), body),
            None => s
                .request()
                .bearer(token)
                .send(method, &format!("{path}{p}"), None),
        };
        let user = |name: &str| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "active": true,
                "emails": [{"value": name, "type": "work", "primary": true}],
            })
        };
        let ann = scim(&token, "POST", "/Users", Some(&user("ann@acme.example")));
        assert_eq!(ann.status, 201);
        let ann = ann.json()["id"].as_str().unwrap().to_owned();
        let group = scim(
            &token,
            "POST",
            "/Groups",
            Some(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Finance vault",
                "members": [{"value": ann}],
            })),
        );
        assert_eq!(group.status, 201);
        let group = group.json()["id"].as_str().unwrap().to_owned();

        // Users: she arrived Staged.
        b.click("a[href='/console/tenants/acme/users']");
        b.check_page("users", &["#q", "#filter"]);
        b.click(&format!("a[href='/console/tenants/acme/users/{ann}']"));
        assert_eq!(b.text("#user-status"), "Staged");
        b.check_page("user", &["#invite", "#save-user-settings"]);

        // SCIM settings: switch on automatic invitation.
        b.click("a[href='/console/tenants/acme/settings/scim']");
        b.check_page("scim-settings", &["#automaticInvitation", "#save"]);
        b.click("#automaticInvitation");
        // This organisation's people work without the mobile app.
        b.click("#requireMobileAuthForUsers");
        b.click("#requireMobileAuthForGroups");
        b.click("#save");
        b.wait_url("?saved=1");
        // The next user the directory sends is invited automatically.
        let bob = scim(&token, "POST", "/Users", Some(&user("bob@acme.example")));
        assert_eq!(bob.status, 201);

        // Invitations: an administrator opened the mobile app; the
        // invitation is emailed (real SMTP on loopback).
        b.click("a[href='/console/tenants/acme/invitations']");
        assert_eq!(b.text("#invitations td.state"), "queued");
        b.check_page("invitations", &["#check-in"]);
        b.click("#check-in");
        let mails = smtp.wait_for(1, Duration::from_secs(20));
        assert_eq!(mails[0].to, ["bob@acme.example"]);
        assert!(mails[0].activation_token().is_some());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            b.goto(&format!("{origin}/console/tenants/acme/invitations"));
            if b.text("#invitations td.state") == "sent" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the invitation is not shown sent"
            );
            std::thread::sleep(Duration::from_millis(100));
        }

        // Regenerate: the old token is refused over SCIM at once.
        b.click("a[href='/console/tenants/acme/settings/integrations']");
        b.click("#confirm");
        b.click("#generate");
        let new = b.text("#secret-token");
        assert_ne!(new, token);
        assert_eq!(scim(&token, "GET", "/Users", None).status, 401);
        assert_eq!(scim(&new, "GET", "/Users", None).status, 200);

        // Organisation → Groups → Finance vault → Settings: members may no
        // longer store data, and the access check says so.
        b.click("a[href='/console/tenants/acme/groups']");
        b.check_page("groups", &[]);
        b.click(&format!("a[href='/console/tenants/acme/groups/{group}']"));
        b.type_into("#access-user", &ann);
        b.click("#check-access");
        b.wait_url(&format!("?user={ann}"));
        assert_eq!(b.text("#can-store"), "yes");
        b.check_page(
            "group",
            &[
                "#membersCanStoreData",
                "#save-group-settings",
                "#check-access",
            ],
        );
        b.click("#membersCanStoreData");
        b.click("#save-group-settings");
        b.wait_url("?saved=1");
        b.type_into("#access-user", &ann);
        b.click("#check-access");
        b.wait_url(&format!("?user={ann}"));
        assert_eq!(b.text("#can-store"), "no");
        assert_eq!(b.text("#can-view"), "yes");

        // Provisioning activity: the directory's requests and the refused
        // old token.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            b.goto(&format!("{origin}/console/tenants/acme/activity"));
            if b.text("#hour-requests") == "5" {
                break;
            }
            assert!(Instant::now() < deadline, "{}", b.text("#hour-requests"));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(b.text("#hour-errors"), "1");
        assert_eq!(b.text("#errors td.status"), "401");
        b.check_page("activity", &[]);
        b.click("a[href='/console/tenants/acme/audit']");
        b.check_page("audit", &["#actor", "#filter"]);
        b.goto(&format!("{origin}/console/tenants"));
        b.check_page(
            "tenants",
            &["a[href='/console/tenants/acme/settings/integrations']"],
        );

        // Sign out: the session's pages are gone.
        b.click(".signout button");
        b.wait_url("/console/login");
        b.goto(&format!("{origin}/console/tenants/acme/users"));
        b.wait_url("/console/login");
    }
}
