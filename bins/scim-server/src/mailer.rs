//! Invitation emails: the SMTP transport (lettre) from `--smtp-url`, the
//! message (plain text and HTML), and the outbox worker that sends them.
//!
//! Delivery is at-least-once and idempotent on success:
//!
//! * An admin check-in writes the released invitation (with the hash of its
//!   activation token) and an `invitation.email` outbox row in one
//!   transaction.
//! * The worker (one per replica, a task on the server's actix system; its
//!   database work runs on the blocking pool) claims due rows with a lease
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so two replicas never hold the
//!   same row, and a crashed replica's rows come back when its lease ends.
//! * For each row it re-creates the activation link (the token is a
//!   deterministic JWT of the invitation, so a retry sends the same link), and
//!   sends it. On success the row is completed and the invitation marked
//!   delivered in one transaction; on failure the attempt is counted and the
//!   row retried with exponential backoff (30 s, doubling, at most 1 h, 20
//!   attempts). A row whose invitation was cancelled, accepted or already
//!   delivered is completed without sending.
//! * An invitation that cannot be delivered becomes `failed` with the reason
//!   (`scim_http::invitations::record_failure`), in the transaction that
//!   gives its row up: the user has no email address, the link expired or the
//!   signing key changed before delivery, the relay refused it with a
//!   permanent (5xx) SMTP reply (not retried), or the retries ran out.
//! * Without `--smtp-url`, the link is logged at INFO ("mail is not
//!   configured") and the row completed: the documented exception to "never
//!   log a secret", for development.
//!
//! A message carries `Message-ID: <invitation-id@scim-server>`, so the rare
//! duplicate after a crash between sending and completing is recognisable.
//!
//! The same worker sends tenant administrators' set-password emails
//! (`admin.link.email` rows, payload `{"adminId"}`): it issues the link when
//! it sends (earlier links of the account stop working), so the link exists in
//! clear only in the email. Without `--smtp-url` such a row is given up (and
//! the link never logged): the operator hands out a link from the console.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use scim_http::TokenKeys;
use scim_http::admin::tenant_admins::{LINK_VALIDITY, set_password_url};
use scim_http::invitations::record_failure;
use store_diesel::invitations::{self, InvitationRecord, InvitationState};
use store_diesel::outbox::{self, FailOutcome, OutboxRecord, RetryPolicy};
use store_diesel::tenant_admins;
use store_diesel::users::UserRecord;
use store_diesel::{Store, StoreError, audit, tenants, users};

