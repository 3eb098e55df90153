//! Protocol messages of RFC 7644, typed so no other crate hand-writes their JSON:
//! [`ListResponse`], [`ScimError`], [`PatchRequest`], [`SearchRequest`],
//! [`BulkRequest`]/[`BulkResponse`] and [`ServiceProviderConfig`].
//!
//! Input is lenient where real clients are (`Operations` in any case, `op` in any
//! letter case, numbers sent as strings); output is always RFC-clean.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::Value;

use crate::schema::SERVICE_PROVIDER_CONFIG_URN;

/// URN of the ListResponse message.
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// URN of the Error message.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// URN of the PatchOp message.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// URN of the SearchRequest message.
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// URN of the BulkRequest message.
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of the BulkResponse message.
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

// ---- Errors -------------------------------------------------------------------------

/// The `scimType` of an error response (RFC 7644 §3.12, table 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is not supported.
    InvalidFilter,
    /// The filter yields too many results.
    TooMany,
    /// A unique attribute value is already in use.
    Uniqueness,
    /// The attempted modification is not compatible with the attribute's mutability.
    Mutability,
    /// The request body was invalid or did not conform to the schema.
    InvalidSyntax,
    /// The path attribute was invalid or malformed.
    InvalidPath,
    /// The path did not yield an attribute or value that could be operated on.
    NoTarget,
    /// A required value was missing or a value was not compatible.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because of sensitive information in the URI.
    Sensitive,
    /// The cursor is malformed, altered, or belongs to another query or tenant (RFC 9865).
    InvalidCursor,
    /// The cursor has expired (RFC 9865).
    ExpiredCursor,
}

impl ScimType {
    /// The RFC keyword, e.g. `invalidFilter`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error response body (RFC 7644 §3.12). `status` is written as a string,
/// and read from a string or a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimError {
    /// Always `[ERROR_URN]`.
    pub schemas: Vec<String>,
    /// The HTTP status code.
    #[serde(
        serialize_with = "status_as_string",
        deserialize_with = "status_from_any"
    )]
    pub status: u16,
    /// The SCIM error keyword, for 400 and 409 responses.
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none", default)]
    pub scim_type: Option<ScimType>,
    /// A human-readable explanation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

impl ScimError {
    /// An error with a status and detail.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        ScimError {
            schemas: vec![ERROR_URN.to_owned()],
            status,
            scim_type: None,
            detail: Some(detail.into()),
        }
    }

    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, detail).with_type(scim_type)
    }

    /// Sets the `scimType`.
    pub fn with_type(mut self, scim_type: ScimType) -> Self {
        self.scim_type = Some(scim_type);
        self
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(t) = self.scim_type {
            write!(f, " {t}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScimError {}

fn status_as_string<S: Serializer>(status: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&status.to_string())
}

fn status_from_any<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| de::Error::custom("status out of range")),
        Value::String(s) => s.trim().parse().map_err(de::Error::custom),
        _ => Err(de::Error::custom("status must be a string or a number")),
    }
}

// ---- Lists --------------------------------------------------------------------------

/// A ListResponse (RFC 7644 §3.4.2): `Resources` with a capital R, integer counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListResponse<T> {
    /// Always `[LIST_RESPONSE_URN]`.
    pub schemas: Vec<String>,
    /// Number of results matching the query, over all pages.
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    /// 1-based index of the first result of this page.
    #[serde(rename = "startIndex")]
    pub start_index: u64,
    /// Number of results in this page.
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: u64,
    /// The results.
    #[serde(rename = "Resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// A page of `resources` out of `total_results`, starting at `start_index`.
    pub fn new(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        ListResponse {
            schemas: vec![LIST_RESPONSE_URN.to_owned()],
            total_results,
            start_index,
            items_per_page: resources.len() as u64,
            resources,
        }
    }
}

// ---- PATCH --------------------------------------------------------------------------

/// A PatchOp request (RFC 7644 §3.5.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchRequest {
    /// Should be `[PATCH_OP_URN]`; not checked strictly.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The operations, in order. Read from `Operations` or `operations`.
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// A request with the given operations.
    pub fn new(operations: Vec<PatchOperation>) -> Self {
        PatchRequest {
            schemas: vec![PATCH_OP_URN.to_owned()],
            operations,
        }
    }
}

