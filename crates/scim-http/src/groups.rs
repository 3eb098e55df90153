//! The Group service: security groups with direct members only (a nested
//! group is refused here, once, for POST, PUT, PATCH and Bulk). Members live in
//! their own rows; member changes are deltas (adding 100 members to a group of
//! 50,000 writes 100 rows), and `excludedAttributes=members` reads no member
//! rows.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use scim_model::messages::{PatchRequest, ScimType};
use scim_model::projection::Projection;
use scim_model::resource::{NormalizeOptions, check_required, finish_output, normalize};
use scim_model::schema::{GROUP, PROVISIONING_GROUP_URN};
use serde_json::{Value, json};
use store_diesel::groups::{self, GroupRecord};
use store_diesel::{DbConnection, StoreError, audit, users};

use crate::ApiError;
use crate::change_events::{self, DIRECTORY};
use crate::common::{ListParams, asks_for_representation, if_match};
use crate::limits::{check_document, check_ids};
use crate::request::{SCIM_ACTOR, Tx};
use crate::resource::{
    Listed, ScimResource, Written, location, page_of_one, set_location, unique_eq,
};
use crate::respond::Query;

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
            let value = m
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or("(no value)");
            return Err(nested_group_error(&[value]));
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

/// The 400 of a nested group, naming the members that are groups (at most
/// ten), so the directory's admin knows which assignment to undo.
fn nested_group_error(groups: &[&str]) -> ApiError {
    let shown: Vec<&str> = groups.iter().take(10).copied().collect();
    let more = groups.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    ApiError::bad_request(
        ScimType::InvalidValue,
        format!(
            "nested groups are not supported: members must be users, and {} {} a group{tail}",
            shown.join(", "),
            if shown.len() + more == 1 { "is" } else { "are" }
        ),
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
    let nested = groups::existing_ids(conn, tenant_id, &missing)?;
    if !nested.is_empty() {
        let mut nested: Vec<&str> = nested.iter().map(String::as_str).collect();
        nested.sort_unstable();
        return Err(nested_group_error(&nested));
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

/// A group with its member ids when they were read (the projection returns
/// them, or the write knows them).
#[derive(Debug)]
pub(crate) struct GroupWithMembers {
    pub group: GroupRecord,
    pub members: Option<Vec<String>>,
}

/// The Group resource type's service.
#[derive(Debug)]
pub(crate) struct Groups;

fn load(tx: &mut Tx<'_>, id: &str) -> Result<GroupRecord, ApiError> {
    fetch(tx, id, groups::get)
}

/// The group, locked for this write (PostgreSQL: concurrent writers queue on
/// the row instead of losing a version race).
fn load_for_write(tx: &mut Tx<'_>, id: &str) -> Result<GroupRecord, ApiError> {
    fetch(tx, id, groups::get_for_update)
}

/// `get` of the tenant's `id`; an id with a NUL (which no resource has, and
/// PostgreSQL cannot even compare) is not found.
fn fetch(
    tx: &mut Tx<'_>,
    id: &str,
    get: fn(&mut DbConnection, &str, &str) -> Result<GroupRecord, StoreError>,
) -> Result<GroupRecord, ApiError> {
    if id.contains('\0') {
        return Err(not_found(StoreError::NotFound, id));
    }
    get(tx.conn, &tx.tenant.id, id).map_err(|e| not_found(e, id))
}

/// Normalizes and checks a POST/PUT body, limits included; returns the
/// document and its members.
fn validated(tx: &Tx<'_>, input: &Value) -> Result<(Value, BTreeSet<String>), ApiError> {
    let mut doc = normalize(&GROUP, input, NormalizeOptions::default())?;
    check_required(&GROUP, &doc)?;
    let members = take_members(&mut doc)?;
    check_document(&tx.config.limits, &GROUP, &doc)?;
    check_ids(&tx.config.limits, "members.value", &members)?;
    Ok((doc, members))
}

impl ScimResource for Groups {
    const TYPE: &'static scim_model::ResourceType = &GROUP;
    const ENDPOINT: &'static str = "Groups";
    type Rec = GroupWithMembers;

    fn id(rec: &GroupWithMembers) -> &str {
        &rec.group.id
    }

    fn version(rec: &GroupWithMembers) -> i64 {
        rec.group.version
    }

    fn render(base: &str, rec: &GroupWithMembers) -> Value {
        let mut v = rec.group.to_resource();
        set_location(&mut v, location(base, Self::ENDPOINT, &rec.group.id));
        if let (Some(members), Some(obj)) = (&rec.members, v.as_object_mut()) {
            let list: Vec<Value> = members
                .iter()
                .map(|id| json!({"value": id, "$ref": location(base, "Users", id), "type": "User"}))
                .collect();
            obj.insert("members".into(), Value::Array(list));
        }
        v
    }

    fn get(tx: &mut Tx<'_>, id: &str, want: &Projection) -> Result<GroupWithMembers, ApiError> {
        let group = load(tx, id)?;
        let members = if want.includes("members") {
            Some(all_member_ids(tx.conn, &tx.tenant.id, id)?)
        } else {
            None
        };
        Ok(GroupWithMembers { group, members })
    }

    fn small_get(want: &Projection) -> bool {
        // A group's members can be tens of thousands of rows.
        !want.includes("members")
    }

    fn small_list(params: &ListParams) -> bool {
        !params.projection.includes("members")
            && params
                .filter
                .as_ref()
                .is_some_and(|f| unique_eq(f, &GROUP, "displayName").is_some())
    }

    fn list(tx: &mut Tx<'_>, params: &ListParams) -> Result<Listed<GroupWithMembers>, ApiError> {
        let want_members = params.projection.includes("members");
        // Entra ID's lookup before every group create: one indexed query on
        // the unique key, no count.
        let page = if let Some(name) = params
            .filter
            .as_ref()
            .and_then(|f| unique_eq(f, &GROUP, "displayName"))
        {
            page_of_one(
                groups::find_by_display_name(tx.conn, &tx.tenant.id, name)?,
                params,
            )
        } else {
            let page = groups::list(tx.conn, &tx.tenant.id, &params.query())?;
            Listed {
                total: page.total,
                items: page.items,
            }
        };
        // Members of the whole page in one query per 500 groups.
        let mut members = if want_members && !page.items.is_empty() {
            let ids: Vec<&str> = page.items.iter().map(|g| g.id.as_str()).collect();
            groups::member_ids_of_groups(tx.conn, &tx.tenant.id, &ids)?
        } else {
            Default::default()
        };
        Ok(Listed {
            total: page.total,
            items: page
                .items
                .into_iter()
                .map(|group| GroupWithMembers {
                    members: want_members.then(|| members.remove(&group.id).unwrap_or_default()),
                    group,
                })
                .collect(),
        })
    }

    fn keyset(rec: &GroupWithMembers) -> store_diesel::Keyset {
        store_diesel::Keyset {
            created: rec.group.created_at,
            id: rec.group.id.clone(),
        }
    }

    fn weight(rec: &GroupWithMembers) -> usize {
        let g = &rec.group;
        256 + g.display_name.len()
            + g.external_id.as_ref().map_or(0, String::len)
            + rec
                .members
                .as_ref()
                .map_or(0, |m| m.iter().map(|id| 96 + id.len()).sum::<usize>())
    }

    fn create(tx: &mut Tx<'_>, input: &Value) -> Result<GroupWithMembers, ApiError> {
        let (doc, members) = validated(tx, input)?;
        let tid = tx.tenant.id.clone();
        let id = uuid::Uuid::new_v4().to_string();
        let rec = build_record(&tid, &id, doc, tx.now, tx.now, 1)?;
        check_member_ids(tx.conn, &tid, &members)?;
        groups::insert(tx.conn, &rec).map_err(|e| conflict_display_name(e, &rec.display_name))?;
        let ids: Vec<String> = members.into_iter().collect();
        groups::add_members(tx.conn, &tid, &rec.id, &strs(&ids))?;
        audit_group(
            tx.conn,
            &tid,
            "group.create",
            &rec.id,
            json!({"displayName": rec.display_name, "membersAdded": ids.len()}),
        )?;
        tx.events.push(change_events::group_event(
            "group.created",
            DIRECTORY,
            tx.tenant,
            &rec,
            tx.now,
            json!({"memberCount": ids.len()}),
        ));
        tx.events.extend(change_events::membership(
            DIRECTORY,
            &rec.id,
            &ids,
            &[],
            tx.now,
        ));
        Ok(GroupWithMembers {
            group: rec,
            members: Some(ids),
        })
    }

    fn replace(
        tx: &mut Tx<'_>,
        id: &str,
        input: &Value,
        if_match_header: Option<&str>,
    ) -> Result<Written<GroupWithMembers>, ApiError> {
        let (doc, members) = validated(tx, input)?;
        let tid = tx.tenant.id.clone();
        let current = load_for_write(tx, id)?;
        let expected = if_match(if_match_header, current.version)?;
        let mut rec = build_record(&tid, id, doc, current.created_at, tx.now, current.version)?;
        check_member_ids(tx.conn, &tid, &members)?;
        let before: BTreeSet<String> = all_member_ids(tx.conn, &tid, id)?.into_iter().collect();
        let added: Vec<String> = members.difference(&before).cloned().collect();
        let removed: Vec<String> = before.difference(&members).cloned().collect();
        let members = Some(members.into_iter().collect());
        if rec.document == current.document && added.is_empty() && removed.is_empty() {
            return Ok(Written::ok(GroupWithMembers {
                group: current,
                members,
            }));
        }
        groups::remove_members(tx.conn, &tid, id, &strs(&removed))?;
        groups::add_members(tx.conn, &tid, id, &strs(&added))?;
        rec.version = groups::update(tx.conn, &rec, Some(expected.unwrap_or(current.version)))
            .map_err(|e| conflict_display_name(e, &rec.display_name))?;
        audit_group(
            tx.conn,
            &tid,
            "group.replace",
            id,
            json!({"membersAdded": added.len(), "membersRemoved": removed.len()}),
        )?;
        group_written(tx, &current, &rec, &added, &removed);
        Ok(Written::ok(GroupWithMembers {
            group: rec,
            members,
        }))
    }

    fn patch(
        tx: &mut Tx<'_>,
        id: &str,
        patch: &PatchRequest,
        if_match_header: Option<&str>,
        want: &Projection,
    ) -> Result<Written<GroupWithMembers>, ApiError> {
        let tid = tx.tenant.id.clone();
        let current = load_for_write(tx, id)?;
        let expected = if_match(if_match_header, current.version)?;
        let outcome = scim_patch::apply_with(
            &current.to_resource(),
            &GROUP,
            patch,
            tx.config.patch_limits,
        )
        .map_err(|e| ApiError::Scim(e.into()))?;
        let changes = &outcome.changes;
        let limits = &tx.config.limits;
        check_document(limits, &GROUP, &outcome.resource)?;
        check_ids(limits, "members.value", &changes.members_added)?;
        check_ids(limits, "members.value", &changes.members_removed)?;
        let mut rec = current.clone();
        if changes.changed {
            check_member_ids(tx.conn, &tid, &changes.members_added)?;
            // Who is a member before, among those this patch touches (all of
            // them when it clears the list), so the events name real changes.
            let present: BTreeSet<String> = if changes.members_cleared {
                all_member_ids(tx.conn, &tid, id)?.into_iter().collect()
            } else {
                let touched: Vec<&str> = changes
                    .members_added
                    .iter()
                    .chain(&changes.members_removed)
                    .map(String::as_str)
                    .collect();
                groups::members_among(tx.conn, &tid, id, &touched)?
            };
            let added_ids: Vec<String> = changes
                .members_added
                .difference(&present)
                .cloned()
                .collect();
            let removed_ids: Vec<String> = present
                .iter()
                .filter(|u| changes.members_cleared || changes.members_removed.contains(*u))
                .filter(|u| !changes.members_added.contains(*u))
                .cloned()
                .collect();
            let mut removed = 0;
            if changes.members_cleared {
                removed += groups::clear_members(tx.conn, &tid, id)?;
            }
            let to_remove: Vec<String> = changes.members_removed.iter().cloned().collect();
            removed += groups::remove_members(tx.conn, &tid, id, &strs(&to_remove))?;
            let to_add: Vec<String> = changes.members_added.iter().cloned().collect();
            let added = groups::add_members(tx.conn, &tid, id, &strs(&to_add))?;
            let new = build_record(
                &tid,
                id,
                outcome.resource.clone(),
                current.created_at,
                tx.now,
                current.version,
            )?;
            if new.document != current.document || added > 0 || removed > 0 {
                rec = new;
                rec.version =
                    groups::update(tx.conn, &rec, Some(expected.unwrap_or(current.version)))
                        .map_err(|e| conflict_display_name(e, &rec.display_name))?;
                audit_group(
                    tx.conn,
                    &tid,
                    "group.patch",
                    id,
                    json!({
                        "changed": changes.attributes,
                        "membersAdded": added,
                        "membersRemoved": removed,
                    }),
                )?;
                group_written(tx, &current, &rec, &added_ids, &removed_ids);
            }
        }
        let members = if want.includes("members") {
            Some(all_member_ids(tx.conn, &tid, id)?)
        } else {
            None
        };
        Ok(Written::ok(GroupWithMembers {
            group: rec,
            members,
        }))
    }

    fn delete(tx: &mut Tx<'_>, id: &str, if_match_header: Option<&str>) -> Result<(), ApiError> {
        let current = load_for_write(tx, id)?;
        if_match(if_match_header, current.version)?;
        let member_count = groups::member_count(tx.conn, &tx.tenant.id, id)?;
        groups::delete(tx.conn, &tx.tenant.id, id).map_err(|e| not_found(e, id))?;
        tx.events.push(change_events::group_event(
            "group.deleted",
            DIRECTORY,
            tx.tenant,
            &current,
            tx.now,
            json!({"memberCount": member_count}),
        ));
        audit_group(
            tx.conn,
            &tx.tenant.id,
            "group.delete",
            id,
            json!({"displayName": current.display_name}),
        )?;
        Ok(())
    }

    fn patch_returns_resource(query: &Query) -> bool {
        asks_for_representation(query)
    }
}

/// `group.updated` when the group's own attributes changed, then one event per
/// member removed and added.
fn group_written(
    tx: &mut Tx<'_>,
    before: &GroupRecord,
    after: &GroupRecord,
    added: &[String],
    removed: &[String],
) {
    let changed: Vec<String> = crate::users::changed_attributes(&before.document, &after.document)
        .into_iter()
        .filter(|a| !matches!(a.as_str(), "members" | "meta" | "schemas"))
        .collect();
    if !changed.is_empty() {
        tx.events.push(change_events::group_event(
            "group.updated",
            DIRECTORY,
            tx.tenant,
            after,
            tx.now,
            json!({"changed": changed}),
        ));
    }
    tx.events.extend(change_events::membership(
        DIRECTORY, &after.id, added, removed, tx.now,
    ));
}

fn strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}
