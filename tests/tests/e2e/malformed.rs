//! Requests the HTTP parser refuses (an absurd, non-numeric or repeated
//! `Content-Length`, invalid bytes in a header, a bad request line, a head
//! too large, no head in time) get the route's error body, not a bare status,
//! and the connection closes; the requests before them on the connection, and
//! HEAD and keep-alive requests, are served as always. Raw TCP throughout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{ADMIN, Response, Server, on_both_with_admin, parse_response};

const SCIM: &str = "/scim/v2/acme/Users";
const ADMIN_API: &str = "/admin/v1/tenants";

/// Sends `raw` on a new connection and reads until the server closes it.
fn exchange(s: &Server, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may answer before it has read everything.
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) => panic!(
            "the connection was not closed ({e}); read so far: {}",
            String::from_utf8_lossy(&answer)
        ),
    }
    answer
}

/// Splits pipelined responses (each with a Content-Length body, none for
/// the responses to `HEAD`s at the given positions).
fn responses(raw: &[u8], heads: &[usize]) -> Vec<Response> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(rest)))
            + 4;
        let head = parse_response(&rest[..end]);
        let len: usize = if heads.contains(&out.len()) {
            0
        } else {
            head.header("content-length")
                .expect("a Content-Length")
                .parse()
                .unwrap()
        };
        out.push(parse_response(&rest[..end + len]));
        rest = &rest[end + len..];
    }
    out
}

/// Asserts the error shape of `path`'s route: SCIM's error schema, or the
/// admin API's `{"error": ...}`.
fn assert_route_error(r: &Response, status: u16, path: &str, case: &str) {
    assert_eq!(
        r.status,
        status,
        "{case}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("connection"), Some("close"), "{case}");
    if path.starts_with("/admin/") {
        assert_eq!(r.header("content-type"), Some("application/json"), "{case}");
        let body: Value = r.json();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{case}: {body}"
        );
    } else {
        r.assert_error(status, None);
    }
}

fn malformed_heads(path: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "absurd Content-Length",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
            ),
        ),
        (
            "non-numeric Content-Length",
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{{}}"),
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"
            ),
        ),
        (
            "invalid byte in a header name",
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nBad(Name: 1\r\n\r\n"),
        ),
        (
            "invalid byte in a header value",
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Note: a\u{1}b\r\n\r\n"),
        ),
        (
            "a header line without a colon",
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
        ),
        (
            "chunked and Content-Length",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n"
            ),
        ),
        (
            "no Host",
            format!("GET {path} HTTP/1.1\r\nAccept: */*\r\n\r\n"),
        ),
    ]
}

#[test]
fn malformed_heads_get_the_routes_error_body_and_the_connection_closes() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        for path in [SCIM, ADMIN_API] {
            for (case, raw) in malformed_heads(path) {
                let case = format!("{case} on {path}");
                let r = parse_response(&exchange(s, raw.as_bytes()));
                assert_route_error(&r, 400, path, &case);
            }
            // A head over 128 KiB, and one with more than 96 fields.
            let big = format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(140_000)
            );
            let r = parse_response(&exchange(s, big.as_bytes()));
            assert_route_error(&r, 431, path, &format!("a 140 KB head on {path}"));
            let many: String = (0..100).map(|i| format!("X-H{i}: {i}\r\n")).collect();
            let many = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{many}\r\n");
            let r = parse_response(&exchange(s, many.as_bytes()));
            assert_route_error(&r, 431, path, &format!("100 header fields on {path}"));
            // A URI over the `http` crate's limit.
            let long = format!(
                "GET {path}?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(70_000)
            );
            let r = parse_response(&exchange(s, long.as_bytes()));
            assert_route_error(&r, 414, path, &format!("a 70,000-character URI on {path}"));
        }
        // A request line that cannot be parsed names no route: a SCIM error.
        for raw in [
            "GARBAGE\r\n\r\n",
            "GET /scim/v2/acme/Users\r\nHost: x\r\n\r\n",
            "GET /scim/v2/acme/Users HTTP/9.9\r\nHost: x\r\n\r\n",
            "G(T /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            let r = parse_response(&exchange(s, raw.as_bytes()));
            assert_eq!(r.status, 400, "{raw:?}");
            assert_eq!(r.header("connection"), Some("close"), "{raw:?}");
            r.assert_error(400, None);
        }
        // A head just under the limit is served.
        let padding = "a".repeat(120_000);
        let ok = format!(
            "GET {SCIM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Pad: {padding}\r\nConnection: close\r\n\r\n"
        );
        let r = parse_response(&exchange(s, ok.as_bytes()));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        // The refusals are counted.
        let m = s.request().get("/metrics");
        let text = String::from_utf8_lossy(&m.body);
        let count = |status: &str| -> u64 {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!(
                        "scim_protocol_errors_total{{status=\"{status}\"}} "
                    ))
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| {
                    panic!("no scim_protocol_errors_total{{status={status}}}: {text}")
                })
        };
        assert_eq!(count("400"), 2 * 8 + 4);
        assert_eq!(count("431"), 4);
        assert_eq!(count("414"), 2);
    });
}

