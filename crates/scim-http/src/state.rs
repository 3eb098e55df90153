//! [`ScimState`]: what every handler needs, shared as `web::Data`.

use scim_model::messages::{BulkSupport, ServiceProviderConfig};
use store_diesel::Store;

use crate::auth::TokenKeys;

/// Where the service's parts are mounted, relative to the public URL (which
/// includes any prefix the service is mounted under). Each path starts with
/// `/` and has no trailing slash. [`ServicePaths::default`] gives the bundled
/// server's paths.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServicePaths {
    /// SCIM base: Tenant URLs are `{public_url}{scim}/{slug}` (`/scim/v2`).
    pub scim: String,
    /// The admin API (`/admin/v1`).
    pub admin: String,
    /// Account activation, `GET`/`POST` (`/activate`).
    pub activation: String,
    /// The console (`/console`).
    pub console: String,
    /// The OAuth 2.0 token endpoint (`/oauth/token`).
    pub oauth_token: String,
    /// The OAuth authorization server metadata
    /// (`/.well-known/oauth-authorization-server`).
    pub oauth_metadata: String,
}

impl Default for ServicePaths {
    fn default() -> Self {
        ServicePaths {
            scim: "/scim/v2".to_owned(),
            admin: "/admin/v1".to_owned(),
            activation: "/activate".to_owned(),
            console: "/console".to_owned(),
            oauth_token: crate::oauth::TOKEN_PATH.to_owned(),
            oauth_metadata: crate::oauth::METADATA_PATH.to_owned(),
        }
    }
}

/// A path as [`ServicePaths`] keeps it: one leading `/`, no trailing `/`
/// (`""` stays empty: the root of the public URL).
pub(crate) fn normalize_path(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Limits and URLs of the SCIM service. [`ScimConfig::new`] gives the documented
/// defaults; change fields after it (new fields may be added, so the struct
/// cannot be written as a literal outside this crate).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScimConfig {
    /// Public base URL, without a trailing slash (e.g. `https://scim.example.net`,
    /// or `https://app.example.net/identity` when mounted under a prefix);
    /// Tenant URLs are `{public_url}{paths.scim}/{slug}`.
    pub public_url: String,
    /// Where the parts are mounted below `public_url`.
    pub paths: ServicePaths,
    /// Page size when a list request gives no `count`.
    pub default_count: u32,
    /// Largest page size; larger `count`s are lowered to it (RFC 7644 §3.4.2.4).
    pub max_count: u32,
    /// Largest request body of a SCIM route, in bytes (larger bodies: 413),
    /// enforced by the SCIM routes themselves whatever `PayloadConfig` the
    /// host App sets, and advertised as `bulk.maxPayloadSize`.
    pub max_body_bytes: usize,
    /// Limits of PATCH requests.
    pub patch_limits: scim_patch::PatchLimits,
    /// Most operations in one `POST /Bulk` (more: 413). The bulk body is bounded
    /// by `max_body_bytes` like every other body.
    pub max_bulk_operations: u32,
    /// Limits on stored values (NUL characters, lengths, values per
    /// attribute), the same on every backend.
    pub limits: crate::limits::InputLimits,
    /// About how many bytes of resources one list response may hold; a page
    /// that would be larger ends early (fewer results than `count`, as RFC
    /// 7644 allows), so a list's memory stays bounded however large the
    /// stored resources are. At least one resource is always returned.
    pub max_list_bytes: usize,
}

impl ScimConfig {
    /// Defaults: 100 results per page, at most 1,000; 1 MiB bodies; 1,000 bulk
    /// operations; 8 MiB of resources per list response.
    pub fn new(public_url: impl Into<String>) -> Self {
        let mut public_url = public_url.into();
        while public_url.ends_with('/') {
            public_url.pop();
        }
        ScimConfig {
            public_url,
            paths: ServicePaths::default(),
            default_count: 100,
            max_count: 1000,
            max_body_bytes: 1024 * 1024,
            patch_limits: scim_patch::PatchLimits::default(),
            max_bulk_operations: 1000,
            limits: crate::limits::InputLimits::default(),
            max_list_bytes: 8 * 1024 * 1024,
        }
    }

