//! The resource service layer: one [`ScimResource`] implementation per
//! resource type (`Users`, `Groups`) loads, lists, renders and writes it inside
//! the request's transaction; the generic handlers here are the only HTTP code
//! of `/Users` and `/Groups` (extract → one service call → respond), and Bulk
//! and the root `.search` call the same services.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use scim_model::ScimError;
use scim_model::filter::{CompValue, CompareOp};
use scim_model::messages::{ListResponse, PatchRequest, SearchRequest};
use scim_model::projection::Projection;
use scim_model::schema::ResourceType;
use scim_model::{Filter, version_tag};
use serde_json::{Value, json};

use crate::ApiError;
use crate::common::{ListParams, projection_from_query};
use crate::request::{ScimRequest, Tx};
use crate::respond::{Query, scim_json};
use store_diesel::tenants::Tenant;

/// A page of a list: the total over all pages and the page's records.
#[derive(Debug)]
pub(crate) struct Listed<R> {
    pub total: u64,
    pub items: Vec<R>,
}

/// What a write left: the stored record and, when "deactivation wins" applied
/// a suspension while the rest of the request was rejected, the rejection the
/// client gets (the suspension is committed all the same).
#[derive(Debug)]
pub(crate) struct Written<R> {
    pub rec: R,
    pub rejected: Option<ScimError>,
}

impl<R> Written<R> {
    pub(crate) fn ok(rec: R) -> Self {
        Written {
            rec,
            rejected: None,
        }
    }
}

