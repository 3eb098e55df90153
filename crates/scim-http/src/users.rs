//! The User service: create, read, list, replace, patch and delete, with the
//! product's lifecycle rules (provisioning-core) applied in the same
//! transaction as the write and its audit records. "Deactivation wins" is
//! decided here, once, for PUT, PATCH and Bulk alike; [`build_record`] is the
//! one writer that keeps a user's columns in agreement with its document.

use provisioning_core::{Event, LifecycleRecord, Rejection, TenantScimSettings, UserLifecycle};
use scim_model::messages::{PatchRequest, ScimType};
use scim_model::projection::Projection;
use scim_model::resource::{NormalizeOptions, check_required, normalize, parse_bool};
use scim_model::schema::{PROVISIONING_USER_URN, USER, get_ci};
use serde_json::{Map, Value, json};
use store_diesel::tenants::Tenant;
use store_diesel::users::{self, UserRecord};
use store_diesel::{DbConnection, StoreError, audit};

use crate::ApiError;
use crate::change_events::{self, DIRECTORY};
use crate::common::{ListParams, if_match};
use crate::limits::check_document;
use crate::request::{SCIM_ACTOR, Tx};
use crate::resource::{
    Listed, ScimResource, Written, location, page_of_one, set_location, unique_eq,
};
use crate::respond::Query;
use crate::user_record::{build_record, overrides_of};

// ---- documents ----------------------------------------------------------------------

/// The tenant's settings in provisioning-core's terms.
pub(crate) fn tenant_settings(t: &Tenant) -> TenantScimSettings {
    TenantScimSettings {
        automatic_invitation: t.settings.automatic_invitation,
        require_mobile_auth_for_users: t.settings.require_mobile_auth_users,
        require_mobile_auth_for_groups: t.settings.require_mobile_auth_groups,
    }
}

