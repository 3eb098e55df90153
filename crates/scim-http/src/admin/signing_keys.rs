//! `GET /admin/v1/signing-keys` (and `scim-server signing-keys`): the server
//! keys that sign and verify Secret Tokens, and which tenants still hold a
//! token signed by each, so an operator rotating the key knows when the
//! previous one can go.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use store_diesel::{Store, StoreError, tokens};

use super::{Admin, AdminError, read};
use crate::{ScimState, TokenKeys};

/// One key and the tenants whose live Secret Token it signed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUse {
    /// The key id (the `kid` of the tokens it signs).
    pub kid: String,
    /// Whether it signs new tokens.
    pub current: bool,
    /// For a previous key: when its tokens stop being accepted.
    pub verify_until: Option<DateTime<Utc>>,
    /// Slugs of the tenants whose live token it signed.
    pub tenants: Vec<String>,
}

/// The keys and their tenants.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReport {
    /// The current key first, then the previous ones.
    pub keys: Vec<KeyUse>,
    /// Tenants whose live token names a key not configured here, or was
    /// issued before key ids were recorded (`serve` fills those in at start).
    pub other_tenants: Vec<String>,
}

/// Builds the report from the database's live tokens.
///
/// # Errors
/// Database errors.
pub fn report(store: &Store, keys: &TokenKeys) -> Result<KeyReport, StoreError> {
    let live = store.read_with(tokens::live_signing_keys)?;
    Ok(report_of(keys, &live))
}

fn report_of(keys: &TokenKeys, live: &[tokens::LiveTokenKey]) -> KeyReport {
    let keys: Vec<KeyUse> = keys
        .keys()
        .into_iter()
        .map(|k| KeyUse {
            tenants: live
                .iter()
                .filter(|t| t.signing_key_id.as_deref() == Some(k.kid.as_str()))
                .map(|t| t.slug.clone())
                .collect(),
            kid: k.kid,
            current: k.current,
            verify_until: k.verify_until,
        })
        .collect();
    let other_tenants = live
        .iter()
        .filter(|t| {
            !keys
                .iter()
                .any(|k| t.signing_key_id.as_deref() == Some(k.kid.as_str()))
        })
        .map(|t| t.slug.clone())
        .collect();
    KeyReport {
        keys,
        other_tenants,
    }
}

pub(super) async fn get(_: Admin, state: web::Data<ScimState>) -> Result<HttpResponse, AdminError> {
    let keys = state.keys.clone();
    let live = read(&state, |c| Ok(tokens::live_signing_keys(c)?)).await?;
    Ok(HttpResponse::Ok().json(report_of(&keys, &live)))
}
