//! [`ScimState`]: what every handler needs, shared as `web::Data`.

use scim_model::messages::{BulkSupport, ServiceProviderConfig};
use store_diesel::Store;

use crate::auth::TokenKeys;

/// Limits and URLs of the SCIM service. [`ScimConfig::new`] gives the documented
/// defaults.
#[derive(Clone, Debug)]
pub struct ScimConfig {
    /// Public base URL, without a trailing slash (e.g. `https://scim.example.net`);
    /// Tenant URLs are `{public_url}/scim/v2/{slug}`.
    pub public_url: String,
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
        format!("{}/scim/v2/{slug}", self.public_url)
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
                    "An access token of the tenant's OAuth client, obtained at {}{} \
                     (grant_type=client_credentials, scope=scim), sent as \
                     'Authorization: Bearer <token>'",
                    self.public_url,
                    crate::oauth::TOKEN_PATH
                ),
                spec_uri: Some("https://www.rfc-editor.org/info/rfc6749".to_owned()),
                primary: Some(false),
            });
        spc
    }
}

/// Shared state of the SCIM service.
#[derive(Clone, Debug)]
pub struct ScimState {
    /// The database.
    pub store: Store,
    /// Token signing keys.
    pub keys: TokenKeys,
    /// Limits and URLs.
    pub config: ScimConfig,
}
