//! Settings → Webhooks & API keys: a tenant's API keys (create, shown once;
//! revoke) and webhook endpoints (register with the signing secret shown
//! once, rotate the secret with a grace period, enable or disable, delete,
//! the delivery log, replay from a sequence number). Every action calls the
//! admin API's function (`admin::api_keys::*_as`, `admin::webhooks::*_as`),
//! audited under the signed-in person; a tenant administrator reaches their
//! own tenant only (`Signed`), and another tenant's endpoint or key is 404.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};

use super::{ConsoleError, Signed, base, html, see_other};
use crate::ScimState;
use crate::admin::webhooks::{self as hooks, Change};
use crate::admin::{AdminConfig, AdminError, api_keys};

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

struct KeyRow {
    id: String,
    name: String,
    created_at: String,
}

struct EndpointRow {
    id: String,
    url: String,
    event_types: String,
    enabled: bool,
    state: String,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    keys: Vec<KeyRow>,
    endpoints: Vec<EndpointRow>,
    /// An API key just created (shown once).
    new_key: Option<String>,
    /// A signing secret just issued (shown once) and its endpoint.
    new_secret: Option<(String, String)>,
    error: Option<String>,
    /// The URL and event types typed into the register form (kept on error).
    url: String,
    event_types: String,
}

struct AttemptRow {
    attempted_at: String,
    seq: i64,
    event_id: String,
    delivered: bool,
    status_code: String,
    latency_ms: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct WebhookPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    endpoint: EndpointRow,
    dispatched_through: i64,
    pending: usize,
    previous_secret_until: Option<String>,
    new_secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    attempts: Vec<AttemptRow>,
    next_page: Option<String>,
}

/// The tenant's id and name (404 when it does not exist).
async fn tenant_of(state: &ScimState, slug: String) -> Result<(String, String), AdminError> {
    crate::admin::read(state, move |c| {
        let t = crate::admin::tenant(c, &slug)?;
        Ok((t.id, t.name))
    })
    .await
}

fn endpoint_row(e: &store_diesel::webhooks::Endpoint) -> EndpointRow {
    EndpointRow {
        id: e.id.clone(),
        url: e.url.clone(),
        event_types: if e.event_types.is_empty() {
            "every type".to_owned()
        } else {
            e.event_types.join(", ")
        },
        enabled: e.enabled,
        state: e.state.clone(),
    }
}

/// What the list page shows besides the lists.
#[derive(Default)]
struct ListExtras {
    new_key: Option<String>,
    new_secret: Option<(String, String)>,
    error: Option<String>,
    url: String,
    event_types: String,
}

async fn list_page(
    state: &ScimState,
    signed: &Signed,
    slug: String,
    status: StatusCode,
    extras: ListExtras,
) -> Result<HttpResponse, ConsoleError> {
    let (tenant_id, tenant_name) = tenant_of(state, slug.clone()).await?;
    let keys = api_keys::list_of(state, slug.clone()).await?;
    let endpoints = hooks::list_of(state, tenant_id).await?;
    let body = WebhooksPage {
        csrf: Some(signed.csrf_token.clone()),
        base: base(state),
        csrf_token: signed.csrf_token.clone(),
        tab: "webhooks",
        slug,
        tenant_name,
        keys: keys
            .iter()
            .map(|k| KeyRow {
                id: k.id.clone(),
                name: k.name.clone(),
                created_at: when(k.created_at),
            })
            .collect(),
        endpoints: endpoints.iter().map(endpoint_row).collect(),
        new_key: extras.new_key,
        new_secret: extras.new_secret,
        error: extras.error,
        url: extras.url,
        event_types: extras.event_types,
    }
    .render()?;
    Ok(html(status, body))
}

