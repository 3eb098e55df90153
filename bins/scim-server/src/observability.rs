//! Logs, request lines, metrics and health endpoints.
//!
//! Every request is logged once, at INFO, with a request id (also returned in
//! `X-Request-Id`), the authenticated tenant (`-` when none), method, route pattern, status and latency. Bearer
//! tokens are never logged: only the route pattern is, never headers or bodies.
//! `GET /metrics` serves Prometheus text: request counts and latency histograms by
//! tenant, method, route and status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use store_diesel::Store;

use crate::cli::LogFormat;

/// Installs the global tracing subscriber (`RUST_LOG` filters; default `info`).
///
/// Logs go to stderr, so that stdout carries only what a command prints for
/// the operator (the first tenant's Tenant URL and Secret Token, `--json`
/// objects) and never mixes with the log stream. Colours only when stderr is a
/// terminal and `NO_COLOR` is unset: a file or journald gets plain text.
///
/// Lines are written by a thread of their own (tracing-appender), so a
/// request's log line costs its worker a queue push, not a `write(2)` (about
/// 4% of a lookup's CPU). The queue never drops a line: when it is full,
/// the logging thread waits. Keep the returned guard until the end: dropping
/// it writes what is still queued.
pub fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal as _;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer.clone())
        .with_ansi(colour)
        .with_target(false);
    let fmt = match format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let not_client_errors =
        tracing_subscriber::filter::filter_fn(|meta| !is_client_protocol_error(meta));
    let _ = tracing_subscriber::registry()
        .with(ClientProtocolErrors {
            json: matches!(format, LogFormat::Json),
            writer,
        })
        .with(fmt.with_filter(filter.and(not_client_errors)))
        .try_init();
    guard
}

/// actix-http reports a request it cannot parse (URI too long, an invalid
/// header, an absurd `Content-Length`) or a connection the client broke as an
/// ERROR of its own. Those are the client's fault, not the server's.
fn is_client_protocol_error(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::ERROR && meta.target().starts_with("actix_http::h1")
}

