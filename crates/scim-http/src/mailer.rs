//! Invitation emails: the outbox worker that sends them ([`MailWorker`]),
//! the message (plain text and HTML), the [`MailSender`] trait through which
//! they leave, and (feature `smtp`) an SMTP sender ([`SmtpSender`], lettre).
//!
//! An embedding application starts one [`MailWorker`] per process on its
//! actix system; without it, released invitations stay in the outbox and no
//! email goes out. Send through your own mailer by implementing
//! [`MailSender`].
//!
//! Delivery is at-least-once and idempotent on success:
//!
//! * An admin check-in writes the released invitation (with the hash of its
//!   activation token) and an `invitation.email` outbox row in one
//!   transaction.
//! * The worker (one per replica, a task on the application's actix system; its
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
//! * Without a sender (the binary: without `--smtp-url`), the link is logged at INFO ("mail is not
//!   configured") and the row completed: the documented exception to "never
//!   log a secret", for development.
//!
//! A message carries `Message-ID: <invitation-id@scim-server>`, so the rare
//! duplicate after a crash between sending and completing is recognisable.
//!
//! The same worker sends tenant administrators' set-password emails
//! (`admin.link.email` rows, payload `{"adminId"}`): it issues the link when
//! it sends (earlier links of the account stop working), so the link exists in
//! clear only in the email. Without a sender such a row is given up (and
//! the link never logged): the operator hands out a link from the console.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfigError, SmtpSender, mailbox, redact_url, transport};

use crate::TokenKeys;

#[cfg(feature = "smtp")]
mod smtp;
use crate::admin::tenant_admins::{LINK_VALIDITY, set_password_url};
use crate::invitations::record_failure;
use store_diesel::invitations::{self, InvitationRecord, InvitationState};
use store_diesel::outbox::{self, FailOutcome, OutboxRecord, RetryPolicy};
use store_diesel::tenant_admins;
use store_diesel::users::UserRecord;
use store_diesel::{Store, StoreError, audit, tenants, users};

/// How long a claimed row stays with this worker before others may retry it.
const LEASE: TimeDelta = TimeDelta::minutes(5);
/// Rows claimed per round.
const BATCH: u32 = 10;
/// What the worker needs besides the store, the keys and a sender.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MailSettings {
    /// The service's configuration: activation and set-password links are
    /// made from its public URL and paths.
    pub config: crate::ScimConfig,
    /// How often the worker looks for due rows when idle.
    pub poll_interval: Duration,
    /// Retry schedule.
    pub retry: RetryPolicy,
}

impl MailSettings {
    /// Links from `config`; looks for work every second; the default retry
    /// schedule.
    pub fn new(config: crate::ScimConfig) -> Self {
        MailSettings {
            config,
            poll_interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        }
    }
}

/// The default sender when `--mail-from` is not given.
pub const DEFAULT_MAIL_FROM: &str = "SCIM provisioning <no-reply@localhost>";

/// Errors of the worker's bookkeeping (the database, the blocking pool). A
/// failed delivery is not one: it is recorded on the outbox row and retried.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking thread pool.
    #[error("blocking task failed: {0}")]
    Blocking(#[from] actix_web::error::BlockingError),
}

/// One recipient: an address (checked to look like `local@domain`) and an
/// optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Display name.
    pub name: Option<String>,
    /// The address.
    pub address: String,
}

/// One email for a [`MailSender`].
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// Recipient.
    pub to: Recipient,
    /// Subject, plain-text and HTML bodies.
    pub content: InvitationEmail,
    /// A stable identifier of the message: the same when a delivery is
    /// retried (the SMTP sender writes `Message-ID: <message_id@scim-server>`),
    /// so the rare duplicate after a crash is recognisable.
    pub message_id: String,
}

