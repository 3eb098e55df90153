//! `/Users`: create, read, list, replace, patch and delete, with the product's
//! lifecycle rules (provisioning-core) applied in the same transaction as the
//! write and its audit records.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use provisioning_core::{
    Event, LifecycleRecord, Override, Rejection, TenantScimSettings, UserLifecycle, UserOverrides,
};
use scim_model::messages::{ListResponse, PatchRequest, ScimType, SearchRequest};
use scim_model::resource::{
    NormalizeOptions, check_required, finish_output, normalize, parse_bool,
};
use scim_model::schema::{PROVISIONING_USER_URN, USER, get_ci};
use serde_json::{Map, Value, json};
use store_diesel::tenants::Tenant;
use store_diesel::users::{self, Email, UserRecord};
use store_diesel::{DbConnection, StoreError, audit};

use crate::auth::authenticate;
use crate::common::{
    ListParams, etag, if_match, if_match_header, not_modified, projection_from_query,
};
use crate::respond::{Query, parse_body, scim_json};
use crate::{ApiError, ScimState};

/// Times a write is retried when another writer changed the user between our
/// read and our write (only when the client sent no `If-Match`).
const RETRIES: usize = 3;

/// The actor recorded in the audit log for SCIM writes.
pub(crate) const SCIM_ACTOR: &str = "scim";

// ---- documents ----------------------------------------------------------------------

/// The tenant's settings in provisioning-core's terms.
pub(crate) fn tenant_settings(t: &Tenant) -> TenantScimSettings {
    TenantScimSettings {
        automatic_invitation: t.settings.automatic_invitation,
        require_mobile_auth_for_users: t.settings.require_mobile_auth_users,
        require_mobile_auth_for_groups: t.settings.require_mobile_auth_groups,
    }
}

/// A boolean in the provisioning extension of a normalized document.
fn ext_bool(doc: &Value, name: &str) -> Option<bool> {
    doc.get(PROVISIONING_USER_URN)?.get(name)?.as_bool()
}

fn overrides_of(doc: &Value) -> UserOverrides {
    UserOverrides {
        automatic_invitation: Override::from(ext_bool(doc, "automaticInvitation")),
        require_mobile_auth: Override::from(ext_bool(doc, "requireMobileAuth")),
    }
}

fn lifecycle_of(rec: &UserRecord) -> Result<UserLifecycle, ApiError> {
    let record: LifecycleRecord = serde_json::from_value(rec.lifecycle.clone())
        .map_err(|e| ApiError::internal(format!("user {}: bad lifecycle: {e}", rec.id)))?;
    UserLifecycle::from_record(record)
        .map_err(|e| ApiError::internal(format!("user {}: {e}", rec.id)))
}

/// Builds the stored record from a normalized client document and the lifecycle:
/// the document gets `active` and the provisioning extension's read-only
/// attributes from the lifecycle, and `schemas`.
fn build_record(
    tenant_id: &str,
    id: &str,
    mut doc: Value,
    lifecycle: &UserLifecycle,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    version: i64,
) -> Result<UserRecord, ApiError> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| ApiError::internal("user document is not an object"))?;
    obj.remove("id");
    obj.remove("meta");
    obj.insert("active".into(), Value::Bool(lifecycle.scim_active()));
    let ext = obj
        .entry(PROVISIONING_USER_URN)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ext) = ext {
        ext.insert("status".into(), json!(lifecycle.status().as_str()));
        ext.insert(
            "mobileDeviceEnrolled".into(),
            json!(lifecycle.mobile_device_enrolled()),
        );
    }
    finish_output(&USER, &mut doc);
    let overrides = overrides_of(&doc);
    let user_name = doc
        .get("userName")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(ScimType::InvalidValue, "'userName' is required"))?
        .to_owned();
    let emails = doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    Some(Email {
                        value: e.get("value")?.as_str()?.to_owned(),
                        email_type: e.get("type").and_then(Value::as_str).map(str::to_owned),
                        primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let record = lifecycle.to_record();
    Ok(UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        user_name,
        external_id: doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        display_name: doc
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_owned),
        active: lifecycle.scim_active(),
        status: lifecycle.status().as_str().to_owned(),
        status_before_suspend: record.restore_to.map(|s| s.as_str().to_owned()),
        override_automatic_invitation: overrides.automatic_invitation.as_option(),
        override_require_mobile_auth: overrides.require_mobile_auth.as_option(),
        mobile_device_enrolled: lifecycle.mobile_device_enrolled(),
        mobile_device_name: lifecycle.mobile_device().map(|d| d.name.clone()),
        created_at,
        last_modified: now,
        version,
        document: doc,
        emails,
        lifecycle: serde_json::to_value(&record).map_err(ApiError::internal)?,
    })
}