/// How long a claimed row stays with this worker before others may retry it.
const LEASE: TimeDelta = TimeDelta::minutes(5);
/// Rows claimed per round.
const BATCH: u32 = 10;
/// Time allowed for one SMTP delivery.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the worker needs.
#[derive(Clone)]
pub struct MailSettings {
    /// The SMTP transport; `None` logs the links instead.
    pub transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    /// `From:` of invitation emails.
    pub from: Mailbox,
    /// Public base URL; links are `{public_url}/activate?token=...`.
    pub public_url: String,
    /// How often the worker looks for due rows when idle.
    pub poll_interval: Duration,
    /// Retry schedule.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp", &self.transport.is_some())
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The default sender when `--mail-from` is not given.
pub const DEFAULT_MAIL_FROM: &str = "SCIM provisioning <no-reply@localhost>";

/// Builds the transport from `--smtp-url`: `smtp://host:port` (no TLS),
/// `smtp://host:587?tls=starttls` (or lettre's `tls=required` /
/// `tls=opportunistic`), `smtps://user:pass@host:465` (TLS from the first
/// byte). Credentials come from the URL's user info (percent-encoded).
pub fn transport(url: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = url.replace("tls=starttls", "tls=required");
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
        .with_context(|| format!("--smtp-url {:?} is not usable", redact_url(&url)))?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// The URL without its password.
pub fn redact_url(url: &str) -> String {
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

/// Parses `--mail-from`.
pub fn mailbox(from: Option<&str>) -> anyhow::Result<Mailbox> {
    let from = from.unwrap_or(DEFAULT_MAIL_FROM);
    from.parse()
        .with_context(|| format!("--mail-from {from:?} is not an email address"))
}

/// The invitation email's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationEmail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the email for `organisation`, with the link and its expiry.
pub fn render(
    organisation: &str,
    user_display: &str,
    link: &str,
    expires_at: DateTime<Utc>,
) -> InvitationEmail {
    let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let subject = format!("{organisation} invites you to activate your account");
    let text = format!(
        "Hello {user_display},\n\n\
         {organisation} has created an account for you. Activate it with this link:\n\n\
         {link}\n\n\
         The link works once and expires on {expires}. If it has expired, ask an \
         administrator of {organisation} to invite you again.\n"
    );
    let (o, u, l) = (
        escape_html(organisation),
        escape_html(user_display),
        escape_html(link),
    );
    let html = format!(
        "<!doctype html><html><body>\
         <p>Hello {u},</p>\
         <p><strong>{o}</strong> has created an account for you.</p>\
         <p><a href=\"{l}\">Activate your account</a></p>\
         <p>The link works once and expires on {expires}. If it has expired, ask an \
         administrator of {o} to invite you again.</p>\
         <p style=\"color:#666;font-size:small\">{l}</p>\
         </body></html>"
    );
    InvitationEmail {
        subject,
        text,
        html,
    }
}

/// The address invitations to this user go to: the primary email, else the
/// first one, else the userName if it is an address.
pub fn recipient(user: &UserRecord) -> Option<Mailbox> {
    let candidates = user
        .emails
        .iter()
        .filter(|e| e.primary)
        .chain(user.emails.iter())
        .map(|e| e.value.as_str())
        .chain(std::iter::once(user.user_name.as_str()));
    for address in candidates {
        if let Ok(addr) = address.parse::<lettre::Address>() {
            return Some(Mailbox::new(user.display_name.clone(), addr));
        }
    }
    None
}

/// Stops the worker: it finishes the row in hand, then ends.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    stop: Arc<AtomicBool>,
}

impl WorkerHandle {
    /// Asks the worker to stop after the current row.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The flag [`WorkerHandle::stop`] sets, for the server's other
    /// background tasks (event retention) to stop with the worker.
    pub(crate) fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

/// Starts the outbox worker on the current actix system.
pub fn spawn(store: Store, keys: TokenKeys, settings: MailSettings) -> WorkerHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = WorkerHandle { stop: stop.clone() };
    let worker = format!("worker-{}", uuid::Uuid::new_v4().simple());
    if settings.transport.is_none() {
        tracing::info!(
            "mail is not configured (--smtp-url / SCIM_SMTP_URL): activation links of released invitations are logged instead of sent"
        );
    }
    actix_web::rt::spawn(async move {
        let worker = Worker {
            store,
            keys,
            settings,
            id: worker,
        };
        worker.run(&stop).await;
    });
    handle
}

struct Worker {
    store: Store,
    keys: TokenKeys,
    settings: MailSettings,
    id: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // lettre's SMTP pool spawns a task to close its connections when dropped,
        // which panics when the runtime is already gone (the worker task is
        // dropped while the actix system shuts down). At that point the process
        // or server is ending: let the connections close with it instead.
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(transport) = self.settings.transport.take()
        {
            std::mem::forget(transport);
        }
    }
}

/// What to do with a claimed row.
enum Plan {
    /// Nothing to send (cancelled, accepted, already delivered, user gone).
    Skip(&'static str),
    /// The row cannot be processed (malformed payload).
    GiveUp(String),
    /// The invitation cannot be delivered (no address, link expired or
    /// cannot be re-created): it fails with this reason.
    Fail(Box<InvitationRecord>, String),
    /// Send this.
    Send(Box<Delivery>),
}

/// Why a message was not delivered.
struct Undelivered {
    /// What went wrong (the relay's reply; never the message body).
    error: String,
    /// Whether a retry cannot help (a 5xx SMTP reply).
    permanent: bool,
}

struct Delivery {
    invitation: InvitationRecord,
    to: Mailbox,
    user_name: String,
    link: String,
    email: InvitationEmail,
}

impl Worker {
    async fn run(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let store = self.store.clone();
            let id = self.id.clone();
            let claimed = web::block(move || {
                store.with_conn(|c| outbox::claim(c, &id, BATCH, LEASE, Utc::now()))
            })
            .await;
            let rows = match claimed {
                Ok(Ok(rows)) => rows,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "outbox: cannot claim rows; retrying");
                    Vec::new()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: blocking pool unavailable");
                    Vec::new()
                }
            };
            if rows.is_empty() {
                self.idle(stop).await;
                continue;
            }
            for row in rows {
                if let Err(e) = self.process(row).await {
                    tracing::warn!(error = %e, "outbox: could not record the outcome of a row; its lease will expire and it is retried");
                }
            }
        }
        tracing::debug!("outbox worker stopped");
    }

    async fn idle(&self, stop: &AtomicBool) {
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while waited < self.settings.poll_interval && !stop.load(Ordering::SeqCst) {
            actix_web::rt::time::sleep(step).await;
            waited += step;
        }
    }

    async fn process(&self, row: OutboxRecord) -> anyhow::Result<()> {
        if row.kind == tenant_admins::KIND_LINK_EMAIL {
            return self.process_admin_link(row).await;
        }
        if row.kind != outbox::KIND_INVITATION_EMAIL {
            self.give_up(&row, None, format!("unknown outbox kind {:?}", row.kind))
                .await?;
            return Ok(());
        }
        let plan = {
            let store = self.store.clone();
            let keys = self.keys.clone();
            let public_url = self.settings.public_url.clone();
            let row = row.clone();
            web::block(move || store.with_conn(|c| plan(c, &keys, &public_url, &row, Utc::now())))
                .await??
        };
        match plan {
            Plan::Skip(why) => {
                tracing::info!(outbox = %row.id, why, "outbox: invitation email not sent");
                self.complete(&row, None).await
            }
            Plan::GiveUp(why) => self.give_up(&row, None, why).await,
            Plan::Fail(invitation, why) => self.give_up(&row, Some(&invitation), why).await,
            Plan::Send(d) => {
                let Some(transport) = &self.settings.transport else {
                    tracing::info!(
                        user = %d.user_name,
                        invitation = d.invitation.number,
                        link = %d.link,
                        "mail is not configured: activation link (configure --smtp-url to send it)"
                    );
                    return self.complete(&row, Some(&d.invitation)).await;
                };
                match self.send(transport, &d).await {
                    Ok(()) => {
                        tracing::info!(user = %d.user_name, invitation = d.invitation.number, "invitation email sent");
                        self.complete(&row, Some(&d.invitation)).await
                    }
                    Err(error) => self.fail(&row, &d.invitation, error).await,
                }
            }
        }
    }

    async fn send(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        d: &Delivery,
    ) -> Result<(), Undelivered> {
        self.deliver(transport, &d.to, &d.email, &d.invitation.id)
            .await
    }

    /// Sends `email` to `to` with `Message-ID: <message_id@scim-server>`.
    async fn deliver(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        to: &Mailbox,
        email: &InvitationEmail,
        message_id: &str,
    ) -> Result<(), Undelivered> {
        let message = Message::builder()
            .from(self.settings.from.clone())
            .to(to.clone())
            .subject(email.subject.clone())
            .message_id(Some(format!("<{message_id}@scim-server>")))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html.clone()),
                    ),
            )
            .map_err(|e| Undelivered {
                error: format!("cannot build the message: {e}"),
                permanent: true,
            })?;
        // lettre's errors name the relay and the SMTP reply, never the body.
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| Undelivered {
                // A 5xx reply (unknown mailbox, refused recipient) will not
                // change on a retry; connection errors and 4xx replies may.
                permanent: e.is_permanent(),
                error: format!("SMTP delivery failed: {e}"),
            })
    }

    async fn complete(
        &self,
        row: &OutboxRecord,
        delivered: Option<&InvitationRecord>,
    ) -> anyhow::Result<()> {
        let store = self.store.clone();
        let (row, id) = (row.clone(), self.id.clone());
        let delivered = delivered.cloned();
        web::block(move || {
            store.transaction(|c| {
                let now = Utc::now();
                if !outbox::complete(c, &row.tenant_id, &row.id, &id, now)? {
                    return Ok(());
                }
                if let Some(inv) = delivered {
                    invitations::mark_sent(c, &row.tenant_id, &inv.id, now)?;
                    audit::append(
                        c,
                        &row.tenant_id,
                        &audit::NewAuditRecord {
                            actor: "system:mailer",
                            action: "invitation.delivered",
                            target_type: "User",
                            target_id: Some(&inv.user_id),
                            details: &serde_json::json!({
                                "invitation": inv.number,
                                "invitationId": inv.id,
                            }),
                        },
                    )?;
                }
                Ok(())
            })
        })
        .await??;
        Ok(())
    }

    async fn fail(
        &self,
        row: &OutboxRecord,
        invitation: &InvitationRecord,
        undelivered: Undelivered,
    ) -> anyhow::Result<()> {
        let store = self.store.clone();
        let (row, id) = (row.clone(), self.id.clone());
        // A permanent refusal is not retried.
        let policy = if undelivered.permanent {
            RetryPolicy {
                max_attempts: 1,
                ..self.settings.retry
            }
        } else {
            self.settings.retry
        };
        let error = undelivered.error;
        let inv = invitation.clone();
        let outcome = web::block(move || {
            store.transaction(|c| {
                let now = Utc::now();
                let outcome = outbox::fail(c, &row.tenant_id, &row.id, &id, &error, &policy, now)?;
                let next = match outcome {
                    FailOutcome::RetryAt(at) => Some(at),
                    FailOutcome::GaveUp | FailOutcome::NotHeld => None,
                };
                if outcome != FailOutcome::NotHeld {
                    invitations::record_delivery_failure(c, &row.tenant_id, &inv.id, &error, next)?;
                }
                if outcome == FailOutcome::GaveUp {
                    record_failure(c, &row.tenant_id, &inv.id, &error, now)?;
                }
                Ok((outcome, error))
            })
        })
        .await??;
        match outcome {
            (FailOutcome::RetryAt(at), error) => {
                tracing::warn!(invitation = %invitation.id, %error, retry_at = %at, "invitation email failed; will retry")
            }
            (FailOutcome::GaveUp, error) => {
                tracing::error!(invitation = %invitation.id, %error, "invitation email failed too often; giving up")
            }
            (FailOutcome::NotHeld, _) => {}
        }
        Ok(())
    }

    async fn give_up(
        &self,
        row: &OutboxRecord,
        invitation: Option<&InvitationRecord>,
        why: String,
    ) -> anyhow::Result<()> {
        tracing::error!(outbox = %row.id, error = %why, "outbox: row cannot be processed; giving up");
        let store = self.store.clone();
        let (row, id) = (row.clone(), self.id.clone());
        let invitation_id = invitation.map(|i| i.id.clone());
        let policy = RetryPolicy {
            max_attempts: 1,
            ..self.settings.retry
        };
        web::block(move || {
            store.transaction(|c| {
                let now = Utc::now();
                let outcome = outbox::fail(c, &row.tenant_id, &row.id, &id, &why, &policy, now)?;
                if let Some(inv) = invitation_id.filter(|_| outcome != FailOutcome::NotHeld) {
                    record_failure(c, &row.tenant_id, &inv, &why, now)?;
                }
                Ok(())
            })
        })
        .await??;
        Ok(())
    }
}

