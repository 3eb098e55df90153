//! # scim-http
//!
//! actix-web services for the SCIM 2.0 endpoints of RFC 7644, mountable in any
//! actix `App`. Every response is `application/scim+json`; every non-2xx response,
//! including unknown routes, wrong methods and oversized bodies, is a SCIM error
//! body with `status` and, where it applies, `scimType`.
//!
//! Mount it with [`configure`] and the [`scim_error_bodies`] middleware:
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use scim_http::{ScimConfig, ScimState, TokenKeys, configure, scim_error_bodies};
//! use store_diesel::Store;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect_and_migrate("sqlite://scim-server.db")?;
//! let key = store.transaction(|c| store_diesel::settings::get_or_create_signing_key(c))?;
//! let state = ScimState {
//!     store,
//!     keys: TokenKeys::new(&key)?,
//!     config: ScimConfig::new("https://scim.example.net"),
//! };
//! let data = web::Data::new(state);
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(scim_error_bodies())
//!         .app_data(data.clone())
//!         .configure(configure)
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod activation;
pub mod admin;
pub mod auth;
mod bulk;
mod common;
mod discovery;
pub mod error;
mod groups;
pub mod invitations;
pub mod oauth;
pub mod respond;
mod search;
mod state;
mod users;

use actix_web::web;

pub use activation::configure_activation;
pub use admin::{AdminConfig, AdminError, configure_admin};
pub use auth::TokenKeys;
pub use error::{ApiError, SCIM_CONTENT_TYPE, scim_error_bodies};
pub use oauth::{OAuthConfig, configure_oauth};
pub use state::{ScimConfig, ScimState};

/// Registers the SCIM routes under `/scim/v2/{tenant}` and a SCIM 404 for
/// everything else. Requires `web::Data<ScimState>` in the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{tenant}")
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .service(web::resource("/Users/.search").route(web::post().to(users::search)))
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create)),
            )
            .service(web::resource("/Groups/.search").route(web::post().to(groups::search)))
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::get))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::patch))
                    .route(web::delete().to(groups::delete)),
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
