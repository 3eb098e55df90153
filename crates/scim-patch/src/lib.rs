//! # scim-patch
//!
//! The RFC 7644 §3.5.2 PATCH engine, tolerant of what Microsoft Entra ID and Okta
//! really send (the four dialects and the quirks listed in `docs/patch.md`).
//!
//! [`apply`] is a pure function: it takes the stored resource (a canonical JSON
//! document, as `scim_model::resource::normalize` produces it, plus `id` and `meta`),
//! its [`ResourceType`] and the [`PatchRequest`], and returns an [`Outcome`]: the new
//! document and a typed [`ChangeSet`] the store and the HTTP layer act on.
//!
//! ## Example: a legacy-dialect deactivation, then a group member delta
//!
//! ```
//! use scim_model::messages::PatchRequest;
//! use scim_model::schema::{GROUP, USER};
//! use serde_json::json;
//!
//! let user = json!({
//!     "id": "7f3a9d1e",
//!     "userName": "nora.lind@fabrikam.example",
//!     "active": true,
//!     "meta": {"resourceType": "User", "version": "W/\"1\""}
//! });
//! // What Entra ID sends without the aadOptscim062020 flag: capitalised op, string boolean.
//! let patch: PatchRequest = serde_json::from_value(json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
//! }))?;
//! let out = scim_patch::apply(&user, &USER, &patch)?;
//! assert_eq!(out.resource["active"], json!(false));
//! assert_eq!(out.changes.active_changed, Some(false));
//! assert!(out.changes.changed);
//!
//! // Applying it again changes nothing: no write, no new meta.version.
//! let again = scim_patch::apply(&out.resource, &USER, &patch)?;
//! assert!(!again.changes.changed);
//!
//! // Members are never materialised: the group document has no `members`, and a
//! // members operation becomes a delta for the store.
//! let group = json!({"id": "c51e0f77", "displayName": "Finance Vault Users"});
//! let patch: PatchRequest = serde_json::from_value(json!({
//!     "Operations": [
//!         {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}, {"value": "u2"}]},
//!         {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u3"}]}
//!     ]
//! }))?;
//! let out = scim_patch::apply(&group, &GROUP, &patch)?;
//! assert_eq!(out.changes.members_added.iter().collect::<Vec<_>>(), ["u1", "u2"]);
//! assert_eq!(out.changes.members_removed.iter().collect::<Vec<_>>(), ["u3"]);
//! assert!(!out.changes.members_cleared); // a Remove with a value never clears the group
//! assert_eq!(out.resource, group);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Deactivation wins
//!
//! Every request is atomic, except that a request which validly sets `active` to
//! `false` still suspends the user when another of its operations is rejected:
//!
//! ```
//! use scim_model::messages::PatchRequest;
//! use scim_model::schema::USER;
//! use scim_model::ScimType;
//! use serde_json::json;
//!
//! let user = json!({"id": "1", "userName": "kemi@fabrikam.example", "active": true});
//! let patch: PatchRequest = serde_json::from_value(json!({"Operations": [
//!     {"op": "replace", "value": {"active": false}},
//!     {"op": "replace", "path": "userName", "value": null}
//! ]}))?;
//! let err = scim_patch::apply(&user, &USER, &patch).unwrap_err();
//! assert_eq!(err.scim_type(), ScimType::InvalidValue);
//! assert_eq!(err.operation(), Some(1));
//! let d = err.deactivation().expect("the deactivation still applies");
//! assert_eq!(d.outcome.resource["active"], json!(false));
//! assert_eq!(d.outcome.resource["userName"], json!("kemi@fabrikam.example"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/patch.md` for every rule and decision.

#![warn(missing_docs)]

use std::collections::BTreeSet;

use scim_model::messages::PatchRequest;
use scim_model::schema::ResourceType;
use serde_json::Value;

mod engine;
mod error;
mod target;
mod values;

pub use error::{Deactivation, PatchError};

/// Bounds on the size of one PATCH request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchLimits {
    /// Most operations in one request (default 1,000). More: `400 tooMany`.
    pub max_operations: usize,
    /// Most values in one operation (default 10,000): the elements of an array value,
    /// or for a path-less value the attributes it sets (arrays counted by their
    /// elements). More: `400 tooMany`.
    pub max_values_per_operation: usize,
}

impl PatchLimits {
    /// The default number of operations per request.
    pub const DEFAULT_MAX_OPERATIONS: usize = 1_000;
    /// The default number of values per operation.
    pub const DEFAULT_MAX_VALUES_PER_OPERATION: usize = 10_000;
}

impl Default for PatchLimits {
    fn default() -> Self {
        PatchLimits {
            max_operations: Self::DEFAULT_MAX_OPERATIONS,
            max_values_per_operation: Self::DEFAULT_MAX_VALUES_PER_OPERATION,
        }
    }
}

/// The result of a successful PATCH.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The new resource document. Equal to the input when nothing changed. Never
    /// contains `members` changes (see [`ChangeSet::members_added`]) or `password`.
    pub resource: Value,
    /// What changed.
    pub changes: ChangeSet,
}

/// What a PATCH changed, for the store (deltas) and the HTTP layer (audit, status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Canonical paths of the changed attributes: `displayName`, `emails`,
    /// `name.givenName` (single complex attributes by sub-attribute),
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`,
    /// and `members` when the member delta is not empty.
    pub attributes: BTreeSet<String>,
    /// `Some(new value)` when `active` changed.
    pub active_changed: Option<bool>,
    /// Member ids to add. The store resolves idempotency: adding an existing member
    /// is a no-op there. It also rejects ids that are groups or unknown.
    pub members_added: BTreeSet<String>,
    /// Member ids to remove (removing a non-member is a no-op in the store). Disjoint
    /// from `members_added`: within one request, operations net out in order.
    pub members_removed: BTreeSet<String>,
    /// Remove every member first (a bare `remove` of `members`, or a `replace` of
    /// `members`, which is clear-then-add), then add `members_added`.
    pub members_cleared: bool,
    /// A `password` was given. It is accepted, reported here, and never stored.
    pub password_set: bool,
    /// Whether anything changed: the document differs, or there is a member delta.
    /// `false` means no write and no new `meta.version`. With a member delta the
    /// store has the last word (the delta may turn out to be a no-op there).
    pub changed: bool,
}

impl ChangeSet {
    /// Whether the request carries a member delta for the store.
    pub fn has_member_delta(&self) -> bool {
        self.members_cleared || !self.members_added.is_empty() || !self.members_removed.is_empty()
    }
}

/// Applies `patch` to `resource` of type `rt` with the default [`PatchLimits`].
///
/// All or nothing, except for deactivation (see [`PatchError::deactivation`]).
pub fn apply(
    resource: &Value,
    rt: &ResourceType,
    patch: &PatchRequest,
) -> Result<Outcome, PatchError> {
    apply_with(resource, rt, patch, PatchLimits::default())
}

/// [`apply`] with explicit limits.
pub fn apply_with(
    resource: &Value,
    rt: &ResourceType,
    patch: &PatchRequest,
    limits: PatchLimits,
) -> Result<Outcome, PatchError> {
    engine::run(resource, rt, patch, limits)
}
