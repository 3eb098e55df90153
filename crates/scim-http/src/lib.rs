//! # scim-http
//!
//! actix-web services for the SCIM 2.0 endpoints of RFC 7644, the admin API,
//! account activation, the console and the OAuth 2.0 token endpoint, mounted in
//! any actix `App` through [`ScimService`]: under a prefix, each part at its
//! own path with its own body limit and error bodies (SCIM error bodies with
//! `status` and `scimType` on the SCIM routes, including unknown routes, wrong
//! methods and oversized bodies); the host's own routes and errors are left
//! alone. Background work (invitation email, webhooks) is started separately:
//! [`MailWorker`] and [`webhooks::WebhookWorker`].
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use scim_http::prelude::*;
//! use store_diesel::Store;
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect_and_migrate("sqlite://app.db")?;
//! let key = store.transaction(store_diesel::settings::get_or_create_signing_key)?;
//! let keys = TokenKeys::new(&key)?;
//! let service = ScimService::builder(store.clone(), keys.clone())
//!     .public_url("https://app.example.net/identity")
//!     .prefix("/identity")
//!     .admin(AdminConfig::new(Some("an operator token".to_owned())))
//!     .build()?;
//! // Invitation emails: without a sender, activation links are logged.
//! let mail = MailWorker::start(store, keys, MailSettings::new(service.config().clone()), None);
//! HttpServer::new(move || {
//!     App::new()
//!         .route("/", web::get().to(HttpResponse::Ok))
//!         .configure(|cfg| service.configure(cfg))
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await?;
//! mail.stop();
//! # Ok(())
//! # }
//! ```
//!
//! Features (all default): `admin`, `activation`, `console`, `smtp`
//! ([`mailer::SmtpSender`]), `postgres` and `sqlite` (store-diesel's; at
//! least one of the two), `private-key-jwt` (OAuth client assertions, the
//! only asymmetric signatures: every token of the server is HS256). See
//! `docs/embedding.md`.

#![warn(missing_docs)]

#[cfg(feature = "activation")]
pub mod activation;
pub mod activity;
// Without the `admin` feature the routes cannot be mounted; the functions
// other parts share (links, check-ins, tenant creation) stay, and some that
// only the routes and the console call are unused.
#[cfg_attr(not(all(feature = "admin", feature = "console")), allow(dead_code))]
pub mod admin;
pub mod auth;
mod bulk;
mod change_events;
mod common;
#[cfg(feature = "console")]
pub mod console;
mod cursor;
pub mod deadline;
mod discovery;
pub mod error;
mod groups;
pub mod invitations;
pub(crate) mod jwt;
pub mod limits;
pub mod mailer;
pub mod oauth;
pub mod passwords;
pub(crate) mod request;
mod resource;
pub mod respond;
pub mod sealed;
mod search;
pub mod service;
mod state;
pub mod throttle;
pub mod totp;
mod user_record;
mod users;
pub mod webhooks;

use actix_web::web;

#[cfg(feature = "activation")]
pub use activation::configure_activation;
pub use admin::{AdminConfig, AdminError};
#[cfg(feature = "admin")]
pub use admin::{configure_admin, configure_admin_at};
pub use auth::TokenKeys;
#[cfg(feature = "console")]
pub use console::{ConsoleConfig, configure_console};
pub use error::{ApiError, ErrorStyle, SCIM_CONTENT_TYPE, error_bodies, scim_error_bodies};
pub use mailer::{MailSender, MailSettings, MailWorker};
pub use oauth::{OAuthConfig, configure_oauth};
pub use service::{BuildError, ScimService, ScimServiceBuilder};
pub use state::{ScimConfig, ScimState, ServicePaths};

/// What an embedding application usually needs, in one `use`.
pub mod prelude {
    pub use crate::admin::AdminConfig;
    pub use crate::auth::TokenKeys;
    #[cfg(feature = "console")]
    pub use crate::console::ConsoleConfig;
    pub use crate::mailer::{
        MailSender, MailSettings, MailWorker, OutgoingEmail, SendError, SendFuture,
    };
    pub use crate::oauth::OAuthConfig;
    pub use crate::service::{BuildError, ScimService, ScimServiceBuilder};
    pub use crate::state::{ScimConfig, ScimState, ServicePaths};
    pub use crate::webhooks::{WebhookSettings, WebhookWorker};
}

/// Registers the SCIM routes under `/scim/v2/{tenant}` and a SCIM 404 for
/// everything else. Requires `web::Data<ScimState>` in the app.
///
/// Every `/Users` and `/Groups` route is one generic handler over that type's
/// service (`resource::ScimResource`), so the two types cannot drift apart.
#[deprecated(
    since = "0.1.0",
    note = "use `ScimService::builder` (everything, under a prefix), or `configure_scim_at(cfg, \"/scim/v2\")` for the SCIM routes alone"
)]
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_scim_at(cfg, "/scim/v2");
}

/// Registers the SCIM routes under `{base}/{tenant}` (`base` `""`: at the
/// enclosing scope's path). Requires `web::Data<ScimState>`; Tenant URLs are
/// made from [`ScimConfig::public_url`] and [`ServicePaths::scim`], which
/// must name the same place.
pub fn configure_scim_at(cfg: &mut web::ServiceConfig, base: &str) {
    use actix_web::dev::Service as _;
    use groups::Groups;
    use resource::{create, delete, get, list, patch, replace, search};
    use users::Users;
    cfg.service(
        web::scope(&format!("{base}/{{tenant}}"))
            // Counts each request for the console's Provisioning activity
            // (in memory; `activity::Activity` flushes it every few seconds).
            .wrap_fn(|req, srv| {
                let res = srv.call(req);
                async move {
                    let res = res.await?;
                    activity::observe(&res);
                    Ok(res)
                }
            })
            .service(
                web::resource("/Users")
                    .route(web::get().to(list::<Users>))
                    .route(web::post().to(create::<Users>)),
            )
            .service(web::resource("/Users/.search").route(web::post().to(search::<Users>)))
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(get::<Users>))
                    .route(web::put().to(replace::<Users>))
                    .route(web::patch().to(patch::<Users>))
                    .route(web::delete().to(delete::<Users>)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(list::<Groups>))
                    .route(web::post().to(create::<Groups>)),
            )
            .service(web::resource("/Groups/.search").route(web::post().to(search::<Groups>)))
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(get::<Groups>))
                    .route(web::put().to(replace::<Groups>))
                    .route(web::patch().to(patch::<Groups>))
                    .route(web::delete().to(delete::<Groups>)),
            )
            .service(web::resource("/.search").route(web::post().to(search::root)))
            .service(web::resource("/Bulk").route(web::post().to(bulk::bulk)))
            .service(
                web::resource("/ServiceProviderConfig")
                    .route(web::get().to(discovery::service_provider_config)),
            )
            .service(
                web::resource("/ResourceTypes").route(web::get().to(discovery::resource_types)),
            )
            .service(
                web::resource("/ResourceTypes/{name}")
                    .route(web::get().to(discovery::resource_type)),
            )
            .service(web::resource("/Schemas").route(web::get().to(discovery::schemas)))
            .service(web::resource("/Schemas/{urn}").route(web::get().to(discovery::schema_by_id))),
    );
}
