//! What the process tests share: the `scim-server` binary run as a command and
//! as a `serve` process on a free port, and a bare HTTP/1.1 GET.
// Each test file uses a part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_scim-server");

/// A `serve` process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
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

/// Runs a command on the database at `url` (`--json`), without the
/// environment's admin token and keys.
pub fn run(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--database-url", url, "--json"])
        .args(args)
        .env_remove("SCIM_ADMIN_TOKEN")
        .env_remove("SCIM_SIGNING_KEY")
        .env_remove("SCIM_PREVIOUS_SIGNING_KEYS")
        .output()
        .unwrap()
}

/// [`run`], which must succeed; the JSON object it printed last.
pub fn cli(url: &str, args: &[&str]) -> serde_json::Value {
    let out = run(url, args);
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

/// `scim-server --database-url URL GLOBAL... serve --bind … --workers 1
/// SERVE...`, once `/healthz` answers.
pub fn start(url: &str, global: &[&str], serve: &[&str]) -> Server {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["--database-url", url])
        .args(global)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .args(serve)
        .env_remove("SCIM_ADMIN_TOKEN")
        .env_remove("SCIM_SIGNING_KEY")
        .env_remove("SCIM_PREVIOUS_SIGNING_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(port, "/healthz", None).0 != 200 {
        assert!(Instant::now() < deadline, "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Status and body of `GET path` (status 0 when the connection fails).
pub fn request(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
