//! A tenant's webhook endpoints (`/tenants/{t}/webhooks`): register, read,
//! change, remove, rotate the signing secret (shown once; the old one stays in
//! use for a grace period), replay from a sequence number, and the delivery
//! log. Open to the admin token and to the tenant's own API keys
//! ([`super::tenant_access`]). Every write is audited, without secrets.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{TimeDelta, Utc};
use serde_json::{Map, Value, json};
use store_diesel::webhooks::{self as store, Endpoint};

use super::{
    AdminConfig, AdminError, PageParams, audit_as, object_body, only_keys, page, tenant_access, ts,
    tx,
};
use crate::ScimState;
use crate::webhooks::{SECRET_PURPOSE, check_resolved, new_secret, validate_url};

/// Longest grace period of a replaced signing secret (7 days).
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
/// Most event types one endpoint may name.
const MAX_EVENT_TYPES: usize = 32;

fn endpoint_json(e: &Endpoint) -> Value {
    let now = Utc::now();
    json!({
        "id": e.id,
        "url": e.url,
        "eventTypes": e.event_types,
        "enabled": e.enabled,
        "state": e.state,
        "dispatchedThroughSeq": e.cursor_seq,
        "previousSecretExpiresAt": e
            .previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| ts(*until)),
        "createdAt": ts(e.created_at),
        "updatedAt": ts(e.updated_at),
    })
}

fn bad(msg: impl Into<String>) -> AdminError {
    AdminError::BadRequest(msg.into())
}

fn url_field(map: &Map<String, Value>, config: &AdminConfig) -> Result<Option<String>, AdminError> {
    match map.get("url") {
        None => Ok(None),
        Some(Value::String(u)) => {
            validate_url(u, config.webhook_allow_http).map_err(|e| bad(e.to_string()))?;
            Ok(Some(u.clone()))
        }
        Some(_) => Err(bad("url: expected a string (an https:// URL)")),
    }
}

const EVENT_TYPES_MSG: &str = "eventTypes: expected an array of event types such as [\"user.suspended\", \"group.member_added\"] ([] = every type)";

/// Checks event type names (`user.suspended`, ...: lower case, a dot, at
/// most [`MAX_EVENT_TYPES`]) and drops repeats.
pub(crate) fn parse_event_types<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, AdminError> {
    let mut types: Vec<String> = Vec::new();
    for t in items {
        let valid = !t.is_empty()
            && t.len() <= 64
            && t.contains('.')
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_');
        if !valid {
            return Err(bad(format!("{EVENT_TYPES_MSG}; {t:?} is not one")));
        }
        if !types.iter().any(|x| x == t) {
            types.push(t.to_owned());
        }
        if types.len() > MAX_EVENT_TYPES {
            return Err(bad(format!("{EVENT_TYPES_MSG}; at most {MAX_EVENT_TYPES}")));
        }
    }
    Ok(types)
}

fn event_types_field(map: &Map<String, Value>) -> Result<Option<Vec<String>>, AdminError> {
    match map.get("eventTypes") {
        None => Ok(None),
        Some(Value::Array(items)) if items.len() <= MAX_EVENT_TYPES => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(t) = item else {
                    return Err(bad(EVENT_TYPES_MSG));
                };
                names.push(t.as_str());
            }
            parse_event_types(names).map(Some)
        }
        Some(_) => Err(bad(EVENT_TYPES_MSG)),
    }
}

fn enabled_field(map: &Map<String, Value>) -> Result<Option<bool>, AdminError> {
    match map.get("enabled") {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad("enabled: expected true or false")),
    }
}

fn grace_field(map: &Map<String, Value>, config: &AdminConfig) -> Result<TimeDelta, AdminError> {
    let msg = || {
        bad(format!(
            "graceSeconds: expected an integer from 0 to {MAX_GRACE_SECONDS}"
        ))
    };
    match map.get("graceSeconds") {
        None | Some(Value::Null) => Ok(config.webhook_secret_grace),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|s| (0..=MAX_GRACE_SECONDS).contains(s))
            .map(TimeDelta::seconds)
            .ok_or_else(msg),
        Some(_) => Err(msg()),
    }
}

fn seal(state: &ScimState, secret: &str) -> Result<String, AdminError> {
    state
        .keys
        .sealer()
        .seal(SECRET_PURPOSE, secret.as_bytes())
        .map_err(AdminError::internal)
}

fn fresh_secret(state: &ScimState) -> Result<(String, String), AdminError> {
    let secret = new_secret().map_err(AdminError::internal)?;
    let sealed = seal(state, &secret)?;
    Ok((secret, sealed))
}

