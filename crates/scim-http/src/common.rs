//! What the resource endpoints share: ETags and preconditions, list parameters,
//! projections, locations.

use scim_model::messages::{SearchRequest, SortOrder, split_attribute_list};
use scim_model::projection::Projection;
use scim_model::schema::ResourceType;
use scim_model::{AttrPath, Filter, ScimType, parse_filter};

use crate::respond::Query;
use crate::{ApiError, ScimConfig};

/// The weak ETag of a version: `W/"3"`.
pub fn etag(version: i64) -> String {
    scim_model::version_tag(version)
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
    if value
        .split(',')
        .filter_map(scim_model::parse_version_tag)
        .any(|v| v == current)
    {
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
#[derive(Clone, Debug)]
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
    /// Cursor paging (RFC 9865): `Some("")` asks for the first page,
    /// `Some(c)` continues after the cursor `c`; `None`: index paging.
    pub cursor: Option<String>,
    /// Where a cursor page starts after (set from `cursor` once it is
    /// verified).
    pub after: Option<store_diesel::Keyset>,
}

impl ListParams {
    /// The store's query for this list.
    pub fn query(&self) -> store_diesel::ListQuery<'_> {
        store_diesel::ListQuery {
            filter: self.filter.as_ref(),
            sort_by: self.sort_by.as_ref(),
            descending: self.descending,
            start_index: self.start_index,
            count: self.count,
            after: self.after.as_ref(),
        }
    }

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
            cursor: q.get("cursor").map(str::to_owned),
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
            Some(text) if text.contains('\0') => {
                return Err(ApiError::bad_request(
                    ScimType::InvalidFilter,
                    "the filter contains a NUL character",
                ));
            }
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
        if s.cursor.is_some() {
            if s.start_index.is_some() {
                return Err(ApiError::bad_request(
                    ScimType::InvalidValue,
                    "startIndex and cursor cannot be combined: page by one or the other",
                ));
            }
            if sort_by.is_some() {
                return Err(ApiError::bad_request(
                    ScimType::InvalidValue,
                    "cursor paging follows the default order (meta.created, then id): leave sortBy out",
                ));
            }
        }
        Ok(ListParams {
            filter,
            sort_by,
            descending: s.sort_order == Some(SortOrder::Descending),
            start_index: s.start_index.map_or(1, |i| i.max(1) as u64),
            count,
            projection: projection(rt, &s.attributes, &s.excluded_attributes)?,
            cursor: s.cursor.as_deref().map(|c| c.trim().to_owned()),
            after: None,
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
