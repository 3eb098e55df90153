//! Personal-data retention: pruning old audit records and finished
//! invitations, and erasing a deleted user's personal data from the records
//! that outlive them.
//!
//! * [`prune_audit_before`] deletes audit records older than a cutoff.
//! * [`prune_invitations_before`] deletes finished invitations (accepted,
//!   cancelled, failed, or sent with a link that expired) queued before a
//!   cutoff. Queued invitations and links that still work are kept whatever
//!   their age.
//! * [`erase_deleted_users`] finds users deleted (audit action
//!   `user.delete`) before a cutoff whose data was not erased yet, and
//!   replaces their personal data in the audit records about them
//!   (`target_type = 'User'`, `target_id` = the user) and in the change
//!   events about them (`resource_type = 'User'`, `resource_id` = the user)
//!   with `"[erased]"`: the values of the keys in [`PERSONAL_KEYS`] anywhere
//!   in `details` / `data`, and any other string that contains one of those
//!   values (a failure reason naming the userName, for instance). The records
//!   stay (who did what, when, to which user id); the `user.delete` record
//!   gets `"personalDataErased": true`, so a user is erased once.
//!
//! A deleted user's invitations and email rows go with the user row itself
//! (foreign keys with `ON DELETE CASCADE`); outbox rows and webhook delivery
//! logs hold ids, never personal data (webhook bodies are rendered from the
//! events when sent).
//!
//! Each function runs in the caller's transaction and is idempotent, so
//! every replica may run them.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::schema::{audit_log, events, invitations};
use crate::time::to_db;
use crate::{DbConnection, StoreError};

/// What replaces an erased value.
pub const ERASED: &str = "[erased]";

/// The keys whose values are personal data, wherever they appear in an
/// audit record's `details` or an event's `data`: the SCIM user's
/// identifying and contact attributes (core and enterprise schema), and
/// `email` / `address` as other records name them.
pub const PERSONAL_KEYS: &[&str] = &[
    "userName",
    "displayName",
    "nickName",
    "name",
    "givenName",
    "familyName",
    "middleName",
    "formatted",
    "honorificPrefix",
    "honorificSuffix",
    "emails",
    "email",
    "address",
    "addresses",
    "phoneNumbers",
    "ims",
    "photos",
    "profileUrl",
    "title",
    "externalId",
    "employeeNumber",
    "manager",
    "x509Certificates",
];

/// The marker a `user.delete` record gets once the user's data is erased.
const MARKER: &str = "personalDataErased";

/// Users erased per transaction of [`erase_deleted_users`].
const BATCH: usize = 100;

/// Deletes audit records older than `cutoff` in every tenant; returns how
/// many.
///
/// # Errors
/// Database errors.
pub fn prune_audit_before(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(audit_log::table.filter(audit_log::at.lt(to_db(cutoff)))).execute(conn)?)
}

/// Deletes finished invitations (accepted, cancelled, failed, or sent and
/// expired at `now`) queued before `cutoff`, in every tenant; returns how
/// many. A queued invitation and a link that still works are kept.
///
/// # Errors
/// Database errors.
pub fn prune_invitations_before(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let finished = invitations::state
        .eq_any(["accepted", "cancelled", "failed"])
        .or(invitations::state
            .eq("sent")
            .and(invitations::expires_at.le(to_db(now))));
    Ok(diesel::delete(
        invitations::table
            .filter(invitations::created_at.lt(to_db(cutoff)))
            .filter(finished),
    )
    .execute(conn)?)
}

/// What [`erase_deleted_users`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Deleted users whose personal data was erased.
    pub users: usize,
    /// Audit records rewritten.
    pub audit_records: usize,
    /// Change events rewritten.
    pub events: usize,
}

/// Erases the personal data of up to `limit` users deleted before `cutoff`
/// (oldest first) whose data is still there; see the module's description
/// for what is erased. Call it again while it returns `users == limit`.
///
/// # Errors
/// Database errors; stored JSON that does not parse.
pub fn erase_deleted_users(
    conn: &mut DbConnection,
    cutoff: DateTime<Utc>,
    limit: usize,
) -> Result<Erased, StoreError> {
    let rows: Vec<(String, i64, Option<String>, String)> = audit_log::table
        .filter(audit_log::action.eq("user.delete"))
        .filter(audit_log::target_type.eq("User"))
        .filter(audit_log::at.lt(to_db(cutoff)))
        .filter(audit_log::details.not_like(format!("%\"{MARKER}\":true%")))
        .order((audit_log::at.asc(), audit_log::seq.asc()))
        .limit(i64::try_from(limit.min(BATCH)).unwrap_or(100))
        .select((
            audit_log::tenant_id,
            audit_log::seq,
            audit_log::target_id,
            audit_log::details,
        ))
        .load(conn)?;
    let mut by_tenant: HashMap<String, Vec<String>> = HashMap::new();
    let mut users = 0;
    for (tenant_id, _, target, _) in &rows {
        if let Some(user_id) = target {
            by_tenant
                .entry(tenant_id.clone())
                .or_default()
                .push(user_id.clone());
            users += 1;
        }
    }
    let mut erased = Erased {
        users,
        ..Erased::default()
    };
    for (tenant_id, user_ids) in &by_tenant {
        erased.audit_records += erase_audit(conn, tenant_id, user_ids)?;
        erased.events += erase_events(conn, tenant_id, user_ids)?;
    }
    // The user.delete records themselves were scrubbed above; mark them.
    for (tenant_id, seq, _, _) in &rows {
        let details: String = audit_log::table
            .find((tenant_id, seq))
            .select(audit_log::details)
            .first(conn)?;
        let mut v: Value = serde_json::from_str(&details).map_err(StoreError::other)?;
        if !v.is_object() {
            v = serde_json::json!({});
        }
        if let Some(obj) = v.as_object_mut() {
            obj.insert(MARKER.to_owned(), Value::Bool(true));
        }
        diesel::update(audit_log::table.find((tenant_id, seq)))
            .set(audit_log::details.eq(v.to_string()))
            .execute(conn)?;
    }
    Ok(erased)
}

