//! Webhook delivery (`docs/events.md`): Standard Webhooks signatures, endpoint
//! URL validation, and [`WebhookWorker`], the background worker a server (or
//! an embedding service) starts with one call.
//!
//! The worker runs on its own OS threads, never on the actix workers: a slow
//! or hanging receiver ties up one of those threads for at most the request
//! timeout and never a SCIM request. Each thread loops: dispatch new events
//! into deliveries, claim a few due deliveries (a lease, so replicas share the
//! work and a crashed one's rows come back), POST them, record the attempt.
//! Sending goes through the [`WebhookSender`] trait; [`UreqSender`] is the
//! default (the workspace's one outbound HTTP client).
//!
//! ```
//! use scim_http::webhooks::{sign, verify};
//!
//! // The Standard Webhooks reference vector.
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let body = br#"{"test": 2432232314}"#;
//! let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
//! assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! assert!(verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &sig));
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::Sha256;
use store_diesel::Store;
use store_diesel::webhooks::{self, Attempt, Claimed, FailOutcome, RetryPolicy};

use crate::TokenKeys;

/// Purpose label of sealed signing secrets ([`crate::sealed::Sealer`]).
pub const SECRET_PURPOSE: &str = "webhook-secret";
/// What a signing secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 2048;

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The secret is not `whsec_<base64>`.
    #[error("the signing secret is not whsec_<base64>")]
    MalformedSecret,
    /// No randomness for a new secret.
    #[error("no randomness available for a new secret")]
    Random,
}

fn secret_bytes(secret: &str) -> Result<Vec<u8>, SignError> {
    let b64 = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SignError::MalformedSecret)?;
    let key = STANDARD
        .decode(b64)
        .map_err(|_| SignError::MalformedSecret)?;
    if key.is_empty() {
        return Err(SignError::MalformedSecret);
    }
    Ok(key)
}

/// A new random signing secret: `whsec_` and 24 random bytes in base64.
///
/// # Errors
/// [`SignError::Random`] when the system has no randomness.
pub fn new_secret() -> Result<String, SignError> {
    let mut key = [0_u8; 24];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| SignError::Random)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// The Standard Webhooks signature `v1,<base64 HMAC-SHA256>` over
/// `"{id}.{timestamp}.{body}"`, keyed with the secret's decoded bytes.
///
/// # Errors
/// [`SignError::MalformedSecret`].
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignError> {
    let key = secret_bytes(secret)?;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| SignError::MalformedSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Whether one of the space-separated signatures of a `webhook-signature`
/// header is the signature of this message under `secret` (constant time).
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(expected) = sign(secret, id, timestamp, body) else {
        return false;
    };
    header
        .split(' ')
        .any(|candidate| crate::auth::hashes_equal(candidate, &expected))
}

/// Why an endpoint URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not an absolute `https://` URL (or `http://` when allowed).
    #[error("url: expected an absolute https:// URL{0}")]
    Scheme(&'static str),
    /// Empty host, credentials, fragment, spaces or control characters.
    #[error("url: {0}")]
    Malformed(&'static str),
    /// A loopback, private, link-local or other non-public address.
    #[error(
        "url: {0} is a loopback, private, link-local or other non-public address; only allowed when the server runs with --webhook-allow-http (development)"
    )]
    Internal(String),
    /// The host name resolves to a non-public address (`host`, `address`).
    #[error(
        "url: {0} resolves to {1}, a loopback, private, link-local or other non-public address; only allowed when the server runs with --webhook-allow-http (development)"
    )]
    ResolvesInternal(String, IpAddr),
    /// The host name does not resolve.
    #[error("url: the host {0} does not resolve ({1})")]
    Unresolvable(String, String),
}

/// The host (without brackets) and port of a URL that passed [`validate_url`].
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let lower = url.to_ascii_lowercase();
    let (rest, default_port) = if let Some(r) = lower.strip_prefix("https://") {
        (r, 443)
    } else {
        (lower.strip_prefix("http://")?, 80)
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => p.parse().ok()?,
            _ => default_port,
        };
        return Some((host.to_owned(), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() => (h, p.parse().ok()?),
        Some((h, _)) => (h, default_port),
        None => (authority, default_port),
    };
    Some((host.to_owned(), port))
}