/// Why a [`MailSender`] could not deliver (recorded on the outbox row and in
/// the invitation's failure; the row is retried with backoff). Never put the
/// message body or a link into it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What went wrong, for the operator (the SMTP reply, the relay).
    pub message: String,
    /// Whether a retry cannot help (a 5xx SMTP reply: unknown mailbox,
    /// refused recipient): the invitation then becomes `failed` at once
    /// instead of being retried.
    pub permanent: bool,
}

impl SendError {
    /// A failure that may pass (connection error, 4xx reply): retried.
    pub fn retry(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure a retry cannot fix: the invitation fails at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            permanent: true,
        }
    }
}

/// The future a [`MailSender`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + 'a>>;

/// Delivers the worker's emails: [`SmtpSender`] (feature `smtp`), or your
/// application's own mailer. Called on the actix system the worker was started
/// on, one email at a time; blocking work belongs in `web::block`.
pub trait MailSender: 'static {
    /// Sends `email`; `Ok` once the mail system accepted it.
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> SendFuture<'a>;
}

/// Whether `s` looks like a deliverable address: `local@domain`, no spaces or
/// angle brackets, a dot-free or dotted domain of letters, digits, `-` and `.`.
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && domain.len() <= 255
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '@' | ','))
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
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
pub fn recipient(user: &UserRecord) -> Option<Recipient> {
    let candidates = user
        .emails
        .iter()
        .filter(|e| e.primary)
        .chain(user.emails.iter())
        .map(|e| e.value.as_str())
        .chain(std::iter::once(user.user_name.as_str()));
    for address in candidates {
        if is_address(address) {
            return Some(Recipient {
                name: user.display_name.clone(),
                address: address.to_owned(),
            });
        }
    }
    None
}

/// The running outbox worker (invitation and set-password emails): a task on
/// the actix system it was started on. [`MailWorker::stop`] ends it after the
/// row in hand; dropping the handle does not.
#[derive(Debug, Clone)]
pub struct MailWorker {
    stop: Arc<AtomicBool>,
}

/// The former name of [`MailWorker`].
#[deprecated(note = "renamed MailWorker")]
pub type WorkerHandle = MailWorker;

impl MailWorker {
    /// Starts the worker on the current actix system (call it inside
    /// `#[actix_web::main]` or an `actix_web::rt::System`). Without a sender,
    /// activation links are logged at INFO instead of sent (for development)
    /// and set-password emails are given up.
    pub fn start(
        store: Store,
        keys: TokenKeys,
        settings: MailSettings,
        sender: Option<Arc<dyn MailSender>>,
    ) -> MailWorker {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = MailWorker { stop: stop.clone() };
        let worker = format!("worker-{}", uuid::Uuid::new_v4().simple());
        if sender.is_none() {
            tracing::info!(
                "mail is not configured (the binary: --smtp-url / SCIM_SMTP_URL): activation links of released invitations are logged instead of sent"
            );
        }
        actix_web::rt::spawn(async move {
            let worker = Worker {
                store,
                keys,
                settings,
                sender,
                id: worker,
            };
            worker.run(&stop).await;
        });
        handle
    }

    /// Asks the worker to stop after the current row.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The flag [`MailWorker::stop`] sets, for the application's other
    /// background tasks (event retention) to stop with the worker.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

/// Starts the outbox worker on the current actix system.
#[cfg(feature = "smtp")]
#[deprecated(note = "use MailWorker::start")]
pub fn spawn(
    store: Store,
    keys: TokenKeys,
    settings: MailSettings,
    sender: Option<SmtpSender>,
) -> MailWorker {
    MailWorker::start(
        store,
        keys,
        settings,
        sender.map(|s| Arc::new(s) as Arc<dyn MailSender>),
    )
}

struct Worker {
    store: Store,
    keys: TokenKeys,
    settings: MailSettings,
    sender: Option<Arc<dyn MailSender>>,
    id: String,
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
    to: Recipient,
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