/// One PATCH operation. `path` stays a string here; the PATCH engine parses it so a
/// bad path becomes `invalidPath`. `value` distinguishes an explicit `null`
/// (`Some(Value::Null)`) from an absent value (`None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    /// `add`, `remove` or `replace`, read in any letter case.
    pub op: PatchOpKind,
    /// The target path, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The value, if any.
    #[serde(
        default,
        deserialize_with = "some_even_if_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
}

fn some_even_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The kind of a PATCH operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`
    Add,
    /// `remove`
    Remove,
    /// `replace`
    Replace,
}

impl PatchOpKind {
    /// Parses `add`/`remove`/`replace` in any letter case (Entra ID sends `Add`, `Replace`, `Remove`).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("add") {
            Some(PatchOpKind::Add)
        } else if s.eq_ignore_ascii_case("remove") {
            Some(PatchOpKind::Remove)
        } else if s.eq_ignore_ascii_case("replace") {
            Some(PatchOpKind::Replace)
        } else {
            None
        }
    }

    /// The lower-case RFC keyword.
    pub const fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

impl fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PatchOpKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PatchOpKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PatchOpKind::parse(&s).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown PATCH op {s:?}: expected add, remove or replace"
            ))
        })
    }
}

// ---- Search -------------------------------------------------------------------------

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending (the default).
    #[default]
    Ascending,
    /// Descending.
    Descending,
}

impl SortOrder {
    /// Parses `ascending`/`descending` in any letter case.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("ascending") {
            Some(SortOrder::Ascending)
        } else if s.eq_ignore_ascii_case("descending") {
            Some(SortOrder::Descending)
        } else {
            None
        }
    }
}

impl<'de> Deserialize<'de> for SortOrder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SortOrder::parse(&s).ok_or_else(|| {
            de::Error::custom(format!("sortOrder {s:?}: expected ascending or descending"))
        })
    }
}

/// A SearchRequest body for `POST /.search` (RFC 7644 §3.4.3). `attributes` and
/// `excludedAttributes` are read as arrays or comma-separated strings; the integers
/// as numbers or numeric strings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Should be `[SEARCH_REQUEST_URN]`.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Attributes to return.
    #[serde(default, deserialize_with = "string_list")]
    pub attributes: Vec<String>,
    /// Attributes not to return.
    #[serde(default, deserialize_with = "string_list")]
    pub excluded_attributes: Vec<String>,
    /// The filter expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The attribute to sort by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// The sort direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// 1-based index of the first result.
    #[serde(
        default,
        deserialize_with = "lenient_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_index: Option<i64>,
    /// Maximum number of results.
    #[serde(
        default,
        deserialize_with = "lenient_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<i64>,
    /// Cursor paging (RFC 9865): `""` for the first page, then the previous
    /// page's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(split_attribute_list(&s)),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_owned()),
                _ => Err(de::Error::custom("attribute names must be strings")),
            })
            .collect(),
        _ => Err(de::Error::custom(
            "expected an array of attribute names or a comma-separated string",
        )),
    }
}

/// Splits a comma-separated attribute list (`attributes=userName,emails`), trimming
/// blanks and dropping empty items.
pub fn split_attribute_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected an integer, got {s:?}"))),
        _ => Err(de::Error::custom("expected an integer")),
    }
}

// ---- Bulk ---------------------------------------------------------------------------

/// A BulkRequest (RFC 7644 §3.7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkRequest {
    /// Should be `[BULK_REQUEST_URN]`.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Stop after this many errors.
    #[serde(
        rename = "failOnErrors",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fail_on_errors: Option<u32>,
    /// The operations.
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<BulkOperation>,
}

/// One operation of a BulkRequest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Client-chosen id for POSTs, referable as `bulkId:<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
    /// Expected version (ETag) of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Resource path, e.g. `/Users` or `/Groups/{id}`.
    pub path: String,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A BulkResponse (RFC 7644 §3.7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkResponse {
    /// Always `[BULK_RESPONSE_URN]`.
    pub schemas: Vec<String>,
    /// Results, in request order.
    #[serde(rename = "Operations")]
    pub operations: Vec<BulkOperationResponse>,
}

impl BulkResponse {
    /// A response with the given results.
    pub fn new(operations: Vec<BulkOperationResponse>) -> Self {
        BulkResponse {
            schemas: vec![BULK_RESPONSE_URN.to_owned()],
            operations,
        }
    }
}

/// The result of one bulk operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperationResponse {
    /// The method of the operation.
    pub method: String,
    /// The operation's bulkId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
    /// The resource's version after the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The resource's location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The HTTP status, as a string.
    #[serde(
        serialize_with = "status_as_string",
        deserialize_with = "status_from_any"
    )]
    pub status: u16,
    /// The error body, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