/// Writes actix-http's client protocol errors as WARN lines, so an
/// operator's ERROR alerts fire on server faults only. (It writes them
/// itself: an event cannot be re-dispatched from inside the subscriber.)
struct ClientProtocolErrors {
    json: bool,
    /// The log's writer, so these lines keep their place among the others.
    writer: tracing_appender::non_blocking::NonBlocking,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ClientProtocolErrors {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if !is_client_protocol_error(event.metadata()) {
            return;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let what = "client protocol error (request refused or connection closed)";
        let line = if self.json {
            serde_json::json!({
                "timestamp": now, "level": "WARN", "message": what, "error": message.0,
            })
            .to_string()
        } else {
            format!("{now}  WARN {what} error={}", message.0)
        };
        use std::io::Write as _;
        // One write: the writer sends each call as one message.
        let _ = self
            .writer
            .clone()
            .write_all(format!("{line}\n").as_bytes());
    }
}

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request metrics, shared by every worker.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, String, u16), Series>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    fn record(&self, tenant: &str, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut map) = self.series.lock() else {
            return;
        };
        let s = map
            .entry((
                tenant.to_owned(),
                method.to_owned(),
                route.to_owned(),
                status,
            ))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP scim_http_requests_total HTTP requests by tenant, method, route and status.\n",
        );
        out.push_str("# TYPE scim_http_requests_total counter\n");
        let Ok(map) = self.series.lock() else {
            return out;
        };
        for ((tenant, method, route, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "scim_http_requests_total{{tenant=\"{}\",method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                esc(tenant),
                esc(method),
                esc(route),
                s.count
            );
        }
        out.push_str("# HELP scim_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE scim_http_request_duration_seconds histogram\n");
        for ((tenant, method, route, status), s) in map.iter() {
            let labels = format!(
                "tenant=\"{}\",method=\"{}\",route=\"{}\",status=\"{status}\"",
                esc(tenant),
                esc(method),
                esc(route)
            );
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "scim_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "scim_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "scim_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "scim_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: one log line and one metrics sample per request, and `X-Request-Id`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    // A closed set: any other method (clients may send `XYZ /healthz`) is
    // `other`, so every metrics label comes from a bounded set.
    let method = metric_method(req.method()).to_owned();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let mut res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    // Only a tenant that exists: the URL's segment is client input, and every
    // distinct value would be a new metrics series kept forever. A refused
    // request is labelled with the URL's tenant when that tenant exists (so
    // after a rotation the failing directory is visible), `unknown` otherwise.
    let tenant = {
        let ext = res.request().extensions();
        match (
            ext.get::<scim_http::auth::AuthenticatedTenant>(),
            ext.get::<scim_http::auth::RefusedAuthentication>(),
        ) {
            (Some(t), _) => t.0.clone(),
            (None, Some(r)) => r.tenant.clone().unwrap_or_else(|| "unknown".to_owned()),
            (None, None) => "-".to_owned(),
        }
    };
    let status = res.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        request_id = %request_id,
        tenant = %tenant,
        method = %method,
        route = %route,
        status,
        latency_ms = (seconds * 1000.0).round() as u64,
        "request"
    );
    if let Some(m) = metrics {
        m.record(&tenant, &method, &route, status, seconds);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

/// The method as a metrics label: the standard methods, else `other`.
fn metric_method(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(store: web::Data<Store>) -> HttpResponse {
    let store = store.get_ref().clone();
    let ok = web::block(move || store.with_conn(|c| store_diesel::tenants::list(c).map(|_| ())))
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    if ok {
        HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable().json(
            serde_json::json!({"status": "unavailable", "detail": "the database does not answer"}),
        )
    }
}

/// `GET /metrics`: Prometheus text.
// An actix handler takes one extractor per argument.
#[allow(clippy::too_many_arguments)]
pub async fn metrics(
    req: actix_web::HttpRequest,
    m: web::Data<Metrics>,
    access: web::Data<MetricsAccess>,
    throttle: Option<web::Data<scim_http::throttle::Throttle>>,
    caps: Option<web::Data<crate::connections::ConnectionCaps>>,
    protocol: Option<web::Data<crate::http1::ProtocolErrors>>,
    store: Option<web::Data<Store>>,
    webhooks: Option<web::Data<scim_http::webhooks::WebhookStats>>,
) -> HttpResponse {
    if let Some(expected) = &access.0 {
        let presented = scim_http::auth::bearer(&req).unwrap_or_default();
        // Compare SHA-256 digests (equal lengths) in constant time.
        let ok = scim_http::auth::hashes_equal(
            &store_diesel::tokens::hash_token(presented),
            &store_diesel::tokens::hash_token(expected),
        );
        if !ok {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer realm=\"metrics\""))
                .json(serde_json::json!({"error": "GET /metrics needs the metrics token (--metrics-token)"}));
        }
    }
    let mut text = m.render();
    if let Some(t) = throttle {
        use scim_http::throttle::LimitKind;
        text.push_str(&format!(
            "# HELP scim_rate_limited_total Requests answered 429 by a rate limit.\n\
             # TYPE scim_rate_limited_total counter\n\
             scim_rate_limited_total{{limit=\"tenant\"}} {}\n\
             scim_rate_limited_total{{limit=\"unauthenticated\"}} {}\n",
            t.refused(LimitKind::Tenant),
            t.refused(LimitKind::Unauthenticated)
        ));
    }
    if let Some(c) = caps {
        text.push_str(&format!(
            "# HELP scim_open_connections Open client connections.\n\
             # TYPE scim_open_connections gauge\n\
             scim_open_connections {}\n\
             # HELP scim_connections_refused_total Connections answered 503 for being over a cap.\n\
             # TYPE scim_connections_refused_total counter\n\
             scim_connections_refused_total {}\n",
            c.total_open(),
            c.refused()
        ));
    }
    if let Some(w) = webhooks {
        text.push_str(&w.prometheus());
    }
    if let Some(p) = protocol {
        text.push_str(&p.render());
    }
    if let Some(store) = store {
        let store = store.get_ref().clone();
        match web::block(move || provisioning_metrics(&store)).await {
            Ok(Ok(more)) => text.push_str(&more),
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read provisioning progress"),
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read provisioning progress"),
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

/// Per tenant (a closed set): invitations by state, the outbox backlog and
/// its oldest row's age, and the last SCIM write — what `scim-server status`
/// prints, for alerts. A handful of indexed queries per tenant per scrape.
fn provisioning_metrics(store: &Store) -> Result<String, store_diesel::StoreError> {
    let now = chrono::Utc::now();
    let rows = store.read_with(|c| {
        let tenants = store_diesel::tenants::list(c)?;
        let mut rows = Vec::with_capacity(tenants.len());
        for t in tenants {
            let status = store_diesel::status::of_tenant(c, &t.id)?;
            rows.push((t.slug, status));
        }
        Ok::<_, store_diesel::StoreError>(rows)
    })?;
    let mut out = String::new();
    out.push_str(
        "# HELP scim_invitations Invitations by state: queued (waiting for an admin check-in), undelivered (released, email not handed to the relay yet), failed (delivery failing or given up).\n\
         # TYPE scim_invitations gauge\n",
    );
    for (slug, s) in &rows {
        for (state, n) in [
            ("queued", s.invitations_queued),
            ("undelivered", s.invitations_undelivered),
            ("failed", s.invitations_failed),
        ] {
            let _ = writeln!(
                out,
                "scim_invitations{{tenant=\"{}\",state=\"{state}\"}} {n}",
                esc(slug)
            );
        }
    }
    out.push_str(
        "# HELP scim_outbox_pending Outbox rows (emails) not done yet.\n# TYPE scim_outbox_pending gauge\n",
    );
    for (slug, s) in &rows {
        let _ = writeln!(
            out,
            "scim_outbox_pending{{tenant=\"{}\"}} {}",
            esc(slug),
            s.outbox_pending
        );
    }
    out.push_str(
        "# HELP scim_outbox_oldest_pending_age_seconds Age of the oldest outbox row not done yet (0: none).\n\
         # TYPE scim_outbox_oldest_pending_age_seconds gauge\n",
    );
    for (slug, s) in &rows {
        let age = s
            .outbox_oldest_pending_at
            .map_or(0, |t| (now - t).num_seconds().max(0));
        let _ = writeln!(
            out,
            "scim_outbox_oldest_pending_age_seconds{{tenant=\"{}\"}} {age}",
            esc(slug)
        );
    }
    out.push_str(
        "# HELP scim_webhook_pending Webhook deliveries not done yet (every endpoint of the tenant).\n\
         # TYPE scim_webhook_pending gauge\n",
    );
    for (slug, s) in &rows {
        let _ = writeln!(
            out,
            "scim_webhook_pending{{tenant=\"{}\"}} {}",
            esc(slug),
            s.webhook_pending
        );
    }
    out.push_str(
        "# HELP scim_webhook_oldest_pending_age_seconds Age of the oldest webhook delivery not done yet (0: none).\n\
         # TYPE scim_webhook_oldest_pending_age_seconds gauge\n",
    );
    for (slug, s) in &rows {
        let age = s
            .webhook_oldest_pending_at
            .map_or(0, |t| (now - t).num_seconds().max(0));
        let _ = writeln!(
            out,
            "scim_webhook_oldest_pending_age_seconds{{tenant=\"{}\"}} {age}",
            esc(slug)
        );
    }
    out.push_str(
        "# HELP scim_webhook_endpoints_failing Webhook endpoints marked failing (retried for too long; an admin replays to resume).\n\
         # TYPE scim_webhook_endpoints_failing gauge\n",
    );
    for (slug, s) in &rows {
        let _ = writeln!(
            out,
            "scim_webhook_endpoints_failing{{tenant=\"{}\"}} {}",
            esc(slug),
            s.webhook_endpoints_failing
        );
    }
    out.push_str(
        "# HELP scim_last_scim_write_timestamp_seconds When a SCIM client last changed something (0: never).\n\
         # TYPE scim_last_scim_write_timestamp_seconds gauge\n",
    );
    for (slug, s) in &rows {
        let _ = writeln!(
            out,
            "scim_last_scim_write_timestamp_seconds{{tenant=\"{}\"}} {}",
            esc(slug),
            s.last_scim_write_at.map_or(0, |t| t.timestamp())
        );
    }
    Ok(out)
}

/// The token `/metrics` requires, if any.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess(pub Option<String>);
