//! HTTP/1 connections whose malformed requests get the route's error body.
//!
//! actix-http's HTTP/1 dispatcher answers a request head it cannot parse (an
//! invalid header name or value, an absurd, non-numeric or repeated
//! `Content-Length`, a bad request line, a head over 128 KiB, no complete head
//! within the header timeout) itself, with an empty body, before any service
//! or middleware sees a request. So [`HttpServer`] reads every connection
//! through [`Guarded`]: it decodes what the client sends with actix-http's own
//! decoder (`h1::Codec`, so it refuses exactly what the dispatcher would) before
//! the dispatcher sees it, and passes on only complete, valid request heads and
//! the bodies that follow them. At the first head the decoder refuses it stops
//! reading: the dispatcher sees the client's end of the stream, answers the
//! requests before it (pipelined requests keep their order) and closes the
//! connection, and `Guarded` writes its own answer just before the close: the
//! route's error body (a SCIM error; `{"error": ...}` under `/admin/` and for
//! `/activate`), `Connection: close`, no body for `HEAD`. The header timeout
//! moves from the dispatcher into `Guarded` for the same reason.
//!
//! A body that breaks its framing (a bad chunk size) is not answered here: its
//! request already reached a handler, which answers it; the connection ends.
//!
//! [`HttpServer`] is actix-web's `HttpServer` over `Guarded` TCP streams:
//! actix-server and actix-http configured as actix-web configures them
//! (keep-alive 5 s, 1 s disconnect timeout, half-closed connections allowed,
//! graceful-shutdown signal, `on_connect`), for plain HTTP/1 (the server
//! serves no TLS and no HTTP/2 itself).

use std::any::Any;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::ParseError;
use actix_http::h1::{Codec, MessageType};
use actix_http::{Extensions, KeepAlive, Request, Response, ServiceConfig};
use actix_server::{Server, ServerBuilder};
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{Sleep, sleep};
use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Decoder as _;

/// The longest request head actix-http's dispatcher reads (its private
/// `MAX_BUFFER_SIZE`): a longer one may be refused by the dispatcher with a
/// bare `431`, so `Guarded` refuses it first.
pub const MAX_HEAD_BYTES: usize = 131_072;

/// The longest request target the `http` crate parses (`Uri`'s limit): a
/// longer one is answered `414`.
const MAX_URI_BYTES: usize = (u16::MAX - 1) as usize;

/// How long a refused connection is read (and what it sends discarded) after
/// the answer, so that closing it does not reset it before the client has read
/// the answer; and how much is read at most.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// Requests refused before they reached the application, by status.
#[derive(Debug, Default)]
pub struct ProtocolErrors {
    counts: [AtomicU64; STATUSES.len()],
}

const STATUSES: [u16; 4] = [400, 408, 414, 431];