    /// The Tenant URL of `slug`.
    pub fn tenant_url(&self, slug: &str) -> String {
        format!("{}{}/{slug}", self.public_url, self.paths.scim)
    }

    /// The activation link carrying `token`.
    pub fn activation_url(&self, token: &str) -> String {
        format!("{}{}?token={token}", self.public_url, self.paths.activation)
    }

    /// The URL of the OAuth 2.0 token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}{}", self.public_url, self.paths.oauth_token)
    }

    /// The URL of a console page (`page` starts with `/`).
    pub fn console_url(&self, page: &str) -> String {
        format!("{}{}{page}", self.public_url, self.paths.console)
    }

    /// The console's path as browsers see it: the public URL's path (which
    /// includes any prefix) followed by [`ServicePaths::console`], e.g.
    /// `/console`, or `/identity/admin-ui` for the public URL
    /// `https://app.example.net/identity` and the console path `/admin-ui`.
    /// The console's links, redirects, form actions and cookie `Path`s start
    /// with it.
    pub fn console_base_path(&self) -> String {
        let after_scheme = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, rest)| rest);
        let url_path = after_scheme.split_once('/').map_or("", |(_, path)| path);
        format!("{}{}", normalize_path(url_path), self.paths.console)
    }

    /// The ServiceProviderConfig this configuration advertises.
    pub fn service_provider_config(&self) -> ServiceProviderConfig {
        let mut spc = ServiceProviderConfig::new(
            self.max_count,
            BulkSupport {
                supported: true,
                max_operations: self.max_bulk_operations,
                max_payload_size: u64::try_from(self.max_body_bytes).unwrap_or(u64::MAX),
            },
        );
        spc.pagination = Some(scim_model::messages::PaginationSupport {
            cursor: true,
            index: true,
            default_pagination_method: Some("index".to_owned()),
            default_page_size: Some(self.default_count),
            max_page_size: Some(self.max_count),
            cursor_timeout: Some(crate::cursor::CURSOR_TIMEOUT_SECS),
        });
        spc.authentication_schemes
            .push(scim_model::messages::AuthenticationScheme {
                scheme_type: "oauth2".to_owned(),
                name: "OAuth 2.0 client credentials".to_owned(),
                description: format!(
                    "An access token of the tenant's OAuth client, obtained at {} \
                     (grant_type=client_credentials, scope=scim), sent as \
                     'Authorization: Bearer <token>'",
                    self.token_endpoint()
                ),
                spec_uri: Some("https://www.rfc-editor.org/info/rfc6749".to_owned()),
                primary: Some(false),
            });
        spc
    }
}

/// Shared state of the SCIM service. [`crate::ScimService`] builds it; make
/// one yourself with [`ScimState::new`] only to mount parts by hand.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScimState {
    /// The database.
    pub store: Store,
    /// Token signing keys.
    pub keys: TokenKeys,
    /// Limits and URLs.
    pub config: ScimConfig,
}

impl ScimState {
    /// The state of a service over `store`, signing with `keys`, configured by
    /// `config`.
    pub fn new(store: Store, keys: TokenKeys, config: ScimConfig) -> Self {
        ScimState {
            store,
            keys,
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_base_path_is_the_public_url_path_then_the_console_path() {
        let at = |url: &str, console: &str| {
            let mut c = ScimConfig::new(url);
            c.paths.console = normalize_path(console);
            c.console_base_path()
        };
        assert_eq!(at("http://localhost", "/console"), "/console");
        assert_eq!(at("http://127.0.0.1:8080/", "/console"), "/console");
        assert_eq!(
            at("https://app.example.net/identity", "/admin-ui"),
            "/identity/admin-ui"
        );
        assert_eq!(
            at("https://app.example.net:8443/a/b/", "admin-ui/"),
            "/a/b/admin-ui"
        );
    }
}