/// The user as the client sees it (before projection).
pub(crate) fn representation(state: &ScimState, slug: &str, rec: &UserRecord) -> Value {
    let mut v = rec.to_resource();
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert(
            "location".into(),
            json!(format!(
                "{}/Users/{}",
                state.config.tenant_url(slug),
                rec.id
            )),
        );
    }
    v
}

fn written(state: &ScimState, slug: &str, rec: &UserRecord, status: StatusCode) -> HttpResponse {
    let body = representation(state, slug, rec);
    let mut res = HttpResponse::build(status);
    res.content_type(crate::SCIM_CONTENT_TYPE)
        .insert_header((header::ETAG, etag(rec.version)));
    if status == StatusCode::CREATED {
        res.insert_header((
            header::LOCATION,
            format!("{}/Users/{}", state.config.tenant_url(slug), rec.id),
        ));
    }
    res.json(body)
}

// ---- audit --------------------------------------------------------------------------

pub(crate) fn audit_events(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    events: &[Event],
) -> Result<(), StoreError> {
    for event in events {
        let details = serde_json::to_value(event).map_err(StoreError::other)?;
        audit::append(
            conn,
            tenant_id,
            &audit::NewAuditRecord {
                actor: SCIM_ACTOR,
                action: &format!("lifecycle.{}", event.name()),
                target_type: "User",
                target_id: Some(user_id),
                details: &details,
            },
        )?;
    }
    crate::invitations::record_events(conn, tenant_id, user_id, events)
}

fn audit_write(
    conn: &mut DbConnection,
    tenant_id: &str,
    action: &str,
    rec: &UserRecord,
    details: Value,
) -> Result<(), StoreError> {
    audit::append(
        conn,
        tenant_id,
        &audit::NewAuditRecord {
            actor: SCIM_ACTOR,
            action,
            target_type: "User",
            target_id: Some(&rec.id),
            details: &details,
        },
    )?;
    Ok(())
}

/// Top-level attribute names whose values differ between two documents.
fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let a = before.as_object().unwrap_or(&empty);
    let b = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| *k != "schemas" && a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

// ---- the operations (inside a transaction) -----------------------------------------

fn create_tx(
    conn: &mut DbConnection,
    tenant: &Tenant,
    doc: Value,
    now: DateTime<Utc>,
) -> Result<UserRecord, ApiError> {
    let effective = tenant_settings(tenant).effective_for_user(&overrides_of(&doc));
    let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    let (lifecycle, events) = UserLifecycle::provision(&effective, active, now);
    let id = uuid::Uuid::new_v4().to_string();
    let rec = build_record(&tenant.id, &id, doc, &lifecycle, now, now, 1)?;
    users::insert(conn, &rec).map_err(|e| conflict_user_name(e, &rec.user_name))?;
    audit_write(
        conn,
        &tenant.id,
        "user.create",
        &rec,
        json!({"userName": rec.user_name, "status": rec.status}),
    )?;
    audit_events(conn, &tenant.id, &rec.id, &events)?;
    Ok(rec)
}

fn conflict_user_name(e: StoreError, user_name: &str) -> ApiError {
    match e {
        StoreError::Conflict { what } if what.eq_ignore_ascii_case("userName") => ApiError::Scim(
            scim_model::ScimError::new(
                409,
                format!("userName {user_name} is already in use in this tenant"),
            )
            .with_type(ScimType::Uniqueness),
        ),
        other => other.into(),
    }
}

