//! # scim-model
//!
//! The SCIM 2.0 model of RFC 7643 and RFC 7644, with no I/O: the crate every other
//! crate of the workspace, and every embedding service, starts from.
//!
//! - [`schema`]: the core User and Group schemas, the Enterprise User extension,
//!   the product's provisioning extensions and the discovery schemas, **as data**,
//!   with every attribute characteristic. Validation, filter case rules, PATCH,
//!   projection and `/Schemas` all read them.
//! - [`path`]: attribute paths (`name.givenName`, URN-qualified paths) and the
//!   PATCH path grammar (`emails[type eq "work"].value`).
//! - [`filter`]: the complete filter language: parser (with positions in errors and
//!   bounded depth and length), canonical printer, and a schema-aware evaluator.
//! - [`projection`]: `attributes` / `excludedAttributes` with the `returned` rules.
//! - [`resource`]: lenient input (what Entra ID and Okta really send), strict output.
//! - [`messages`]: ListResponse, Error, PatchOp, SearchRequest, Bulk and
//!   ServiceProviderConfig, typed.
//!
//! ## Example: find the user Entra ID asks for
//!
//! ```
//! use scim_model::filter::parse_filter;
//! use scim_model::schema::USER;
//! use serde_json::json;
//!
//! let user = json!({
//!     "id": "7f3a9d1e",
//!     "userName": "nora.lind@fabrikam.example",
//!     "active": true,
//!     "emails": [{"value": "nora.lind@fabrikam.example", "type": "work", "primary": true}],
//!     "meta": {"created": "2026-11-02T09:14:07Z"}
//! });
//!
//! // Entra sends the userName in another case: userName is not caseExact.
//! let f = parse_filter(r#"userName eq "Nora.Lind@Fabrikam.example""#)?;
//! assert!(f.matches(&user, &USER)?);
//!
//! // Compile once, then match many resources.
//! let work = parse_filter(r#"emails[type eq "work"].value eq "NORA.LIND@fabrikam.example""#)?
//!     .compile(&USER)?;
//! assert!(work.matches(&user));
//!
//! // dateTime compares as an instant, whatever the offset.
//! let recent = parse_filter(r#"meta.created gt "2026-11-02T10:00:00+02:00""#)?;
//! assert!(recent.matches(&user, &USER)?);
//!
//! // Comparisons the RFC forbids are errors (400 invalidFilter), not `false`.
//! let bad = parse_filter("active gt true")?;
//! assert!(bad.compile(&USER).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Lenient input, strict output
//!
//! ```
//! use scim_model::resource::{normalize, finish_output, NormalizeOptions};
//! use scim_model::schema::GROUP;
//! use serde_json::json;
//!
//! // What Entra ID posts for a group: a Microsoft-private schema URI, read-only meta.
//! let body = json!({
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
//!                 "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
//!     "externalId": "3d9c41a0",
//!     "DisplayName": "Finance Vault Users",
//!     "meta": {"resourceType": "Group"}
//! });
//! let mut doc = normalize(&GROUP, &body, NormalizeOptions::default())?;
//! finish_output(&GROUP, &mut doc);
//! assert_eq!(doc, json!({
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
//!     "externalId": "3d9c41a0",
//!     "displayName": "Finance Vault Users"
//! }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod filter;
pub mod messages;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;

pub use filter::{CompiledFilter, Filter, FilterError, parse_filter};
pub use messages::{ScimError, ScimType, parse_version_tag, version_tag};
pub use path::{AttrPath, PatchPath, PathError};
pub use schema::{GROUP, ResourceType, USER};

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::bad_request(ScimType::InvalidFilter, e.to_string())
    }
}

impl From<PathError> for ScimError {
    fn from(e: PathError) -> Self {
        ScimError::bad_request(ScimType::InvalidPath, e.to_string())
    }
}