impl ProtocolErrors {
    fn count(&self, status: StatusCode) {
        if let Some(i) = STATUSES.iter().position(|s| *s == status.as_u16()) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prometheus text: `scim_protocol_errors_total{status}`.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP scim_protocol_errors_total Requests refused before reaching a route: malformed heads (400), heads too large (431), URIs too long (414), heads not received in time (408).\n\
             # TYPE scim_protocol_errors_total counter\n",
        );
        for (status, n) in STATUSES.iter().zip(&self.counts) {
            out.push_str(&format!(
                "scim_protocol_errors_total{{status=\"{status}\"}} {}\n",
                n.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// A client connection read through actix-http's request decoder: see the
/// module documentation.
pub struct Guarded<T> {
    io: T,
    peer: Option<SocketAddr>,
    /// Received and not yet passed on; `buf[..ready]` is validated.
    buf: BytesMut,
    ready: usize,
    /// The shadow decoder, a step ahead of the dispatcher's.
    codec: Codec,
    scratch: BytesMut,
    in_body: bool,
    /// Until the first complete head.
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// No more input is passed on (the client closed, or a request was refused).
    ended: bool,
    /// The answer to a refused request, written before the connection closes.
    reply: Option<Bytes>,
    linger: Option<Linger>,
    errors: Arc<ProtocolErrors>,
}

struct Linger {
    deadline: Pin<Box<Sleep>>,
    shut: bool,
    drained: usize,
}

impl<T> fmt::Debug for Guarded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("peer", &self.peer)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<T> Guarded<T> {
    /// Wraps a new connection; `head_timeout` (zero: none) bounds the wait for
    /// its first request head. `config` only feeds the decoder (one per worker).
    pub fn new(
        io: T,
        peer: Option<SocketAddr>,
        config: ServiceConfig,
        head_timeout: Duration,
        errors: Arc<ProtocolErrors>,
    ) -> Self {
        Guarded {
            io,
            peer,
            buf: BytesMut::new(),
            ready: 0,
            codec: Codec::new(config),
            scratch: BytesMut::new(),
            in_body: false,
            head_deadline: (!head_timeout.is_zero()).then(|| Box::pin(sleep(head_timeout))),
            ended: false,
            reply: None,
            linger: None,
            errors,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Decodes what arrived since the last call, validating whole messages.
    fn validate(&mut self) {
        // On a copy (in a buffer kept for the purpose): the decoder consumes
        // what it reads, and the dispatcher needs the bytes. Only new bytes
        // and an unfinished head are copied.
        let mut rest = std::mem::take(&mut self.scratch);
        rest.clear();
        rest.extend_from_slice(&self.buf[self.ready..]);
        let refused = loop {
            let before = rest.len();
            let decoded = self.codec.decode(&mut rest);
            let used = before - rest.len();
            match decoded {
                Ok(Some(actix_http::h1::Message::Item(_))) => {
                    if used > MAX_HEAD_BYTES {
                        break Some(ParseError::TooLarge);
                    }
                    self.head_deadline = None;
                    self.in_body = self.codec.message_type() != MessageType::None;
                    self.ready += used;
                }
                Ok(Some(actix_http::h1::Message::Chunk(chunk))) => {
                    self.in_body = chunk.is_some();
                    self.ready += used;
                }
                Ok(None) => {
                    self.ready += used;
                    break None;
                }
                Err(err) if self.in_body => {
                    // The request is with a handler already: it sees its body
                    // end early and answers it. Nothing of the bad part is
                    // passed on (the dispatcher would answer it too).
                    tracing::warn!(peer = %Peer(self.peer), error = %err, "client protocol error (malformed request body; connection closed)");
                    self.ended = true;
                    break None;
                }
                Err(err) => break Some(err),
            }
        };
        self.scratch = rest;
        if let Some(err) = refused {
            self.refuse(&err);
        }
    }

    /// Answers the head at `buf[ready..]` with `err`'s status and the route's
    /// error body, and passes nothing more on.
    fn refuse(&mut self, err: &ParseError) {
        let line = RequestLine::of(&self.buf[self.ready..]);
        let (status, detail) = match err {
            ParseError::Header | ParseError::Method | ParseError::Version if line.malformed => (
                StatusCode::BAD_REQUEST,
                "malformed request line: send `METHOD /path HTTP/1.1`",
            ),
            ParseError::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request head is too large: at most 128 KiB and 96 header fields",
            ),
            ParseError::Uri(_) if line.target_len > MAX_URI_BYTES => (
                StatusCode::URI_TOO_LONG,
                "the request URI is too long: at most 65,534 characters",
            ),
            ParseError::Uri(_) => (
                StatusCode::BAD_REQUEST,
                "the request target is not a valid URI",
            ),
            ParseError::Method => (StatusCode::BAD_REQUEST, "the request method is not valid"),
            ParseError::Version => (
                StatusCode::BAD_REQUEST,
                "unsupported HTTP version: send HTTP/1.1 (or HTTP/1.0)",
            ),
            ParseError::Header => (
                StatusCode::BAD_REQUEST,
                "malformed request header: an invalid header name or value, a Content-Length that is not a single number, conflicting Content-Length or Transfer-Encoding, a missing or repeated Host",
            ),
            _ => (StatusCode::BAD_REQUEST, "malformed HTTP request"),
        };
        tracing::warn!(peer = %Peer(self.peer), status = status.as_u16(), error = %err, "client protocol error (request refused, connection closed)");
        self.answer(status, &line, detail);
    }

    fn answer(&mut self, status: StatusCode, line: &RequestLine, detail: &str) {
        self.errors.count(status);
        self.reply = Some(error_reply(status, &line.path, detail, line.head));
        self.ended = true;
        self.head_deadline = None;
    }
}

/// A client address for the log (`-` when unknown).
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{}", addr.ip()),
            None => f.write_str("-"),
        }
    }
}

/// What a (possibly malformed or unfinished) request head says about its route.
#[derive(Debug, Default)]
struct RequestLine {
    /// The path, when the target is one (`/...` or `http://host/...`); empty
    /// otherwise (then the answer is a SCIM error).
    path: String,
    target_len: usize,
    head: bool,
    /// The line is complete and not `METHOD TARGET HTTP/x.y`.
    malformed: bool,
}

impl RequestLine {
    fn of(head: &[u8]) -> RequestLine {
        let newline = head.iter().position(|b| *b == b'\n');
        let line = String::from_utf8_lossy(&head[..newline.unwrap_or(head.len())]);
        let mut parts = line.trim_end_matches('\r').split(' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let version = parts.next();
        let malformed = newline.is_some()
            && (method.is_empty()
                || target.is_empty()
                || !version.is_some_and(|v| v.starts_with("HTTP/"))
                || parts.next().is_some());
        let path = if target.starts_with('/') {
            target
        } else if let Some((_, rest)) = target.split_once("://") {
            rest.find('/').map_or("", |i| &rest[i..])
        } else {
            ""
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        RequestLine {
            path: path.to_owned(),
            target_len: target.len(),
            head: method == "HEAD",
            malformed,
        }
    }
}

/// A complete `Connection: close` response with the route's error body (only
/// its length for `HEAD`).
fn error_reply(status: StatusCode, path: &str, detail: &str, head: bool) -> Bytes {
    let res = scim_http::error::error_response_for(path, status, detail);
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/scim+json")
        .to_owned();
    let body = res.into_body().try_into_bytes().unwrap_or_default();
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\ndate: {date}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(&body);
    }
    Bytes::from(out)
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready > 0 {
                let n = this.ready.min(out.remaining());
                out.put_slice(&this.buf[..n]);
                this.buf.advance(n);
                this.ready -= n;
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                // The end of the stream: the dispatcher answers what it has
                // and then shuts the connection down (see `poll_shutdown`).
                return Poll::Ready(Ok(()));
            }
            if let Some(deadline) = &mut this.head_deadline
                && deadline.as_mut().poll(cx).is_ready()
            {
                tracing::warn!(peer = %Peer(this.peer), status = 408, "client protocol error (no request head in time, connection closed)");
                let line = RequestLine::of(&this.buf);
                this.answer(
                    StatusCode::REQUEST_TIMEOUT,
                    &line,
                    "the request head did not arrive in time",
                );
                continue;
            }
            if this.buf.capacity() - this.buf.len() < 1024 {
                this.buf.reserve(16 * 1024);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // The client closed its side: an unfinished head is dropped,
                // as the dispatcher would.
                Poll::Ready(Ok(0)) => this.ended = true,
                Poll::Ready(Ok(_)) => this.validate(),
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// Writes the answer to a refused request (after everything the
    /// dispatcher wrote), then closes.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(reply) = &mut this.reply {
            while !reply.is_empty() {
                let n = ready!(Pin::new(&mut this.io).poll_write(cx, reply))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                reply.advance(n);
            }
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            this.reply = None;
            this.linger = Some(Linger {
                deadline: Box::pin(sleep(LINGER)),
                shut: false,
                drained: 0,
            });
        }
        let Some(linger) = &mut this.linger else {
            return Pin::new(&mut this.io).poll_shutdown(cx);
        };
        if !linger.shut {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            linger.shut = true;
        }
        // Read and discard what the client still sends (the rest of a refused
        // head, its body), until it closes, for a bounded time and size:
        // closing a socket with unread input resets the connection, and the
        // client could lose the answer.
        let mut scratch = [0u8; 4096];
        while linger.drained < LINGER_BYTES && linger.deadline.as_mut().poll(cx).is_pending() {
            let mut rb = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    linger.drained += rb.filled().len();
                }
                Poll::Ready(_) => break,
            }
        }
        Poll::Ready(Ok(()))
    }
}

