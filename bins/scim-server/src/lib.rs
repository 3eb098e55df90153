//! The `scim-server` binary's library half: the command line
//! (`docs/configuration.md`), the commands and the wiring of the layers. `main.rs`
//! only parses and dispatches, so tests drive the same code.
//!
//! ```no_run
//! use clap::Parser;
//! use scim_server::cli::Cli;
//!
//! # fn main() -> anyhow::Result<()> {
//! let cli = Cli::parse_from(["scim-server", "--database-url", "sqlite://scim.db", "tenant", "list"]);
//! scim_server::run(cli)?;
//! # Ok(())
//! # }
//! ```

pub mod activity;
pub mod checks;
pub mod cli;
pub mod connections;
pub mod http1;
pub mod observability;
mod retention;

/// The invitation email worker, now in the library: [`scim_http::mailer`].
pub mod mailer {
    pub use scim_http::mailer::*;
}

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, middleware, web};
use anyhow::Context as _;
use scim_http::mailer::{MailSettings, MailWorker, SmtpSender};
use scim_http::{AdminConfig, ScimConfig, ScimService, TokenKeys, scim_error_bodies};
use serde_json::json;
use store_diesel::{Store, StoreError, StoreOptions, audit, settings, tenants, tokens};

use crate::cli::{AdminCommand, Cli, Command, ServeArgs, TenantCommand, TokenCommand};
use crate::connections::ConnectionCaps;
use crate::observability::Metrics;
use scim_http::deadline::Deadlines;
use scim_http::throttle::{Throttle, ThrottleConfig};

/// Runs a parsed command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(args) => {
            // Held to the end: dropping it writes the log lines still queued.
            let _log_writer = observability::init_logging(cli.log_format);
            let server = actix_web::rt::System::new();
            server.block_on(async {
                let running = start(&cli, args)?;
                let served = running.server.await.context("the HTTP server failed");
                running.outbox.stop();
                running.webhooks.stop();
                running.activity.flush_now();
                served
            })
        }
        Command::Migrate => {
            let store = open_cli_store(&cli.database_url)?;
            let applied = store.run_migrations()?;
            print_out(
                &cli,
                json!({"applied": applied}),
                &if applied.is_empty() {
                    "The database schema is up to date.".to_owned()
                } else {
                    format!(
                        "Applied {} migration(s): {}",
                        applied.len(),
                        applied.join(", ")
                    )
                },
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let explicit = explicit_public_url(&cli)?;
            checks::signing_key(cli.signing_key.as_deref())?;
            let store = open_cli_migrated(&cli.database_url)?;
            let keys = server_matching_keys(&store, &cli)?;
            let url = cli_public_url(&store, explicit)?;
            let name = name.clone().unwrap_or_else(|| slug.clone());
            let (tenant, token) = create_tenant_as(
                &store,
                &keys,
                slug,
                &name,
                Some((CLI_ACTOR, "tenant create")),
            )?;
            print_credentials(&cli, &url, &tenant.slug, &token, "Created tenant");
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let explicit = explicit_public_url(&cli)?;
            let store = open_cli_migrated(&cli.database_url)?;
            let url = cli_public_url(&store, explicit)?;
            let all = store.transaction(tenants::list)?;
            let config = ScimConfig::new(url);
            let items: Vec<_> = all
                .iter()
                .map(|t| json!({"slug": t.slug, "name": t.name, "tenantUrl": config.tenant_url(&t.slug), "createdAt": t.created_at}))
                .collect();
            let text = all
                .iter()
                .map(|t| format!("{}\t{}\t{}", t.slug, config.tenant_url(&t.slug), t.name))
                .collect::<Vec<_>>()
                .join("\n");
            print_out(&cli, json!({"items": items}), &text);
            Ok(())
        }
        Command::Status => status(&cli),
        Command::MigrateToPostgres(args) => migrate_to_postgres(&cli, args),
        Command::SigningKeys => signing_keys_command(&cli),
        Command::Admin(AdminCommand::Create {
            tenant,
            email,
            send_email,
        }) => admin_create(&cli, tenant, email, *send_email),
        Command::Token(TokenCommand::Generate { slug }) => {
            let explicit = explicit_public_url(&cli)?;
            checks::signing_key(cli.signing_key.as_deref())?;
            let store = open_cli_migrated(&cli.database_url)?;
            let keys = server_matching_keys(&store, &cli)?;
            let url = cli_public_url(&store, explicit)?;
            let tenant = store
                .transaction(|c| tenants::get_by_slug(c, slug))
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        anyhow::anyhow!("no tenant {slug:?}; see `scim-server tenant list`")
                    }
                    other => other.into(),
                })?;
            let token = issue_token_as(&store, &keys, &tenant.id, Some(CLI_ACTOR))?;
            print_credentials(&cli, &url, &tenant.slug, &token, "New Secret Token for");
            if !cli.json {
                say(
                    "The previous token no longer works: paste this one into Entra ID (Provisioning > Admin Credentials) and run Test connection.",
                );
            }
            Ok(())
        }
    }
}