pub(super) async fn list(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (tenant_id, _) = tenant_access(&req, &state, path.into_inner()).await?;
    let endpoints = list_of(&state, tenant_id).await?;
    let items: Vec<Value> = endpoints.iter().map(endpoint_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next": null })))
}

pub(super) async fn create(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: web::Data<AdminConfig>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (tenant_id, caller) = tenant_access(&req, &state, path.into_inner()).await?;
    let map = object_body(&body)?;
    only_keys(&map, &["url", "eventTypes", "enabled"])?;
    let url = url_field(&map, &config)?.ok_or_else(|| bad("url: required"))?;
    let types = event_types_field(&map)?.unwrap_or_default();
    let enabled = enabled_field(&map)?.unwrap_or(true);
    let (endpoint, secret) = create_as(
        &state,
        config.webhook_allow_http,
        tenant_id,
        caller,
        url,
        types,
        enabled,
    )
    .await?;
    let mut out = endpoint_json(&endpoint);
    out["signingSecret"] = json!(secret);
    Ok(HttpResponse::Created().json(out))
}

/// Refuses a URL whose host resolves to a non-public address (unless
/// `allow_internal`); the DNS lookup runs on the blocking pool.
async fn check_addresses(url: String, allow_internal: bool) -> Result<(), AdminError> {
    web::block(move || check_resolved(&url, allow_internal))
        .await?
        .map_err(|e| bad(e.to_string()))
}

/// Registers an endpoint of tenant `tenant_id` (URL checked, by text and by
/// the addresses it resolves to), audited under `actor`; returns it and its
/// new signing secret (shown once). The admin API and the console call this.
pub(crate) async fn create_as(
    state: &ScimState,
    allow_http: bool,
    tenant_id: String,
    actor: String,
    url: String,
    types: Vec<String>,
    enabled: bool,
) -> Result<(Endpoint, String), AdminError> {
    validate_url(&url, allow_http).map_err(|e| bad(e.to_string()))?;
    check_addresses(url.clone(), allow_http).await?;
    let (secret, sealed) = fresh_secret(state)?;
    let endpoint = tx(state, move |c| {
        let now = Utc::now();
        let mut e = store::create(c, &tenant_id, &url, &types, &sealed, now)?;
        if !enabled {
            e = store::update(c, &tenant_id, &e.id, &url, &types, false, now)?;
        }
        audit_as(
            c,
            &actor,
            &tenant_id,
            "webhook.created",
            "Webhook",
            Some(&e.id),
            &json!({"url": e.url, "eventTypes": e.event_types, "enabled": e.enabled}),
        )?;
        Ok(e)
    })
    .await?;
    Ok((endpoint, secret))
}

/// The endpoints of tenant `tenant_id`.
pub(crate) async fn list_of(
    state: &ScimState,
    tenant_id: String,
) -> Result<Vec<Endpoint>, AdminError> {
    super::read(state, move |c| Ok(store::list(c, &tenant_id)?)).await
}

/// One endpoint of tenant `tenant_id` (404 when it is another tenant's).
pub(crate) async fn get_of(
    state: &ScimState,
    tenant_id: String,
    id: String,
) -> Result<Endpoint, AdminError> {
    super::read(state, move |c| found(store::get(c, &tenant_id, &id))).await
}

pub(super) async fn get(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (tenant_id, _) = tenant_access(&req, &state, slug).await?;
    let e = get_of(&state, tenant_id, id).await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&e)))
}

fn found<T>(r: Result<T, store_diesel::StoreError>) -> Result<T, AdminError> {
    r.map_err(|e| match e {
        store_diesel::StoreError::NotFound => AdminError::NotFound("no such webhook".to_owned()),
        other => other.into(),
    })
}

pub(super) async fn update(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: web::Data<AdminConfig>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (tenant_id, caller) = tenant_access(&req, &state, slug).await?;
    let map = object_body(&body)?;
    only_keys(&map, &["url", "eventTypes", "enabled"])?;
    let url = url_field(&map, &config)?;
    let types = event_types_field(&map)?;
    let enabled = enabled_field(&map)?;
    let e = update_as(
        &state,
        config.webhook_allow_http,
        tenant_id,
        caller,
        id,
        Change {
            url,
            types,
            enabled,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&e)))
}

/// What an update changes (`None`: keep).
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub url: Option<String>,
    pub types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Changes an endpoint's URL (checked like [`create_as`]), event types or
/// enabled flag, audited under `actor`.
pub(crate) async fn update_as(
    state: &ScimState,
    allow_http: bool,
    tenant_id: String,
    actor: String,
    id: String,
    change: Change,
) -> Result<Endpoint, AdminError> {
    if let Some(url) = &change.url {
        validate_url(url, allow_http).map_err(|e| bad(e.to_string()))?;
        check_addresses(url.clone(), allow_http).await?;
    }
    tx(state, move |c| {
        let current = found(store::get(c, &tenant_id, &id))?;
        let url = change.url.unwrap_or(current.url);
        let types = change.types.unwrap_or(current.event_types);
        let enabled = change.enabled.unwrap_or(current.enabled);
        let e = store::update(c, &tenant_id, &id, &url, &types, enabled, Utc::now())?;
        audit_as(
            c,
            &actor,
            &tenant_id,
            "webhook.updated",
            "Webhook",
            Some(&id),
            &json!({"url": e.url, "eventTypes": e.event_types, "enabled": e.enabled}),
        )?;
        Ok(e)
    })
    .await
}

