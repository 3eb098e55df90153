//! The command line (`docs/configuration.md`). Every flag also reads
//! an environment variable.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Default SQLite database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://scim-server.db";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// SCIM 2.0 provisioning server for Microsoft Entra ID, Okta and any RFC 7644 client.
#[derive(Debug, Parser)]
#[command(name = "scim-server", version, about)]
pub struct Cli {
    /// Database URL: `sqlite://relative.db`, `sqlite:///absolute.db`, a plain path, or `postgres://...`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// The public base URL clients reach this server at; Tenant URLs and activation links start with it.
    #[arg(long, global = true, env = "SCIM_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Key that signs Secret Tokens and activation links; default: generated once and kept in the database.
    /// Every replica and every command (`token generate`, ...) must use the same key.
    #[arg(long, global = true, env = "SCIM_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,

    /// A key `--signing-key` replaced (repeat the flag, or separate keys with commas in the variable):
    /// Secret Tokens, OAuth access tokens and activation links it signed keep working for
    /// `--previous-signing-key-grace`, and webhook secrets and TOTP seeds it sealed stay readable.
    #[arg(
        long,
        global = true,
        env = "SCIM_PREVIOUS_SIGNING_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub previous_signing_key: Vec<String>,

    /// How long tokens of a previous signing key keep working, counted from the first
    /// start with the current key (`30d`, `12h`, `90m`, `45s`); then they get 401.
    #[arg(long, global = true, env = "SCIM_PREVIOUS_SIGNING_KEY_GRACE", default_value = "30d", value_parser = crate::checks::grace)]
    pub previous_signing_key_grace: chrono::TimeDelta,

    /// Lifetime of newly issued Secret Tokens in days; default: they never expire
    /// (Entra ID expects a long-lived token and quarantines the job when it expires).
    #[arg(long, global = true, env = "SCIM_TOKEN_TTL_DAYS")]
    pub token_ttl_days: Option<u32>,

    /// Log format: `text` (default) or `json` (one JSON object per line).
    #[arg(long, global = true, env = "SCIM_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
// Parsed once per process: the size of `serve`'s flags costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Migrate the database and serve SCIM and the admin API.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// SCIM Secret Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Tenant administrators of the web console.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Provisioning progress per tenant: last SCIM write, invitations, outbox.
    Status,
    /// Copy every table of an SQLite database (--database-url, or --from) into
    /// a PostgreSQL database, in one transaction; counts are verified per table.
    /// Stop every `serve` on the SQLite database first.
    #[command(name = "migrate-to-postgres", alias = "migrate-to")]
    MigrateToPostgres(MigrateToArgs),
    /// The signing keys (current and previous, with their grace periods) and
    /// which tenants still hold a Secret Token signed by each.
    SigningKeys,
}

