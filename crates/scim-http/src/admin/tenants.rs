//! Tenants, the Integrations view (Tenant URL, token creation time, Generate),
//! SCIM settings, invitations and the audit log.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};
use store_diesel::invitations::{self, Cursor, InvitationRecord, StateFilter};
use store_diesel::tenants::{self as store_tenants, Tenant, TenantSettings};
use store_diesel::{StoreError, audit, tokens};

use super::{
    ADMIN_ACTOR, Admin, AdminError, PageParams, audit_as, object_body, only_keys, page, read,
    tenant, tri_state, ts, tx,
};
use crate::ScimState;
use crate::change_events;
use crate::users::tenant_settings;

fn tenant_json(state: &ScimState, t: &Tenant) -> Value {
    json!({
        "id": t.id,
        "slug": t.slug,
        "name": t.name,
        "createdAt": ts(t.created_at),
        "tenantUrl": state.config.tenant_url(&t.slug),
    })
}

pub(super) async fn list(
    _: Admin,
    state: web::Data<ScimState>,
) -> Result<HttpResponse, AdminError> {
    let all = list_tenants(&state).await?;
    let items: Vec<Value> = all.iter().map(|t| tenant_json(&state, t)).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next": null })))
}

/// Every tenant (the admin API's list and the console's Tenants page).
pub(crate) async fn list_tenants(state: &ScimState) -> Result<Vec<Tenant>, AdminError> {
    read(state, |c| Ok(store_tenants::list(c)?)).await
}

pub(super) async fn create(
    _: Admin,
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["slug", "name"])?;
    let slug = match map.get("slug") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(AdminError::BadRequest(
                "slug: required, a string of lower-case letters, digits and '-'".to_owned(),
            ));
        }
    };
    let name = match map.get("name") {
        None | Some(Value::Null) => slug.clone(),
        Some(Value::String(s)) if !s.trim().is_empty() && !s.contains('\0') => s.trim().to_owned(),
        Some(_) => {
            return Err(AdminError::BadRequest(
                "name: expected a non-empty string without NUL characters".to_owned(),
            ));
        }
    };
    let t = create_tenant_as(&state, slug, name, ADMIN_ACTOR.to_owned()).await?;
    let mut body = tenant_json(&state, &t);
    body["scimSettings"] = json!(tenant_settings(&t));
    Ok(HttpResponse::Created().json(body))
}

/// Creates the tenant `slug` named `name` (400 for a bad slug, 409 when it
/// exists), audited in its log under `actor`. The admin API and the
/// console's Tenants page call this.
pub(crate) async fn create_tenant_as(
    state: &ScimState,
    slug: String,
    name: String,
    actor: String,
) -> Result<Tenant, AdminError> {
    store_tenants::validate_slug(&slug).map_err(|e| match e {
        StoreError::InvalidInput(m) => AdminError::BadRequest(format!("slug: {m}")),
        other => other.into(),
    })?;
    tx(state, move |c| {
        let t = store_tenants::create(c, &slug, &name).map_err(|e| match e {
            StoreError::Conflict { .. } => {
                AdminError::Conflict(format!("slug: a tenant {slug:?} already exists"))
            }
            other => other.into(),
        })?;
        audit_as(
            c,
            &actor,
            &t.id,
            "tenant.create",
            "Tenant",
            Some(&t.id),
            &json!({"slug": t.slug, "name": t.name}),
        )?;
        Ok(t)
    })
    .await
}

pub(super) async fn integration(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (t, live) = integration_of(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({
        "tenantUrl": state.config.tenant_url(&t.slug),
        "tokenCreatedAt": live.map(|l| ts(l.created_at)),
    })))
}

pub(super) async fn generate_token(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (t, issued) = generate_token_as(&state, path.into_inner(), ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Created().json(json!({
        "tenantUrl": state.config.tenant_url(&t.slug),
        "secretToken": issued.token,
        "createdAt": ts(issued.created_at),
        "message": "The previous Secret Token no longer works. Give Entra ID the new one: Enterprise applications > your app > Provisioning > Admin Credentials > Secret Token, then Test connection. It is shown only once.",
    })))
}

/// The tenant `slug` and its live Secret Token's record (no secret), if any:
/// what the Integrations view shows.
pub(crate) async fn integration_of(
    state: &ScimState,
    slug: String,
) -> Result<(Tenant, Option<tokens::TokenRecord>), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let live = tokens::live(c, &t.id)?;
        Ok((t, live))
    })
    .await
}

/// Generate: a new Secret Token for the tenant `slug`; every earlier token
/// stops working at once. Audited under `actor`. The admin API and the console
/// both call this.
pub(crate) async fn generate_token_as(
    state: &ScimState,
    slug: String,
    actor: String,
) -> Result<(Tenant, tokens::IssuedToken), AdminError> {
    let keys = state.keys.clone();
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let issued = tokens::issue_signed(c, &t.id, Some(keys.key_id()), |jti, now| {
            keys.issue(&t.id, jti, now)
        })?;
        // The token id only: never the secret.
        audit_as(
            c,
            &actor,
            &t.id,
            "token.generate",
            "Tenant",
            Some(&t.id),
            &json!({"tokenId": issued.token_id, "previousTokensRevoked": true}),
        )?;
        store_diesel::events::append(
            c,
            &t.id,
            change_events::token_regenerated(&t, issued.created_at, issued.created_at),
        )?;
        Ok((t, issued))
    })
    .await
}

