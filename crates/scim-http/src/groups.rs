//! `/Groups`: security groups with direct members only. Members live in their
//! own rows; member changes are deltas (adding 100 members to a group of 50,000
//! writes 100 rows), and `excludedAttributes=members` reads no member rows.

use std::collections::BTreeSet;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use scim_model::messages::{ListResponse, PatchRequest, ScimType, SearchRequest};
use scim_model::projection::Projection;
use scim_model::resource::{NormalizeOptions, check_required, finish_output, normalize};
use scim_model::schema::{GROUP, PROVISIONING_GROUP_URN};
use serde_json::{Value, json};
use store_diesel::groups::{self, GroupRecord};
use store_diesel::tenants::Tenant;
use store_diesel::{DbConnection, StoreError, audit, users};

use crate::auth::authenticate;
use crate::common::{
    ListParams, asks_for_representation, etag, if_match, if_match_header, not_modified,
    projection_from_query,
};
use crate::respond::{Query, parse_body, scim_json};
use crate::users::SCIM_ACTOR;
use crate::{ApiError, ScimState};

/// Member ids read per query when a group's members are returned.
const MEMBER_PAGE: u32 = 1000;

fn not_found(e: StoreError, id: &str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(format!("Group {id} not found")),
        other => other.into(),
    }
}

fn conflict_display_name(e: StoreError, name: &str) -> ApiError {
    match e {
        StoreError::Conflict { what } if what.eq_ignore_ascii_case("displayName") => {
            ApiError::Scim(
                scim_model::ScimError::new(
                    409,
                    format!("a group named {name:?} already exists in this tenant"),
                )
                .with_type(ScimType::Uniqueness),
            )
        }
        other => other.into(),
    }
}

/// Splits the `members` out of a normalized group document and checks each one:
/// a `value` is required and `type: Group` (a nested group) is refused.
fn take_members(doc: &mut Value) -> Result<BTreeSet<String>, ApiError> {
    let mut ids = BTreeSet::new();
    let Some(members) = doc.as_object_mut().and_then(|o| o.remove("members")) else {
        return Ok(ids);
    };
    for m in members.as_array().into_iter().flatten() {
        if m.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("group"))
        {
            return Err(nested_group_error());
        }
        let id = m.get("value").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad_request(
                ScimType::InvalidValue,
                "every member needs a string 'value'",
            )
        })?;
        ids.insert(id.to_owned());
    }
    Ok(ids)
}

fn nested_group_error() -> ApiError {
    ApiError::bad_request(
        ScimType::InvalidValue,
        "nested groups are not supported: members must be users",
    )
}

/// Refuses member ids that are not users of the tenant: groups ("nested groups
/// are not supported") and unknown ids. Nothing is written when any is refused.
/// Two indexed queries per 500 ids, whatever the size of the group.
fn check_member_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &BTreeSet<String>,
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
    let users_found = users::existing_ids(conn, tenant_id, &wanted)?;
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|id| !users_found.contains(*id))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !groups::existing_ids(conn, tenant_id, &missing)?.is_empty() {
        return Err(nested_group_error());
    }
    Err(ApiError::bad_request(
        ScimType::InvalidValue,
        format!(
            "unknown member ids (no such user in this tenant): {}",
            missing.join(", ")
        ),
    ))
}

fn build_record(
    tenant_id: &str,
    id: &str,
    mut doc: Value,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    version: i64,
) -> Result<GroupRecord, ApiError> {
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("id");
        obj.remove("meta");
        obj.remove("members");
    }
    finish_output(&GROUP, &mut doc);
    let ext = doc.get(PROVISIONING_GROUP_URN);
    let display_name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(ScimType::InvalidValue, "'displayName' is required"))?
        .to_owned();
    Ok(GroupRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        display_name,
        external_id: doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        override_require_mobile_auth: ext
            .and_then(|e| e.get("requireMobileAuth"))
            .and_then(Value::as_bool),
        members_can_store_data: ext
            .and_then(|e| e.get("membersCanStoreData"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        created_at,
        last_modified: now,
        version,
        document: doc,
    })
}

fn audit_group(
    conn: &mut DbConnection,
    tenant_id: &str,
    action: &str,
    group_id: &str,
    details: Value,
) -> Result<(), StoreError> {
    audit::append(
        conn,
        tenant_id,
        &audit::NewAuditRecord {
            actor: SCIM_ACTOR,
            action,
            target_type: "Group",
            target_id: Some(group_id),
            details: &details,
        },
    )?;
    Ok(())
}