/// Checks an endpoint URL: absolute `https://` with a host, no credentials, no
/// fragment, at most [`MAX_URL_LEN`] characters; `localhost` and literal
/// non-public addresses ([`is_non_public`]) are refused. With `allow_http`
/// (development), `http://` and those hosts are accepted too.
///
/// The check is on the URL's text; [`check_resolved`] adds the addresses a
/// name resolves to, and [`UreqSender`] checks them again when it connects.
///
/// # Errors
/// [`UrlError`] naming what is wrong.
pub fn validate_url(url: &str, allow_http: bool) -> Result<(), UrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::Malformed("longer than 2048 characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Malformed("contains spaces or control characters"));
    }
    let hint = if allow_http { " or http:// URL" } else { "" };
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://").filter(|_| allow_http) {
        r
    } else {
        return Err(UrlError::Scheme(hint));
    };
    if rest.contains('#') {
        return Err(UrlError::Malformed(
            "a fragment (#...) is not sent; remove it",
        ));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(UrlError::Malformed(
            "credentials in the URL are not supported",
        ));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, ""));
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(UrlError::Malformed(
                "the port is not a number from 0 to 65535",
            ));
        }
        host
    };
    if host.is_empty() {
        return Err(UrlError::Malformed("no host"));
    }
    if !allow_http && is_internal(host) {
        return Err(UrlError::Internal(host.to_owned()));
    }
    Ok(())
}

/// [`validate_url`], then (unless `allow_internal`) resolves the host name
/// and refuses the URL when it does not resolve or when any of its addresses
/// is non-public ([`is_non_public`]): a public-looking name that points at
/// `127.0.0.1` or `169.254.169.254` is refused. Blocking (a DNS lookup); call
/// it off the async workers.
///
/// This is the check at registration; delivery checks the addresses again
/// and connects only to the ones it checked ([`UreqSender`]).
///
/// # Errors
/// [`UrlError`] naming what is wrong.
pub fn check_resolved(url: &str, allow_internal: bool) -> Result<(), UrlError> {
    validate_url(url, allow_internal)?;
    if allow_internal {
        return Ok(());
    }
    let (host, port) = host_and_port(url).ok_or(UrlError::Malformed("no host"))?;
    check_host(&host, port).map(|_| ())
}

/// Resolves `host` and refuses it when any address is non-public; returns
/// the addresses.
fn check_host(host: &str, port: u16) -> Result<Vec<std::net::SocketAddr>, UrlError> {
    use std::net::ToSocketAddrs as _;
    let addrs: Vec<std::net::SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| UrlError::Unresolvable(host.to_owned(), e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(UrlError::Unresolvable(
            host.to_owned(),
            "no addresses".to_owned(),
        ));
    }
    if let Some(bad) = addrs.iter().find(|a| is_non_public(a.ip())) {
        return Err(UrlError::ResolvesInternal(host.to_owned(), bad.ip()));
    }
    Ok(addrs)
}

fn is_internal(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(is_non_public)
}

/// Whether a webhook may not be sent to `ip` outside development: loopback,
/// private (RFC 1918, IPv6 unique local), link-local (including the cloud
/// metadata address 169.254.169.254), unspecified, broadcast, multicast,
/// shared (100.64.0.0/10), benchmarking, documentation and reserved ranges,
/// and IPv6 forms that embed such an IPv4 address (mapped, compatible,
/// NAT64, 6to4).
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (b & 0xc0) == 64)
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 0 && c == 2)
                || (a == 198 && (b & 0xfe) == 18)
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
        }
        IpAddr::V6(ip) => {
            let s = ip.segments();
            let embedded = |hi: u16, lo: u16| {
                let [h1, h2] = hi.to_be_bytes();
                let [l1, l2] = lo.to_be_bytes();
                is_non_public(IpAddr::V4(std::net::Ipv4Addr::new(h1, h2, l1, l2)))
            };
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_non_public(IpAddr::V4(v4)))
                || (s[..6] == [0, 0, 0, 0, 0, 0] && embedded(s[6], s[7]))
                || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && embedded(s[6], s[7]))
                || (s[0] == 0x2002 && embedded(s[1], s[2]))
        }
    }
}

/// The resolver of [`UreqSender`]: the system's, then (unless internal
/// addresses are allowed) every address is checked and the request refused
/// when one is non-public. ureq connects to the addresses this returns, so
/// the address checked is the address connected to: a name whose DNS answer
/// changes between registration and delivery (rebinding) is caught here.
#[derive(Debug)]
struct CheckingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    allow_internal: bool,
}