type OnConnect = Arc<dyn Fn(&dyn Any, &mut Extensions) + Send + Sync>;

/// The factory's types (only named; `fn` keeps the server `Send`).
type Types<I, S, B> = fn() -> (I, S, B);

/// actix-web's `HttpServer` (the part this server uses) over [`Guarded`]
/// connections. The factory builds one `App` per worker, as there.
pub struct HttpServer<F, I, S, B> {
    factory: F,
    builder: ServerBuilder,
    head_timeout: Duration,
    on_connect: Option<OnConnect>,
    errors: Arc<ProtocolErrors>,
    _phantom: PhantomData<Types<I, S, B>>,
}

impl<F, I, S, B> fmt::Debug for HttpServer<F, I, S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("head_timeout", &self.head_timeout)
            .finish_non_exhaustive()
    }
}

impl<F, I, S, B> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    /// A server whose workers each run the `App` that `factory` builds.
    pub fn new(factory: F) -> Self {
        HttpServer {
            factory,
            builder: ServerBuilder::default(),
            // actix-web's default.
            head_timeout: Duration::from_secs(5),
            on_connect: None,
            errors: Arc::default(),
            _phantom: PhantomData,
        }
    }

    /// Called once per accepted connection with the `TcpStream` (as
    /// actix-web's `on_connect`), before any request.
    pub fn on_connect<CB>(mut self, f: CB) -> Self
    where
        CB: Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static,
    {
        self.on_connect = Some(Arc::new(f));
        self
    }

    /// The time a new connection has to send its first request head (zero:
    /// unbounded); then `408` with the route's error body.
    pub fn client_request_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// Seconds workers get to finish their requests on a graceful stop.
    pub fn shutdown_timeout(mut self, secs: u64) -> Self {
        self.builder = self.builder.shutdown_timeout(secs);
        self
    }

    /// The number of workers (default: one per core).
    pub fn workers(mut self, n: usize) -> Self {
        self.builder = self.builder.workers(n);
        self
    }

    /// Per worker: stop accepting at this many open connections.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.builder = self.builder.max_concurrent_connections(n);
        self
    }

    /// Where refused requests are counted (for `/metrics`).
    pub fn protocol_errors(mut self, errors: Arc<ProtocolErrors>) -> Self {
        self.errors = errors;
        self
    }

    /// Serves plain HTTP/1 on `listener`.
    pub fn listen(mut self, listener: TcpListener) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let factory = self.factory.clone();
        let on_connect = self.on_connect.clone();
        let head_timeout = self.head_timeout;
        let errors = self.errors.clone();
        let shutdown = self.builder.graceful_shutdown_signal();
        self.builder = self
            .builder
            .listen(format!("scim-server-{addr}"), listener, move || {
                let shutdown = shutdown.clone();
                let mut http = actix_http::HttpServiceBuilder::<Guarded<TcpStream>, _>::default()
                    .graceful_shutdown_signal(move || {
                        let shutdown = shutdown.clone();
                        async move { shutdown.notified().await }
                    })
                    .keep_alive(KeepAlive::default())
                    // The head deadline is `Guarded`'s: the dispatcher's
                    // would answer with an empty body.
                    .client_request_timeout(Duration::ZERO)
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .h1_allow_half_closed(true)
                    .local_addr(addr);
                if let Some(f) = on_connect.clone() {
                    http = http.on_connect_ext(move |io: &Guarded<TcpStream>, ext| {
                        f(io.get_ref() as &dyn Any, ext)
                    });
                }
                let app = factory()
                    .into_factory()
                    .map_err(|err| err.into().error_response());
                // `AppConfig` only feeds `ConnectionInfo`'s fallbacks (for a
                // request without `Host`), which nothing here uses.
                let h1 = http.h1(map_config(app, |()| AppConfig::default()));
                // The decoder's configuration: one per worker (it starts a
                // date timer), shared by the worker's connections.
                let config = ServiceConfig::default();
                let errors = errors.clone();
                fn_service(move |io: TcpStream| {
                    let peer = io.peer_addr().ok();
                    let io = Guarded::new(io, peer, config.clone(), head_timeout, errors.clone());
                    std::future::ready(Ok((io, peer)))
                })
                .and_then(h1)
            })?;
        Ok(self)
    }

    /// Starts the server (it runs once awaited).
    pub fn run(self) -> Server {
        self.builder.run()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_line_names_the_route_even_when_the_head_is_refused() {
        let l = RequestLine::of(b"POST /admin/v1/tenants?x=1 HTTP/1.1\r\nContent-Length: abc\r\n");
        assert_eq!(
            (l.path.as_str(), l.head, l.malformed),
            ("/admin/v1/tenants", false, false)
        );
        let l = RequestLine::of(b"HEAD http://h:1/scim/v2/a/Users HTTP/1.1\r\n");
        assert_eq!((l.path.as_str(), l.head), ("/scim/v2/a/Users", true));
        // Unfinished: the route is known, the line is not (yet) malformed.
        let l = RequestLine::of(b"GET /activate");
        assert_eq!((l.path.as_str(), l.malformed), ("/activate", false));
        for bad in [
            &b"GARBAGE\r\n"[..],
            b"GET /x\r\n",
            b"GET /x HTTP/1.1 extra\r\n",
            b"\r\n",
        ] {
            assert!(RequestLine::of(bad).malformed, "{bad:?}");
        }
        assert_eq!(RequestLine::of(b"GET * HTTP/1.1\r\n").path, "");
    }

    #[test]
    fn an_error_reply_is_a_complete_closing_response_without_a_body_for_head() {
        let full = error_reply(StatusCode::BAD_REQUEST, "/scim/v2/a/Users", "bad", false);
        let text = String::from_utf8_lossy(&full);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("content-type: application/scim+json\r\n"));
        assert!(text.contains("connection: close\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(body.contains("urn:ietf:params:scim:api:messages:2.0:Error"));
        let admin = error_reply(StatusCode::BAD_REQUEST, "/admin/v1/x", "bad", false);
        assert!(String::from_utf8_lossy(&admin).ends_with("{\"error\":\"bad\"}"));
        let head_only = error_reply(StatusCode::BAD_REQUEST, "/scim/v2/a/Users", "bad", true);
        let head_only = String::from_utf8_lossy(&head_only);
        assert!(head_only.ends_with("\r\n\r\n"), "{head_only}");
        assert!(head_only.contains(&format!("content-length: {}\r\n", body.len())));
    }
}