/// The `webhooks:` line of `status`: the delivery backlog and failing endpoints.
fn webhook_line(
    s: &store_diesel::status::TenantStatus,
    when: &dyn Fn(Option<chrono::DateTime<chrono::Utc>>, &str) -> String,
) -> String {
    let mut line = if s.webhook_pending == 0 {
        "no deliveries pending".to_owned()
    } else {
        format!(
            "{} deliveries pending, oldest dispatched {}",
            s.webhook_pending,
            when(s.webhook_oldest_pending_at, "-")
        )
    };
    if s.webhook_endpoints_failing > 0 {
        line.push_str(&format!(
            "; {} endpoint(s) failing (replay to resume)",
            s.webhook_endpoints_failing
        ));
    }
    line
}

/// `scim-server status`: per tenant, what the database tells about
/// provisioning progress. Read-only: it does not migrate.
fn status(cli: &Cli) -> anyhow::Result<()> {
    let store = open_cli_store(&cli.database_url)?;
    let pending = store.pending_migrations()?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database schema is behind this binary ({} migration(s) pending): run `scim-server migrate` first",
            pending.len()
        );
    }
    let now = chrono::Utc::now();
    let all = store.transaction(tenants::list)?;
    let mut items = Vec::new();
    let mut text = Vec::new();
    for t in &all {
        let s = store.with_conn(|c| store_diesel::status::of_tenant(c, &t.id))?;
        let when = |at: Option<chrono::DateTime<chrono::Utc>>, none: &str| match at {
            Some(at) => format!(
                "{} ({} ago)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                age(now - at)
            ),
            None => none.to_owned(),
        };
        text.push(format!(
            "{}
  last SCIM write:  {}
  invitations:      {} queued for check-in, {} released and not yet delivered, {} failed
  outbox:           {}
  webhooks:         {}",
            t.slug,
            when(s.last_scim_write_at, "never"),
            s.invitations_queued,
            s.invitations_undelivered,
            s.invitations_failed,
            if s.outbox_pending == 0 {
                "empty".to_owned()
            } else {
                format!(
                    "{} pending, oldest written {}",
                    s.outbox_pending,
                    when(s.outbox_oldest_pending_at, "-")
                )
            },
            webhook_line(&s, &when),
        ));
        items.push(json!({
            "tenant": t.slug,
            "lastScimWriteAt": s.last_scim_write_at,
            "invitations": {
                "queued": s.invitations_queued,
                "undelivered": s.invitations_undelivered,
                "failed": s.invitations_failed,
            },
            "outbox": {
                "pending": s.outbox_pending,
                "oldestPendingAt": s.outbox_oldest_pending_at,
                "oldestPendingAgeSeconds": s.outbox_oldest_pending_at.map(|at| (now - at).num_seconds()),
            },
            "webhooks": {
                "pending": s.webhook_pending,
                "oldestPendingAt": s.webhook_oldest_pending_at,
                "oldestPendingAgeSeconds": s.webhook_oldest_pending_at.map(|at| (now - at).num_seconds()),
                "endpointsFailing": s.webhook_endpoints_failing,
            },
        }));
    }
    text.push(
        "(The last SCIM write comes from the audit log: reads, such as Entra ID's Test connection, are not recorded.)"
            .to_owned(),
    );
    print_out(cli, json!({"items": items}), &text.join("\n"));
    Ok(())
}

