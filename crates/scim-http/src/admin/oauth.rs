//! The tenant's OAuth 2.0 client (`/tenants/{t}/integration/oauth-client`):
//! read it (never a secret), create it or rotate its secret (the secret shown
//! once), delete it, register its public keys for `private_key_jwt` and switch
//! the tenant to "OAuth only". Every write is audited, without secrets.

use actix_web::{HttpResponse, web};
use chrono::TimeDelta;
use serde_json::{Map, Value, json};
use store_diesel::oauth::{self as store_oauth, OAuthClient};
use store_diesel::{StoreError, tenants::Tenant};

use super::{ADMIN_ACTOR, Admin, AdminError, audit_as, object_body, only_keys, tenant, ts, tx};
use crate::ScimState;
use crate::oauth::{AUTH_METHODS, OAuthConfig, normalize_jwks};

/// Grace period of the replaced secret when a rotation names none (24 hours),
/// so the identity provider can be updated without a provisioning failure.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;

fn key_ids(jwks: Option<&str>) -> Value {
    let parsed = jwks.and_then(|j| serde_json::from_str::<Value>(j).ok());
    match parsed.as_ref().and_then(|v| v.get("keys")) {
        Some(Value::Array(keys)) => Value::Array(
            keys.iter()
                .map(|k| k.get("kid").cloned().unwrap_or(Value::Null))
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn client_json(
    state: &ScimState,
    config: Option<&OAuthConfig>,
    client: Option<&OAuthClient>,
    oauth_only: bool,
) -> Value {
    let lifetime = config
        .map(|c| c.access_token_lifetime)
        .unwrap_or(OAuthConfig::MIN_LIFETIME);
    let now = chrono::Utc::now();
    json!({
        "clientId": client.map(|c| c.client_id.clone()),
        "tokenEndpoint": state.config.token_endpoint(),
        "createdAt": client.map(|c| ts(c.created_at)),
        "secretRotatedAt": client.and_then(|c| c.rotated_at.map(ts)),
        "previousSecretExpiresAt": client
            .filter(|c| c.previous_secret_live(now))
            .and_then(|c| c.previous_secret_expires_at.map(ts)),
        "jwks": client
            .and_then(|c| c.jwks.as_deref())
            .and_then(|j| serde_json::from_str::<Value>(j).ok()),
        "oauthOnly": oauth_only,
        "tokenEndpointAuthMethods": AUTH_METHODS,
        "scope": crate::oauth::SCIM_SCOPE,
        "accessTokenLifetimeSeconds": lifetime.num_seconds(),
    })
}

fn read(
    c: &mut store_diesel::DbConnection,
    t: &Tenant,
) -> Result<(Option<OAuthClient>, bool), AdminError> {
    Ok((
        store_oauth::get(c, &t.id)?,
        store_oauth::oauth_only(c, &t.id)?,
    ))
}

pub(super) async fn get(
    _: Admin,
    state: web::Data<ScimState>,
    config: Option<web::Data<OAuthConfig>>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner();
    let (client, only) = tx(&state, move |c| {
        let t = tenant(c, &slug)?;
        read(c, &t)
    })
    .await?;
    Ok(HttpResponse::Ok().json(client_json(
        &state,
        config.as_ref().map(|c| c.get_ref()),
        client.as_ref(),
        only,
    )))
}

fn grace(map: &Map<String, Value>) -> Result<TimeDelta, AdminError> {
    let max = store_oauth::MAX_GRACE.num_seconds();
    match map.get("graceSeconds") {
        None | Some(Value::Null) => Ok(TimeDelta::seconds(DEFAULT_GRACE_SECONDS)),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|s| (0..=max).contains(s))
            .map(TimeDelta::seconds)
            .ok_or_else(|| {
                AdminError::BadRequest(format!("graceSeconds: expected an integer from 0 to {max}"))
            }),
        Some(_) => Err(AdminError::BadRequest(format!(
            "graceSeconds: expected an integer from 0 to {max}"
        ))),
    }
}

pub(super) async fn create_or_rotate(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["graceSeconds"])?;
    let grace = grace(&map)?;
    let issued =
        create_or_rotate_as(&state, path.into_inner(), ADMIN_ACTOR.to_owned(), grace).await?;
    let message = if issued.created {
        "In Entra ID (gallery app): Provisioning > Admin Credentials > OAuth2 client credentials grant: paste the Token endpoint, Client identifier and Client secret, then Test connection. The secret is shown only once."
    } else if issued.previous_secret_expires_at.is_some() {
        "The previous client secret keeps working until previousSecretExpiresAt; give the identity provider the new one before then. The new secret is shown only once."
    } else {
        "The previous client secret and every access token it obtained no longer work. Give the identity provider the new secret; it is shown only once."
    };
    Ok(HttpResponse::Created().json(json!({
        "clientId": issued.client_id,
        "clientSecret": issued.client_secret,
        "tokenEndpoint": state.config.token_endpoint(),
        "createdAt": ts(issued.issued_at),
        "rotated": !issued.created,
        "previousSecretExpiresAt": issued.previous_secret_expires_at.map(ts),
        "message": message,
    })))
}

pub(super) async fn update(
    _: Admin,
    state: web::Data<ScimState>,
    config: Option<web::Data<OAuthConfig>>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["oauthOnly", "jwks"])?;
    let oauth_only = match map.get("oauthOnly") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(AdminError::BadRequest(
                "oauthOnly: expected true or false".to_owned(),
            ));
        }
    };
    let jwks = match map.get("jwks") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(
            normalize_jwks(v)
                .map_err(AdminError::BadRequest)?
                .to_string(),
        )),
    };
    let (client, only) = update_as(
        &state,
        path.into_inner(),
        ADMIN_ACTOR.to_owned(),
        oauth_only,
        jwks,
    )
    .await?;
    Ok(HttpResponse::Ok().json(client_json(
        &state,
        config.as_ref().map(|c| c.get_ref()),
        client.as_ref(),
        only,
    )))
}