/// Every member id of a group, read in pages on the primary key.
fn all_member_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = groups::member_ids(conn, tenant_id, group_id, after.as_deref(), MEMBER_PAGE)?;
        let done = page.len() < MEMBER_PAGE as usize;
        after = page.last().cloned();
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// The group as the client sees it; members only when the projection returns them.
fn representation(
    state: &ScimState,
    slug: &str,
    rec: &GroupRecord,
    members: Option<&[String]>,
) -> Value {
    let base = state.config.tenant_url(slug);
    let mut v = rec.to_resource();
    if let Some(obj) = v.as_object_mut() {
        if let Some(meta) = obj.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert(
                "location".into(),
                json!(format!("{base}/Groups/{}", rec.id)),
            );
        }
        if let Some(members) = members {
            let list: Vec<Value> = members
                .iter()
                .map(
                    |id| json!({"value": id, "$ref": format!("{base}/Users/{id}"), "type": "User"}),
                )
                .collect();
            obj.insert("members".into(), Value::Array(list));
        }
    }
    v
}

fn respond(
    state: &ScimState,
    slug: &str,
    rec: &GroupRecord,
    members: Option<&[String]>,
    projection: &Projection,
    status: StatusCode,
) -> HttpResponse {
    let body = projection.apply(&representation(state, slug, rec, members));
    let mut res = HttpResponse::build(status);
    res.content_type(crate::SCIM_CONTENT_TYPE)
        .insert_header((header::ETAG, etag(rec.version)));
    if status == StatusCode::CREATED {
        res.insert_header((
            header::LOCATION,
            format!("{}/Groups/{}", state.config.tenant_url(slug), rec.id),
        ));
    }
    res.json(body)
}

async fn run<T, F>(state: &ScimState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    crate::common::in_transaction(&state.store, f).await
}

pub(crate) async fn create(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let input: Value = parse_body(&body)?;
    let mut doc = normalize(&GROUP, &input, NormalizeOptions::default())?;
    check_required(&GROUP, &doc)?;
    let members = take_members(&mut doc)?;
    let now = Utc::now();
    let tid = t.id.clone();
    let (rec, members) = run(&state, move |c| {
        let id = uuid::Uuid::new_v4().to_string();
        let rec = build_record(&tid, &id, doc, now, now, 1)?;
        check_member_ids(c, &tid, &members)?;
        groups::insert(c, &rec).map_err(|e| conflict_display_name(e, &rec.display_name))?;
        let ids: Vec<String> = members.into_iter().collect();
        groups::add_members(c, &tid, &rec.id, &strs(&ids))?;
        audit_group(
            c,
            &tid,
            "group.create",
            &rec.id,
            json!({"displayName": rec.display_name, "membersAdded": ids.len()}),
        )?;
        Ok((rec, ids))
    })
    .await?;
    let projection = projection_from_query(&GROUP, &Query::of(&req))?;
    Ok(respond(
        &state,
        &t.slug,
        &rec,
        Some(&members),
        &projection,
        StatusCode::CREATED,
    ))
}

pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let projection = projection_from_query(&GROUP, &Query::of(&req))?;
    let want_members = projection.includes("members");
    let tid = t.id.clone();
    let (rec, members) = run(&state, move |c| {
        let rec = groups::get(c, &tid, &id).map_err(|e| not_found(e, &id))?;
        let members = if want_members {
            Some(all_member_ids(c, &tid, &id)?)
        } else {
            None
        };
        Ok((rec, members))
    })
    .await?;
    if not_modified(&req, rec.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(rec.version)))
            .finish());
    }
    Ok(respond(
        &state,
        &t.slug,
        &rec,
        members.as_deref(),
        &projection,
        StatusCode::OK,
    ))
}

pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let params = ListParams::from_query(&GROUP, &Query::of(&req), &state.config)?;
    list_with(&state, &t, params).await
}

pub(crate) async fn search(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let search: SearchRequest = parse_body(&body)?;
    let params = ListParams::from_search(&GROUP, &search, &state.config)?;
    list_with(&state, &t, params).await
}

pub(crate) async fn list_page(
    state: &ScimState,
    t: &Tenant,
    params: &ListParams,
) -> Result<(u64, Vec<Value>), ApiError> {
    let tid = t.id.clone();
    let filter = params.filter.clone();
    let sort_by = params.sort_by.clone();
    let (descending, start_index, count) = (params.descending, params.start_index, params.count);
    let want_members = params.projection.includes("members");
    let page = run(state, move |c| {
        let q = store_diesel::ListQuery {
            filter: filter.as_ref(),
            sort_by: sort_by.as_ref(),
            descending,
            start_index,
            count,
        };
        let page = groups::list(c, &tid, &q)?;
        let mut out = Vec::with_capacity(page.items.len());
        for rec in page.items {
            let members = if want_members {
                Some(all_member_ids(c, &tid, &rec.id)?)
            } else {
                None
            };
            out.push((rec, members));
        }
        Ok::<_, ApiError>((page.total, out))
    })
    .await?;
    let items = page
        .1
        .iter()
        .map(|(rec, members)| {
            params
                .projection
                .apply(&representation(state, &t.slug, rec, members.as_deref()))
        })
        .collect();
    Ok((page.0, items))
}