/// Applies a new client document (already merged) to a stored user: runs the
/// lifecycle transition its `active` asks for, rebuilds the record and writes it
/// when anything changed. Returns the stored user and whether it was written.
fn write_new_document(
    conn: &mut DbConnection,
    tenant: &Tenant,
    current: &UserRecord,
    new_doc: Value,
    expected: Option<i64>,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(UserRecord, bool), ApiError> {
    let mut lifecycle = lifecycle_of(current)?;
    let wanted = new_doc
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(current.active);
    let events = if wanted != lifecycle.scim_active() {
        let result = if wanted {
            lifecycle.reactivate(now)
        } else {
            lifecycle.deactivate(now)
        };
        match result {
            Ok(events) => events,
            Err(e)
                if matches!(
                    e.reason,
                    Rejection::AlreadySuspended | Rejection::NotSuspended
                ) =>
            {
                Vec::new()
            }
            Err(e) => return Err(ApiError::bad_request(ScimType::InvalidValue, e.to_string())),
        }
    } else {
        Vec::new()
    };
    let mut rec = build_record(
        &tenant.id,
        &current.id,
        new_doc,
        &lifecycle,
        current.created_at,
        now,
        current.version,
    )?;
    if rec.document == current.document && events.is_empty() {
        return Ok((current.clone(), false));
    }
    let version = users::update(conn, &rec, Some(expected.unwrap_or(current.version)))
        .map_err(|e| conflict_user_name(e, &rec.user_name))?;
    rec.version = version;
    audit_write(
        conn,
        &tenant.id,
        action,
        &rec,
        json!({"changed": changed_attributes(&current.document, &rec.document)}),
    )?;
    audit_events(conn, &tenant.id, &rec.id, &events)?;
    Ok((rec, true))
}

fn stored_document(rec: &UserRecord) -> Value {
    rec.document.clone()
}

/// A PUT body replaces the client-writable attributes. `active` absent keeps the
/// current value; an absent provisioning extension keeps the current overrides
/// (clients such as Okta PUT the whole user without knowing our extension).
fn merge_put(current: &UserRecord, mut doc: Value) -> Value {
    if let Some(obj) = doc.as_object_mut() {
        obj.entry("active").or_insert(Value::Bool(current.active));
        if !obj.contains_key(PROVISIONING_USER_URN)
            && let Some(ext) = current.document.get(PROVISIONING_USER_URN)
        {
            obj.insert(PROVISIONING_USER_URN.to_owned(), ext.clone());
        }
    }
    doc
}

/// Whether a raw body validly asks for `active: false` (deactivation wins).
fn body_deactivates(input: &Value) -> bool {
    input
        .as_object()
        .and_then(|o| get_ci(o, "active"))
        .is_some_and(|v| match v {
            Value::Bool(b) => !b,
            Value::String(s) => parse_bool(s) == Some(false),
            _ => false,
        })
}

/// Deactivation wins over a rejection that only the write itself finds (a
/// userName taken by another user, 409): when the rejected document sets
/// `active: false`, the user is suspended on its own, the rejection is audited
/// and returned. Any other error, or a document that does not deactivate, is
/// returned unchanged. (`users::update` runs in a savepoint, so the failed write
/// left the transaction usable.)
#[allow(clippy::too_many_arguments)]
fn suspend_despite(
    conn: &mut DbConnection,
    tenant: &Tenant,
    current: &UserRecord,
    rejected_doc: &Value,
    expected: Option<i64>,
    rejected_action: &str,
    now: DateTime<Utc>,
    err: ApiError,
) -> Result<(UserRecord, scim_model::ScimError), ApiError> {
    let scim = match err {
        ApiError::Scim(e)
            if e.status == 409 && rejected_doc.get("active") == Some(&Value::Bool(false)) =>
        {
            e
        }
        other => return Err(other),
    };
    let mut doc = stored_document(current);
    if let Some(o) = doc.as_object_mut() {
        o.insert("active".into(), Value::Bool(false));
    }
    let (rec, _) =
        write_new_document(conn, tenant, current, doc, expected, "user.deactivate", now)?;
    audit::append(
        conn,
        &tenant.id,
        &audit::NewAuditRecord {
            actor: SCIM_ACTOR,
            action: rejected_action,
            target_type: "User",
            target_id: Some(&rec.id),
            details: &json!({"error": scim.detail, "deactivationApplied": true}),
        },
    )?;
    Ok((rec, scim))
}

// ---- handlers -----------------------------------------------------------------------

async fn run<T, F>(state: &ScimState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    crate::common::in_transaction(&state.store, f).await
}

/// Retries `f` (a whole read-modify-write) when a concurrent writer bumped the
/// version between our read and our write and the client sent no `If-Match`.
async fn run_retrying<T, F>(state: &ScimState, has_if_match: bool, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + Sync + Clone + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let g = f.clone();
        match run(state, move |c| g(c)).await {
            Err(ApiError::Scim(e)) if e.status == 412 && !has_if_match && attempt < RETRIES => {
                continue;
            }
            other => return other,
        }
    }
}