/// One resource type's service. Every method runs inside the request's
/// transaction ([`Tx`]); none of them knows HTTP.
pub(crate) trait ScimResource: 'static {
    /// The schema definitions of the type.
    const TYPE: &'static ResourceType;
    /// The endpoint under the Tenant URL: `Users`, `Groups`.
    const ENDPOINT: &'static str;
    /// A stored resource with what rendering it needs (a group's members when
    /// the projection returns them).
    type Rec: Send + 'static;

    /// The resource's id.
    fn id(rec: &Self::Rec) -> &str;
    /// The resource's version (its ETag is `W/"version"`).
    fn version(rec: &Self::Rec) -> i64;
    /// The full representation (before projection), with `meta.location`
    /// under the Tenant URL `base`.
    fn render(base: &str, rec: &Self::Rec) -> Value;

    /// The resource `id`; children only when `want` returns them.
    fn get(tx: &mut Tx<'_>, id: &str, want: &Projection) -> Result<Self::Rec, ApiError>;
    /// A page of resources.
    fn list(tx: &mut Tx<'_>, params: &ListParams) -> Result<Listed<Self::Rec>, ApiError>;
    /// Adds to `recs` what their representation shows beyond the stored
    /// resource, when `want` returns it (a user's `groups`), in one query
    /// for all of them. Called on every read and on the result of PUT and
    /// PATCH, never on what is stored.
    fn decorate(
        tx: &mut Tx<'_>,
        recs: &mut [Self::Rec],
        want: &Projection,
    ) -> Result<(), ApiError> {
        let _ = (tx, recs, want);
        Ok(())
    }
    /// The record's place in the default order (cursor paging).
    fn keyset(rec: &Self::Rec) -> store_diesel::Keyset;
    /// About how many bytes the record takes in memory and in a response
    /// (lists stop adding records past `ScimConfig::max_list_bytes`).
    fn weight(rec: &Self::Rec) -> usize;
    /// Creates a resource from a client body (validated here).
    fn create(tx: &mut Tx<'_>, input: &Value) -> Result<Self::Rec, ApiError>;
    /// Replaces the resource `id` with a client body (PUT).
    fn replace(
        tx: &mut Tx<'_>,
        id: &str,
        input: &Value,
        if_match: Option<&str>,
    ) -> Result<Written<Self::Rec>, ApiError>;
    /// Applies a PATCH to the resource `id`; children in the result only when
    /// `want` returns them.
    fn patch(
        tx: &mut Tx<'_>,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
        want: &Projection,
    ) -> Result<Written<Self::Rec>, ApiError>;
    /// Deletes the resource `id`.
    fn delete(tx: &mut Tx<'_>, id: &str, if_match: Option<&str>) -> Result<(), ApiError>;
    /// Whether reading the resource with `want` is small and bounded (no
    /// unbounded children such as a big group's members): such reads may
    /// run on the HTTP worker itself ([`crate::request::ScimRequest::read_small`]).
    fn small_get(want: &Projection) -> bool;
    /// Whether the list `params` asks for is a lookup on a unique key with a
    /// small, bounded result (Entra ID's `userName eq` / `displayName eq`
    /// with `excludedAttributes=members`).
    fn small_list(params: &ListParams) -> bool;
    /// Whether a successful PATCH answers 200 with the resource (otherwise
    /// 204): groups answer 204 unless the query asks for attributes, as Entra
    /// ID expects for large groups.
    fn patch_returns_resource(query: &Query) -> bool;
}

/// Rows read in the first round of a large page: a bound on what one round
/// can load before the byte budget is first checked.
const FIRST_ROUND: u64 = 20;

/// A page of at most `params.count` records that stops adding records once
/// they weigh `budget` bytes (at least one record is returned when there is
/// one): RFC 7644 lets a server return fewer results than asked, and the
/// client continues from `startIndex + itemsPerPage`. Large pages are read in
/// rounds inside the caller's transaction (one snapshot): a first round of
/// [`FIRST_ROUND`] rows, then as many rows as the rest of the budget holds at
/// the rows' average weight, so what one request holds in memory stays near
/// the budget however large the stored documents are. Returns the page, the
/// bytes used and whether the budget cut it short.
pub(crate) fn list_bounded<R: ScimResource>(
    tx: &mut Tx<'_>,
    params: &ListParams,
    budget: usize,
) -> Result<(Listed<R::Rec>, usize, bool), ApiError> {
    if params.count <= FIRST_ROUND {
        let page = R::list(tx, params)?;
        let used = page.items.iter().map(R::weight).sum();
        return Ok((page, used, false));
    }
    let mut items = Vec::new();
    let mut used = 0usize;
    let mut round = params.clone();
    round.count = FIRST_ROUND;
    loop {
        let page = R::list(tx, &round)?;
        let total = page.total;
        let got = page.items.len() as u64;
        for rec in page.items {
            if used >= budget && !items.is_empty() {
                return Ok((Listed { total, items }, used, true));
            }
            used += R::weight(&rec);
            items.push(rec);
        }
        let left = params.count.saturating_sub(items.len() as u64);
        if got < round.count || left == 0 {
            return Ok((Listed { total, items }, used, false));
        }
        if used >= budget {
            return Ok((Listed { total, items }, used, true));
        }
        let average = (used / items.len().max(1)).max(1);
        let fits = ((budget - used) / average).max(1) as u64;
        round.start_index = params.start_index.max(1) + items.len() as u64;
        round.count = left.min(fits.saturating_add(1));
    }
}

/// About how many bytes a JSON value takes: its strings and numbers plus a
/// little per node (for [`ScimResource::weight`]).
pub(crate) fn json_weight(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 8,
        Value::Number(_) => 16,
        Value::String(s) => 24 + s.len(),
        Value::Array(a) => 24 + a.iter().map(json_weight).sum::<usize>(),
        Value::Object(o) => {
            48 + o
                .iter()
                .map(|(k, v)| 32 + k.len() + json_weight(v))
                .sum::<usize>()
        }
    }
}

/// `attr eq "value"` on the top-level attribute `name` of `rt` (any letter case,
/// URN-qualified or not): the string compared, for a unique-key lookup.
pub(crate) fn unique_eq<'f>(
    filter: &'f Filter,
    rt: &'static ResourceType,
    name: &str,
) -> Option<&'f str> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: CompValue::String(value),
    } = filter
    else {
        return None;
    };
    let resolved = rt.resolve(path)?;
    (resolved.sub.is_none() && resolved.attr.name == name).then_some(value.as_str())
}