impl ureq::unversioned::resolver::Resolver for CheckingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if self.allow_internal {
            return Ok(addrs);
        }
        if let Some(bad) = addrs.iter().find(|a| is_non_public(a.ip())) {
            let host = uri.host().unwrap_or_default();
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{host} resolves to {}, a non-public address; not connected (--webhook-allow-http allows it in development)",
                    bad.ip()
                ),
            )));
        }
        Ok(addrs)
    }
}

/// One POST to a receiver.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The endpoint URL.
    pub url: String,
    /// Headers to send (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
    /// `content-type`).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Why a POST got no response.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Sends deliveries; substitute it in tests or to route through your own
/// client. Called from the worker's threads (blocking is fine).
pub trait WebhookSender: Send + Sync + 'static {
    /// POSTs `req` and returns the response status (any status: the worker
    /// treats 2xx as delivered), or an error when no response came.
    ///
    /// # Errors
    /// [`SendError`] on connection errors and timeouts.
    fn send(&self, req: &Outgoing) -> Result<u16, SendError>;
}

/// The default sender: `ureq` with connect and overall timeouts, redirects
/// not followed (a 3xx is a failed attempt), and at most
/// [`UreqSender::MAX_RESPONSE_BYTES`] of the response read.
#[derive(Debug, Clone)]
pub struct UreqSender {
    agent: ureq::Agent,
}

impl UreqSender {
    /// Most bytes of a response body read (then the rest is dropped).
    pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

    /// A sender with these timeouts; `https_only` refuses `http://` URLs, and
    /// then non-public addresses too (see [`UreqSender::with_policy`]).
    pub fn new(connect: Duration, overall: Duration, https_only: bool) -> Self {
        Self::with_policy(connect, overall, https_only, !https_only)
    }

    /// A sender with these timeouts; `https_only` refuses `http://` URLs;
    /// unless `allow_internal`, a host that resolves to a non-public address
    /// ([`is_non_public`]) is not connected to. Proxy settings from the
    /// environment are ignored (a proxy would resolve the host itself, out of
    /// reach of the check).
    pub fn with_policy(
        connect: Duration,
        overall: Duration,
        https_only: bool,
        allow_internal: bool,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(connect))
            .timeout_global(Some(overall))
            .max_redirects(0)
            .http_status_as_error(false)
            .https_only(https_only)
            .max_response_header_size(16 * 1024)
            .user_agent("scim-server-webhooks")
            .proxy(None)
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            CheckingResolver {
                inner: ureq::unversioned::resolver::DefaultResolver::default(),
                allow_internal,
            },
        );
        UreqSender { agent }
    }
}

impl WebhookSender for UreqSender {
    fn send(&self, req: &Outgoing) -> Result<u16, SendError> {
        let mut builder = self.agent.post(&req.url);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut resp = builder
            .send(&req.body[..])
            .map_err(|e| SendError(e.to_string()))?;
        let status = resp.status().as_u16();
        // Read (and drop) a bounded part of the body so a receiver cannot make
        // the worker read without end; errors here do not change the outcome.
        let _ = resp
            .body_mut()
            .with_config()
            .limit(Self::MAX_RESPONSE_BYTES)
            .read_to_vec();
        Ok(status)
    }
}

