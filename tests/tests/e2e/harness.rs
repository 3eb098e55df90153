//! Starts the server on `127.0.0.1:0` against a fresh database and talks to it
//! with a minimal blocking HTTP/1.1 client (no client library needed).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use scim_server::cli::{Cli, Command};
use serde_json::Value;
use store_diesel::Backend;
use store_diesel::testing::TestDb;

/// A running server on its own database.
pub struct Server {
    pub addr: SocketAddr,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let h = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(false))).join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Server {
    /// Starts a graceful stop (what SIGTERM/SIGINT trigger in the binary) in the
    /// background; returns the thread that waits for it.
    pub fn stop_gracefully(&self) -> std::thread::JoinHandle<()> {
        let h = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(true)))
    }
}

/// The admin token of [`on_both_with_admin`]'s servers.
pub const ADMIN: &str = "admin-token-for-tests-0123456789";

/// [`on_both`] with the admin API enabled (`--admin-token ADMIN`).
pub fn on_both_with_admin(body: impl Fn(&Server)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let server = Server::start(db, &["--admin-token", ADMIN]);
        body(&server);
    }
}

/// An admin API request with the [`ADMIN`] token.
pub fn admin(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Response {
    let r = s.request().bearer(ADMIN);
    match body {
        Some(b) => r.json(method, path, b),
        None => r.send(method, path, None),
    }
}

/// Runs `body` on SQLite, and on PostgreSQL when it is configured (see
/// store_diesel::testing: skips loudly without SCIM_TEST_PG_URL, fails in CI).
pub fn on_both(body: impl Fn(&Server)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let server = Server::start(db, &[]);
        body(&server);
    }
}

impl Server {
    pub fn start(db: TestDb, extra: &[&str]) -> Server {
        let url = db.url().to_owned();
        let mut argv = vec![
            "scim-server".to_owned(),
            "--database-url".to_owned(),
            url,
            "--public-url".to_owned(),
            "https://scim.example.net".to_owned(),
            "serve".to_owned(),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--workers".to_owned(),
            "2".to_owned(),
        ];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let cli = Cli::parse_from(argv);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let Command::Serve(args) = &cli.command else {
                    unreachable!()
                };
                let running = scim_server::start(&cli, args).expect("server starts");
                let handle = running.server.handle();
                tx.send((running.addr, handle)).unwrap();
                running.server.await.expect("server runs");
            });
        });
        let (addr, handle) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server started");
        Server {
            addr,
            db,
            handle,
            thread: Some(thread),
        }
    }

    /// Creates a tenant through the library the CLI uses; returns its token.
    pub fn tenant(&self, slug: &str) -> String {
        let store = self.db.store();
        let keys = scim_server::signing_keys(store, None).unwrap();
        scim_server::create_tenant(store, &keys, slug, slug)
            .unwrap()
            .1
            .token
    }

    /// Regenerates a tenant's token.
    pub fn regenerate(&self, slug: &str) -> String {
        let store = self.db.store();
        let keys = scim_server::signing_keys(store, None).unwrap();
        let t = store
            .transaction(|c| store_diesel::tenants::get_by_slug(c, slug))
            .unwrap();
        scim_server::issue_token(store, &keys, &t.id).unwrap().token
    }

    pub fn request(&self) -> Request<'_> {
        Request {
            server: self,
            headers: Vec::new(),
        }
    }
}

/// A response: status, headers (lower-case names) and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a SCIM error with this status (and scimType, if given).
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(
            self.header("content-type"),
            Some("application/scim+json"),
            "{body}"
        );
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{body}"
        );
        assert_eq!(body["status"], status.to_string(), "{body}");
        if let Some(t) = scim_type {
            assert_eq!(body["scimType"], t, "{body}");
        }
        body
    }
}

pub struct Request<'a> {
    server: &'a Server,
    headers: Vec<(String, String)>,
}

impl Request<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Response {
        let mut stream = TcpStream::connect(self.server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.server.addr
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        if let Some(b) = body {
            // The server may answer (413) before reading everything.
            let _ = stream.write_all(b);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse_response(&raw)
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.send("DELETE", path, None)
    }

    pub fn json(&self, method: &str, path: &str, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        self.send(method, path, Some(&bytes))
    }
}

pub fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// A request with a bearer token and an optional JSON body to `addr`, from any
/// thread (a [`Server`] stays on the test's thread).
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n"
    );
    if let Some(b) = &bytes {
        head.push_str(&format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(b) = &bytes {
        stream.write_all(b).unwrap();
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}