pub(super) async fn delete(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (tenant_id, caller) = tenant_access(&req, &state, slug).await?;
    delete_as(&state, tenant_id, caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes an endpoint (and its deliveries), audited under `actor`.
pub(crate) async fn delete_as(
    state: &ScimState,
    tenant_id: String,
    actor: String,
    id: String,
) -> Result<(), AdminError> {
    tx(state, move |c| {
        found(store::delete(c, &tenant_id, &id))?;
        audit_as(
            c,
            &actor,
            &tenant_id,
            "webhook.deleted",
            "Webhook",
            Some(&id),
            &json!({}),
        )?;
        Ok(())
    })
    .await
}

pub(super) async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: web::Data<AdminConfig>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (tenant_id, caller) = tenant_access(&req, &state, slug).await?;
    let map = object_body(&body)?;
    only_keys(&map, &["graceSeconds"])?;
    let grace = grace_field(&map, &config)?;
    let (e, secret) = rotate_as(&state, tenant_id, caller, id, grace).await?;
    let mut out = endpoint_json(&e);
    out["signingSecret"] = json!(secret);
    Ok(HttpResponse::Ok().json(out))
}

/// Gives an endpoint a new signing secret (returned, shown once); the old one
/// stays valid for `grace`. Audited under `actor`.
pub(crate) async fn rotate_as(
    state: &ScimState,
    tenant_id: String,
    actor: String,
    id: String,
    grace: TimeDelta,
) -> Result<(Endpoint, String), AdminError> {
    let (secret, sealed) = fresh_secret(state)?;
    let e = tx(state, move |c| {
        let e = found(store::rotate_secret(
            c,
            &tenant_id,
            &id,
            &sealed,
            grace,
            Utc::now(),
        ))?;
        audit_as(
            c,
            &actor,
            &tenant_id,
            "webhook.secret_rotated",
            "Webhook",
            Some(&id),
            &json!({"graceSeconds": grace.num_seconds()}),
        )?;
        Ok(e)
    })
    .await?;
    Ok((e, secret))
}

pub(super) async fn replay(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (tenant_id, caller) = tenant_access(&req, &state, slug).await?;
    let map = object_body(&body)?;
    only_keys(&map, &["fromSeq"])?;
    let from_seq = map
        .get("fromSeq")
        .and_then(Value::as_i64)
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            bad("fromSeq: required, a sequence number (1 or more) of the events feed")
        })?;
    let e = replay_as(&state, tenant_id, caller, id, from_seq).await?;
    Ok(HttpResponse::Accepted().json(endpoint_json(&e)))
}

/// Delivers the endpoint's events again from sequence `from_seq` (and
/// marks it healthy), audited under `actor`.
pub(crate) async fn replay_as(
    state: &ScimState,
    tenant_id: String,
    actor: String,
    id: String,
    from_seq: i64,
) -> Result<Endpoint, AdminError> {
    tx(state, move |c| {
        let e = found(store::replay(c, &tenant_id, &id, from_seq, Utc::now()))?;
        audit_as(
            c,
            &actor,
            &tenant_id,
            "webhook.replayed",
            "Webhook",
            Some(&id),
            &json!({"fromSeq": from_seq}),
        )?;
        Ok(e)
    })
    .await
}

/// A page of an endpoint's delivery log, oldest first (404 for another
/// tenant's endpoint).
pub(crate) async fn log_of(
    state: &ScimState,
    tenant_id: String,
    id: String,
    after: Option<String>,
    limit: u32,
) -> Result<Vec<store::LoggedAttempt>, AdminError> {
    super::read(state, move |c| {
        found(store::get(c, &tenant_id, &id))?;
        Ok(store::attempts(
            c,
            &tenant_id,
            &id,
            after.as_deref(),
            limit,
        )?)
    })
    .await
}

pub(super) async fn deliveries(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    query: web::Query<PageParams>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (tenant_id, _) = tenant_access(&req, &state, slug).await?;
    let limit = query.limit()?;
    let after = query.after()?.map(str::to_owned);
    let log = log_of(&state, tenant_id, id, after, limit).await?;
    let next = log.last().map(store::LoggedAttempt::cursor);
    let items: Vec<Value> = log
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "deliveryId": a.delivery_id,
                "seq": a.seq,
                "eventId": a.event_id,
                "attemptedAt": ts(a.attempt.attempted_at),
                "statusCode": a.attempt.status_code,
                "latencyMs": a.attempt.latency_ms,
                "error": a.attempt.error,
            })
        })
        .collect();
    Ok(page(items, limit, next))
}
