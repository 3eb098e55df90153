//! An example host application embedding the SCIM service (walked through in
//! `docs/embedding.md`). It is a small actix-web app of its own (a home page,
//! a sessions API) that:
//!
//! * mounts [`ScimService`] under `/identity`, next to its own routes (its
//!   404s stay its own);
//! * sends invitation and set-password emails through its own mailer
//!   ([`HostMailer`], a [`MailSender`]), started with [`MailWorker::start`];
//! * reacts to change events: a user suspended or deleted by the directory
//!   loses their sessions at once ([`revoke_sessions_on_events`], over
//!   `store_diesel::events::Consumer`).
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! actix_web::rt::System::new().block_on(async {
//!     let settings = host_app::HostSettings::new("sqlite://host-app.db", "127.0.0.1:8080");
//!     let host = host_app::start(&settings)?;
//!     host.server.await?;
//!     host.background.stop();
//!     Ok(())
//! })
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use scim_http::mailer::{MailSender, MailSettings, MailWorker, OutgoingEmail, SendFuture};
use scim_http::{AdminConfig, ConsoleConfig, ScimService, TokenKeys};
use serde_json::json;
use store_diesel::events::Consumer;
use store_diesel::{Store, StoreError, tenants};

/// Where the host mounts the SCIM service.
pub const PREFIX: &str = "/identity";
/// Where the console is, below [`PREFIX`] (served with the admin API).
pub const CONSOLE_PATH: &str = "/admin-ui";

/// How the host starts.
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// The database (`sqlite://...` or `postgres://...`).
    pub database_url: String,
    /// Where to listen (`127.0.0.1:0` picks a port).
    pub bind: String,
    /// The host's public base URL; `None`: `http://{bound address}`.
    pub public_url: Option<String>,
    /// The operator token of the admin API and the console (`None`: neither
    /// is served).
    pub admin_token: Option<String>,
}

impl HostSettings {
    /// A host over `database_url` listening on `bind`, with no admin API.
    pub fn new(database_url: &str, bind: &str) -> Self {
        HostSettings {
            database_url: database_url.to_owned(),
            bind: bind.to_owned(),
            public_url: None,
            admin_token: None,
        }
    }
}

/// The host's own mail system. Here it keeps what it sends in a mailbox the
/// app shows at `GET /dev/mailbox` (a real host would hand the message to its
/// mail queue or provider API).
#[derive(Debug, Clone, Default)]
pub struct HostMailer {
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
}

impl HostMailer {
    /// What was sent so far.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl MailSender for HostMailer {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(async move {
            self.sent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(email.clone());
            tracing::info!(to = %email.to.address, subject = %email.content.subject, "host mailer: sent");
            Ok(())
        })
    }
}

/// The host's sessions: user id to open session ids.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    open: Arc<Mutex<HashMap<String, HashSet<String>>>>,
}

impl Sessions {
    /// Opens a session for `user_id`.
    pub fn open(&self, user_id: &str) -> String {
        let id = format!("s-{}", uuid_like());
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(user_id.to_owned())
            .or_default()
            .insert(id.clone());
        id
    }

    /// How many sessions `user_id` has open.
    pub fn count(&self, user_id: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user_id)
            .map_or(0, HashSet::len)
    }

    /// Ends every session of `user_id`; how many there were.
    pub fn revoke_all(&self, user_id: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(user_id)
            .map_or(0, |s| s.len())
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The event types that end a user's sessions.
pub const REVOKING_EVENTS: [&str; 2] = ["user.suspended", "user.deleted"];

/// Name of the host's event cursor (one per tenant, kept in the database).
const CONSUMER: &str = "host-app-sessions";

/// One pass over every tenant's new `user.suspended` / `user.deleted`
/// events: revokes the user's sessions, then commits the cursor. Idempotent
/// (revoking twice does nothing), so a crash between the two is harmless.
/// Returns how many events were handled.
///
/// # Errors
/// The database.
pub fn revoke_sessions_on_events(store: &Store, sessions: &Sessions) -> Result<usize, StoreError> {
    let wanted: Vec<String> = REVOKING_EVENTS.iter().map(|s| (*s).to_owned()).collect();
    let mut handled = 0;
    for tenant in store.with_conn(tenants::list)? {
        let consumer = Consumer::new(tenant.id.clone(), CONSUMER);
        loop {
            let batch = store.with_conn(|c| consumer.next_batch(c, 100, &wanted))?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                break;
            };
            for event in &batch {
                if let Some(user) = event.resource_id.as_deref() {
                    let n = sessions.revoke_all(user);
                    tracing::info!(%user, event = %event.event_type, revoked = n, "host: sessions revoked");
                }
                handled += 1;
            }
            store.transaction(|c| consumer.commit(c, last))?;
        }
    }
    Ok(handled)
}