pub(super) async fn get_settings(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner();
    let t = read(&state, move |c| tenant(c, &slug)).await?;
    Ok(HttpResponse::Ok().json(tenant_settings(&t)))
}

/// How many users and groups of the tenant `slug` carry their own override
/// of each SCIM setting (three indexed counts): the admin API's
/// `GET /tenants/{t}/scim-settings/overrides` and the console's SCIM
/// settings page.
pub(crate) async fn override_counts_of(
    state: &ScimState,
    slug: String,
) -> Result<(Tenant, OverrideCounts), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let (automatic, mobile) = store_diesel::users::override_counts(c, &t.id)?;
        let groups = store_diesel::groups::override_count(c, &t.id)?;
        Ok((
            t,
            OverrideCounts {
                users_automatic_invitation: automatic,
                users_require_mobile_auth: mobile,
                groups_require_mobile_auth: groups,
            },
        ))
    })
    .await
}

/// Users and groups with their own override of each SCIM setting.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OverrideCounts {
    /// Users with their own automatic-invitation setting.
    pub users_automatic_invitation: i64,
    /// Users with their own "require mobile authentication".
    pub users_require_mobile_auth: i64,
    /// Groups with their own "require mobile authentication".
    pub groups_require_mobile_auth: i64,
}

pub(super) async fn get_override_counts(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (_, counts) = override_counts_of(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(counts))
}

pub(super) async fn put_settings(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    const KEYS: [&str; 3] = [
        "automaticInvitation",
        "requireMobileAuthForUsers",
        "requireMobileAuthForGroups",
    ];
    let map = object_body(&body)?;
    only_keys(&map, &KEYS)?;
    let automatic = tri_state(&map, KEYS[0], false)?.flatten();
    let users = tri_state(&map, KEYS[1], false)?.flatten();
    let groups = tri_state(&map, KEYS[2], false)?.flatten();
    let t = update_settings_as(
        &state,
        path.into_inner(),
        ADMIN_ACTOR.to_owned(),
        [automatic, users, groups],
    )
    .await?;
    Ok(HttpResponse::Ok().json(tenant_settings(&t)))
}

/// Sets the SCIM settings given (`[automaticInvitation,
/// requireMobileAuthForUsers, requireMobileAuthForGroups]`, `None` = leave
/// alone) of the tenant `slug`, audited under `actor`. The admin API's `PUT`
/// and the console both call this.
pub(crate) async fn update_settings_as(
    state: &ScimState,
    slug: String,
    actor: String,
    [automatic, users, groups]: [Option<bool>; 3],
) -> Result<Tenant, AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let before = t.settings;
        let after = TenantSettings {
            automatic_invitation: automatic.unwrap_or(before.automatic_invitation),
            require_mobile_auth_users: users.unwrap_or(before.require_mobile_auth_users),
            require_mobile_auth_groups: groups.unwrap_or(before.require_mobile_auth_groups),
        };
        let updated = store_tenants::update_settings(c, &t.id, &after)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "tenant.settings.update",
            "Tenant",
            Some(&t.id),
            &json!({"before": tenant_settings(&t), "after": tenant_settings(&updated)}),
        )?;
        if t.settings != updated.settings {
            // One tenant event, however many users and groups inherit.
            store_diesel::events::append(
                c,
                &t.id,
                change_events::tenant_settings_changed(&updated, Utc::now()),
            )?;
        }
        Ok(updated)
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct InvitationQuery {
    state: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

pub(super) fn invitation_json(i: &InvitationRecord, now: chrono::DateTime<Utc>) -> Value {
    json!({
        "id": i.id,
        "userId": i.user_id,
        "number": i.number,
        "trigger": i.trigger,
        "state": i.reported_state(now),
        "queuedAt": ts(i.created_at),
        "releasedAt": i.released_at.map(ts),
        "sentAt": i.sent_at.map(ts),
        "expiresAt": i.expires_at.map(ts),
        "acceptedAt": i.accepted_at.map(ts),
        "deliveryAttempts": i.attempts,
        "lastDeliveryError": i.last_error,
    })
}

pub(super) async fn list_invitations(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    query: web::Query<InvitationQuery>,
) -> Result<HttpResponse, AdminError> {
    let filter = match query.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(StateFilter::parse(s).ok_or_else(|| {
            AdminError::BadRequest(format!(
                "state: {s:?} is not one of queued, sent, accepted, expired, cancelled, failed"
            ))
        })?),
    };
    let limit = query.page.limit()?;
    let after = match query.page.after()? {
        None => None,
        Some(a) => Some(Cursor::parse(a).ok_or_else(|| {
            AdminError::BadRequest("after: not a cursor from a previous page's next".to_owned())
        })?),
    };
    let now = Utc::now();
    let rows = invitations_page(&state, path.into_inner(), filter, after, limit, now).await?;
    let next = rows.last().map(|r| Cursor::after(r).to_string());
    let items = rows.iter().map(|i| invitation_json(i, now)).collect();
    Ok(page(items, limit, next))
}