/// A page made of at most one record found by a unique key, paged like any
/// list (`startIndex` past it or `count=0` give no items, same total).
pub(crate) fn page_of_one<R>(found: Option<R>, params: &ListParams) -> Listed<R> {
    let total = u64::from(found.is_some());
    // A cursor continues after the first page, which already held it.
    let items = if params.start_index <= 1 && params.count > 0 && params.after.is_none() {
        found.into_iter().collect()
    } else {
        Vec::new()
    };
    Listed { total, items }
}

/// The location of a resource under the Tenant URL `base`.
pub(crate) fn location(base: &str, endpoint: &str, id: &str) -> String {
    format!("{base}/{endpoint}/{id}")
}

/// Inserts `meta.location` into a rendered resource.
pub(crate) fn set_location(v: &mut Value, location: String) {
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("location".into(), json!(location));
    }
}

/// The response for a stored resource: its projection, ETag and, for 201, its
/// Location.
fn respond<R: ScimResource>(
    base: &str,
    rec: &R::Rec,
    projection: &Projection,
    status: StatusCode,
) -> HttpResponse {
    let body = projection.apply(&R::render(base, rec));
    let mut res = HttpResponse::build(status);
    res.content_type(crate::SCIM_CONTENT_TYPE)
        .insert_header((header::ETAG, version_tag(R::version(rec))));
    if status == StatusCode::CREATED {
        res.insert_header((header::LOCATION, location(base, R::ENDPOINT, R::id(rec))));
    }
    res.json(body)
}

fn list_response<R: ScimResource>(
    base: &str,
    page: &Listed<R::Rec>,
    params: &ListParams,
) -> HttpResponse {
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|rec| params.projection.apply(&R::render(base, rec)))
        .collect();
    scim_json(
        StatusCode::OK,
        &ListResponse::new(items, page.total, params.start_index),
    )
}

/// `GET /Users?cursor=...` (and `/Groups`, and their `.search`): keyset pages
/// with a signed `nextCursor` (RFC 9865).
async fn list_by_cursor<R: ScimResource>(
    r: ScimRequest,
    mut params: ListParams,
) -> Result<HttpResponse, ApiError> {
    let key = r.keys().cursor_key().clone();
    let budget = r.config().max_list_bytes;
    let now = chrono::Utc::now();
    let (out, tenant) = r
        .read(move |tx| {
            let cursor = params.cursor.clone().unwrap_or_default();
            if !cursor.is_empty() {
                params.after = Some(crate::cursor::open(
                    &key,
                    &cursor,
                    &tx.tenant.id,
                    R::TYPE.name,
                    params.filter.as_ref(),
                    now,
                )?);
            }
            let (mut page, more) = list_cursor::<R>(tx, &params, budget)?;
            R::decorate(tx, &mut page.items, &params.projection)?;
            let next = match (more, page.items.last()) {
                (true, Some(last)) => Some(crate::cursor::issue(
                    &key,
                    &tx.tenant.id,
                    R::TYPE.name,
                    params.filter.as_ref(),
                    &R::keyset(last),
                    now,
                )),
                _ => None,
            };
            Ok((page, next, params))
        })
        .await?;
    let (page, next, params) = out;
    let base = r.config().tenant_url(&tenant.slug);
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|rec| params.projection.apply(&R::render(&base, rec)))
        .collect();
    let mut body = serde_json::to_value(ListResponse::new(items, page.total, 1))
        .map_err(ApiError::internal)?;
    if let Some(obj) = body.as_object_mut() {
        // Cursor pages have no index.
        obj.remove("startIndex");
        if let Some(next) = next {
            obj.insert("nextCursor".to_owned(), Value::String(next));
        }
    }
    Ok(scim_json(StatusCode::OK, &body))
}