/// `GET /console/tenants/{t}/webhooks`.
pub(super) async fn webhooks(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    list_page(
        &state,
        &signed,
        path.into_inner(),
        StatusCode::OK,
        ListExtras::default(),
    )
    .await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Create an API key; the key is shown once.
pub(super) async fn create_key(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<KeyForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let slug = path.into_inner();
    let name = form.name.trim().to_owned();
    match api_keys::create_as(&state, slug.clone(), signed.actor(), name).await {
        Ok(created) => {
            let extras = ListExtras {
                new_key: Some(created.key),
                ..ListExtras::default()
            };
            list_page(&state, &signed, slug, StatusCode::OK, extras).await
        }
        Err(AdminError::BadRequest(why)) => {
            let extras = ListExtras {
                error: Some(format!("Nothing changed: {why}")),
                ..ListExtras::default()
            };
            list_page(&state, &signed, slug, StatusCode::BAD_REQUEST, extras).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

/// Revoke an API key (it stops working at once).
pub(super) async fn revoke_key(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, id) = path.into_inner();
    api_keys::revoke_as(&state, slug.clone(), signed.actor(), id).await?;
    Ok(see_other(&format!(
        "{}/tenants/{slug}/webhooks",
        base(&state)
    )))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    /// Comma- or space-separated event types; empty: every type.
    #[serde(default)]
    event_types: String,
}

/// Register an endpoint; its signing secret is shown once.
pub(super) async fn register(
    state: web::Data<ScimState>,
    config: web::Data<AdminConfig>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let slug = path.into_inner();
    let url = form.url.trim().to_owned();
    let result = async {
        let types = hooks::parse_event_types(
            form.event_types
                .split([',', ' ', '\n', '\r', '\t'])
                .filter(|s| !s.is_empty()),
        )?;
        let (tenant_id, _) = tenant_of(&state, slug.clone()).await?;
        hooks::create_as(
            &state,
            config.webhook_allow_http,
            tenant_id,
            signed.actor(),
            url.clone(),
            types,
            true,
        )
        .await
    }
    .await;
    match result {
        Ok((e, secret)) => {
            let extras = ListExtras {
                new_secret: Some((e.id, secret)),
                ..ListExtras::default()
            };
            list_page(&state, &signed, slug, StatusCode::CREATED, extras).await
        }
        Err(AdminError::BadRequest(why)) => {
            let extras = ListExtras {
                error: Some(format!("Nothing changed: {why}")),
                url,
                event_types: form.event_types.clone(),
                ..ListExtras::default()
            };
            list_page(&state, &signed, slug, StatusCode::BAD_REQUEST, extras).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What the endpoint page shows besides the endpoint.
#[derive(Default)]
struct EndpointExtras {
    new_secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    after: Option<String>,
}

/// Rows of the delivery log per page.
const LOG_PAGE: u32 = 50;

async fn endpoint_page(
    state: &ScimState,
    signed: &Signed,
    slug: String,
    id: String,
    status: StatusCode,
    extras: EndpointExtras,
) -> Result<HttpResponse, ConsoleError> {
    let (tenant_id, tenant_name) = tenant_of(state, slug.clone()).await?;
    let e = hooks::get_of(state, tenant_id.clone(), id.clone()).await?;
    let pending = {
        let (t, i) = (tenant_id.clone(), id.clone());
        crate::admin::read(state, move |c| {
            Ok(store_diesel::webhooks::pending(c, &t, &i)?.len())
        })
        .await?
    };
    let log = hooks::log_of(state, tenant_id, id, extras.after, LOG_PAGE).await?;
    let next_page = (log.len() == LOG_PAGE as usize)
        .then(|| {
            log.last()
                .map(store_diesel::webhooks::LoggedAttempt::cursor)
        })
        .flatten();
    let now = Utc::now();
    let body = WebhookPage {
        csrf: Some(signed.csrf_token.clone()),
        base: base(state),
        csrf_token: signed.csrf_token.clone(),
        tab: "webhooks",
        slug,
        tenant_name,
        endpoint: endpoint_row(&e),
        dispatched_through: e.cursor_seq,
        pending,
        previous_secret_until: e
            .previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| when(*until)),
        new_secret: extras.new_secret,
        notice: extras.notice,
        error: extras.error,
        attempts: log
            .iter()
            .map(|a| AttemptRow {
                attempted_at: when(a.attempt.attempted_at),
                seq: a.seq,
                event_id: a.event_id.clone(),
                delivered: a.attempt.error.is_none(),
                status_code: a
                    .attempt
                    .status_code
                    .map_or_else(|| "–".to_owned(), |c| c.to_string()),
                latency_ms: a.attempt.latency_ms,
                error: a.attempt.error.clone().unwrap_or_default(),
            })
            .collect(),
        next_page,
    }
    .render()?;
    Ok(html(status, body))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LogQuery {
    after: Option<String>,
}

/// `GET /console/tenants/{t}/webhooks/{id}`: the endpoint and its delivery log.
pub(super) async fn endpoint(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (slug, id) = path.into_inner();
    let after = query.into_inner().after.filter(|a| !a.is_empty());
    let extras = EndpointExtras {
        after,
        ..EndpointExtras::default()
    };
    endpoint_page(&state, &signed, slug, id, StatusCode::OK, extras).await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct RotateForm {
    #[serde(default)]
    csrf: String,
    grace: Option<String>,
}

/// Rotate the signing secret; the new one is shown once, the old one keeps
/// signing for the chosen grace period.
pub(super) async fn rotate(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<RotateForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, id) = path.into_inner();
    let grace = match form.grace.as_deref() {
        None | Some("") | Some("0") => 0,
        Some("3600") => 3600,
        Some("86400") => 86_400,
        Some("604800") => 604_800,
        Some(_) => {
            let extras = EndpointExtras {
                error: Some(
                    "Nothing changed: choose how long the previous secret keeps working."
                        .to_owned(),
                ),
                ..EndpointExtras::default()
            };
            return endpoint_page(&state, &signed, slug, id, StatusCode::BAD_REQUEST, extras).await;
        }
    };
    let (tenant_id, _) = tenant_of(&state, slug.clone()).await?;
    let (_, secret) = hooks::rotate_as(
        &state,
        tenant_id,
        signed.actor(),
        id.clone(),
        TimeDelta::seconds(grace),
    )
    .await?;
    let extras = EndpointExtras {
        new_secret: Some(secret),
        ..EndpointExtras::default()
    };
    endpoint_page(&state, &signed, slug, id, StatusCode::OK, extras).await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct EnabledForm {
    #[serde(default)]
    csrf: String,
    /// `on` to enable, anything else to disable.
    #[serde(default)]
    enabled: String,
}

/// Enable or disable the endpoint.
pub(super) async fn set_enabled(
    state: web::Data<ScimState>,
    config: web::Data<AdminConfig>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<EnabledForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, id) = path.into_inner();
    let (tenant_id, _) = tenant_of(&state, slug.clone()).await?;
    let enabled = form.enabled == "on";
    hooks::update_as(
        &state,
        config.webhook_allow_http,
        tenant_id,
        signed.actor(),
        id.clone(),
        Change {
            enabled: Some(enabled),
            ..Change::default()
        },
    )
    .await?;
    let extras = EndpointExtras {
        notice: Some(if enabled {
            "Enabled: deliveries resume.".to_owned()
        } else {
            "Disabled: nothing is sent until you enable it again.".to_owned()
        }),
        ..EndpointExtras::default()
    };
    endpoint_page(&state, &signed, slug, id, StatusCode::OK, extras).await
}

/// Delete the endpoint (and its pending deliveries); needs the tick.
pub(super) async fn delete(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, id) = path.into_inner();
    if form.confirm.as_deref() != Some("yes") {
        let extras = EndpointExtras {
            error: Some(
                "Nothing changed: tick the box to confirm, then press Delete endpoint.".to_owned(),
            ),
            ..EndpointExtras::default()
        };
        return endpoint_page(&state, &signed, slug, id, StatusCode::BAD_REQUEST, extras).await;
    }
    let (tenant_id, _) = tenant_of(&state, slug.clone()).await?;
    hooks::delete_as(&state, tenant_id, signed.actor(), id).await?;
    Ok(see_other(&format!(
        "{}/tenants/{slug}/webhooks",
        base(&state)
    )))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    from_seq: String,
}

/// Deliver the endpoint's events again from a sequence number (and mark it
/// healthy).
pub(super) async fn replay(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<ReplayForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, id) = path.into_inner();
    let Some(from_seq) = form.from_seq.trim().parse::<i64>().ok().filter(|n| *n >= 1) else {
        let extras = EndpointExtras {
            error: Some(
                "Nothing changed: enter a sequence number (1 or more) of the events feed."
                    .to_owned(),
            ),
            ..EndpointExtras::default()
        };
        return endpoint_page(&state, &signed, slug, id, StatusCode::BAD_REQUEST, extras).await;
    };
    let (tenant_id, _) = tenant_of(&state, slug.clone()).await?;
    hooks::replay_as(&state, tenant_id, signed.actor(), id.clone(), from_seq).await?;
    let extras = EndpointExtras {
        notice: Some(format!(
            "Replaying from sequence {from_seq}: the events are delivered again (same webhook-id)."
        )),
        ..EndpointExtras::default()
    };
    endpoint_page(&state, &signed, slug, id, StatusCode::OK, extras).await
}