/// The running host.
pub struct Running {
    /// Await it to serve until shutdown.
    pub server: Server,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The host's public base URL (the service is at `{public_url}/identity`).
    pub public_url: String,
    /// The mailer (to look at what was sent).
    pub mailer: HostMailer,
    /// The host's sessions.
    pub sessions: Sessions,
    /// The background work (stop it after the server).
    pub background: Background,
}

/// The host's background work: the mail worker and the event reactor.
#[derive(Debug, Clone)]
pub struct Background {
    mail: MailWorker,
    stop_events: Arc<AtomicBool>,
}

impl Background {
    /// Stops both (the server stops on its own handle).
    pub fn stop(&self) {
        self.mail.stop();
        self.stop_events.store(true, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Opens the database, mounts the service, starts the mail worker and the
/// event reactor, and binds. Call it inside an actix system; await
/// [`Running::server`].
///
/// # Errors
/// The database, the address, or the service's settings.
pub fn start(settings: &HostSettings) -> anyhow::Result<Running> {
    let store = Store::connect_and_migrate(&settings.database_url)?;
    let key = store.transaction(store_diesel::settings::get_or_create_signing_key)?;
    let keys = TokenKeys::new(&key)?;
    let listener = TcpListener::bind(&settings.bind)?;
    let addr = listener.local_addr()?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    // 1. The service, under the prefix; the public URL includes it.
    let mut builder = ScimService::builder(store.clone(), keys.clone())
        .public_url(format!("{public_url}{PREFIX}"))
        .prefix(PREFIX);
    if let Some(token) = &settings.admin_token {
        // The admin API, and the console at a path of the host's choosing
        // (its links and cookies follow: `/identity/admin-ui/...`).
        builder = builder
            .admin(AdminConfig::new(Some(token.clone())))
            .console(ConsoleConfig::new(Some(token.as_str()), None)?)
            .console_path(CONSOLE_PATH);
    }
    let service = builder.build()?;

    // 2. Background work: invitation emails through the host's mailer.
    let mailer = HostMailer::default();
    let mut mail = MailSettings::new(service.config().clone());
    mail.poll_interval = Duration::from_millis(100);
    let mail = MailWorker::start(
        store.clone(),
        keys,
        mail,
        Some(Arc::new(mailer.clone()) as Arc<dyn MailSender>),
    );

    // 3. Reacting to events: a thread polling the store's event feed.
    let sessions = Sessions::default();
    let stop_events = Arc::new(AtomicBool::new(false));
    {
        let (store, sessions, stop) = (store.clone(), sessions.clone(), stop_events.clone());
        std::thread::Builder::new()
            .name("host-events".to_owned())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Err(e) = revoke_sessions_on_events(&store, &sessions) {
                        tracing::warn!(error = %e, "host: event pass failed; retrying");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })?;
    }

    // 4. The host's own routes, and the service next to them.
    let (mailer_data, sessions_data) = (
        web::Data::new(mailer.clone()),
        web::Data::new(sessions.clone()),
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(mailer_data.clone())
            .app_data(sessions_data.clone())
            .route("/", web::get().to(home))
            .route("/api/users/{id}/sessions", web::post().to(open_session))
            .route("/api/users/{id}/sessions", web::get().to(count_sessions))
            .route("/dev/mailbox", web::get().to(mailbox))
            .configure(|cfg| service.configure(cfg))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(Running {
        server,
        addr,
        public_url,
        mailer,
        sessions,
        background: Background { mail, stop_events },
    })
}

async fn home() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("host app: the directory is at /identity")
}

async fn open_session(sessions: web::Data<Sessions>, id: web::Path<String>) -> HttpResponse {
    let session = sessions.open(&id);
    HttpResponse::Created().json(json!({"session": session, "open": sessions.count(&id)}))
}

async fn count_sessions(sessions: web::Data<Sessions>, id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"open": sessions.count(&id)}))
}

async fn mailbox(mailer: web::Data<HostMailer>) -> HttpResponse {
    let mails: Vec<_> = mailer
        .sent()
        .iter()
        .map(|m| json!({"to": m.to.address, "subject": m.content.subject, "text": m.content.text}))
        .collect();
    HttpResponse::Ok().json(mails)
}