/// Whether an `If-None-Match` header names `current` (or is `*`): answer 304.
fn not_modified(r: &ScimRequest, current: i64) -> bool {
    r.http()
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim() == "*"
                || v.split(',')
                    .filter_map(scim_model::parse_version_tag)
                    .any(|t| t == current)
        })
}

// ---- handlers ------------------------------------------------------------------------

pub(crate) async fn get<R: ScimResource>(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let id = r.id();
    let projection = r.checked(projection_from_query(R::TYPE, r.query())).await?;
    let want = projection.clone();
    let small = R::small_get(&want);
    let (rec, tenant) = r
        .read_small(small, move |tx| {
            let mut rec = R::get(tx, &id, &want)?;
            R::decorate(tx, std::slice::from_mut(&mut rec), &want)?;
            Ok(rec)
        })
        .await?;
    let version = R::version(&rec);
    if not_modified(&r, version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, version_tag(version)))
            .finish());
    }
    let base = r.config().tenant_url(&tenant.slug);
    Ok(respond::<R>(&base, &rec, &projection, StatusCode::OK))
}

pub(crate) async fn list<R: ScimResource>(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let params = r
        .checked(ListParams::from_query(R::TYPE, r.query(), r.config()))
        .await?;
    list_with::<R>(r, params).await
}

pub(crate) async fn search<R: ScimResource>(
    r: ScimRequest,
    body: crate::request::ScimPayload,
) -> Result<HttpResponse, ApiError> {
    let search: SearchRequest = r.parse_body(&body).await?;
    let params = r
        .checked(ListParams::from_search(R::TYPE, &search, r.config()))
        .await?;
    list_with::<R>(r, params).await
}

/// A cursor page (RFC 9865) of at most `params.count` records after
/// `params.after`, bounded by `budget` bytes like [`list_bounded`]; whether
/// more records follow (one extra row is read to know).
pub(crate) fn list_cursor<R: ScimResource>(
    tx: &mut Tx<'_>,
    params: &ListParams,
    budget: usize,
) -> Result<(Listed<R::Rec>, bool), ApiError> {
    let mut items: Vec<R::Rec> = Vec::new();
    let mut used = 0usize;
    let mut round = params.clone();
    round.start_index = 1;
    let mut want = params.count.min(FIRST_ROUND);
    loop {
        // One more than wanted: whether a next page exists.
        round.count = want + 1;
        let page = R::list(tx, &round)?;
        let total = page.total;
        let got = page.items.len() as u64;
        let mut taken = 0u64;
        for rec in page
            .items
            .into_iter()
            .take(usize::try_from(want).unwrap_or(usize::MAX))
        {
            used += R::weight(&rec);
            items.push(rec);
            taken += 1;
            if used >= budget && (items.len() as u64) < params.count {
                // Cut by the byte budget: what this round read beyond the
                // cut follows on the next page.
                return Ok((Listed { total, items }, taken < got));
            }
        }
        let more = got > want;
        let left = params.count.saturating_sub(items.len() as u64);
        if !more || left == 0 || params.count == 0 {
            return Ok((Listed { total, items }, more));
        }
        let average = (used / items.len().max(1)).max(1);
        let fits = (budget.saturating_sub(used) / average).max(1) as u64;
        want = left.min(fits);
        round.after = items.last().map(R::keyset);
    }
}

async fn list_with<R: ScimResource>(
    r: ScimRequest,
    params: ListParams,
) -> Result<HttpResponse, ApiError> {
    if params.cursor.is_some() {
        return list_by_cursor::<R>(r, params).await;
    }
    let params = std::sync::Arc::new(params);
    let p = params.clone();
    let budget = r.config().max_list_bytes;
    let small = R::small_list(&params);
    let (page, tenant) = r
        .read_small(small, move |tx| {
            let mut page = list_bounded::<R>(tx, &p, budget)?.0;
            R::decorate(tx, &mut page.items, &p.projection)?;
            Ok(page)
        })
        .await?;
    let base = r.config().tenant_url(&tenant.slug);
    Ok(list_response::<R>(&base, &page, &params))
}