/// `scim-server migrate-to-postgres`: [`store_diesel::copy`], with the
/// counts printed per table.
fn migrate_to_postgres(cli: &Cli, args: &crate::cli::MigrateToArgs) -> anyhow::Result<()> {
    use store_diesel::copy::{CopyOptions, copy_sqlite_to_postgres};
    let from = args.from.as_deref().unwrap_or(&cli.database_url);
    checks::database_file_exists(
        from,
        if args.from.is_some() {
            "--from"
        } else {
            "--database-url / DATABASE_URL"
        },
    )?;
    let mut options = CopyOptions::default();
    options.batch_rows = usize::try_from(args.batch_rows).unwrap_or(500);
    options.replace = args.replace;
    let started = std::time::Instant::now();
    let mut last_table = String::new();
    let report = copy_sqlite_to_postgres(from, &args.to, &options, &mut |table, rows| {
        if !cli.json && table != last_table {
            eprintln!("copying {table}...");
            last_table = table.to_owned();
        }
        let _ = rows;
    })
    .with_context(|| {
        format!(
            "cannot copy {} into {}; the target holds none of the copied rows",
            redact(from),
            redact(&args.to)
        )
    })?;
    let tables: Vec<_> = report
        .tables
        .iter()
        .map(|t| json!({"table": t.table, "source": t.source, "target": t.target}))
        .collect();
    let width = report
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5);
    let mut text = vec![format!(
        "{:width$}  {:>10}  {:>10}",
        "table", "source", "target"
    )];
    for t in &report.tables {
        text.push(format!(
            "{:width$}  {:>10}  {:>10}",
            t.table, t.source, t.target
        ));
    }
    let total: i64 = report.tables.iter().map(|t| t.target).sum();
    text.push(format!(
        "Copied {total} rows in {} tables into {} in {:.1} s; every count matches.{}",
        report.tables.len(),
        redact(&args.to),
        started.elapsed().as_secs_f64(),
        if report.replaced_rows > 0 {
            format!(
                " ({} rows the target had were deleted first.)",
                report.replaced_rows
            )
        } else {
            String::new()
        }
    ));
    text.push(format!(
        "Next: start `scim-server serve` with --database-url {} (and the same --signing-key, if you set one). Keep the SQLite file as your way back.",
        redact(&args.to)
    ));
    print_out(
        cli,
        json!({"tables": tables, "rows": total, "replacedRows": report.replaced_rows, "sequences": report.sequences}),
        &text.join("\n"),
    );
    Ok(())
}

