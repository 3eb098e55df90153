//! What the resource endpoints share: ETags and preconditions, list parameters,
//! projections, locations.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use scim_model::messages::{SearchRequest, SortOrder, split_attribute_list};
use scim_model::projection::Projection;
use scim_model::schema::ResourceType;
use scim_model::{AttrPath, Filter, ScimType, parse_filter};

use crate::respond::Query;
use crate::{ApiError, ScimConfig};

/// The weak ETag of a version: `W/"3"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Parses one entity tag (`W/"3"`, `"3"`) to a version.
fn parse_tag(tag: &str) -> Option<i64> {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The version an `If-Match` header demands, checked against `current`:
/// `Ok(None)` without the header or with `*`, `Ok(Some(v))` when a listed tag
/// matches, `412` otherwise.
pub fn if_match(header_value: Option<&str>, current: i64) -> Result<Option<i64>, ApiError> {
    let Some(value) = header_value else {
        return Ok(None);
    };
    if value.trim() == "*" {
        return Ok(None);
    }
    if value.split(',').filter_map(parse_tag).any(|v| v == current) {
        Ok(Some(current))
    } else {
        Err(ApiError::Scim(scim_model::ScimError::new(
            412,
            format!(
                "If-Match does not match the current version {}",
                etag(current)
            ),
        )))
    }
}

/// An `If-Match` that stands in for the request's header: a bulk operation's
/// `version` (RFC 7644 §3.7), put into the bulk request's extensions by
/// `crate::bulk` before it runs the operation through a resource handler.
#[derive(Clone, Debug)]
pub(crate) struct IfMatchOverride(pub(crate) Option<String>);

/// The `If-Match` header of a request, if any (to move into a blocking task),
/// or the [`IfMatchOverride`] when one is set.
pub fn if_match_header(req: &HttpRequest) -> Option<String> {
    if let Some(o) = req.extensions().get::<IfMatchOverride>() {
        return o.0.clone();
    }
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("\"unreadable\"").to_owned())
}

/// Whether an `If-None-Match` header names `current` (or is `*`): answer 304.
pub fn not_modified(req: &HttpRequest, current: i64) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim() == "*" || v.split(',').filter_map(parse_tag).any(|t| t == current)
        })
}

/// `attributes` / `excludedAttributes` of a request.
pub fn projection(
    rt: &'static ResourceType,
    attributes: &[String],
    excluded: &[String],
) -> Result<Projection, ApiError> {
    Projection::new(rt, attributes, excluded)
        .map_err(|e| ApiError::bad_request(ScimType::InvalidValue, format!("attributes: {e}")))
}

/// `attributes` / `excludedAttributes` from the query string.
pub fn projection_from_query(rt: &'static ResourceType, q: &Query) -> Result<Projection, ApiError> {
    let attrs = q
        .get("attributes")
        .map(split_attribute_list)
        .unwrap_or_default();
    let excluded = q
        .get("excludedAttributes")
        .map(split_attribute_list)
        .unwrap_or_default();
    projection(rt, &attrs, &excluded)
}

/// Whether the request names `attributes` or `excludedAttributes`.
pub fn asks_for_representation(q: &Query) -> bool {
    q.get("attributes").is_some() || q.get("excludedAttributes").is_some()
}

/// A validated list request.
#[derive(Debug)]
pub struct ListParams {
    /// The filter, compiled successfully against the resource type.
    pub filter: Option<Filter>,
    /// `sortBy`.
    pub sort_by: Option<AttrPath>,
    /// `sortOrder=descending`.
    pub descending: bool,
    /// 1-based start index (values below 1 are 1).
    pub start_index: u64,
    /// Page size, bounded by the configuration's maximum.
    pub count: u64,
    /// The projection.
    pub projection: Projection,
}

impl ListParams {
    /// From the query string of `GET /Users` or `GET /Groups`.
    pub fn from_query(
        rt: &'static ResourceType,
        q: &Query,
        config: &ScimConfig,
    ) -> Result<Self, ApiError> {
        let search = SearchRequest {
            schemas: Vec::new(),
            attributes: q
                .get("attributes")
                .map(split_attribute_list)
                .unwrap_or_default(),
            excluded_attributes: q
                .get("excludedAttributes")
                .map(split_attribute_list)
                .unwrap_or_default(),
            filter: q.get("filter").map(str::to_owned),
            sort_by: q.get("sortBy").map(str::to_owned),
            sort_order: match q.get("sortOrder") {
                None | Some("") => None,
                Some(s) => Some(SortOrder::parse(s).ok_or_else(|| {
                    ApiError::bad_request(
                        ScimType::InvalidValue,
                        format!("sortOrder {s:?}: expected ascending or descending"),
                    )
                })?),
            },
            start_index: int_param(q, "startIndex")?,
            count: int_param(q, "count")?,
        };
        Self::from_search(rt, &search, config)
    }

    /// From a SearchRequest body (`POST /.search`).
    pub fn from_search(
        rt: &'static ResourceType,
        s: &SearchRequest,
        config: &ScimConfig,
    ) -> Result<Self, ApiError> {
        let filter = match s.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let f = parse_filter(text)?;
                f.compile(rt)?;
                Some(f)
            }
        };
        let sort_by = match s.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let path = AttrPath::parse(text)?;
                if rt.resolve(&path).is_none() {
                    return Err(ApiError::bad_request(
                        ScimType::InvalidPath,
                        format!("sortBy: unknown attribute '{text}'"),
                    ));
                }
                Some(path)
            }
        };
        let count = match s.count {
            None => u64::from(config.default_count),
            Some(c) if c < 0 => 0,
            Some(c) => (c as u64).min(u64::from(config.max_count)),
        };
        Ok(ListParams {
            filter,
            sort_by,
            descending: s.sort_order == Some(SortOrder::Descending),
            start_index: s.start_index.map_or(1, |i| i.max(1) as u64),
            count,
            projection: projection(rt, &s.attributes, &s.excluded_attributes)?,
        })
    }
}

fn int_param(q: &Query, name: &str) -> Result<Option<i64>, ApiError> {
    match q.get(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(
                ScimType::InvalidValue,
                format!("{name} must be an integer; got {v:?}"),
            )
        }),
    }
}

/// Runs `f` in one write transaction on a pooled connection, off the async
/// workers (`web::block`); rolls back when `f` fails.
pub(crate) async fn in_transaction<T, E, F>(store: &store_diesel::Store, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<store_diesel::StoreError> + From<actix_web::error::BlockingError> + Send + 'static,
    F: FnOnce(&mut store_diesel::DbConnection) -> Result<T, E> + Send + 'static,
{
    let store = store.clone();
    actix_web::web::block(move || store.transaction_with(f)).await?
}