/// Flags of `migrate-to-postgres`.
#[derive(Debug, Args)]
pub struct MigrateToArgs {
    /// The PostgreSQL database to copy into, e.g. `postgres://scim:...@db/scim`
    /// (created beforehand and empty; its schema is migrated here).
    #[arg(long, env = "SCIM_MIGRATE_TO")]
    pub to: String,
    /// The SQLite database to copy from (default: --database-url).
    #[arg(long)]
    pub from: Option<String>,
    /// Delete every row the target already has (in the same transaction) instead of refusing.
    #[arg(long)]
    pub replace: bool,
    /// Most rows per INSERT statement.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_rows: u64,
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIM_BIND", default_value = DEFAULT_BIND)]
    pub bind: String,
    /// Bearer token for the admin API; without it the admin API answers 403.
    #[arg(long, env = "SCIM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Hex SHA-256 of the admin token: web console sign-in without the plain token in the configuration.
    #[arg(long, env = "SCIM_ADMIN_TOKEN_SHA256")]
    pub admin_token_sha256: Option<String>,
    /// Seconds a web console session may stay unused before it expires.
    #[arg(long, env = "SCIM_CONSOLE_IDLE_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u32).range(1..))]
    pub console_idle_secs: u32,
    /// Seconds of silence that end a directory's provisioning cycle (the
    /// console's Provisioning activity page).
    #[arg(long, env = "SCIM_ACTIVITY_SILENCE_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub activity_silence_secs: u64,
    /// Milliseconds between two writes of this replica's activity counts to the database.
    #[arg(long, env = "SCIM_ACTIVITY_FLUSH_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub activity_flush_ms: u64,
    /// SMTP relay for invitations, e.g. `smtp://127.0.0.1:2525` or `smtps://user:pass@host:465`.
    #[arg(long, env = "SCIM_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of invitation emails.
    #[arg(long, env = "SCIM_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Days an invitation's activation link stays valid after an admin check-in releases it.
    #[arg(long, env = "SCIM_INVITATION_VALIDITY_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub invitation_validity_days: u32,
    /// Milliseconds the invitation email worker waits between looks at the outbox when idle.
    #[arg(long, env = "SCIM_OUTBOX_POLL_MS", default_value_t = 1000)]
    pub outbox_poll_ms: u64,
    /// Days change events stay in the events feed; older ones are pruned hourly.
    #[arg(long, env = "SCIM_EVENT_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,
    /// Webhook delivery (`--webhook-*`).
    #[command(flatten)]
    pub webhook: Box<WebhookArgs>,
    /// Personal-data retention (`--*-retention`, `--erase-deleted-users-after`).
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Bearer token that `GET /metrics` requires; without it `/metrics` is open
    /// (it shows tenant slugs and request counts: restrict it at your proxy).
    #[arg(long, env = "SCIM_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Largest request body in bytes; larger bodies get 413.
    #[arg(long, env = "SCIM_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Longest value, in characters, of an indexed attribute (userName,
    /// displayName, externalId, emails.value, member ids); longer is 400.
    #[arg(long, env = "SCIM_MAX_INDEXED_CHARS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub max_indexed_chars: u32,
    /// Longest value, in characters, of any other string attribute.
    #[arg(long, env = "SCIM_MAX_STRING_CHARS", default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub max_string_chars: u32,
    /// Most values of one multi-valued attribute (emails, phoneNumbers, ...;
    /// a group's members are not counted here).
    #[arg(long, env = "SCIM_MAX_VALUES", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_values: u32,
    /// About how many bytes of resources one list response may hold; a page
    /// that would be larger ends early with fewer results than `count`.
    #[arg(long, env = "SCIM_MAX_LIST_BYTES", default_value_t = 8 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(65_536..))]
    pub max_list_bytes: u64,
    /// Seconds a client may take to send a request's headers (then 408).
    #[arg(long, env = "SCIM_REQUEST_TIMEOUT_SECS", default_value_t = 10)]
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send a request's body, counted from the
    /// request's arrival (then 408 and the connection is closed).
    #[arg(long, env = "SCIM_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_secs: u64,
    /// Seconds a request may take until its response is ready (then 503);
    /// the events feed's long poll is bounded by its own `wait` instead.
    #[arg(long, env = "SCIM_REQUEST_DEADLINE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_deadline_secs: u64,
    /// Most open connections in total (0: no cap); more get 503.
    #[arg(long, env = "SCIM_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,
    /// Most open connections from one client address (0: no cap); more get 503.
    #[arg(long, env = "SCIM_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
    pub max_connections_per_address: usize,
    /// SCIM requests per second per tenant (burst: twice as many; 0: no limit;
    /// a tenant's own limit, set with the admin API, replaces it); more get 429.
    #[arg(long, env = "SCIM_TENANT_RATE_LIMIT", default_value_t = 500)]
    pub tenant_rate_limit: u32,
    /// Requests per minute per client address without a credential the server
    /// can check without the database (public routes, failed sign-ins, console
    /// pages; 0: no limit); more get 429.
    #[arg(long, env = "SCIM_UNAUTHENTICATED_RATE_LIMIT", default_value_t = 300)]
    pub unauthenticated_rate_limit: u32,
    /// Proxies (addresses or CIDR networks, comma-separated) whose
    /// `X-Forwarded-For` names the client address for rate limits, and whose
    /// connections count toward the total cap only.
    #[arg(long, env = "SCIM_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT.
    #[arg(long, env = "SCIM_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// Worker threads (default: one per core).
    #[arg(long, env = "SCIM_WORKERS")]
    pub workers: Option<usize>,
}