#[test]
fn pipelined_requests_before_a_malformed_one_are_answered_first_in_order() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pipe@example.net"}"#;
        let raw = format!(
            "POST {SCIM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}\
             GET /admin/v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\r\n\
             GET {SCIM} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n\
             GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            body.len()
        );
        let all = responses(&exchange(s, raw.as_bytes()), &[]);
        assert_eq!(
            all.len(),
            3,
            "the request after the malformed one is not answered"
        );
        assert_eq!(
            all[0].status,
            201,
            "{}",
            String::from_utf8_lossy(&all[0].body)
        );
        assert_eq!(all[0].json()["userName"], "pipe@example.net");
        assert_eq!(all[1].status, 200);
        assert!(all[1].json().to_string().contains("acme"));
        assert_route_error(&all[2], 400, SCIM, "pipelined after two requests");
        // The body of the first request was read exactly: the user exists once.
        let list = s.request().bearer(&token).get(&format!(
            "{SCIM}?filter=userName%20eq%20%22pipe@example.net%22"
        ));
        assert_eq!(list.json()["totalResults"], 1);
    });
}

/// Reads one response from a keep-alive connection (`head`: a response to
/// `HEAD`, without a body).
fn read_one(stream: &mut TcpStream, head: bool) -> Response {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let r = parse_response(&got[..end + 4]);
            let len: usize = if head {
                0
            } else {
                r.header("content-length").unwrap().parse().unwrap()
            };
            if got.len() >= end + 4 + len {
                assert_eq!(got.len(), end + 4 + len, "more bytes than one response");
                return parse_response(&got);
            }
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the keep-alive connection was closed");
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn head_and_keep_alive_requests_are_unaffected() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        // HEAD and GET requests one after the other on one keep-alive
        // connection: HEAD answers carry a length and no body, and the
        // connection stays open; then a malformed HEAD gets the error's
        // head without a body, and the connection closes.
        let mut stream = TcpStream::connect(s.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        for _ in 0..2 {
            for (method, path) in [
                ("HEAD", SCIM),
                ("GET", SCIM),
                ("HEAD", "/nowhere"),
                ("GET", "/healthz"),
            ] {
                stream
                    .write_all(
                        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n")
                            .as_bytes(),
                    )
                    .unwrap();
                let r = read_one(&mut stream, method == "HEAD");
                assert_ne!(r.header("connection"), Some("close"), "{method} {path}");
                if method == "HEAD" {
                    assert!(r.body.is_empty());
                    assert!(
                        r.header("content-length")
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                            > 0
                    );
                } else {
                    assert_eq!(r.status, 200, "{method} {path}");
                    assert!(!r.body.is_empty());
                }
            }
        }
        stream
            .write_all(format!("HEAD {SCIM} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n").as_bytes())
            .unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        let r = parse_response(&rest);
        assert_eq!(r.status, 400);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(
            r.header("content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap()
                > 0
        );
        assert!(r.body.is_empty(), "a body after a HEAD answer");
    });
}

#[test]
fn a_head_not_received_in_time_gets_408_with_the_routes_error_body() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let s = Server::start(db, &["--admin-token", ADMIN, "--request-timeout-secs", "1"]);
        for (path, sent) in [
            (SCIM, format!("GET {SCIM} HTTP/1.1\r\nHost: x\r\nAccept")),
            (ADMIN_API, format!("GET {ADMIN_API} HTTP/1.1\r\nHo")),
            ("", String::new()),
        ] {
            let mut stream = TcpStream::connect(s.addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            stream.write_all(sent.as_bytes()).unwrap();
            let started = std::time::Instant::now();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).unwrap();
            assert!(started.elapsed() < Duration::from_secs(10));
            let r = parse_response(&raw);
            assert_route_error(&r, 408, path, &format!("{sent:?}"));
        }
    }
}

#[test]
fn a_body_that_breaks_its_chunked_framing_is_answered_once_by_its_route() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let raw = format!(
            "POST {SCIM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"use\r\nzz\r\n"
        );
        let all = responses(&exchange(s, raw.as_bytes()), &[]);
        assert_eq!(all.len(), 1, "one request, one answer");
        all[0].assert_error(400, Some("invalidSyntax"));
        let list = s.request().bearer(&token).get(SCIM);
        assert_eq!(list.json()["totalResults"], 0);
    });
}