/// A page of the tenant's invitations (`state` filter, keyset cursor),
/// reported at `now`: the admin API's list and the console's Invitations page.
pub(crate) async fn invitations_page(
    state: &ScimState,
    slug: String,
    filter: Option<StateFilter>,
    after: Option<Cursor>,
    limit: u32,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<InvitationRecord>, AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        Ok(invitations::list(
            c,
            &t.id,
            filter,
            after.as_ref(),
            limit,
            now,
        )?)
    })
    .await
}

/// The tenant's provisioning progress, as `scim-server status` reports it
/// (the last SCIM write, invitations waiting or failing, the outbox): the
/// console's Provisioning activity page.
pub(crate) async fn activity_of(
    state: &ScimState,
    slug: String,
) -> Result<(Tenant, store_diesel::status::TenantStatus, TenantActivity), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let status = store_diesel::status::of_tenant(c, &t.id)?;
        let since = (Utc::now() - crate::activity::LOOKBACK).timestamp();
        let activity = TenantActivity {
            buckets: store_diesel::activity::buckets_since(c, &t.id, since)?,
            errors: store_diesel::activity::last_errors(c, &t.id, 10)?,
        };
        Ok((t, status, activity))
    })
    .await
}

/// What the replicas wrote of a tenant's SCIM requests: the buckets of the
/// last [`crate::activity::LOOKBACK`] and the newest errors.
#[derive(Debug)]
pub(crate) struct TenantActivity {
    /// Requests per bucket, newest first.
    pub buckets: Vec<store_diesel::activity::Bucket>,
    /// The newest errors, newest first.
    pub errors: Vec<store_diesel::activity::RequestError>,
}

/// A page of the tenant's audit log, oldest first, after the record `after`
/// (its `seq`): the admin API's log and the console's Audit log page.
pub(crate) async fn audit_page(
    state: &ScimState,
    slug: String,
    filter: AuditQuery,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<audit::AuditRecord>, AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let f = audit::AuditFilter {
            actor: filter.actor.as_deref(),
            action: filter.action.as_deref(),
            target_id: filter.target_id.as_deref(),
        };
        Ok(audit::page_where(c, &t.id, &f, after, limit)?)
    })
    .await
}

/// The audit log's exact-match filters (`actor`, `action`, `targetId`);
/// empty values match everything.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target_id: Option<String>,
}

impl AuditQuery {
    /// The filters with empty values dropped; 400 for a NUL character.
    pub(crate) fn cleaned(self) -> Result<AuditQuery, AdminError> {
        let clean = |name: &str, v: Option<String>| match v.map(|v| v.trim().to_owned()) {
            Some(v) if v.contains('\0') => Err(AdminError::BadRequest(format!(
                "{name}: must not contain NUL characters"
            ))),
            Some(v) if !v.is_empty() => Ok(Some(v)),
            _ => Ok(None),
        };
        Ok(AuditQuery {
            actor: clean("actor", self.actor)?,
            action: clean("action", self.action)?,
            target_id: clean("targetId", self.target_id)?,
        })
    }

    /// The filters, for a page's links and form.
    pub(crate) fn parts(&self) -> [&str; 3] {
        [
            self.actor.as_deref().unwrap_or_default(),
            self.action.as_deref().unwrap_or_default(),
            self.target_id.as_deref().unwrap_or_default(),
        ]
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct AuditLogQuery {
    #[serde(flatten)]
    filter: AuditQuery,
    #[serde(flatten)]
    page: PageParams,
}

pub(super) async fn audit_log(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    query: web::Query<AuditLogQuery>,
) -> Result<HttpResponse, AdminError> {
    let AuditLogQuery {
        filter,
        page: query,
    } = query.into_inner();
    let filter = filter.cleaned()?;
    let limit = query.limit()?;
    let after = match query.after()? {
        None => None,
        Some(a) => Some(a.parse::<i64>().map_err(|_| {
            AdminError::BadRequest("after: expected the next value of a previous page".to_owned())
        })?),
    };
    let records = audit_page(&state, path.into_inner(), filter, after, limit).await?;
    let next = records.last().map(|r| r.seq.to_string());
    let items = records
        .into_iter()
        .map(|r| {
            json!({
                "seq": r.seq,
                "at": ts(r.at),
                "actor": r.actor,
                "action": r.action,
                "targetType": r.target_type,
                "targetId": r.target_id,
                "details": r.details,
            })
        })
        .collect();
    Ok(page(items, limit, next))
}
