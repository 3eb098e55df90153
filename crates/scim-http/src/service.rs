//! [`ScimService`]: the one way to mount the service into an actix `App`.
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use scim_http::ScimService;
//! use store_diesel::Store;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect_and_migrate("sqlite://app.db")?;
//! let key = store.transaction(store_diesel::settings::get_or_create_signing_key)?;
//! let service = ScimService::builder(store, scim_http::TokenKeys::new(&key)?)
//!     .public_url("https://app.example.net/identity")
//!     .prefix("/identity")
//!     .build()?;
//! HttpServer::new(move || {
//!     App::new()
//!         .route("/", web::get().to(HttpResponse::Ok))
//!         .configure(|cfg| service.configure(cfg))
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```

use actix_web::middleware::from_fn;
use actix_web::web;
use store_diesel::Store;

use crate::admin::AdminConfig;
use crate::auth::TokenKeys;
#[cfg(feature = "console")]
use crate::console::ConsoleConfig;
use crate::deadline::Deadlines;
use crate::error::{ErrorStyle, error_bodies};
use crate::oauth::OAuthConfig;
use crate::state::{ScimConfig, ScimState, normalize_path};
use crate::throttle::Throttle;

/// A scope at `{prefix}{path}` with the body limit, the deadlines and rate
/// limits (inactive unless configured), and error bodies in `style`
/// (outermost, so the bare statuses of the others are dressed too). A macro
/// because the scope's type cannot be named.
macro_rules! part {
    ($service:expr, $path:expr, $style:expr) => {{
        let style: ErrorStyle = $style;
        web::scope(&format!("{}{}", $service.prefix, $path))
            .app_data(web::PayloadConfig::new(
                $service.state.config.max_body_bytes,
            ))
            // Both do nothing without their `web::Data`.
            .wrap(from_fn(crate::deadline::enforce_deadlines))
            .wrap(from_fn(crate::throttle::limit_unauthenticated))
            // They answer before the route: they read the part's style here.
            .wrap(from_fn(
                move |req: actix_web::dev::ServiceRequest, next: actix_web::middleware::Next<_>| {
                    use actix_web::HttpMessage as _;
                    req.extensions_mut().insert(style);
                    next.call(req)
                },
            ))
            .wrap(error_bodies(style))
    }};
}

/// A setting the service cannot be built with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The public URL is not `http(s)://host[:port][/path]`.
    #[error("the public URL {0:?} is not an http:// or https:// URL")]
    PublicUrl(String),
    /// The public URL does not end with the prefix: links would point
    /// elsewhere than where the service is mounted.
    #[error(
        "the public URL {public_url:?} does not end with the prefix {prefix:?}: the public URL is the address of the prefix as clients see it"
    )]
    PrefixNotInPublicUrl {
        /// The public URL.
        public_url: String,
        /// The prefix.
        prefix: String,
    },
    /// Two parts are mounted at the same path.
    #[error("two parts of the service are mounted at {0:?}")]
    PathClash(String),
    /// A part is mounted at the prefix itself (it would answer every path
    /// below it, shadowing the other parts and the host's routes).
    #[error("the {0} path must not be empty")]
    EmptyPath(&'static str),
}

/// Builds a [`ScimService`]; start with [`ScimService::builder`].
#[derive(Debug)]
#[must_use]
pub struct ScimServiceBuilder {
    store: Store,
    keys: TokenKeys,
    config: ScimConfig,
    prefix: String,
    admin: Option<AdminConfig>,
    activation: bool,
    #[cfg(feature = "console")]
    console: Option<ConsoleConfig>,
    oauth: Option<OAuthConfig>,
    throttle: Option<Throttle>,
    deadlines: Option<Deadlines>,
}