/// How the worker runs. Start from [`WebhookSettings::default`] and change
/// fields (the struct may gain fields, so it cannot be built literally).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookSettings {
    /// Delivery threads (each sends one request at a time).
    pub threads: usize,
    /// Pause when there is nothing to do.
    pub poll_interval: Duration,
    /// Deliveries claimed at once by one thread.
    pub batch: u32,
    /// Events dispatched per endpoint per round.
    pub dispatch_batch: u32,
    /// Most threads (of all replicas on the database) sending to one
    /// endpoint at a time, so a slow endpoint cannot occupy every thread
    /// ([`webhooks::claim_with`]).
    pub endpoint_concurrency: u32,
    /// How long a claim holds a delivery (longer than the request timeout).
    pub lease: TimeDelta,
    /// Backoff and give-up window.
    pub retry: RetryPolicy,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            threads: 2,
            poll_interval: Duration::from_millis(500),
            batch: 10,
            dispatch_batch: 500,
            endpoint_concurrency: 1,
            lease: TimeDelta::minutes(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// Delivery attempts of one worker (all its threads) since it started, by
/// outcome; [`WebhookStats::prometheus`] renders them for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct WebhookStats(Arc<StatCounters>);

#[derive(Debug, Default)]
struct StatCounters {
    delivered: AtomicU64,
    failed: AtomicU64,
    gave_up: AtomicU64,
}

impl WebhookStats {
    /// Attempts answered 2xx.
    pub fn delivered(&self) -> u64 {
        self.0.delivered.load(Ordering::Relaxed)
    }

    /// Attempts that failed (no response, a timeout, a non-2xx status) and
    /// will be retried.
    pub fn failed(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }

    /// Failed attempts after which the delivery was given up (retried for
    /// too long) and its endpoint marked failing.
    pub fn gave_up(&self) -> u64 {
        self.0.gave_up.load(Ordering::Relaxed)
    }

    /// The counters in Prometheus text format
    /// (`scim_webhook_attempts_total{outcome="delivered|failed|gave_up"}`).
    pub fn prometheus(&self) -> String {
        format!(
            "# HELP scim_webhook_attempts_total Webhook delivery attempts of this process by outcome: delivered (2xx), failed (to be retried), gave_up (retried for too long; endpoint marked failing).\n\
             # TYPE scim_webhook_attempts_total counter\n\
             scim_webhook_attempts_total{{outcome=\"delivered\"}} {}\n\
             scim_webhook_attempts_total{{outcome=\"failed\"}} {}\n\
             scim_webhook_attempts_total{{outcome=\"gave_up\"}} {}\n",
            self.delivered(),
            self.failed(),
            self.gave_up()
        )
    }
}

/// The running worker; [`WebhookWorker::stop`] ends its threads after the
/// request in flight.
#[derive(Debug)]
pub struct WebhookWorker {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    stats: WebhookStats,
}

impl WebhookWorker {
    /// Starts `settings.threads` delivery threads over `store`, signing with
    /// secrets sealed under `keys` and sending through `sender`.
    ///
    /// # Errors
    /// The OS refused a thread.
    pub fn start(
        store: Store,
        keys: TokenKeys,
        settings: WebhookSettings,
        sender: Arc<dyn WebhookSender>,
    ) -> std::io::Result<WebhookWorker> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = WebhookStats::default();
        let worker_id = format!("webhooks-{}", uuid::Uuid::new_v4().simple());
        let mut threads = Vec::new();
        for n in 0..settings.threads.max(1) {
            let ctx = Loop {
                store: store.clone(),
                keys: keys.clone(),
                settings: settings.clone(),
                sender: sender.clone(),
                worker: format!("{worker_id}-{n}"),
                stop: stop.clone(),
                stats: stats.clone(),
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("webhooks-{n}"))
                    .spawn(move || ctx.run())?,
            );
        }
        Ok(WebhookWorker {
            stop,
            threads,
            stats,
        })
    }

    /// The worker's attempt counters (shared: they keep counting).
    pub fn stats(&self) -> WebhookStats {
        self.stats.clone()
    }

    /// Asks the threads to stop after their current request.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// [`WebhookWorker::stop`] and waits for the threads.
    pub fn stop_and_join(mut self) {
        self.stop();
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
    }
}

impl Drop for WebhookWorker {
    /// Dropping the handle stops the threads (without waiting for them).
    fn drop(&mut self) {
        self.stop();
    }
}

struct Loop {
    store: Store,
    keys: TokenKeys,
    settings: WebhookSettings,
    sender: Arc<dyn WebhookSender>,
    worker: String,
    stop: Arc<AtomicBool>,
    stats: WebhookStats,
}