// ---- ServiceProviderConfig ----------------------------------------------------------

/// `{"supported": bool}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supported {
    /// Whether the feature is supported.
    pub supported: bool,
}

/// Bulk support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkSupport {
    /// Whether `/Bulk` is supported.
    pub supported: bool,
    /// Maximum operations per request.
    pub max_operations: u32,
    /// Maximum payload size in bytes.
    pub max_payload_size: u64,
}

/// Filter support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterSupport {
    /// Whether filtering is supported.
    pub supported: bool,
    /// Maximum results per page.
    pub max_results: u32,
}

/// An authentication scheme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationScheme {
    /// e.g. `oauthbearertoken`.
    #[serde(rename = "type")]
    pub scheme_type: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Specification URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_uri: Option<String>,
    /// Whether it is the primary scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// The ServiceProviderConfig resource (RFC 7643 §5). Build it from what the server
/// really supports; [`ServiceProviderConfig::new`] gives bearer-token auth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProviderConfig {
    /// Always `[SERVICE_PROVIDER_CONFIG_URN]`.
    pub schemas: Vec<String>,
    /// Documentation of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// PATCH support.
    pub patch: Supported,
    /// Bulk support.
    pub bulk: BulkSupport,
    /// Filter support.
    pub filter: FilterSupport,
    /// Password change support.
    pub change_password: Supported,
    /// Sort support.
    pub sort: Supported,
    /// ETag support.
    pub etag: Supported,
    /// Authentication schemes.
    pub authentication_schemes: Vec<AuthenticationScheme>,
    /// Paging methods (RFC 9865); absent: index paging only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginationSupport>,
}

/// The `pagination` attribute of the ServiceProviderConfig (RFC 9865).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationSupport {
    /// Cursor paging (`cursor`, `nextCursor`) is supported.
    pub cursor: bool,
    /// Index paging (`startIndex`) is supported.
    pub index: bool,
    /// `"index"` or `"cursor"`: what a list without either parameter uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_pagination_method: Option<String>,
    /// Page size when a request gives no `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_page_size: Option<u32>,
    /// Largest page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_page_size: Option<u32>,
    /// Seconds a cursor stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_timeout: Option<u32>,
}

impl ServiceProviderConfig {
    /// PATCH, filter (`max_results` per page), sort and ETags supported; bulk as
    /// given; no password change; bearer-token authentication.
    pub fn new(max_results: u32, bulk: BulkSupport) -> Self {
        ServiceProviderConfig {
            schemas: vec![SERVICE_PROVIDER_CONFIG_URN.to_owned()],
            documentation_uri: None,
            patch: Supported { supported: true },
            bulk,
            filter: FilterSupport {
                supported: true,
                max_results,
            },
            change_password: Supported { supported: false },
            sort: Supported { supported: true },
            etag: Supported { supported: true },
            authentication_schemes: vec![AuthenticationScheme {
                scheme_type: "oauthbearertoken".to_owned(),
                name: "OAuth Bearer Token".to_owned(),
                description: "The tenant's Secret Token, sent as 'Authorization: Bearer <token>'"
                    .to_owned(),
                spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".to_owned()),
                primary: Some(true),
            }],
            pagination: None,
        }
    }
}