fn erase_audit(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<usize, StoreError> {
    let rows: Vec<(i64, Option<String>, String)> = audit_log::table
        .filter(audit_log::tenant_id.eq(tenant_id))
        .filter(audit_log::target_type.eq("User"))
        .filter(audit_log::target_id.eq_any(user_ids))
        .select((audit_log::seq, audit_log::target_id, audit_log::details))
        .load(conn)?;
    let parsed = parse_all(rows)?;
    let mut changed = 0;
    for (seq, details) in scrub_per_user(parsed) {
        diesel::update(audit_log::table.find((tenant_id, seq)))
            .set(audit_log::details.eq(details.to_string()))
            .execute(conn)?;
        changed += 1;
    }
    Ok(changed)
}

fn erase_events(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<usize, StoreError> {
    let rows: Vec<(i64, Option<String>, String)> = events::table
        .filter(events::tenant_id.eq(tenant_id))
        .filter(events::resource_type.eq("User"))
        .filter(events::resource_id.eq_any(user_ids))
        .select((events::seq, events::resource_id, events::data))
        .load(conn)?;
    let parsed = parse_all(rows)?;
    let mut changed = 0;
    for (seq, data) in scrub_per_user(parsed) {
        diesel::update(events::table.find((tenant_id, seq)))
            .set(events::data.eq(data.to_string()))
            .execute(conn)?;
        changed += 1;
    }
    Ok(changed)
}

type Parsed = Vec<(i64, String, Value)>;

fn parse_all(rows: Vec<(i64, Option<String>, String)>) -> Result<Parsed, StoreError> {
    rows.into_iter()
        .filter_map(|(seq, user, text)| user.map(|u| (seq, u, text)))
        .map(|(seq, user, text)| {
            let v = serde_json::from_str(&text).map_err(StoreError::other)?;
            Ok((seq, user, v))
        })
        .collect()
}

/// Scrubs every record with the personal values found in all the records
/// of the same user; returns the records that changed.
fn scrub_per_user(rows: Parsed) -> Vec<(i64, Value)> {
    let mut values: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (_, user, v) in &rows {
        collect_personal(v, false, values.entry(user.clone()).or_default());
    }
    rows.into_iter()
        .filter_map(|(seq, user, mut v)| {
            let before = v.clone();
            let known = values.get(&user).cloned().unwrap_or_default();
            scrub(&mut v, &known);
            (v != before).then_some((seq, v))
        })
        .collect()
}

/// Every string under a personal key (at any depth), at least 3 characters
/// long (shorter ones would match too much text).
fn collect_personal(v: &Value, personal: bool, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if personal && s.chars().count() >= 3 && s != ERASED => {
            out.insert(s.clone());
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| collect_personal(i, personal, out)),
        Value::Object(map) => {
            for (k, item) in map {
                collect_personal(item, personal || PERSONAL_KEYS.contains(&k.as_str()), out);
            }
        }
        _ => {}
    }
}

/// Replaces the values of personal keys, and strings containing a known
/// personal value, with [`ERASED`].
fn scrub(v: &mut Value, known: &BTreeSet<String>) {
    match v {
        Value::String(s) if known.iter().any(|k| s.contains(k.as_str())) => {
            *s = ERASED.to_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, known)),
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                if PERSONAL_KEYS.contains(&k.as_str()) {
                    if !item.is_null() {
                        *item = Value::String(ERASED.to_owned());
                    }
                } else {
                    scrub(item, known);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubs_personal_keys_and_strings_that_contain_their_values() {
        let rows = vec![
            (
                1,
                "u1".to_owned(),
                json!({"userName": "bob@acme.example", "status": "Staged"}),
            ),
            (
                2,
                "u1".to_owned(),
                json!({"reason": "user bob@acme.example has no email address", "invitation": 1}),
            ),
            (3, "u1".to_owned(), json!({"changed": ["emails", "name"]})),
            (
                4,
                "u2".to_owned(),
                json!({"emails": [{"value": "x@y.z"}], "name": {"givenName": "Al"}, "externalId": null}),
            ),
        ];
        let out: HashMap<i64, Value> = scrub_per_user(rows).into_iter().collect();
        assert_eq!(out[&1], json!({"userName": ERASED, "status": "Staged"}));
        assert_eq!(out[&2], json!({"reason": ERASED, "invitation": 1}));
        assert!(
            !out.contains_key(&3),
            "attribute names are not personal data"
        );
        assert_eq!(
            out[&4],
            json!({"emails": ERASED, "name": ERASED, "externalId": null})
        );
    }
}