fn lifecycle_of(rec: &UserRecord) -> Result<UserLifecycle, ApiError> {
    let record: LifecycleRecord = serde_json::from_value(rec.lifecycle.clone())
        .map_err(|e| ApiError::internal(format!("user {}: bad lifecycle: {e}", rec.id)))?;
    UserLifecycle::from_record(record)
        .map_err(|e| ApiError::internal(format!("user {}: {e}", rec.id)))
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
pub(crate) fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
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

fn create_tx(tx: &mut Tx<'_>, doc: Value) -> Result<UserRecord, ApiError> {
    let (rec, events) = prepare_create(tx, doc)?;
    store_created(tx, std::slice::from_ref(&rec), &[events])
        .map_err(|e| conflict_user_name(e, &rec.user_name))?;
    Ok(rec)
}

/// A new user's record and the lifecycle events of its provisioning (no I/O).
fn prepare_create(tx: &Tx<'_>, doc: Value) -> Result<(UserRecord, Vec<Event>), ApiError> {
    let (tenant, now) = (tx.tenant, tx.now);
    let effective = tenant_settings(tenant).effective_for_user(&overrides_of(&doc));
    let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    let (lifecycle, events) = UserLifecycle::provision(&effective, active, now);
    let id = uuid::Uuid::new_v4().to_string();
    let rec = build_record(&tenant.id, &id, doc, &lifecycle, now, now, 1)?;
    Ok((rec, events))
}

/// The one writer of created users: their rows, their audit records
/// (`user.create`, then `lifecycle.*` per event, user after user), the
/// invitations their events queue and their change events. `events[i]`
/// belongs to `recs[i]`. Many users (a `POST /Bulk` run of creates) go in
/// multi-row statements on PostgreSQL.
fn store_created(
    tx: &mut Tx<'_>,
    recs: &[UserRecord],
    events: &[Vec<Event>],
) -> Result<(), StoreError> {
    let (conn, tenant, now) = (&mut *tx.conn, tx.tenant, tx.now);
    match recs {
        [rec] => users::insert(conn, rec)?,
        _ => users::insert_many(conn, recs)?,
    }
    // Per user: `user.create`, then `lifecycle.<event>` per event.
    let mut entries: Vec<(&str, String, Value)> = Vec::with_capacity(recs.len() * 2);
    for (rec, events) in recs.iter().zip(events) {
        entries.push((
            &rec.id,
            "user.create".to_owned(),
            json!({"userName": rec.user_name, "status": rec.status}),
        ));
        for event in events {
            let details = serde_json::to_value(event).map_err(StoreError::other)?;
            entries.push((&rec.id, format!("lifecycle.{}", event.name()), details));
        }
    }
    let records: Vec<audit::NewAuditRecord<'_>> = entries
        .iter()
        .map(|(id, action, details)| audit::NewAuditRecord {
            actor: SCIM_ACTOR,
            action,
            target_type: "User",
            target_id: Some(id),
            details,
        })
        .collect();
    audit::append_many(conn, &tenant.id, &records)?;
    for (rec, events) in recs.iter().zip(events) {
        crate::invitations::record_events(conn, &tenant.id, &rec.id, events)?;
        tx.events.extend(change_events::lifecycle(
            DIRECTORY, tenant, rec, events, now,
        ));
    }
    Ok(())
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
    tx: &mut Tx<'_>,
    current: &UserRecord,
    new_doc: Value,
    expected: Option<i64>,
    action: &str,
) -> Result<(UserRecord, bool), ApiError> {
    let (conn, tenant, now) = (&mut *tx.conn, tx.tenant, tx.now);
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
    let mut events = events;
    // The directory turned automatic invitation off for the user: an
    // automatically queued invitation that has not gone out is cancelled.
    let overrides = overrides_of(&new_doc);
    if overrides != overrides_of(&current.document)
        && !tenant_settings(tenant)
            .effective_for_user(&overrides)
            .automatic_invitation
            .value
    {
        events.extend(lifecycle.automatic_invitation_turned_off(now));
    }
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
    let changed = changed_attributes(&current.document, &rec.document);
    audit_write(conn, &tenant.id, action, &rec, json!({"changed": changed}))?;
    audit_events(conn, &tenant.id, &rec.id, &events)?;
    tx.events.extend(change_events::user_written(
        DIRECTORY, tenant, current, &rec, &events, now,
    ));
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
fn suspend_despite(
    tx: &mut Tx<'_>,
    current: &UserRecord,
    rejected_doc: &Value,
    expected: Option<i64>,
    rejected_action: &str,
    err: ApiError,
) -> Result<Written<UserRecord>, ApiError> {
    match err {
        ApiError::Scim(e)
            if e.status == 409 && rejected_doc.get("active") == Some(&Value::Bool(false)) =>
        {
            suspend_rejected(tx, current, expected, rejected_action, e)
        }
        other => Err(other),
    }
}

// ---- the service ---------------------------------------------------------------------

/// The User resource type's service.
#[derive(Debug)]
pub(crate) struct Users;

impl Users {
    /// A create's input, validated and normalized as [`ScimResource::create`]
    /// does before it writes (no I/O).
    pub(crate) fn validate(tx: &Tx<'_>, input: &Value) -> Result<Value, ApiError> {
        validated(tx, input)
    }

    /// Creates the users of validated documents ([`Users::validate`]): what
    /// [`ScimResource::create`] would do for each, in order, in one pass
    /// (multi-row statements on PostgreSQL). Not atomic by itself: run it in a savepoint and
    /// fall back to one create at a time when it fails (a conflict does not
    /// say which user it was).
    pub(crate) fn create_many(
        tx: &mut Tx<'_>,
        docs: Vec<Value>,
    ) -> Result<Vec<UserRecord>, ApiError> {
        let mut recs = Vec::with_capacity(docs.len());
        let mut events = Vec::with_capacity(docs.len());
        for doc in docs {
            let (rec, e) = prepare_create(tx, doc)?;
            recs.push(rec);
            events.push(e);
        }
        store_created(tx, &recs, &events)?;
        Ok(recs)
    }
}

fn load(tx: &mut Tx<'_>, id: &str) -> Result<UserRecord, ApiError> {
    fetch(tx, id, users::get_document)
}

/// The user, locked for this write (PostgreSQL: concurrent writers queue on
/// the row instead of losing a version race).
fn load_for_write(tx: &mut Tx<'_>, id: &str) -> Result<UserRecord, ApiError> {
    fetch(tx, id, users::get_document_for_update)
}

/// `get` of the tenant's `id`; an id with a NUL (which no resource has, and
/// PostgreSQL cannot even compare) is not found.
fn fetch(
    tx: &mut Tx<'_>,
    id: &str,
    get: fn(&mut DbConnection, &str, &str) -> Result<UserRecord, StoreError>,
) -> Result<UserRecord, ApiError> {
    if id.contains('\0') {
        return Err(not_found(StoreError::NotFound, id));
    }
    get(tx.conn, &tx.tenant.id, id).map_err(|e| not_found(e, id))
}

fn not_found(e: StoreError, id: &str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(format!("User {id} not found")),
        other => other.into(),
    }
}

/// Normalizes and checks a POST/PUT body, limits included.
fn validated(tx: &Tx<'_>, input: &Value) -> Result<Value, ApiError> {
    let doc = normalize(&USER, input, NormalizeOptions::default())?;
    check_required(&USER, &doc)?;
    check_document(&tx.config.limits, &USER, &doc)?;
    Ok(doc)
}

/// Suspends `current` on its own ("deactivation wins") and audits the
/// rejection `error` of the rest of the request under `rejected_action`.
fn suspend_rejected(
    tx: &mut Tx<'_>,
    current: &UserRecord,
    expected: Option<i64>,
    rejected_action: &str,
    error: scim_model::ScimError,
) -> Result<Written<UserRecord>, ApiError> {
    let mut doc = stored_document(current);
    if let Some(o) = doc.as_object_mut() {
        o.insert("active".into(), Value::Bool(false));
    }
    let (rec, _) = write_new_document(tx, current, doc, expected, "user.deactivate")?;
    audit_rejected(tx, &rec, rejected_action, &error)?;
    Ok(Written {
        rec,
        rejected: Some(error),
    })
}

/// Audits a rejection whose deactivation was applied.
fn audit_rejected(
    tx: &mut Tx<'_>,
    rec: &UserRecord,
    action: &str,
    error: &scim_model::ScimError,
) -> Result<(), ApiError> {
    audit::append(
        tx.conn,
        &tx.tenant.id,
        &audit::NewAuditRecord {
            actor: SCIM_ACTOR,
            action,
            target_type: "User",
            target_id: Some(&rec.id),
            details: &json!({"error": error.detail, "deactivationApplied": true}),
        },
    )?;
    Ok(())
}

impl ScimResource for Users {
    const TYPE: &'static scim_model::ResourceType = &USER;
    const ENDPOINT: &'static str = "Users";
    type Rec = UserRecord;

    fn id(rec: &UserRecord) -> &str {
        &rec.id
    }

    fn version(rec: &UserRecord) -> i64 {
        rec.version
    }

    fn render(base: &str, rec: &UserRecord) -> Value {
        let mut v = rec.to_resource();
        set_location(&mut v, location(base, Self::ENDPOINT, &rec.id));
        v
    }

    fn small_get(_want: &Projection) -> bool {
        // One row; `groups` is one indexed query of a handful of rows.
        true
    }

    fn small_list(params: &ListParams) -> bool {
        params
            .filter
            .as_ref()
            .is_some_and(|f| unique_eq(f, &USER, "userName").is_some())
    }

    fn get(tx: &mut Tx<'_>, id: &str, _want: &Projection) -> Result<UserRecord, ApiError> {
        load(tx, id)
    }

    fn list(tx: &mut Tx<'_>, params: &ListParams) -> Result<Listed<UserRecord>, ApiError> {
        // Entra ID's and Okta's lookup before every create: one indexed query
        // on the unique key, no count, no email rows.
        if let Some(name) = params
            .filter
            .as_ref()
            .and_then(|f| unique_eq(f, &USER, "userName"))
        {
            let found = users::find_document_by_user_name(tx.conn, &tx.tenant.id, name)?;
            return Ok(page_of_one(found, params));
        }
        let page = users::list_documents(tx.conn, &tx.tenant.id, &params.query())?;
        Ok(Listed {
            total: page.total,
            items: page.items,
        })
    }

    fn decorate(
        tx: &mut Tx<'_>,
        recs: &mut [UserRecord],
        want: &Projection,
    ) -> Result<(), ApiError> {
        if recs.is_empty() || !want.includes("groups") {
            return Ok(());
        }
        let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
        let mut of_user = store_diesel::groups::groups_of_users(tx.conn, &tx.tenant.id, &ids)?;
        let base = tx.base_url();
        for rec in recs {
            let Some(groups) = of_user.remove(&rec.id) else {
                continue;
            };
            let values: Vec<Value> = groups
                .into_iter()
                .map(|g| {
                    json!({
                        "value": g.id,
                        "$ref": format!("{base}/Groups/{}", g.id),
                        "display": g.display_name,
                        "type": "direct",
                    })
                })
                .collect();
            if let Some(doc) = rec.document.as_object_mut() {
                doc.insert("groups".to_owned(), Value::Array(values));
            }
        }
        Ok(())
    }

    fn keyset(rec: &UserRecord) -> store_diesel::Keyset {
        store_diesel::Keyset {
            created: rec.created_at,
            id: rec.id.clone(),
        }
    }

    fn weight(rec: &UserRecord) -> usize {
        256 + crate::resource::json_weight(&rec.document)
            + crate::resource::json_weight(&rec.lifecycle)
    }

    fn create(tx: &mut Tx<'_>, input: &Value) -> Result<UserRecord, ApiError> {
        let doc = validated(tx, input)?;
        create_tx(tx, doc)
    }

    fn replace(
        tx: &mut Tx<'_>,
        id: &str,
        input: &Value,
        if_match_header: Option<&str>,
    ) -> Result<Written<UserRecord>, ApiError> {
        let doc = match validated(tx, input) {
            Ok(doc) => doc,
            // Deactivation wins: a PUT that validly sets active=false suspends
            // the user even though the rest of it is rejected.
            Err(err) if body_deactivates(input) => {
                let current = load_for_write(tx, id)?;
                let expected = if_match(if_match_header, current.version)?;
                return suspend_rejected(
                    tx,
                    &current,
                    expected,
                    "user.replace.rejected",
                    err.body(),
                );
            }
            Err(err) => return Err(err),
        };
        let current = load_for_write(tx, id)?;
        let expected = if_match(if_match_header, current.version)?;
        let new_doc = merge_put(&current, doc);
        match write_new_document(tx, &current, new_doc.clone(), expected, "user.replace") {
            Ok((rec, _)) => Ok(Written::ok(rec)),
            Err(err) => suspend_despite(
                tx,
                &current,
                &new_doc,
                expected,
                "user.replace.rejected",
                err,
            ),
        }
    }

    fn patch(
        tx: &mut Tx<'_>,
        id: &str,
        patch: &PatchRequest,
        if_match_header: Option<&str>,
        _want: &Projection,
    ) -> Result<Written<UserRecord>, ApiError> {
        let current = load_for_write(tx, id)?;
        let expected = if_match(if_match_header, current.version)?;
        let limits = tx.config.patch_limits;
        match scim_patch::apply_with(&current.to_resource(), &USER, patch, limits) {
            Ok(outcome) => {
                if !outcome.changes.changed {
                    return Ok(Written::ok(current));
                }
                if let Err(err) = check_document(&tx.config.limits, &USER, &outcome.resource) {
                    // Deactivation wins over a value the store cannot take.
                    return if outcome.resource.get("active") == Some(&Value::Bool(false))
                        && current.active
                    {
                        suspend_rejected(tx, &current, expected, "user.patch.rejected", err.body())
                    } else {
                        Err(err)
                    };
                }
                match write_new_document(
                    tx,
                    &current,
                    outcome.resource.clone(),
                    expected,
                    "user.patch",
                ) {
                    Ok((rec, _)) => Ok(Written::ok(rec)),
                    Err(err) => suspend_despite(
                        tx,
                        &current,
                        &outcome.resource,
                        expected,
                        "user.patch.rejected",
                        err,
                    ),
                }
            }
            Err(err) => match err.deactivation() {
                // Deactivation wins over the operations that were rejected.
                Some(d) => {
                    let (rec, _) = write_new_document(
                        tx,
                        &current,
                        d.outcome.resource.clone(),
                        expected,
                        "user.deactivate",
                    )?;
                    audit_rejected(tx, &rec, "user.patch.rejected", &(&err).into())?;
                    Ok(Written {
                        rec,
                        rejected: Some((&err).into()),
                    })
                }
                None => Err(ApiError::Scim(err.into())),
            },
        }
    }

    fn delete(tx: &mut Tx<'_>, id: &str, if_match_header: Option<&str>) -> Result<(), ApiError> {
        let current = load_for_write(tx, id)?;
        if_match(if_match_header, current.version)?;
        let mut lifecycle = lifecycle_of(&current)?;
        let events = lifecycle
            .delete(tx.now)
            .map_err(|e| ApiError::internal(format!("delete user {id}: {e}")))?;
        users::delete(tx.conn, &tx.tenant.id, id).map_err(|e| not_found(e, id))?;
        audit_write(
            tx.conn,
            &tx.tenant.id,
            "user.delete",
            &current,
            json!({"userName": current.user_name}),
        )?;
        audit_events(tx.conn, &tx.tenant.id, id, &events)?;
        tx.events.extend(change_events::lifecycle(
            DIRECTORY, tx.tenant, &current, &events, tx.now,
        ));
        Ok(())
    }

    fn patch_returns_resource(_query: &Query) -> bool {
        true
    }
}