/// The weak entity tag of a resource version, `W/"3"`: the `meta.version` of
/// a resource and its `ETag` header (RFC 7644 §3.14).
pub fn version_tag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an entity tag names (`W/"3"` or `"3"`), `None` for any other
/// text.
pub fn parse_version_tag(tag: &str) -> Option<i64> {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_status_is_a_string_on_output_and_read_from_either() {
        let e = ScimError::bad_request(ScimType::InvalidFilter, "bad");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"schemas": [ERROR_URN], "status": "400", "scimType": "invalidFilter", "detail": "bad"})
        );
        let okta: ScimError = serde_json::from_value(
            json!({"schemas": [ERROR_URN], "status": 409, "scimType": "uniqueness"}),
        )
        .unwrap();
        assert_eq!(okta.status, 409);
        assert_eq!(okta.scim_type, Some(ScimType::Uniqueness));
        let not_found = serde_json::to_value(ScimError::new(404, "nope")).unwrap();
        assert!(not_found.get("scimType").is_none());
    }

    #[test]
    fn patch_ops_in_any_case_and_explicit_null_values() {
        let req: PatchRequest = serde_json::from_value(json!({
            "schemas": [PATCH_OP_URN],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "remove", "path": "members[value eq \"x\"]"},
                {"op": "ADD", "path": "nickName", "value": null}
            ]
        }))
        .unwrap();
        assert_eq!(req.operations[0].op, PatchOpKind::Replace);
        assert_eq!(req.operations[1].op, PatchOpKind::Remove);
        assert_eq!(req.operations[1].value, None);
        assert_eq!(req.operations[2].op, PatchOpKind::Add);
        assert_eq!(req.operations[2].value, Some(Value::Null));
        let lower: PatchRequest =
            serde_json::from_value(json!({"operations": [{"op": "add", "path": "x", "value": 1}]}))
                .unwrap();
        assert_eq!(lower.operations.len(), 1);
        let bad = serde_json::from_value::<PatchRequest>(
            json!({"Operations": [{"op": "merge", "path": "x"}]}),
        );
        assert!(bad.unwrap_err().to_string().contains("merge"));
    }

    #[test]
    fn list_response_shape() {
        let list = ListResponse::new(vec![json!({"id": "1"})], 7, 3);
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"schemas": [LIST_RESPONSE_URN], "totalResults": 7, "startIndex": 3, "itemsPerPage": 1, "Resources": [{"id": "1"}]})
        );
        let empty: ListResponse<Value> = ListResponse::new(vec![], 0, 1);
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}"#
        );
    }

    #[test]
    fn search_request_is_lenient() {
        let req: SearchRequest = serde_json::from_value(json!({
            "schemas": [SEARCH_REQUEST_URN],
            "attributes": "userName, emails",
            "excludedAttributes": ["members"],
            "filter": "userName eq \"a\"",
            "sortOrder": "Descending",
            "startIndex": "2",
            "count": 10
        }))
        .unwrap();
        assert_eq!(req.attributes, vec!["userName", "emails"]);
        assert_eq!(req.excluded_attributes, vec!["members"]);
        assert_eq!(req.sort_order, Some(SortOrder::Descending));
        assert_eq!(req.start_index, Some(2));
        assert_eq!(req.count, Some(10));
        assert!(serde_json::from_value::<SearchRequest>(json!({"count": "many"})).is_err());
    }

    #[test]
    fn service_provider_config_shape() {
        let spc = ServiceProviderConfig::new(
            200,
            BulkSupport {
                supported: false,
                max_operations: 0,
                max_payload_size: 0,
            },
        );
        let v = serde_json::to_value(&spc).unwrap();
        assert_eq!(v["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(v["changePassword"], json!({"supported": false}));
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert!(v.get("documentationUri").is_none());
    }

    #[test]
    fn version_tags_round_trip() {
        assert_eq!(super::version_tag(3), "W/\"3\"");
        assert_eq!(super::parse_version_tag("W/\"3\""), Some(3));
        assert_eq!(super::parse_version_tag(" \"12\" "), Some(12));
        assert_eq!(super::parse_version_tag("W/3"), None);
        assert_eq!(super::parse_version_tag("\"x\""), None);
    }
}