pub(crate) async fn create<R: ScimResource>(
    r: ScimRequest,
    body: crate::request::ScimPayload,
) -> Result<HttpResponse, ApiError> {
    let input: Value = r.parse_body(&body).await?;
    let projection = r.checked(projection_from_query(R::TYPE, r.query())).await?;
    let (rec, tenant) = r.write(move |tx| R::create(tx, &input)).await?;
    let base = r.config().tenant_url(&tenant.slug);
    Ok(respond::<R>(&base, &rec, &projection, StatusCode::CREATED))
}

pub(crate) async fn replace<R: ScimResource>(
    r: ScimRequest,
    body: crate::request::ScimPayload,
) -> Result<HttpResponse, ApiError> {
    let input: Value = r.parse_body(&body).await?;
    let projection = r.checked(projection_from_query(R::TYPE, r.query())).await?;
    let (rec, tenant) = modify::<R, _>(&r, projection.clone(), move |tx, id, if_match| {
        R::replace(tx, id, &input, if_match)
    })
    .await?;
    let base = r.config().tenant_url(&tenant.slug);
    Ok(respond::<R>(&base, &rec, &projection, StatusCode::OK))
}

pub(crate) async fn patch<R: ScimResource>(
    r: ScimRequest,
    body: crate::request::ScimPayload,
) -> Result<HttpResponse, ApiError> {
    let patch: PatchRequest = r.parse_body(&body).await?;
    let with_body = R::patch_returns_resource(r.query());
    let projection = r.checked(projection_from_query(R::TYPE, r.query())).await?;
    let want = if with_body {
        projection.clone()
    } else {
        without_members(R::TYPE)?
    };
    let decorate = want.clone();
    let (rec, tenant) = modify::<R, _>(&r, decorate, move |tx, id, if_match| {
        R::patch(tx, id, &patch, if_match, &want)
    })
    .await?;
    if !with_body {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, version_tag(R::version(&rec))))
            .finish());
    }
    let base = r.config().tenant_url(&tenant.slug);
    Ok(respond::<R>(&base, &rec, &projection, StatusCode::OK))
}

/// A read-modify-write of the route's resource, retried (inside the
/// transaction, from a fresh read) when another writer won a race and the
/// client sent no `If-Match`; a rejection that "deactivation wins" kept beside
/// a committed suspension goes back as the error.
async fn modify<R, F>(r: &ScimRequest, want: Projection, f: F) -> Result<(R::Rec, Tenant), ApiError>
where
    R: ScimResource,
    F: Fn(&mut Tx<'_>, &str, Option<&str>) -> Result<Written<R::Rec>, ApiError> + Send + 'static,
{
    let (id, hdr) = (r.id(), r.if_match().map(str::to_owned));
    let (written, tenant) = r
        .write(move |tx| {
            let mut written = tx.retrying(hdr.is_some(), |tx| f(tx, &id, hdr.as_deref()))?;
            if written.rejected.is_none() {
                R::decorate(tx, std::slice::from_mut(&mut written.rec), &want)?;
            }
            Ok(written)
        })
        .await?;
    match written.rejected {
        Some(e) => Err(ApiError::Scim(e)),
        None => Ok((written.rec, tenant)),
    }
}

/// The projection of a write whose response has no body: everything but
/// `members`, so a group's members are never read for it.
pub(crate) fn without_members(rt: &'static ResourceType) -> Result<Projection, ApiError> {
    Projection::new::<&str>(rt, &[], &["members"])
        .map_err(|e| ApiError::internal(format!("projection without members: {e}")))
}

pub(crate) async fn delete<R: ScimResource>(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let (id, hdr) = (r.id(), r.if_match().map(str::to_owned));
    r.write(move |tx| R::delete(tx, &id, hdr.as_deref()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