pub(crate) async fn create(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let input: Value = parse_body(&body)?;
    let doc = normalize(&USER, &input, NormalizeOptions::default())?;
    check_required(&USER, &doc)?;
    let now = Utc::now();
    let tenant_row = t.clone();
    let rec = run(&state, move |c| create_tx(c, &tenant_row, doc, now)).await?;
    Ok(written(&state, &t.slug, &rec, StatusCode::CREATED))
}

pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let projection = projection_from_query(&USER, &Query::of(&req))?;
    let tid = t.id.clone();
    let rec = run(&state, move |c| {
        users::get(c, &tid, &id).map_err(|e| not_found(e, &id))
    })
    .await?;
    if not_modified(&req, rec.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(rec.version)))
            .finish());
    }
    let body = projection.apply(&representation(&state, &t.slug, &rec));
    Ok(HttpResponse::Ok()
        .content_type(crate::SCIM_CONTENT_TYPE)
        .insert_header((header::ETAG, etag(rec.version)))
        .json(body))
}

fn not_found(e: StoreError, id: &str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(format!("User {id} not found")),
        other => other.into(),
    }
}

pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let params = ListParams::from_query(&USER, &Query::of(&req), &state.config)?;
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
    let params = ListParams::from_search(&USER, &search, &state.config)?;
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
    let page = run(state, move |c| {
        let q = store_diesel::ListQuery {
            filter: filter.as_ref(),
            sort_by: sort_by.as_ref(),
            descending,
            start_index,
            count,
        };
        users::list(c, &tid, &q).map_err(ApiError::from)
    })
    .await?;
    let items = page
        .items
        .iter()
        .map(|rec| {
            params
                .projection
                .apply(&representation(state, &t.slug, rec))
        })
        .collect();
    Ok((page.total, items))
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
    let now = Utc::now();
    let has_if_match = if_match_header(&req).is_some();
    let normalized = normalize(&USER, &input, NormalizeOptions::default())
        .map_err(ApiError::from)
        .and_then(|doc| {
            check_required(&USER, &doc)
                .map(|()| doc)
                .map_err(ApiError::from)
        });
    let doc = match normalized {
        Ok(doc) => doc,
        Err(err) => {
            // Deactivation wins: a PUT that validly sets active=false suspends the
            // user even though the rest of it is rejected.
            if body_deactivates(&input) {
                let detail = err.body().detail;
                let (tenant_row, id, hdr) = (t.clone(), id.clone(), if_match_header(&req));
                run(&state, move |c| {
                    let current =
                        users::get(c, &tenant_row.id, &id).map_err(|e| not_found(e, &id))?;
                    let expected = if_match(hdr.as_deref(), current.version)?;
                    let mut doc = stored_document(&current);
                    if let Some(o) = doc.as_object_mut() {
                        o.insert("active".into(), Value::Bool(false));
                    }
                    write_new_document(
                        c,
                        &tenant_row,
                        &current,
                        doc,
                        expected,
                        "user.deactivate",
                        now,
                    )?;
                    audit::append(
                        c,
                        &tenant_row.id,
                        &audit::NewAuditRecord {
                            actor: SCIM_ACTOR,
                            action: "user.replace.rejected",
                            target_type: "User",
                            target_id: Some(&id),
                            details: &json!({"error": detail, "deactivationApplied": true}),
                        },
                    )?;
                    Ok(())
                })
                .await?;
            }
            return Err(err);
        }
    };
    let tenant_row = t.clone();
    let hdr = if_match_header(&req);
    let (rec, rejected) = run_retrying(&state, has_if_match, move |c| {
        let current = users::get(c, &tenant_row.id, &id).map_err(|e| not_found(e, &id))?;
        let expected = if_match(hdr.as_deref(), current.version)?;
        let new_doc = merge_put(&current, doc.clone());
        match write_new_document(
            c,
            &tenant_row,
            &current,
            new_doc.clone(),
            expected,
            "user.replace",
            now,
        ) {
            Ok((rec, _)) => Ok((rec, None)),
            Err(err) => {
                let (rec, scim) = suspend_despite(
                    c,
                    &tenant_row,
                    &current,
                    &new_doc,
                    expected,
                    "user.replace.rejected",
                    now,
                    err,
                )?;
                Ok((rec, Some(scim)))
            }
        }
    })
    .await?;
    if let Some(e) = rejected {
        return Err(ApiError::Scim(e));
    }
    Ok(written(&state, &t.slug, &rec, StatusCode::OK))
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
    let now = Utc::now();
    let has_if_match = if_match_header(&req).is_some();
    let limits = state.config.patch_limits;
    let tenant_row = t.clone();
    let hdr = if_match_header(&req);
    // Ok((record, Some(error))): the deactivation was applied, the rest rejected.
    let (rec, rejected) = run_retrying(&state, has_if_match, move |c| {
        let current = users::get(c, &tenant_row.id, &id).map_err(|e| not_found(e, &id))?;
        let expected = if_match(hdr.as_deref(), current.version)?;
        match scim_patch::apply_with(&current.to_resource(), &USER, &patch, limits) {
            Ok(outcome) => {
                if !outcome.changes.changed {
                    return Ok((current, None));
                }
                match write_new_document(
                    c,
                    &tenant_row,
                    &current,
                    outcome.resource.clone(),
                    expected,
                    "user.patch",
                    now,
                ) {
                    Ok((rec, _)) => Ok((rec, None)),
                    Err(err) => {
                        let (rec, scim) = suspend_despite(
                            c,
                            &tenant_row,
                            &current,
                            &outcome.resource,
                            expected,
                            "user.patch.rejected",
                            now,
                            err,
                        )?;
                        Ok((rec, Some(scim)))
                    }
                }
            }
            Err(err) => match err.deactivation() {
                Some(d) => {
                    let (rec, _) = write_new_document(
                        c,
                        &tenant_row,
                        &current,
                        d.outcome.resource.clone(),
                        expected,
                        "user.deactivate",
                        now,
                    )?;
                    let scim: scim_model::ScimError = (&err).into();
                    audit::append(
                        c,
                        &tenant_row.id,
                        &audit::NewAuditRecord {
                            actor: SCIM_ACTOR,
                            action: "user.patch.rejected",
                            target_type: "User",
                            target_id: Some(&rec.id),
                            details: &json!({"error": scim.detail, "deactivationApplied": true}),
                        },
                    )?;
                    Ok((rec, Some(scim)))
                }
                None => Err(ApiError::Scim(err.into())),
            },
        }
    })
    .await?;
    if let Some(e) = rejected {
        return Err(ApiError::Scim(e));
    }
    Ok(written(&state, &t.slug, &rec, StatusCode::OK))
}

pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, id) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let now = Utc::now();
    let hdr = if_match_header(&req);
    run(&state, move |c| {
        let current = users::get(c, &t.id, &id).map_err(|e| not_found(e, &id))?;
        if_match(hdr.as_deref(), current.version)?;
        let mut lifecycle = lifecycle_of(&current)?;
        let events = lifecycle
            .delete(now)
            .map_err(|e| ApiError::internal(format!("delete user {id}: {e}")))?;
        users::delete(c, &t.id, &id).map_err(|e| not_found(e, &id))?;
        audit_write(
            c,
            &t.id,
            "user.delete",
            &current,
            json!({"userName": current.user_name}),
        )?;
        audit_events(c, &t.id, &id, &events)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