impl Loop {
    fn run(&self) {
        while !self.stop.load(Ordering::SeqCst) {
            let busy = match self.round() {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: store unavailable; retrying");
                    false
                }
            };
            if !busy {
                self.pause();
            }
        }
    }

    fn pause(&self) {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        while waited < self.settings.poll_interval && !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            waited += step;
        }
    }

    /// One dispatch and one claimed batch; returns how many were sent.
    fn round(&self) -> Result<usize, store_diesel::StoreError> {
        let now = Utc::now();
        self.store
            .with_conn(|c| webhooks::dispatch(c, self.settings.dispatch_batch, now))?;
        if !self.store.with_conn(|c| webhooks::any_due(c, now))? {
            return Ok(0);
        }
        let claimed = self.store.with_conn(|c| {
            webhooks::claim_with(
                c,
                &self.worker,
                self.settings.batch,
                Some(self.settings.endpoint_concurrency),
                self.settings.lease,
                now,
            )
        })?;
        let n = claimed.len();
        // An endpoint that just failed (a timeout, most often) gets no more
        // attempts in this batch: its other claims are given back at once, so
        // a hanging receiver holds a thread for one timeout per round, not
        // one per claimed delivery.
        let mut failed: Vec<String> = Vec::new();
        for d in claimed {
            if self.stop.load(Ordering::SeqCst) {
                // Unsent claims come back when their lease ends.
                break;
            }
            if failed.contains(&d.key.endpoint_id) {
                self.store
                    .with_conn(|c| webhooks::release(c, &d.key, &self.worker))?;
                continue;
            }
            if !self.deliver(&d)? {
                failed.push(d.key.endpoint_id.clone());
            }
        }
        Ok(n)
    }

    /// Sends one delivery and records the attempt; `true` when delivered.
    fn deliver(&self, d: &Claimed) -> Result<bool, store_diesel::StoreError> {
        let started_at = Utc::now();
        let started = Instant::now();
        let result = self.build(d, started_at.timestamp()).and_then(|req| {
            self.sender
                .send(&req)
                .map_err(|e| format!("no response: {e}"))
        });
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status_code, error) = match result {
            Ok(code) if (200..300).contains(&code) => (Some(code), None),
            Ok(code) => (Some(code), Some(format!("HTTP {code}"))),
            Err(e) => (None, Some(e)),
        };
        let attempt = Attempt {
            attempted_at: started_at,
            status_code,
            latency_ms,
            error,
        };
        let now = Utc::now();
        if attempt.error.is_none() {
            if self
                .store
                .with_conn(|c| webhooks::complete(c, &d.key, &self.worker, &attempt, now))?
            {
                self.stats.0.delivered.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(true);
        }
        let outcome = self.store.with_conn(|c| {
            webhooks::fail(c, &d.key, &self.worker, &attempt, &self.settings.retry, now)
        })?;
        match outcome {
            FailOutcome::GaveUp => self.stats.0.gave_up.fetch_add(1, Ordering::Relaxed),
            FailOutcome::RetryAt(_) => self.stats.0.failed.fetch_add(1, Ordering::Relaxed),
            FailOutcome::NotHeld => 0,
        };
        match outcome {
            FailOutcome::GaveUp => tracing::warn!(
                endpoint = %d.key.endpoint_id,
                seq = d.event.seq,
                "webhooks: retried for too long; endpoint marked failing (replay to resume)"
            ),
            FailOutcome::RetryAt(at) => tracing::info!(
                endpoint = %d.key.endpoint_id,
                seq = d.event.seq,
                error = attempt.error.as_deref().unwrap_or_default(),
                retry_at = %at,
                "webhooks: delivery failed"
            ),
            FailOutcome::NotHeld => {}
        }
        Ok(false)
    }

    /// The signed request of a delivery.
    fn build(&self, d: &Claimed, timestamp: i64) -> Result<Outgoing, String> {
        let body = serde_json::to_vec(&crate::admin::events::event_json(&d.event))
            .map_err(|e| e.to_string())?;
        let mut secrets = vec![d.endpoint.secret_sealed.clone()];
        if let Some((previous, until)) = &d.endpoint.previous_secret
            && *until > Utc::now()
        {
            secrets.push(previous.clone());
        }
        let mut signatures = Vec::with_capacity(secrets.len());
        for sealed in secrets {
            let secret = self
                .keys
                .sealer()
                .open(SECRET_PURPOSE, &sealed)
                .map_err(|e| format!("cannot read the signing secret: {e}; rotate it"))?;
            let secret = String::from_utf8(secret)
                .map_err(|_| "the signing secret is not text; rotate it".to_owned())?;
            signatures
                .push(sign(&secret, &d.event.id, timestamp, &body).map_err(|e| e.to_string())?);
        }
        Ok(Outgoing {
            url: d.endpoint.url.clone(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("webhook-id".to_owned(), d.event.id.clone()),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signatures.join(" ")),
            ],
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn signs_the_standard_webhooks_vector() {
        // From the Standard Webhooks specification's test suite; recomputed
        // with Python's hmac module (see docs/events.md).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let sig = sign(secret, id, 1_614_265_330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            id,
            1_614_265_330,
            body,
            &format!("v1,AAAA {sig}")
        ));
        assert!(!verify(secret, id, 1_614_265_331, body, &sig));
        assert!(!verify(secret, id, 1_614_265_330, b"{}", &sig));
    }

    #[test]
    fn signs_the_worked_example_of_the_docs() {
        // docs/events.md: checked there with openssl and Python.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "0b6c1f0e-4c1e-4f55-9a53-3d5c2f3a9e71";
        let body =
            br#"{"id":"0b6c1f0e-4c1e-4f55-9a53-3d5c2f3a9e71","seq":42,"type":"user.suspended"}"#;
        assert_eq!(
            sign(secret, id, 1_796_202_843, body).unwrap(),
            "v1,mNUlCYqCtUQOfQpjx87h5TOPBLUkcB9yKWOLTCEcnuE="
        );
    }

    #[test]
    fn secrets_are_whsec_base64_and_checked() {
        let s = new_secret().unwrap();
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_bytes(&s).unwrap().len(), 24);
        assert_ne!(s, new_secret().unwrap());
        assert!(sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "i", 1, b"").is_err());
        assert!(sign("whsec_!!!", "i", 1, b"").is_err());
        assert!(sign("whsec_", "i", 1, b"").is_err());
    }

    #[test]
    fn urls_must_be_https_to_a_public_host() {
        for ok in [
            "https://hooks.example.com/scim",
            "https://hooks.example.com:8443/a?b=c",
            "HTTPS://Example.com",
            "https://[2606:4700:4700::1111]/x",
            "https://93.184.215.14/x",
        ] {
            assert_eq!(validate_url(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/",
            "ftp://example.com",
            "hooks.example.com/x",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "https://exa mple.com/",
            "https://example.com:99999/",
            "https://localhost/",
            "https://127.0.0.1:8080/",
            "https://10.1.2.3/",
            "https://192.168.0.10/",
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/",
            "https://[ff02::1]/",
            "https://[fd00::1]/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://100.64.0.1/",
            "https://198.18.0.1/",
            "https://203.0.113.7/",
            "https://[2001:db8::1]/",
            "https://localhost./",
        ] {
            assert!(validate_url(bad, false).is_err(), "{bad}");
        }
        assert!(validate_url(&format!("https://e.com/{}", "a".repeat(2100)), false).is_err());
        // Development: http and loopback.
        assert_eq!(validate_url("http://127.0.0.1:9000/hook", true), Ok(()));
        assert_eq!(validate_url("https://localhost/hook", true), Ok(()));
        assert!(validate_url("ftp://127.0.0.1/", true).is_err());
        assert!(validate_url("http://u@127.0.0.1/", true).is_err());
    }

    #[test]
    fn names_are_checked_by_the_addresses_they_resolve_to() {
        // `localhost` resolves to loopback: refused by its addresses, not
        // only by its text.
        match check_host("localhost", 443) {
            Err(UrlError::ResolvesInternal(host, ip)) => {
                assert_eq!(host, "localhost");
                assert!(ip.is_loopback(), "{ip}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_resolved("https://localhost:8443/hook", false).is_err());
        assert!(matches!(
            check_resolved("https://127.0.0.1/hook", false),
            Err(UrlError::Internal(_))
        ));
        // A name that does not resolve is refused at registration.
        assert!(matches!(
            check_resolved("https://no-such-host.invalid/hook", false),
            Err(UrlError::Unresolvable(..))
        ));
        // The development flag allows them (and skips the lookup).
        assert_eq!(check_resolved("http://localhost:9/hook", true), Ok(()));
        assert_eq!(
            check_resolved("https://no-such-host.invalid/", true),
            Ok(())
        );
        assert_eq!(
            host_and_port("https://[::1]:8443/x?y"),
            Some(("::1".to_owned(), 8443))
        );
        assert_eq!(
            host_and_port("http://Hooks.Example.com/x"),
            Some(("hooks.example.com".to_owned(), 80))
        );
        assert_eq!(
            host_and_port("https://h.example.com:/x"),
            Some(("h.example.com".to_owned(), 443))
        );
    }

    #[test]
    fn non_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.251",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd12::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }

    /// A real listener on loopback: the default sender does not connect to a
    /// name that resolves to it; with internal addresses allowed it does.
    #[test]
    fn the_sender_does_not_connect_to_a_non_public_address() {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let req = Outgoing {
            url: format!("http://localhost:{port}/hook"),
            headers: vec![],
            body: b"{}".to_vec(),
        };
        let t = Duration::from_secs(5);
        let strict = UreqSender::with_policy(t, t, false, false);
        let err = strict.send(&req).unwrap_err();
        assert!(err.0.contains("non-public"), "{err}");
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "no connection may reach the listener"
        );

        listener.set_nonblocking(false).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0_u8; 4096];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .unwrap();
        });
        let dev = UreqSender::with_policy(t, t, false, true);
        assert_eq!(dev.send(&req).unwrap(), 204);
        server.join().unwrap();
    }
}