impl Worker {
    /// A tenant administrator's set-password email.
    async fn process_admin_link(&self, row: OutboxRecord) -> anyhow::Result<()> {
        let Some(transport) = &self.settings.transport else {
            return self
                .give_up(
                    &row,
                    None,
                    "mail is not configured (--smtp-url): the set-password link cannot be emailed; give the administrator a new link from the console".to_owned(),
                )
                .await;
        };
        let Some(admin_id) = row
            .payload
            .get("adminId")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
        else {
            return self
                .give_up(&row, None, "the outbox row has no adminId".to_owned())
                .await;
        };
        let prepared = {
            let store = self.store.clone();
            let tenant_id = row.tenant_id.clone();
            let config = scim_http::ScimConfig::new(self.settings.public_url.clone());
            web::block(move || {
                store.transaction(|c| {
                    let admin = match tenant_admins::get(c, &tenant_id, &admin_id) {
                        Ok(s) if s.admin.disabled_at.is_none() => s.admin,
                        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    let tenant = tenants::get(c, &tenant_id)?;
                    let link = tenant_admins::issue_link(c, &admin.id, LINK_VALIDITY)?;
                    let url = set_password_url(&config, &link.token);
                    Ok(Some((admin, tenant.name, url, link.expires_at)))
                })
            })
            .await??
        };
        let Some((admin, organisation, url, expires_at)) = prepared else {
            tracing::info!(outbox = %row.id, "outbox: set-password email not sent: the administrator is disabled or gone");
            return self.complete(&row, None).await;
        };
        let Ok(address) = admin.email.parse::<lettre::Address>() else {
            return self
                .give_up(
                    &row,
                    None,
                    format!("{:?} is not an address mail can be sent to", admin.email),
                )
                .await;
        };
        let email = render_admin_link(&organisation, &url, expires_at);
        match self
            .deliver(transport, &Mailbox::new(None, address), &email, &row.id)
            .await
        {
            Ok(()) => {
                tracing::info!(admin = %admin.id, "set-password email sent");
                let store = self.store.clone();
                let (row, worker) = (row.clone(), self.id.clone());
                web::block(move || {
                    store.transaction(|c| {
                        if outbox::complete(c, &row.tenant_id, &row.id, &worker, Utc::now())? {
                            audit::append(
                                c,
                                &row.tenant_id,
                                &audit::NewAuditRecord {
                                    actor: "system:mailer",
                                    action: "admin.link.delivered",
                                    target_type: "TenantAdmin",
                                    target_id: Some(&admin.id),
                                    details: &serde_json::json!({"email": admin.email, "linkExpiresAt": expires_at}),
                                },
                            )?;
                        }
                        Ok(())
                    })
                })
                .await??;
                Ok(())
            }
            Err(Undelivered { error, .. }) => {
                let store = self.store.clone();
                let (row, worker, policy) = (row.clone(), self.id.clone(), self.settings.retry);
                let logged = error.clone();
                let outcome = web::block(move || {
                    store.with_conn(|c| {
                        outbox::fail(
                            c,
                            &row.tenant_id,
                            &row.id,
                            &worker,
                            &error,
                            &policy,
                            Utc::now(),
                        )
                    })
                })
                .await??;
                tracing::warn!(admin = %admin.id, error = %logged, ?outcome, "set-password email failed");
                Ok(())
            }
        }
    }
}

/// The set-password email of a tenant administrator of `organisation`.
pub fn render_admin_link(
    organisation: &str,
    link: &str,
    expires_at: DateTime<Utc>,
) -> InvitationEmail {
    let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let subject = format!("Set your password for the {organisation} admin portal");
    let text = format!(
        "Hello,\n\n\
         You are now an administrator of {organisation} in the SCIM admin portal. \
         Choose your password with this link:\n\n\
         {link}\n\n\
         The link works once and expires on {expires}. If it has expired, ask the \
         server's operator for a new one.\n"
    );
    let (o, l) = (escape_html(organisation), escape_html(link));
    let html = format!(
        "<!doctype html><html><body>\
         <p>Hello,</p>\
         <p>You are now an administrator of <strong>{o}</strong> in the SCIM admin portal.</p>\
         <p><a href=\"{l}\">Choose your password</a></p>\
         <p>The link works once and expires on {expires}. If it has expired, ask the \
         server's operator for a new one.</p>\
         <p style=\"color:#666;font-size:small\">{l}</p>\
         </body></html>"
    );
    InvitationEmail {
        subject,
        text,
        html,
    }
}

/// Reads what a row needs and decides (blocking; no network).
fn plan(
    c: &mut store_diesel::DbConnection,
    keys: &TokenKeys,
    public_url: &str,
    row: &OutboxRecord,
    now: DateTime<Utc>,
) -> Result<Plan, StoreError> {
    let field = |name: &str| {
        row.payload
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let (Some(invitation_id), Some(user_id)) = (field("invitationId"), field("userId")) else {
        return Ok(Plan::GiveUp(
            "the outbox row has no invitationId/userId".to_owned(),
        ));
    };
    let invitation = match invitations::get(c, &row.tenant_id, &invitation_id) {
        Ok(i) => i,
        Err(StoreError::NotFound) => return Ok(Plan::Skip("the user was deleted")),
        Err(e) => return Err(e),
    };
    match invitation.state {
        InvitationState::Sent => {}
        InvitationState::Cancelled => return Ok(Plan::Skip("the invitation was cancelled")),
        InvitationState::Accepted => return Ok(Plan::Skip("the invitation was already used")),
        InvitationState::Queued => return Ok(Plan::Skip("the invitation is not released")),
        InvitationState::Failed => return Ok(Plan::Skip("the invitation already failed")),
    }
    if invitation.sent_at.is_some() {
        return Ok(Plan::Skip("the invitation email was already delivered"));
    }
    let (Some(released_at), Some(expires_at)) = (invitation.released_at, invitation.expires_at)
    else {
        return Ok(Plan::GiveUp(
            "the invitation has no release time".to_owned(),
        ));
    };
    if expires_at <= now {
        return Ok(Plan::Fail(
            Box::new(invitation),
            "the link expired before it could be delivered; invite the user again".to_owned(),
        ));
    }
    let user = match users::get(c, &row.tenant_id, &user_id) {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Ok(Plan::Skip("the user was deleted")),
        Err(e) => return Err(e),
    };
    let tenant = tenants::get(c, &row.tenant_id)?;
    let token = keys
        .mint_activation(
            &tenant.id,
            &user.id,
            &invitation.id,
            released_at,
            expires_at,
        )
        .map_err(StoreError::other)?;
    if invitation.secret_hash.as_deref() != Some(&invitations::hash_secret(&token)) {
        return Ok(Plan::Fail(
            Box::new(invitation),
            "the signing key changed since the invitation was released; invite the user again"
                .to_owned(),
        ));
    }
    let Some(to) = recipient(&user) else {
        return Ok(Plan::Fail(
            Box::new(invitation),
            format!("user {} has no email address", user.user_name),
        ));
    };
    let link = format!(
        "{}/activate?token={token}",
        public_url.trim_end_matches('/')
    );
    let display = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.user_name.clone());
    let email = render(&tenant.name, &display, &link, expires_at);
    Ok(Plan::Send(Box::new(Delivery {
        invitation,
        to,
        user_name: user.user_name,
        link,
        email,
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A released invitation of a new user, and its outbox row.
    fn released(
        store: &Store,
        keys: &TokenKeys,
        released_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> OutboxRecord {
        store
            .transaction(|c| {
                let t = tenants::create(c, "acme", "Acme")?;
                let user = UserRecord {
                    tenant_id: t.id.clone(),
                    id: "u1".into(),
                    user_name: "nora@example.net".into(),
                    external_id: None,
                    display_name: None,
                    active: true,
                    status: "Invited".into(),
                    status_before_suspend: None,
                    override_automatic_invitation: None,
                    override_require_mobile_auth: None,
                    mobile_device_enrolled: false,
                    mobile_device_name: None,
                    created_at: released_at,
                    last_modified: released_at,
                    version: 1,
                    document: serde_json::json!({"userName": "nora@example.net"}),
                    lifecycle: serde_json::json!({}),
                    emails: vec![],
                };
                users::insert(c, &user)?;
                let inv = invitations::queue(c, &t.id, "u1", 1, "automatic", released_at)?;
                let token = keys
                    .mint_activation(&t.id, "u1", &inv.id, released_at, expires_at)
                    .map_err(StoreError::other)?;
                invitations::release(
                    c,
                    &t.id,
                    "u1",
                    1,
                    released_at,
                    expires_at,
                    &invitations::hash_secret(&token),
                )?;
                Ok(OutboxRecord {
                    tenant_id: t.id,
                    id: "o1".into(),
                    kind: "invitation".into(),
                    payload: serde_json::json!({"invitationId": inv.id, "userId": "u1"}),
                    created_at: released_at,
                    available_at: released_at,
                    attempts: 0,
                    claimed_by: None,
                    claimed_until: None,
                    done_at: None,
                    last_error: None,
                })
            })
            .unwrap()
    }

    #[test]
    fn a_link_that_expired_before_delivery_is_not_sent() {
        let db = store_diesel::testing::TestDb::sqlite_memory();
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let released_at = Utc::now() - TimeDelta::days(8);
        let expires_at = released_at + TimeDelta::days(7);
        let row = released(db.store(), &keys, released_at, expires_at);
        let before = db
            .store()
            .with_conn(|c| {
                plan(
                    c,
                    &keys,
                    "https://x",
                    &row,
                    expires_at - TimeDelta::hours(1),
                )
            })
            .unwrap();
        assert!(
            matches!(before, Plan::Send(_)),
            "still valid: sent to the userName"
        );
        let after = db
            .store()
            .with_conn(|c| {
                plan(
                    c,
                    &keys,
                    "https://x",
                    &row,
                    expires_at + TimeDelta::seconds(1),
                )
            })
            .unwrap();
        assert!(matches!(after, Plan::Fail(_, ref why) if why.contains("expired")));
    }

    #[test]
    fn renders_both_parts_with_the_link_and_escapes_html() {
        let at = Utc::now();
        let e = render("Acme <Corp>", "Alice", "https://x/activate?token=a.b&c", at);
        assert!(e.text.contains("https://x/activate?token=a.b&c"));
        assert!(e.text.contains("Acme <Corp>"));
        assert!(e.html.contains("Acme &lt;Corp&gt;"));
        assert!(
            e.html
                .contains("href=\"https://x/activate?token=a.b&amp;c\"")
        );
        assert!(e.subject.contains("Acme <Corp>"));
    }

    #[test]
    fn set_password_email_has_the_link_and_escapes_html() {
        let e = render_admin_link(
            "Acme <Corp>",
            "https://x/console/set-password?token=ab",
            Utc::now(),
        );
        assert!(e.subject.contains("Acme <Corp> admin portal"));
        assert!(e.text.contains("https://x/console/set-password?token=ab"));
        assert!(e.html.contains("Acme &lt;Corp&gt;"));
        assert!(
            e.html
                .contains("href=\"https://x/console/set-password?token=ab\"")
        );
    }

    #[test]
    fn smtp_urls() {
        // lettre's connection pool starts a task: build inside a runtime.
        actix_web::rt::System::new().block_on(async { smtp_urls_in_runtime() });
    }

    fn smtp_urls_in_runtime() {
        assert!(transport("smtp://127.0.0.1:2525").is_ok());
        assert!(transport("smtps://user:pa%40ss@mail.example.net:465").is_ok());
        assert!(transport("smtp://mail.example.net:587?tls=starttls").is_ok());
        assert!(transport("http://mail.example.net").is_err());
        assert_eq!(
            redact_url("smtps://user:secret@host:465"),
            "smtps://user:***@host:465"
        );
        assert!(mailbox(Some("Acme <no-reply@acme.example>")).is_ok());
        assert!(mailbox(Some("not an address")).is_err());
        assert!(mailbox(None).is_ok());
    }
}