async fn list_with(
    state: &ScimState,
    t: &Tenant,
    params: ListParams,
) -> Result<HttpResponse, ApiError> {
    let (total, items) = list_page(state, t, &params).await?;
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, total, params.start_index),
    ))
}

pub(crate) async fn replace(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let input: Value = parse_body(&body)?;
    let mut doc = normalize(&GROUP, &input, NormalizeOptions::default())?;
    check_required(&GROUP, &doc)?;
    let members = take_members(&mut doc)?;
    let now = Utc::now();
    let hdr = if_match_header(&req);
    let tid = t.id.clone();
    let (rec, members) = run(&state, move |c| {
        let current = groups::get(c, &tid, &id).map_err(|e| not_found(e, &id))?;
        let expected = if_match(hdr.as_deref(), current.version)?;
        let mut rec = build_record(&tid, &id, doc, current.created_at, now, current.version)?;
        check_member_ids(c, &tid, &members)?;
        let before: BTreeSet<String> = all_member_ids(c, &tid, &id)?.into_iter().collect();
        let added: Vec<String> = members.difference(&before).cloned().collect();
        let removed: Vec<String> = before.difference(&members).cloned().collect();
        if rec.document == current.document && added.is_empty() && removed.is_empty() {
            return Ok((current, members.into_iter().collect::<Vec<_>>()));
        }
        groups::remove_members(c, &tid, &id, &strs(&removed))?;
        groups::add_members(c, &tid, &id, &strs(&added))?;
        rec.version = groups::update(c, &rec, Some(expected.unwrap_or(current.version)))
            .map_err(|e| conflict_display_name(e, &rec.display_name))?;
        audit_group(
            c,
            &tid,
            "group.replace",
            &id,
            json!({"membersAdded": added.len(), "membersRemoved": removed.len()}),
        )?;
        Ok((rec, members.into_iter().collect()))
    })
    .await?;
    let projection = projection_from_query(&GROUP, &Query::of(&req))?;
    Ok(respond(
        &state,
        &t.slug,
        &rec,
        Some(&members),
        &projection,
        StatusCode::OK,
    ))
}

pub(crate) async fn patch(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let patch: PatchRequest = parse_body(&body)?;
    let query = Query::of(&req);
    let projection = projection_from_query(&GROUP, &query)?;
    let want_body = asks_for_representation(&query);
    let want_members = want_body && projection.includes("members");
    let now = Utc::now();
    let hdr = if_match_header(&req);
    let limits = state.config.patch_limits;
    let tid = t.id.clone();
    let (rec, members) = run(&state, move |c| {
        let current = groups::get(c, &tid, &id).map_err(|e| not_found(e, &id))?;
        let expected = if_match(hdr.as_deref(), current.version)?;
        let outcome = scim_patch::apply_with(&current.to_resource(), &GROUP, &patch, limits)
            .map_err(|e| ApiError::Scim(e.into()))?;
        let changes = &outcome.changes;
        let mut rec = current.clone();
        if changes.changed {
            check_member_ids(c, &tid, &changes.members_added)?;
            let mut removed = 0;
            if changes.members_cleared {
                removed += groups::clear_members(c, &tid, &id)?;
            }
            let to_remove: Vec<String> = changes.members_removed.iter().cloned().collect();
            removed += groups::remove_members(c, &tid, &id, &strs(&to_remove))?;
            let to_add: Vec<String> = changes.members_added.iter().cloned().collect();
            let added = groups::add_members(c, &tid, &id, &strs(&to_add))?;
            let new = build_record(
                &tid,
                &id,
                outcome.resource.clone(),
                current.created_at,
                now,
                current.version,
            )?;
            if new.document != current.document || added > 0 || removed > 0 {
                rec = new;
                rec.version = groups::update(c, &rec, Some(expected.unwrap_or(current.version)))
                    .map_err(|e| conflict_display_name(e, &rec.display_name))?;
                audit_group(
                    c,
                    &tid,
                    "group.patch",
                    &id,
                    json!({
                        "changed": changes.attributes,
                        "membersAdded": added,
                        "membersRemoved": removed,
                    }),
                )?;
            }
        }
        let members = if want_members {
            Some(all_member_ids(c, &tid, &id)?)
        } else {
            None
        };
        Ok((rec, members))
    })
    .await?;
    if !want_body {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, etag(rec.version)))
            .finish());
    }
    Ok(respond(
        &state,
        &t.slug,
        &rec,
        members.as_deref(),
        &projection,
        StatusCode::OK,
    ))
}

pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let hdr = if_match_header(&req);
    run(&state, move |c| {
        let current = groups::get(c, &t.id, &id).map_err(|e| not_found(e, &id))?;
        if_match(hdr.as_deref(), current.version)?;
        groups::delete(c, &t.id, &id).map_err(|e| not_found(e, &id))?;
        audit_group(
            c,
            &t.id,
            "group.delete",
            &id,
            json!({"displayName": current.display_name}),
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}