impl ScimServiceBuilder {
    /// The public base URL clients use, including the prefix (e.g.
    /// `https://app.example.net/identity`): Tenant URLs, activation and
    /// set-password links and the OAuth issuer are made from it. Default:
    /// `http://localhost`.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        let mut url = url.into();
        while url.ends_with('/') {
            url.pop();
        }
        self.config.public_url = url;
        self
    }

    /// Mounts every part under `prefix` (e.g. `/identity`; default: none).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = normalize_path(prefix);
        self
    }

    /// Adjusts the SCIM configuration (page sizes, body and input limits).
    /// Its `public_url` and `paths` are the builder's.
    pub fn scim_config(mut self, adjust: impl FnOnce(&mut ScimConfig)) -> Self {
        adjust(&mut self.config);
        self
    }

    /// The SCIM base below the prefix (default `/scim/v2`).
    pub fn scim_path(mut self, path: &str) -> Self {
        self.config.paths.scim = normalize_path(path);
        self
    }

    /// Serves the admin API with this configuration (default: not served).
    #[cfg(feature = "admin")]
    pub fn admin(mut self, admin: AdminConfig) -> Self {
        self.admin = Some(admin);
        self
    }

    /// The admin API's path below the prefix (default `/admin/v1`).
    #[cfg(feature = "admin")]
    pub fn admin_path(mut self, path: &str) -> Self {
        self.config.paths.admin = normalize_path(path);
        self
    }

    /// Whether account activation is served (default: yes, with the
    /// `activation` feature).
    #[cfg(feature = "activation")]
    pub fn activation(mut self, on: bool) -> Self {
        self.activation = on;
        self
    }

    /// Activation's path below the prefix (default `/activate`); activation
    /// links in invitation emails point there.
    #[cfg(feature = "activation")]
    pub fn activation_path(mut self, path: &str) -> Self {
        self.config.paths.activation = normalize_path(path);
        self
    }

    /// Serves the console with this configuration (default: not served), at
    /// [`Self::console_path`] under the prefix: its links, redirects, forms
    /// and cookies follow that path ([`ScimConfig::console_base_path`]).
    #[cfg(feature = "console")]
    pub fn console(mut self, console: ConsoleConfig) -> Self {
        self.console = Some(console);
        self
    }

    /// The console's path below the prefix (default `/console`); its pages,
    /// and set-password links, point there.
    pub fn console_path(mut self, path: &str) -> Self {
        self.config.paths.console = normalize_path(path);
        self
    }

    /// The OAuth 2.0 token endpoint's settings; `None` serves no token
    /// endpoint or metadata (default: served, [`OAuthConfig::default`]).
    pub fn oauth(mut self, oauth: Option<OAuthConfig>) -> Self {
        self.oauth = oauth;
        self
    }

    /// The token endpoint's path below the prefix (default `/oauth/token`).
    pub fn oauth_token_path(mut self, path: &str) -> Self {
        self.config.paths.oauth_token = normalize_path(path);
        self
    }

    /// The authorization server metadata's path below the prefix (default
    /// `/.well-known/oauth-authorization-server`).
    pub fn oauth_metadata_path(mut self, path: &str) -> Self {
        self.config.paths.oauth_metadata = normalize_path(path);
        self
    }

    /// Rate limits per tenant and per client address
    /// ([`crate::throttle::limit_unauthenticated`] on every part; default:
    /// none).
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Time limits on request bodies and handling
    /// ([`crate::deadline::enforce_deadlines`] on every part; default: none).
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = Some(deadlines);
        self
    }

    /// Checks the settings and returns the service.
    ///
    /// # Errors
    /// [`BuildError`]: a public URL that is not one or does not end with the
    /// prefix, two parts at one path, an empty path.
    pub fn build(self) -> Result<ScimService, BuildError> {
        let url = &self.config.public_url;
        let Some(rest) = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        else {
            return Err(BuildError::PublicUrl(url.clone()));
        };
        let (host, url_path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || host.contains(['?', '#', ' ']) || url_path.contains(['?', '#']) {
            return Err(BuildError::PublicUrl(url.clone()));
        }
        if !normalize_path(url_path).ends_with(&self.prefix) {
            return Err(BuildError::PrefixNotInPublicUrl {
                public_url: url.clone(),
                prefix: self.prefix.clone(),
            });
        }
        let paths = &self.config.paths;
        let mut mounted: Vec<(&'static str, &str)> = vec![("SCIM", &paths.scim)];
        if self.admin.is_some() {
            mounted.push(("admin API", &paths.admin));
        }
        if self.activation {
            mounted.push(("activation", &paths.activation));
        }
        #[cfg(feature = "console")]
        if self.console.is_some() {
            mounted.push(("console", &paths.console));
        }
        if self.oauth.is_some() {
            mounted.push(("OAuth token endpoint", &paths.oauth_token));
            mounted.push(("OAuth metadata", &paths.oauth_metadata));
        }
        for (i, (name, path)) in mounted.iter().enumerate() {
            if path.is_empty() {
                return Err(BuildError::EmptyPath(name));
            }
            // One part inside another would shadow it.
            let clash = mounted[..i].iter().any(|(_, other)| {
                other == path
                    || path.starts_with(&format!("{other}/"))
                    || other.starts_with(&format!("{path}/"))
            });
            if clash {
                return Err(BuildError::PathClash(format!("{}{path}", self.prefix)));
            }
        }
        Ok(ScimService {
            state: web::Data::new(ScimState::new(self.store, self.keys, self.config)),
            prefix: self.prefix,
            admin: web::Data::new(self.admin.clone().unwrap_or_else(|| AdminConfig::new(None))),
            serve_admin: self.admin.is_some(),
            activation: self.activation,
            #[cfg(feature = "console")]
            console: self.console.map(web::Data::new),
            oauth: self.oauth.map(web::Data::new),
            throttle: self.throttle.map(web::Data::new),
            deadlines: self.deadlines.map(web::Data::new),
        })
    }
}

/// The SCIM service, ready to mount: SCIM routes, and as configured the
/// admin API, activation, the console and the OAuth token endpoint, each at
/// its path below the prefix, each with its own body limit and error bodies
/// (SCIM errors on SCIM routes, `{"error": ...}` on the admin API and
/// activation); the host's other routes and errors are left alone.
///
/// Mount it with `App::new().configure(|cfg| service.configure(cfg))` (it is
/// cheap to clone into `HttpServer::new`'s factory). Background work (the
/// invitation email worker, webhook delivery) is started separately: see
/// [`crate::mailer::MailWorker`] and [`crate::webhooks::WebhookWorker`].
#[derive(Clone, Debug)]
pub struct ScimService {
    state: web::Data<ScimState>,
    prefix: String,
    admin: web::Data<AdminConfig>,
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    serve_admin: bool,
    #[cfg_attr(not(feature = "activation"), allow(dead_code))]
    activation: bool,
    #[cfg(feature = "console")]
    console: Option<web::Data<ConsoleConfig>>,
    oauth: Option<web::Data<OAuthConfig>>,
    throttle: Option<web::Data<Throttle>>,
    deadlines: Option<web::Data<Deadlines>>,
}

impl ScimService {
    /// A builder over `store`, signing tokens with `keys`.
    pub fn builder(store: Store, keys: TokenKeys) -> ScimServiceBuilder {
        ScimServiceBuilder {
            store,
            keys,
            config: ScimConfig::new("http://localhost"),
            prefix: String::new(),
            admin: None,
            activation: cfg!(feature = "activation"),
            #[cfg(feature = "console")]
            console: None,
            oauth: Some(OAuthConfig::default()),
            throttle: None,
            deadlines: None,
        }
    }

    /// The shared state (store, keys, configuration).
    pub fn state(&self) -> &ScimState {
        &self.state
    }

    /// The configuration (public URL, paths, limits).
    pub fn config(&self) -> &ScimConfig {
        &self.state.config
    }

    /// The prefix every part is mounted under (`""`: none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Registers every part. Adds the service's own `web::Data` (its state,
    /// admin, console, OAuth, rate-limit and deadline settings) to the App, so
    /// App-level middleware such as [`crate::throttle::limit_unauthenticated`]
    /// sees them; the body limit and error bodies stay on its own routes.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.state.clone())
            .app_data(self.admin.clone());
        #[cfg(feature = "console")]
        if let Some(console) = &self.console {
            cfg.app_data(console.clone());
        }
        if let Some(oauth) = &self.oauth {
            cfg.app_data(oauth.clone());
        }
        if let Some(throttle) = &self.throttle {
            cfg.app_data(throttle.clone());
        }
        if let Some(deadlines) = &self.deadlines {
            cfg.app_data(deadlines.clone());
        }
        let paths = &self.state.config.paths;
        cfg.service(
            part!(self, &paths.scim, ErrorStyle::Scim)
                .configure(|c| crate::configure_scim_at(c, "")),
        );
        #[cfg(feature = "admin")]
        if self.serve_admin {
            cfg.service(
                part!(self, &paths.admin, ErrorStyle::Json)
                    .configure(|c| crate::admin::configure_admin_at(c, "")),
            );
        }
        #[cfg(feature = "activation")]
        if self.activation {
            cfg.service(
                part!(self, &paths.activation, ErrorStyle::Json)
                    .configure(|c| crate::activation::configure_activation_at(c, "")),
            );
        }
        #[cfg(feature = "console")]
        if self.console.is_some() {
            cfg.service(
                part!(self, &paths.console, ErrorStyle::Scim)
                    .configure(|c| crate::console::configure_console_at(c, "")),
            );
        }
        if self.oauth.is_some() {
            cfg.service(
                part!(self, &paths.oauth_token, ErrorStyle::Scim)
                    .service(crate::oauth::token_resource("")),
            );
            cfg.service(
                part!(self, &paths.oauth_metadata, ErrorStyle::Scim)
                    .service(crate::oauth::metadata_resource("")),
            );
        }
    }
}