/// `scim-server signing-keys`: the keys this command line configures and
/// the tenants whose live Secret Token each signed. Read-only.
fn signing_keys_command(cli: &Cli) -> anyhow::Result<()> {
    checks::signing_key(cli.signing_key.as_deref())?;
    let store = open_cli_store(&cli.database_url)?;
    let pending = store.pending_migrations()?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database schema is behind this binary ({} migration(s) pending): run `scim-server migrate` first",
            pending.len()
        );
    }
    let keys = cli_keys(&store, cli)?;
    let report = scim_http::admin::signing_keys::report(&store, &keys)?;
    let mut text = Vec::new();
    for key in &report.keys {
        let role = if key.current {
            "current (signs new tokens)".to_owned()
        } else {
            match key.verify_until {
                Some(until) if until < chrono::Utc::now() => format!(
                    "previous, grace period ended {}: its tokens are refused",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                Some(until) => format!(
                    "previous, its tokens work until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None => "previous".to_owned(),
            }
        };
        text.push(format!("key {}: {role}", key.kid));
        text.push(if key.tenants.is_empty() {
            "  no tenant holds a token signed by it".to_owned()
        } else {
            format!("  tenants: {}", key.tenants.join(", "))
        });
    }
    if !report.other_tenants.is_empty() {
        text.push(format!(
            "tenants whose token was signed by a key not listed here (or before key ids were recorded; `serve` records them at start): {}",
            report.other_tenants.join(", ")
        ));
    }
    if report
        .keys
        .iter()
        .any(|k| !k.current && !k.tenants.is_empty())
    {
        text.push("Run `scim-server token generate SLUG` for each tenant above and paste the new token into Entra ID; drop a previous key when no tenant is listed under it.".to_owned());
    }
    print_out(cli, serde_json::to_value(&report)?, &text.join("\n"));
    Ok(())
}

/// A duration for people: `42s`, `5m`, `3h`, `2d`.
fn age(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Writes a line to stdout. A closed stdout (`scim-server tenant list | head
/// -1`) is not an error: the command has done its work, and `println!` would
/// panic on the broken pipe.
fn say(text: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn print_out(cli: &Cli, value: serde_json::Value, text: &str) {
    if cli.json {
        say(value);
    } else if !text.is_empty() {
        say(text);
    }
}

fn print_credentials(
    cli: &Cli,
    public_url: &str,
    slug: &str,
    token: &tokens::IssuedToken,
    what: &str,
) {
    let tenant_url = ScimConfig::new(public_url).tenant_url(slug);
    print_out(
        cli,
        json!({"tenant": slug, "tenantUrl": tenant_url, "secretToken": token.token, "createdAt": token.created_at}),
        &format!(
            "{what} {slug}\n  Tenant URL:   {tenant_url}\n  Secret Token: {}\n(The token is shown once; the server keeps only its hash.)",
            token.token
        ),
    );
}

/// Opens the database named by `url` (not migrating).
pub fn open_store(url: &str) -> anyhow::Result<Store> {
    checks::database_folder(url)?;
    Store::connect(url).with_context(|| format!("cannot open the database {}", redact(url)))
}

/// Opens the database for a command that runs and exits: one connection,
/// never opened in the background, so no pool thread is still connecting when
/// the process exits (on PostgreSQL that raced the C library's exit-time
/// cleanup and crashed the process after its output).
fn open_cli_store(url: &str) -> anyhow::Result<Store> {
    checks::database_folder(url)?;
    Store::connect_with(url, &StoreOptions::one_shot())
        .with_context(|| format!("cannot open the database {}", redact(url)))
}

/// [`open_cli_store`], then migrations.
fn open_cli_migrated(url: &str) -> anyhow::Result<Store> {
    let store = open_cli_store(url)?;
    store
        .run_migrations()
        .context("cannot migrate the database")?;
    Ok(store)
}

/// Opens and migrates the database named by `url`.
pub fn open_migrated(url: &str) -> anyhow::Result<Store> {
    let store = open_store(url)?;
    store
        .run_migrations()
        .context("cannot migrate the database")?;
    Ok(store)
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The signing key: the operator's (at least 32 bytes), or the one kept in the
/// database (created on first use).
fn signing_secret(store: &Store, operator_key: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match operator_key {
        Some("") => anyhow::bail!("--signing-key / SCIM_SIGNING_KEY is empty"),
        Some(k) => {
            checks::signing_key(Some(k))?;
            Ok(k.as_bytes().to_vec())
        }
        None => Ok(store.transaction(settings::get_or_create_signing_key)?),
    }
}

/// The token keys: the operator's key, or the one kept in the database.
pub fn signing_keys(store: &Store, operator_key: Option<&str>) -> anyhow::Result<TokenKeys> {
    Ok(TokenKeys::new(&signing_secret(store, operator_key)?)?)
}

/// The token keys of a command line: its signing key and token lifetime.
pub fn cli_keys(store: &Store, cli: &Cli) -> anyhow::Result<TokenKeys> {
    let ttl = cli
        .token_ttl_days
        .map(|d| chrono::TimeDelta::days(i64::from(d)));
    let mut keys = signing_keys(store, cli.signing_key.as_deref())?.with_ttl(ttl);
    // An installation that ran on the key the server generated (kept in the
    // database) and now has its own --signing-key: the generated key stays a
    // previous key, so its tokens work through the grace period and what it
    // sealed (webhook secrets, second-factor seeds) still opens.
    let generated = match cli.signing_key.as_deref() {
        Some(own) => store
            .with_conn(settings::stored_signing_key)?
            .filter(|kept| kept.as_slice() != own.as_bytes()),
        None => None,
    };
    if cli.previous_signing_key.is_empty() && generated.is_none() {
        return Ok(keys);
    }
    checks::previous_signing_keys(&cli.previous_signing_key, cli.signing_key.as_deref())?;
    // The grace period counts from the first `serve` with the current key.
    let since = store
        .with_conn(|c| settings::get(c, &settings::signing_key_since(keys.key_id())))?
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .map_or_else(chrono::Utc::now, |d| d.with_timezone(&chrono::Utc));
    let until = since + cli.previous_signing_key_grace;
    for previous in cli
        .previous_signing_key
        .iter()
        .map(String::as_bytes)
        .chain(generated.as_deref())
    {
        keys = keys.with_previous(previous, Some(until))?;
    }
    Ok(keys)
}

/// At `serve`'s start: tokens issued before key ids were recorded get the id
/// of the key `serve` last started with (the commands refuse any other, so it
/// signed them all); then this key is recorded as the one the server runs
/// with, and the start of its time as the current key (previous keys' grace
/// periods count from it).
fn record_signing_key(store: &Store, secret: &[u8]) -> anyhow::Result<()> {
    let fingerprint = checks::key_fingerprint(secret);
    let kid = scim_http::auth::key_id(secret);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    store.transaction(|c| {
        if let Some(last) = settings::get(c, settings::SIGNING_KEY_FINGERPRINT)?
            && let Some(last_kid) = last.get(..16)
        {
            tokens::fill_signing_key_id(c, last_kid)?;
        }
        settings::put(c, settings::SIGNING_KEY_FINGERPRINT, &fingerprint)?;
        settings::put_if_absent(c, &settings::signing_key_since(&kid), &now)?;
        Ok(())
    })?;
    Ok(())
}

/// The token keys of a command that signs tokens for a running server: refused
/// when the key is not the one the server last started with (the server
/// records its key's fingerprint), since the server would reject every token
/// signed with it.
fn server_matching_keys(store: &Store, cli: &Cli) -> anyhow::Result<TokenKeys> {
    let secret = signing_secret(store, cli.signing_key.as_deref())?;
    let recorded = store.with_conn(|c| settings::get(c, settings::SIGNING_KEY_FINGERPRINT))?;
    if recorded.is_some_and(|fp| fp != checks::key_fingerprint(&secret)) {
        let which = if cli.signing_key.is_some() {
            "the --signing-key / SCIM_SIGNING_KEY given here"
        } else {
            "the key kept in the database (no --signing-key / SCIM_SIGNING_KEY given here)"
        };
        anyhow::bail!(
            "the signing key is not the one the server runs with: {which} differs from the key `serve` last started with, so the server would refuse the token. Run this command with the server's --signing-key / SCIM_SIGNING_KEY. Nothing was changed."
        );
    }
    cli_keys(store, cli)
}

/// `admin create`: a tenant administrator and their set-password link,
/// through the admin API's code (audited as `admin.create` by `cli`).
fn admin_create(cli: &Cli, slug: &str, email: &str, send_email: bool) -> anyhow::Result<()> {
    use scim_http::admin::tenant_admins::{LinkDelivery, create_admin_in, set_password_url};
    let explicit = explicit_public_url(cli)?;
    let store = open_cli_migrated(&cli.database_url)?;
    let url = cli_public_url(&store, explicit)?;
    let tenant = store
        .transaction(|c| tenants::get_by_slug(c, slug))
        .map_err(|e| match e {
            StoreError::NotFound | StoreError::InvalidInput(_) => {
                anyhow::anyhow!("no tenant {slug:?}; see `scim-server tenant list`")
            }
            other => other.into(),
        })?;
    let delivery = if send_email {
        LinkDelivery::Email
    } else {
        LinkDelivery::Return
    };
    let (admin, link) = store
        .transaction_with(|c| create_admin_in(c, &tenant, email, CLI_ACTOR, delivery))
        .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
    let Some(link) = link else {
        print_out(
            cli,
            json!({"tenant": tenant.slug, "id": admin.id, "email": admin.email, "setPasswordLink": "emailed"}),
            &format!(
                "Created administrator {} of {}\n  The set-password link will be emailed by the server's mail worker (needs --smtp-url on `serve`).",
                admin.email, tenant.slug
            ),
        );
        return Ok(());
    };
    let link_url = set_password_url(&ScimConfig::new(url), &link.token);
    print_out(
        cli,
        json!({"tenant": tenant.slug, "id": admin.id, "email": admin.email, "setPasswordLink": link_url, "linkExpiresAt": link.expires_at}),
        &format!(
            "Created administrator {} of {}\n  Set-password link: {link_url}\n(Single use, valid until {}. Send it to the administrator; it is shown only once.)",
            admin.email,
            tenant.slug,
            link.expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
    );
    Ok(())
}

/// The actor of the audit records the command line writes (the admin API's
/// are `admin`).
pub const CLI_ACTOR: &str = "cli";

/// Issues a new Secret Token for a tenant (revoking the previous one).
pub fn issue_token(
    store: &Store,
    keys: &TokenKeys,
    tenant_id: &str,
) -> anyhow::Result<tokens::IssuedToken> {
    issue_token_as(store, keys, tenant_id, None)
}

/// [`issue_token`], audited as `token.generate` by `actor` (as the admin API
/// does) in the same transaction when one is given.
fn issue_token_as(
    store: &Store,
    keys: &TokenKeys,
    tenant_id: &str,
    actor: Option<&str>,
) -> anyhow::Result<tokens::IssuedToken> {
    let keys = keys.clone();
    Ok(store.transaction(|c| {
        let token = tokens::issue_signed(c, tenant_id, Some(keys.key_id()), |jti, now| {
            keys.issue(tenant_id, jti, now)
        })?;
        if let Some(actor) = actor {
            // The token id only: never the secret.
            audit::append(
                c,
                tenant_id,
                &audit::NewAuditRecord {
                    actor,
                    action: "token.generate",
                    target_type: "Tenant",
                    target_id: Some(tenant_id),
                    details: &json!({"tokenId": token.token_id, "previousTokensRevoked": true}),
                },
            )?;
        }
        Ok(token)
    })?)
}

/// Creates a tenant with its first Secret Token.
pub fn create_tenant(
    store: &Store,
    keys: &TokenKeys,
    slug: &str,
    name: &str,
) -> anyhow::Result<(tenants::Tenant, tokens::IssuedToken)> {
    create_tenant_as(store, keys, slug, name, None)
}

/// [`create_tenant`], audited as `tenant.create` by `actor` (with the first
/// token's id) in the same transaction when one is given.
fn create_tenant_as(
    store: &Store,
    keys: &TokenKeys,
    slug: &str,
    name: &str,
    actor: Option<(&str, &str)>,
) -> anyhow::Result<(tenants::Tenant, tokens::IssuedToken)> {
    let keys = keys.clone();
    Ok(store.transaction(|c| {
        let t = tenants::create(c, slug, name)?;
        let token = tokens::issue_signed(c, &t.id, Some(keys.key_id()), |jti, now| {
            keys.issue(&t.id, jti, now)
        })?;
        if let Some((actor, command)) = actor {
            audit::append(
                c,
                &t.id,
                &audit::NewAuditRecord {
                    actor,
                    action: "tenant.create",
                    target_type: "Tenant",
                    target_id: Some(&t.id),
                    details: &json!({"slug": t.slug, "name": t.name, "tokenId": token.token_id, "command": command}),
                },
            )?;
        }
        Ok((t, token))
    })?)
}

/// The `--public-url` given to this command, checked and normalised.
fn explicit_public_url(cli: &Cli) -> anyhow::Result<Option<String>> {
    cli.public_url
        .as_deref()
        .map(checks::public_url)
        .transpose()
}

/// The base URL a command prints Tenant URLs with: its own `--public-url`, else
/// the one the server recorded when it started, else the default listen
/// address (with a warning: such a URL rarely works in Entra ID).
fn cli_public_url(store: &Store, explicit: Option<String>) -> anyhow::Result<String> {
    if let Some(url) = explicit {
        return Ok(url);
    }
    if let Some(url) = store.with_conn(|c| settings::get(c, settings::PUBLIC_URL))? {
        return Ok(url);
    }
    let fallback = format!("http://{}", cli::DEFAULT_BIND);
    eprintln!(
        "warning: no public URL is known (the server has not run with --public-url on this database): Tenant URLs below start with {fallback}; pass --public-url"
    );
    Ok(fallback)
}

/// A started server and where it listens.
pub struct Running {
    /// The server future (await it to run until shutdown).
    pub server: Server,
    /// The bound address (useful with port 0).
    pub addr: std::net::SocketAddr,
    /// The public base URL.
    pub public_url: String,
    /// The invitation email worker (stop it after the server).
    pub outbox: MailWorker,
    /// The Provisioning activity counters (flush them after the server).
    pub activity: activity::Flusher,
    /// The webhook delivery worker (stops when dropped).
    pub webhooks: scim_http::webhooks::WebhookWorker,
}

/// Migrates, prepares the first tenant on an empty database, binds and starts
/// the server (it runs once awaited). Must be called inside an actix system.
pub fn start(cli: &Cli, args: &ServeArgs) -> anyhow::Result<Running> {
    // Every flag is checked before anything changes (the first tenant and
    // its token are printed only once).
    let explicit_url = explicit_public_url(cli)?;
    checks::signing_key(cli.signing_key.as_deref())?;
    checks::previous_signing_keys(&cli.previous_signing_key, cli.signing_key.as_deref())?;
    let bind = checks::bind(&args.bind)?;
    let transport = args
        .smtp_url
        .as_deref()
        .map(scim_http::mailer::transport)
        .transpose()
        .context("--smtp-url is not usable")?;
    let from = scim_http::mailer::mailbox(args.mail_from.as_deref())
        .context("--mail-from is not usable")?;
    let mut console = scim_http::ConsoleConfig::new(
        args.admin_token.as_deref(),
        args.admin_token_sha256.as_deref(),
    )?;
    console.idle_timeout = chrono::TimeDelta::seconds(i64::from(args.console_idle_secs));
    let store = open_migrated(&cli.database_url)?;
    // Lets the commands detect that they sign with another key, and starts
    // the previous keys' grace periods.
    record_signing_key(&store, &signing_secret(&store, cli.signing_key.as_deref())?)?;
    let keys = cli_keys(&store, cli)?;
    let listener = TcpListener::bind(&bind[..])
        .with_context(|| format!("cannot listen on {} (--bind)", args.bind))?;
    let addr = listener.local_addr()?;
    let public_url = match &explicit_url {
        Some(url) => {
            // What the commands print their Tenant URLs with.
            store.transaction(|c| settings::put(c, settings::PUBLIC_URL, url))?;
            url.clone()
        }
        None => {
            tracing::warn!(
                "--public-url is not set: Tenant URLs and activation links use http://{addr}, which Entra ID cannot reach; set --public-url to the HTTPS address clients use"
            );
            format!("http://{addr}")
        }
    };

    if store.transaction(tenants::list)?.is_empty() {
        let (tenant, token) = create_tenant_as(
            &store,
            &keys,
            "default",
            "Default",
            Some((CLI_ACTOR, "serve")),
        )?;
        print_credentials(
            cli,
            &public_url,
            &tenant.slug,
            &token,
            "Created the first tenant,",
        );
        if !cli.json {
            say(
                "In Entra ID: Enterprise applications > your app > Provisioning > Bearer authentication; paste the Tenant URL and Secret Token and press Test connection.",
            );
        }
    }

    let mut admin = AdminConfig::new(args.admin_token.clone());
    admin.invitation_validity = chrono::TimeDelta::days(i64::from(args.invitation_validity_days));
    admin.webhook_allow_http = args.webhook.webhook_allow_http;
    if admin.admin_token.is_none() {
        tracing::info!(
            "the admin API is disabled: set --admin-token / SCIM_ADMIN_TOKEN to enable it"
        );
    }
    let service = ScimService::builder(store.clone(), keys.clone())
        .public_url(public_url.clone())
        .scim_config(|config| {
            config.max_body_bytes = args.max_body_bytes;
            config.max_list_bytes = usize::try_from(args.max_list_bytes).unwrap_or(usize::MAX);
            config.limits = scim_http::limits::InputLimits::default()
                .with_max_indexed_chars(args.max_indexed_chars as usize)
                .with_max_string_chars(args.max_string_chars as usize)
                .with_max_values(args.max_values as usize);
        })
        .admin(admin)
        .console(console)
        .throttle(Throttle::new(throttle_config(args)))
        .deadlines(Deadlines::new(
            Duration::from_secs(args.body_timeout_secs),
            Duration::from_secs(args.request_deadline_secs),
        ))
        .build()?;

    let mut mail = MailSettings::new(service.config().clone());
    mail.poll_interval = Duration::from_millis(args.outbox_poll_ms.max(50));
    let sender = transport.map(|t| {
        std::sync::Arc::new(SmtpSender::new(t, from)) as std::sync::Arc<dyn scim_http::MailSender>
    });
    let outbox = MailWorker::start(store.clone(), keys.clone(), mail, sender);
    let events_kept = Duration::from_secs(u64::from(args.event_retention_days) * 86_400);
    retention::spawn(
        store.clone(),
        retention::Policy {
            events: events_kept,
            webhook_logs: args
                .retention
                .webhook_log_retention
                .map_or(Some(events_kept), |p| p.0),
            audit: args.retention.audit_retention.0,
            invitations: args.retention.invitation_retention.0,
            erase_deleted_users: args.retention.erase_deleted_users_after.0,
        },
        outbox.stop_flag(),
    );
    let webhooks = webhook_worker(&store, &keys, &args.webhook)?;
    let webhook_stats = web::Data::new(webhooks.stats());
    let activity = web::Data::new(scim_http::activity::Activity::new(Duration::from_secs(
        args.activity_silence_secs,
    )));
    let flusher = activity::spawn(
        store.clone(),
        activity.clone(),
        Duration::from_millis(args.activity_flush_ms),
        outbox.stop_flag(),
    );

    let backend = store.backend();
    let analyzes = store.analyzes_in_background();
    let store_data = web::Data::new(store);
    let metrics = web::Data::new(Metrics::default());
    let metrics_access = web::Data::new(observability::MetricsAccess(
        args.metrics_token.clone().filter(|t| !t.is_empty()),
    ));
    let workers = args.workers;
    let caps = ConnectionCaps::new(
        args.max_connections_per_address,
        args.max_connections,
        args.trusted_proxy.clone(),
    );
    let caps_data = web::Data::from(caps.clone());
    let protocol_errors = std::sync::Arc::new(http1::ProtocolErrors::default());
    let protocol_data = web::Data::from(protocol_errors.clone());
    // actix-web's HttpServer, with malformed requests answered in the route's
    // error shape (`http1.rs`).
    let mut server = http1::HttpServer::new(move || {
        App::new()
            // The service's parts carry their own body limit, deadlines,
            // rate limits and error bodies. The server's own: connection caps
            // (bare statuses) and metrics, and, as this host wants every
            // other error (unknown paths, /metrics) in SCIM's form too,
            // `scim_error_bodies` outermost.
            .wrap(middleware::from_fn(connections::enforce_caps))
            .wrap(middleware::from_fn(observability::observe))
            .wrap(scim_error_bodies())
            .app_data(caps_data.clone())
            .app_data(protocol_data.clone())
            .app_data(activity.clone())
            .app_data(webhook_stats.clone())
            .app_data(store_data.clone())
            .app_data(metrics.clone())
            .app_data(metrics_access.clone())
            .route("/healthz", web::get().to(observability::healthz))
            .route("/readyz", web::get().to(observability::readyz))
            .route("/metrics", web::get().to(observability::metrics))
            .configure(|cfg| service.configure(cfg))
    })
    .on_connect(move |conn, data| {
        if let Some(peer) = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .and_then(|tcp| tcp.peer_addr().ok())
        {
            data.insert(caps.admit(peer.ip()));
        }
    })
    .client_request_timeout(Duration::from_secs(args.request_timeout_secs))
    .protocol_errors(protocol_errors)
    .shutdown_timeout(args.shutdown_timeout_secs);
    if let Some(w) = workers {
        server = server.workers(w.max(1));
    }
    if args.max_connections > 0 {
        // Stop accepting a little above the cap (per worker), so connections
        // beyond it are answered 503 rather than left in the backlog, and
        // file descriptors stay bounded.
        let per_worker = args
            .max_connections
            .div_ceil(workers.unwrap_or_else(num_workers).max(1));
        server = server.max_connections(per_worker + per_worker / 4 + 1);
    }
    let server = server.listen(listener)?;
    tracing::info!(%addr, public_url = %public_url, backend = %backend, "scim-server listening");
    if analyzes {
        tracing::warn!(
            "autovacuum is off on this PostgreSQL server: scim-server runs ANALYZE and VACUUM on its tables when autovacuum would (so that lookups keep their indexes); turn autovacuum on"
        );
    }
    Ok(Running {
        server: server.run(),
        addr,
        public_url,
        outbox,
        activity: flusher,
        webhooks,
    })
}

/// Starts the webhook delivery worker with the `--webhook-*` flags.
fn webhook_worker(
    store: &Store,
    keys: &TokenKeys,
    args: &crate::cli::WebhookArgs,
) -> anyhow::Result<scim_http::webhooks::WebhookWorker> {
    use scim_http::webhooks::{UreqSender, WebhookSettings, WebhookWorker};
    let timeout = Duration::from_secs(args.webhook_timeout_secs);
    let sender = UreqSender::new(
        timeout.min(Duration::from_secs(5)),
        timeout,
        !args.webhook_allow_http,
    );
    let mut settings = WebhookSettings::default();
    settings.threads = usize::try_from(args.webhook_threads).unwrap_or(2);
    settings.poll_interval = Duration::from_millis(args.webhook_poll_ms);
    settings.endpoint_concurrency = u32::try_from(args.webhook_endpoint_concurrency).unwrap_or(1);
    // A claim covers a whole batch sent one after the other, each up to the
    // timeout; a crashed replica's claims come back after it.
    let lease = timeout
        .saturating_mul(settings.batch.saturating_add(1))
        .saturating_add(Duration::from_secs(5));
    settings.lease = chrono::TimeDelta::from_std(lease).unwrap_or(settings.lease);
    settings.retry.base =
        chrono::TimeDelta::milliseconds(i64::try_from(args.webhook_retry_base_ms).unwrap_or(5000));
    WebhookWorker::start(
        store.clone(),
        keys.clone(),
        settings,
        std::sync::Arc::new(sender),
    )
    .context("cannot start the webhook worker")
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The rate limits of `serve`'s flags.
fn throttle_config(args: &ServeArgs) -> ThrottleConfig {
    let mut config = ThrottleConfig::default();
    config.tenant_per_second = args.tenant_rate_limit;
    config.unauthenticated_per_minute = args.unauthenticated_rate_limit;
    config.trusted_proxies = args.trusted_proxy.clone();
    config
}

/// actix-web's default number of workers: one per core.
fn num_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