    async fn process(&self, row: OutboxRecord) -> Result<(), MailError> {
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
            let config = self.settings.config.clone();
            let row = row.clone();
            web::block(move || store.with_conn(|c| plan(c, &keys, &config, &row, Utc::now())))
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
                let Some(sender) = &self.sender else {
                    tracing::info!(
                        user = %d.user_name,
                        invitation = d.invitation.number,
                        link = %d.link,
                        "mail is not configured: activation link (configure --smtp-url to send it)"
                    );
                    return self.complete(&row, Some(&d.invitation)).await;
                };
                match self.send(sender.as_ref(), &d).await {
                    Ok(()) => {
                        tracing::info!(user = %d.user_name, invitation = d.invitation.number, "invitation email sent");
                        self.complete(&row, Some(&d.invitation)).await
                    }
                    Err(error) => self.fail(&row, &d.invitation, error).await,
                }
            }
        }
    }

    async fn send(&self, sender: &dyn MailSender, d: &Delivery) -> Result<(), Undelivered> {
        self.deliver(sender, &d.to, &d.email, &d.invitation.id)
            .await
    }

    /// Sends `email` to `to`, identified by `message_id`.
    async fn deliver(
        &self,
        sender: &dyn MailSender,
        to: &Recipient,
        email: &InvitationEmail,
        message_id: &str,
    ) -> Result<(), Undelivered> {
        let outgoing = OutgoingEmail {
            to: to.clone(),
            content: email.clone(),
            message_id: message_id.to_owned(),
        };
        // A permanent refusal (a 5xx SMTP reply: unknown mailbox, refused
        // recipient) will not change on a retry; connection errors and 4xx
        // replies may.
        sender.send(&outgoing).await.map_err(|e| Undelivered {
            error: e.message,
            permanent: e.permanent,
        })
    }

    async fn complete(
        &self,
        row: &OutboxRecord,
        delivered: Option<&InvitationRecord>,
    ) -> Result<(), MailError> {
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
    ) -> Result<(), MailError> {
        let store = self.store.clone();
        let (row, id) = (row.clone(), self.id.clone());
        // A permanent refusal is not retried.
        let mut policy = self.settings.retry;
        if undelivered.permanent {
            policy.max_attempts = 1;
        }
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
    ) -> Result<(), MailError> {
        tracing::error!(outbox = %row.id, error = %why, "outbox: row cannot be processed; giving up");
        let store = self.store.clone();
        let (row, id) = (row.clone(), self.id.clone());
        let invitation_id = invitation.map(|i| i.id.clone());
        let mut policy = self.settings.retry;
        policy.max_attempts = 1;
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
    async fn process_admin_link(&self, row: OutboxRecord) -> Result<(), MailError> {
        let Some(sender) = &self.sender else {
            return self
                .give_up(
                    &row,
                    None,
                    "mail is not configured (the binary: --smtp-url): the set-password link cannot be emailed; give the administrator a new link from the console".to_owned(),
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
            let config = self.settings.config.clone();
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
        if !is_address(&admin.email) {
            return self
                .give_up(
                    &row,
                    None,
                    format!("{:?} is not an address mail can be sent to", admin.email),
                )
                .await;
        }
        let to = Recipient {
            name: None,
            address: admin.email.clone(),
        };
        let email = render_admin_link(&organisation, &url, expires_at);
        match self.deliver(sender.as_ref(), &to, &email, &row.id).await {
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
    config: &crate::ScimConfig,
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
    let link = config.activation_url(&token);
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
                    &crate::ScimConfig::new("https://x"),
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
                    &crate::ScimConfig::new("https://x"),
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
    fn addresses() {
        assert!(is_address("nora@example.net"));
        assert!(is_address("n.o+ra@sub.example-x.net"));
        assert!(!is_address("nora"));
        assert!(!is_address("nora@"));
        assert!(!is_address("@example.net"));
        assert!(!is_address("no ra@example.net"));
        assert!(!is_address("<nora@example.net>"));
        assert!(!is_address("nora@exa mple.net"));
        assert!(!is_address("nora@.example.net"));
    }
}