pub(super) async fn delete(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    delete_as(&state, path.into_inner(), ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Creates the tenant's OAuth client, or rotates its secret keeping the
/// previous one valid for `grace`; audited under `actor`. The admin API and
/// the console both call this. The secret is in the result only.
pub(crate) async fn create_or_rotate_as(
    state: &ScimState,
    slug: String,
    actor: String,
    grace: TimeDelta,
) -> Result<store_oauth::IssuedClientSecret, AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let issued = store_oauth::create_or_rotate(c, &t.id, grace).map_err(|e| match e {
            StoreError::Conflict { .. } => AdminError::Conflict(
                "the OAuth client was changed by another request at the same time; retry"
                    .to_owned(),
            ),
            other => other.into(),
        })?;
        // Ids, generation and dates only: never the secret.
        let (action, details) = if issued.created {
            (
                "oauth_client.create",
                json!({"clientId": issued.client_id, "generation": issued.generation}),
            )
        } else {
            (
                "oauth_client.rotate",
                json!({
                    "clientId": issued.client_id,
                    "generation": issued.generation,
                    "graceSeconds": grace.num_seconds(),
                    "previousSecretExpiresAt": issued.previous_secret_expires_at.map(ts),
                }),
            )
        };
        audit_as(
            c,
            &actor,
            &t.id,
            action,
            "OAuthClient",
            Some(&issued.client_id),
            &details,
        )?;
        Ok(issued)
    })
    .await
}

/// The tenant's OAuth client (if any) and whether it accepts OAuth only.
pub(crate) async fn client_of(
    state: &ScimState,
    slug: String,
) -> Result<(Option<OAuthClient>, bool), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        read(c, &t)
    })
    .await
}

/// Switches OAuth-only and sets or clears the client's keys (`None`: leave
/// alone), audited under `actor`; the admin API and the console call this.
pub(crate) async fn update_as(
    state: &ScimState,
    slug: String,
    actor: String,
    oauth_only: Option<bool>,
    jwks: Option<Option<String>>,
) -> Result<(Option<OAuthClient>, bool), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let (before, before_only) = read(c, &t)?;
        if before.is_none() && (oauth_only == Some(true) || matches!(jwks, Some(Some(_)))) {
            return Err(AdminError::Conflict(
                "the tenant has no OAuth client: create one first with POST .../integration/oauth-client"
                    .to_owned(),
            ));
        }
        if let Some(only) = oauth_only {
            store_oauth::set_oauth_only(c, &t.id, only)?;
        }
        if let (Some(jwks), Some(_)) = (&jwks, &before) {
            store_oauth::set_jwks(c, &t.id, jwks.as_deref())?;
        }
        let (after, after_only) = read(c, &t)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "oauth_client.update",
            "OAuthClient",
            after.as_ref().map(|a| a.client_id.as_str()),
            &json!({
                "before": {
                    "oauthOnly": before_only,
                    "keyIds": key_ids(before.as_ref().and_then(|b| b.jwks.as_deref())),
                },
                "after": {
                    "oauthOnly": after_only,
                    "keyIds": key_ids(after.as_ref().and_then(|a| a.jwks.as_deref())),
                },
            }),
        )?;
        Ok((after, after_only))
    })
    .await
}

/// Deletes the tenant's OAuth client (its secrets and access tokens stop
/// working at once), audited under `actor`; 404 when there is none.
pub(crate) async fn delete_as(
    state: &ScimState,
    slug: String,
    actor: String,
) -> Result<(), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let Some(deleted) = store_oauth::delete(c, &t.id)? else {
            return Err(AdminError::NotFound(format!(
                "tenant {slug:?} has no OAuth client"
            )));
        };
        let oauth_only = store_oauth::oauth_only(c, &t.id)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "oauth_client.delete",
            "OAuthClient",
            Some(&deleted.client_id),
            &json!({
                "clientId": deleted.client_id,
                "generation": deleted.generation,
                "oauthOnly": oauth_only,
            }),
        )?;
        Ok(())
    })
    .await
}