/// The personal-data retention flags of `serve` (`docs/operations.md`,
/// "Personal data"). Each takes a period: a number with a unit, `s`, `m`,
/// `h` or `d` (`400d`, `12h`); a bare number is days; `0` or `off` keeps
/// forever.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// How long audit records are kept; older ones are pruned (default: forever).
    #[arg(long, env = "SCIM_AUDIT_RETENTION", value_parser = parse_period, default_value = "off")]
    pub audit_retention: Period,
    /// How long finished invitations (accepted, cancelled, failed, expired) are
    /// kept after they were queued (default: forever).
    #[arg(long, env = "SCIM_INVITATION_RETENTION", value_parser = parse_period, default_value = "off")]
    pub invitation_retention: Period,
    /// How long webhook delivery logs (finished deliveries and their attempts)
    /// are kept (default: as long as events, `--event-retention-days`).
    #[arg(long, env = "SCIM_WEBHOOK_LOG_RETENTION", value_parser = parse_period)]
    pub webhook_log_retention: Option<Period>,
    /// How long after a user's deletion their personal data is erased from the
    /// audit log and the events feed (default: never).
    #[arg(long, env = "SCIM_ERASE_DELETED_USERS_AFTER", value_parser = parse_period, default_value = "off")]
    pub erase_deleted_users_after: Period,
}

/// A retention period; `Period(None)` keeps forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(pub Option<Duration>);

/// Parses a retention period: `<n>s|m|h|d`, a bare number of days, or
/// `0`/`off` (keep forever). At most 100 years.
pub fn parse_period(s: &str) -> Result<Period, String> {
    parse_duration(s).map(Period)
}

fn parse_duration(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") || s == "0" {
        return Ok(None);
    }
    let (number, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 'd'),
    };
    let n: u64 = number.trim().parse().map_err(|_| {
        format!("{s:?} is not a period: write a number with s, m, h or d (e.g. 400d), or off")
    })?;
    let seconds = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86_400),
        _ => {
            return Err(format!(
                "{s:?}: the unit must be s, m, h or d (e.g. 400d), or write off"
            ));
        }
    };
    match seconds {
        Some(0) => Ok(None),
        Some(secs) if secs <= 100 * 366 * 86_400 => Ok(Some(Duration::from_secs(secs))),
        _ => Err(format!("{s:?}: at most 100 years")),
    }
}

/// The `--webhook-*` flags of `serve`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Webhook URLs may be http:// and loopback or private addresses (development only).
    #[arg(long, env = "SCIM_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,
    /// Seconds a webhook delivery may take (connect, send, response); then it is retried.
    #[arg(long, env = "SCIM_WEBHOOK_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub webhook_timeout_secs: u64,
    /// Threads that deliver webhooks (each sends one request at a time).
    #[arg(long, env = "SCIM_WEBHOOK_THREADS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub webhook_threads: u64,
    /// Most webhook threads (of all replicas) sending to one endpoint at a time, so a slow endpoint cannot hold them all.
    #[arg(long, env = "SCIM_WEBHOOK_ENDPOINT_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub webhook_endpoint_concurrency: u64,
    /// Milliseconds before the first retry of a failed webhook delivery (then doubling, at most 1 hour, for 24 hours).
    #[arg(long, env = "SCIM_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub webhook_retry_base_ms: u64,
    /// Milliseconds the webhook worker waits between looks for new events when idle.
    #[arg(long, env = "SCIM_WEBHOOK_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub webhook_poll_ms: u64,
}

/// `tenant` subcommands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its Tenant URL and Secret Token.
    Create {
        /// URL-safe identifier, part of the Tenant URL.
        slug: String,
        /// Display name of the organisation.
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants with their Tenant URLs.
    List,
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Generate a new Secret Token; the previous one stops working at once.
    Generate {
        /// The tenant's slug.
        slug: String,
    },
}

/// An address (`10.0.0.1`) or a CIDR network (`10.0.0.0/8`).
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR network like 10.0.0.0/8"))
}

/// `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a tenant administrator and print their single-use set-password link.
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The administrator's email (their sign-in name).
        #[arg(long)]
        email: String,
        /// Email the link (through the running server's mail worker and its
        /// --smtp-url) instead of printing it.
        #[arg(long)]
        send_email: bool,
    },
}
