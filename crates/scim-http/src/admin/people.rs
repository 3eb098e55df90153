//! Users and groups in the admin API: product status, overrides and effective
//! settings (straight from provisioning-core), the group access check,
//! explicit invitations and admin check-ins.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use provisioning_core::{
    AccessDecision, GroupSettings, Membership, Override, UserLifecycle, UserOverrides,
    admin_check_in, decide_group_access,
};
use scim_model::schema::{PROVISIONING_GROUP_URN, PROVISIONING_USER_URN};
use serde_json::{Map, Value, json};
use store_diesel::groups::{self, GroupRecord};
use store_diesel::tenants::Tenant;
use store_diesel::users::{self, UserRecord};
use store_diesel::{DbConnection, StoreError, invitations as store_invitations, user_pages};

use super::{
    ADMIN_ACTOR, Admin, AdminConfig, AdminError, PageParams, audit_as, object_body, only_keys,
    page, read, tenant, tri_state, ts, tx,
};
use crate::ScimState;
use crate::change_events;
use crate::invitations::{audit_events, lifecycle_of, record_events, release, store_lifecycle};
use crate::users::tenant_settings;

fn user_overrides(u: &UserRecord) -> UserOverrides {
    UserOverrides {
        automatic_invitation: Override::from(u.override_automatic_invitation),
        require_mobile_auth: Override::from(u.override_require_mobile_auth),
    }
}

pub(crate) fn group_settings(g: &GroupRecord) -> GroupSettings {
    GroupSettings {
        require_mobile_auth: Override::from(g.override_require_mobile_auth),
        members_can_store_data: g.members_can_store_data,
    }
}

/// The user as the admin API shows it; with `lifecycle`, their current
/// invitation too, whose `sentAt` (when the email was handed to the relay)
/// comes from its row in `invitation_row`, as `/invitations` lists it.
fn user_json(
    t: &Tenant,
    u: &UserRecord,
    lifecycle: Option<&UserLifecycle>,
    invitation_row: Option<&store_invitations::InvitationRecord>,
) -> Value {
    let overrides = user_overrides(u);
    let mut v = json!({
        "id": u.id,
        "userName": u.user_name,
        "displayName": u.display_name,
        "externalId": u.external_id,
        "status": u.status,
        "active": u.active,
        "mobileDeviceEnrolled": u.mobile_device_enrolled,
        "mobileDevice": u.mobile_device_name.as_ref().map(|n| json!({"name": n})),
        "overrides": overrides,
        "effective": tenant_settings(t).effective_for_user(&overrides),
        "createdAt": ts(u.created_at),
        "lastModified": ts(u.last_modified),
    });
    if let Some(l) = lifecycle {
        let now = Utc::now();
        v["invitation"] = match l.invitation() {
            None => Value::Null,
            Some(i) => json!({
                "number": i.number,
                "trigger": i.trigger,
                "state": i.reported_state(now),
                "queuedAt": i.queued_at,
                "releasedAt": i.sent_at,
                "sentAt": invitation_row.and_then(|r| r.sent_at),
                "expiresAt": i.expires_at,
                "acceptedAt": i.accepted_at,
                "cancelledAt": i.cancelled_at,
                "failedAt": i.failed_at,
                "failure": i.failure,
            }),
        };
        v["invitationHeld"] = json!(l.invitation_held());
    }
    v
}

fn group_json(t: &Tenant, g: &GroupRecord, member_count: i64) -> Value {
    let settings = group_settings(g);
    json!({
        "id": g.id,
        "displayName": g.display_name,
        "externalId": g.external_id,
        "settings": settings,
        "effective": tenant_settings(t).effective_for_group(&settings),
        "memberCount": member_count,
        "createdAt": ts(g.created_at),
        "lastModified": ts(g.last_modified),
    })
}

fn get_user_rec(c: &mut DbConnection, tenant_id: &str, id: &str) -> Result<UserRecord, AdminError> {
    if id.contains('\0') {
        return Err(AdminError::NotFound(format!(
            "no user {id:?} in this tenant"
        )));
    }
    users::get(c, tenant_id, id).map_err(|e| match e {
        StoreError::NotFound => AdminError::NotFound(format!("no user {id:?} in this tenant")),
        other => other.into(),
    })
}

fn get_group_rec(
    c: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<GroupRecord, AdminError> {
    if id.contains('\0') {
        return Err(AdminError::NotFound(format!(
            "no group {id:?} in this tenant"
        )));
    }
    groups::get(c, tenant_id, id).map_err(|e| match e {
        StoreError::NotFound => AdminError::NotFound(format!("no group {id:?} in this tenant")),
        other => other.into(),
    })
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct UserQuery {
    status: Option<String>,
    q: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

pub(super) async fn list_users(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, AdminError> {
    let status = user_status_filter(query.status.as_deref())?;
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let (t, rows) = find_users(&state, path.into_inner(), q.to_owned()).await?;
        let items = rows
            .iter()
            .filter(|u| status.is_none_or(|s| u.status == s))
            .map(|u| user_json(&t, u, None, None))
            .collect::<Vec<_>>();
        return Ok(HttpResponse::Ok().json(json!({ "items": items, "next": null })));
    }
    let limit = query.page.limit()?;
    let after = query.page.after()?.map(str::to_owned);
    let (t, rows) = users_page(&state, path.into_inner(), status, after, limit).await?;
    let next = rows.last().map(|u| u.id.clone());
    let items = rows.iter().map(|u| user_json(&t, u, None, None)).collect();
    Ok(page(items, limit, next))
}

/// The `status` filter of a users list: one of the product statuses (any
/// case), none, or 400.
pub(crate) fn user_status_filter(s: Option<&str>) -> Result<Option<&'static str>, AdminError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => Ok(Some(
            ["Staged", "Invited", "Active", "Suspended"]
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(s))
                .ok_or_else(|| {
                    AdminError::BadRequest(format!(
                        "status: {s:?} is not one of Staged, Invited, Active, Suspended"
                    ))
                })?,
        )),
    }
}

/// Most users a search returns.
const MAX_SEARCH_RESULTS: u32 = 50;

/// User search: the tenant's users whose userName (any case) or externalId
/// (exact) is `q`: two indexed lookups. The admin API's `?q=` and the
/// console's Users search.
pub(crate) async fn find_users(
    state: &ScimState,
    slug: String,
    q: String,
) -> Result<(Tenant, Vec<UserRecord>), AdminError> {
    if q.contains('\0') {
        return Err(AdminError::BadRequest(
            "q: must not contain NUL characters".to_owned(),
        ));
    }
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let mut found: Vec<UserRecord> = users::find_by_user_name(c, &t.id, &q)?
            .into_iter()
            .collect();
        for u in users::find_by_external_id(c, &t.id, &q, MAX_SEARCH_RESULTS)? {
            if !found.iter().any(|f| f.id == u.id) {
                found.push(u);
            }
        }
        Ok((t, found))
    })
    .await
}

/// A page of the tenant's users (keyset paging by id, after `after`), with
/// `status` when given: the admin API's list and the console's Users page.
pub(crate) async fn users_page(
    state: &ScimState,
    slug: String,
    status: Option<&'static str>,
    after: Option<String>,
    limit: u32,
) -> Result<(Tenant, Vec<UserRecord>), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let rows = user_pages::by_status(c, &t.id, status, after.as_deref(), limit)?;
        Ok((t, rows))
    })
    .await
}

/// A user with their lifecycle and the ids of their groups: the admin API's
/// user view and the console's user page.
pub(crate) struct UserDetail {
    /// The tenant.
    pub tenant: Tenant,
    /// The user.
    pub user: UserRecord,
    /// Status and invitation.
    pub lifecycle: UserLifecycle,
    /// Ids of the groups the user is a direct member of.
    pub groups: Vec<String>,
}

/// The user `id` of tenant `slug`, or 404.
pub(crate) async fn user_detail(
    state: &ScimState,
    slug: String,
    id: String,
) -> Result<UserDetail, AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let u = get_user_rec(c, &t.id, &id)?;
        let lifecycle = lifecycle_of(&u)?;
        let groups = groups::group_ids_of_user(c, &t.id, &id)?;
        Ok(UserDetail {
            tenant: t,
            user: u,
            lifecycle,
            groups,
        })
    })
    .await
}

/// What the console's user page shows beyond [`user_detail`]: every
/// invitation of the user (oldest first) and their groups with names.
pub(crate) async fn user_history(
    state: &ScimState,
    slug: String,
    id: String,
) -> Result<
    (
        Vec<store_invitations::InvitationRecord>,
        Vec<store_diesel::groups::GroupRef>,
    ),
    AdminError,
> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let u = get_user_rec(c, &t.id, &id)?;
        let invitations = store_invitations::of_user(c, &t.id, &u.id)?;
        let groups = groups::groups_of_users(c, &t.id, &[u.id.as_str()])?
            .remove(&u.id)
            .unwrap_or_default();
        Ok((invitations, groups))
    })
    .await
}

pub(super) async fn get_user(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let d = user_detail(&state, slug, id).await?;
    let row = current_invitation_row(&state, &d.tenant, &d.user, &d.lifecycle).await?;
    let mut v = user_json(&d.tenant, &d.user, Some(&d.lifecycle), row.as_ref());
    v["groups"] = json!(d.groups);
    Ok(HttpResponse::Ok().json(v))
}

/// The row of the user's current invitation (the lifecycle's), if any.
async fn current_invitation_row(
    state: &ScimState,
    t: &Tenant,
    u: &UserRecord,
    lifecycle: &UserLifecycle,
) -> Result<Option<store_invitations::InvitationRecord>, AdminError> {
    let Some(number) = lifecycle
        .invitation()
        .and_then(|i| i32::try_from(i.number).ok())
    else {
        return Ok(None);
    };
    let (tenant_id, user_id) = (t.id.clone(), u.id.clone());
    read(state, move |c| {
        Ok(store_invitations::find_by_number(
            c, &tenant_id, &user_id, number,
        )?)
    })
    .await
}

/// Sets (or, for `None`, removes) a boolean in a document's extension object.
fn set_ext(doc: &mut Value, urn: &str, key: &str, value: Option<bool>) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let ext = obj.entry(urn).or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ext) = ext {
        match value {
            Some(b) => {
                ext.insert(key.to_owned(), Value::Bool(b));
            }
            None => {
                ext.remove(key);
            }
        }
    }
}

pub(super) async fn put_user_settings(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["automaticInvitation", "requireMobileAuth"])?;
    let automatic = tri_state(&map, "automaticInvitation", true)?;
    let mobile = tri_state(&map, "requireMobileAuth", true)?;
    let (slug, id) = path.into_inner();
    let (t, u, lifecycle) =
        put_user_settings_as(&state, slug, id, ADMIN_ACTOR.to_owned(), automatic, mobile).await?;
    let row = current_invitation_row(&state, &t, &u, &lifecycle).await?;
    Ok(HttpResponse::Ok().json(user_json(&t, &u, Some(&lifecycle), row.as_ref())))
}

/// Sets the user's overrides (`None`: leave alone; `Some(None)`: inherit the
/// tenant default; `Some(Some(b))`: on or off), audited under `actor`. The
/// admin API's `PUT .../settings` and the console's user page call this.
pub(crate) async fn put_user_settings_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
    automatic: Option<Option<bool>>,
    mobile: Option<Option<bool>>,
) -> Result<(Tenant, UserRecord, UserLifecycle), AdminError> {
    let now = Utc::now();
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let current = get_user_rec(c, &t.id, &id)?;
        let before = user_overrides(&current);
        let mut doc = current.document.clone();
        if let Some(v) = automatic {
            set_ext(&mut doc, PROVISIONING_USER_URN, "automaticInvitation", v);
        }
        if let Some(v) = mobile {
            set_ext(&mut doc, PROVISIONING_USER_URN, "requireMobileAuth", v);
        }
        let mut lifecycle = lifecycle_of(&current)?;
        // Turning automatic invitation off cancels an automatically queued
        // invitation that has not gone out (an explicit invite stays).
        let turned_off = automatic.is_some()
            && !tenant_settings(&t)
                .effective_for_user(&crate::user_record::overrides_of(&doc))
                .automatic_invitation
                .value;
        let events = if turned_off {
            lifecycle.automatic_invitation_turned_off(now)
        } else {
            Vec::new()
        };
        // The one writer derives the override columns from the document.
        let mut u = crate::user_record::build_record(
            &t.id,
            &id,
            doc,
            &lifecycle,
            current.created_at,
            now,
            current.version,
        )?;
        u.version = users::update(c, &u, Some(current.version))?;
        record_events(c, &t.id, &u.id, &events)?;
        let after = user_overrides(&u);
        audit_as(
            c,
            &actor,
            &t.id,
            "user.settings.update",
            "User",
            Some(&u.id),
            &json!({
                "before": before,
                "after": after,
                "effective": tenant_settings(&t).effective_for_user(&after),
            }),
        )?;
        audit_events(c, &t.id, &u.id, &actor, &events)?;
        let mut feed = change_events::lifecycle(change_events::ADMIN, &t, &u, &events, now);
        if before != after {
            feed.push(change_events::user_settings_changed(&t, &u, now));
        }
        store_diesel::events::append_all(c, &t.id, feed)?;
        Ok((t, u, lifecycle))
    })
    .await
}

pub(super) async fn invite(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &[])?;
    let (slug, id) = path.into_inner();
    let (t, u, lifecycle) = invite_as(&state, slug, id, ADMIN_ACTOR.to_owned()).await?;
    let row = current_invitation_row(&state, &t, &u, &lifecycle).await?;
    Ok(HttpResponse::Ok().json(user_json(&t, &u, Some(&lifecycle), row.as_ref())))
}

/// Invite: queues an invitation for the user (409 when their status does not
/// allow one), audited under `actor`. The admin API and the console's
/// **Invite** button call this.
pub(crate) async fn invite_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
) -> Result<(Tenant, UserRecord, UserLifecycle), AdminError> {
    let now = Utc::now();
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let mut u = get_user_rec(c, &t.id, &id)?;
        let mut lifecycle = lifecycle_of(&u)?;
        let events = lifecycle
            .invite(now)
            .map_err(|e| AdminError::Conflict(e.to_string()))?;
        store_lifecycle(c, &mut u, &lifecycle, now)?;
        record_events(c, &t.id, &u.id, &events)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "user.invite",
            "User",
            Some(&u.id),
            &json!({}),
        )?;
        audit_events(c, &t.id, &u.id, &actor, &events)?;
        store_diesel::events::append_all(
            c,
            &t.id,
            change_events::lifecycle(change_events::ADMIN, &t, &u, &events, now),
        )?;
        Ok((t, u, lifecycle))
    })
    .await
}

pub(super) async fn get_group(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (t, g, count) = group_detail(&state, slug, id).await?;
    Ok(HttpResponse::Ok().json(group_json(&t, &g, count)))
}

/// The group `id` of tenant `slug` with its member count, or 404.
pub(crate) async fn group_detail(
    state: &ScimState,
    slug: String,
    id: String,
) -> Result<(Tenant, GroupRecord, i64), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let g = get_group_rec(c, &t.id, &id)?;
        let count = groups::member_count(c, &t.id, &id)?;
        Ok((t, g, count))
    })
    .await
}

/// A page of the tenant's groups in creation order, after the group `after`
/// (keyset paging), with each group's member count, the number of groups in
/// the tenant, and whether more follow: the console's Groups page.
pub(crate) async fn groups_page(
    state: &ScimState,
    slug: String,
    after: Option<String>,
    limit: u32,
) -> Result<(Tenant, Vec<(GroupRecord, i64)>, u64, bool), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let keyset = match after {
            None => None,
            Some(a) => {
                let g = get_group_rec(c, &t.id, &a).map_err(|_| {
                    AdminError::BadRequest(
                        "after: not a group of this tenant (a previous page's next)".to_owned(),
                    )
                })?;
                Some(store_diesel::Keyset {
                    created: g.created_at,
                    id: g.id,
                })
            }
        };
        let page = groups::list(
            c,
            &t.id,
            &store_diesel::ListQuery {
                filter: None,
                sort_by: None,
                descending: false,
                start_index: 1,
                // One more than the page: whether another page follows.
                count: u64::from(limit) + 1,
                after: keyset.as_ref(),
            },
        )?;
        let more = page.items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let mut rows = Vec::with_capacity(page.items.len());
        for g in page
            .items
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            let count = groups::member_count(c, &t.id, &g.id)?;
            rows.push((g, count));
        }
        Ok((t, rows, page.total, more))
    })
    .await
}

/// A page of the group's direct members in id order after the member
/// `after` (keyset paging), as user records, and whether more follow: the
/// console's group page.
pub(crate) async fn group_members_page(
    state: &ScimState,
    slug: String,
    group_id: String,
    after: Option<String>,
    limit: u32,
) -> Result<(Vec<UserRecord>, bool), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let g = get_group_rec(c, &t.id, &group_id)?;
        let ids = groups::member_ids(c, &t.id, &g.id, after.as_deref(), limit.saturating_add(1))?;
        let more = ids.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let mut members = Vec::with_capacity(ids.len());
        for id in ids
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            match users::get(c, &t.id, id) {
                Ok(u) => members.push(u),
                // Removed since the ids were read: not a member any more.
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((members, more))
    })
    .await
}

pub(super) async fn put_group_settings(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["requireMobileAuth", "membersCanStoreData"])?;
    let mobile = tri_state(&map, "requireMobileAuth", true)?;
    let store = tri_state(&map, "membersCanStoreData", false)?.flatten();
    let (slug, id) = path.into_inner();
    let (t, g, count) =
        put_group_settings_as(&state, slug, id, ADMIN_ACTOR.to_owned(), mobile, store).await?;
    Ok(HttpResponse::Ok().json(group_json(&t, &g, count)))
}

/// Sets the group's settings (`mobile`: `None` leave alone, `Some(None)`
/// inherit, `Some(Some(b))` on/off; `store`: "members may store data"),
/// audited under `actor`. The admin API and the console's group page call
/// this.
pub(crate) async fn put_group_settings_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
    mobile: Option<Option<bool>>,
    store: Option<bool>,
) -> Result<(Tenant, GroupRecord, i64), AdminError> {
    let now = Utc::now();
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let mut g = get_group_rec(c, &t.id, &id)?;
        let before = group_settings(&g);
        if let Some(v) = mobile {
            g.override_require_mobile_auth = v;
            set_ext(
                &mut g.document,
                PROVISIONING_GROUP_URN,
                "requireMobileAuth",
                v,
            );
        }
        if let Some(v) = store {
            g.members_can_store_data = v;
            set_ext(
                &mut g.document,
                PROVISIONING_GROUP_URN,
                "membersCanStoreData",
                Some(v),
            );
        }
        g.last_modified = now;
        g.version = groups::update(c, &g, Some(g.version))?;
        let after = group_settings(&g);
        audit_as(
            c,
            &actor,
            &t.id,
            "group.settings.update",
            "Group",
            Some(&g.id),
            &json!({
                "before": before,
                "after": after,
                "effective": tenant_settings(&t).effective_for_group(&after),
            }),
        )?;
        if before != after {
            store_diesel::events::append(
                c,
                &t.id,
                change_events::group_settings_changed(&t, &g, now),
            )?;
        }
        let count = groups::member_count(c, &t.id, &id)?;
        Ok((t, g, count))
    })
    .await
}

pub(super) async fn access(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, group_id, user_id) = path.into_inner();
    let decision = access_check(&state, slug, group_id, user_id).await?;
    Ok(HttpResponse::Ok().json(decision))
}

/// The access check: may user `user_id` see and store data in group
/// `group_id`, and why.
pub(crate) async fn access_check(
    state: &ScimState,
    slug: String,
    group_id: String,
    user_id: String,
) -> Result<AccessDecision, AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let g = get_group_rec(c, &t.id, &group_id)?;
        let u = get_user_rec(c, &t.id, &user_id)?;
        let lifecycle = lifecycle_of(&u)?;
        let member = groups::group_ids_of_user(c, &t.id, &user_id)?.contains(&group_id);
        let effective = tenant_settings(&t).effective_for_group(&group_settings(&g));
        Ok(decide_group_access(
            &lifecycle.access_facts(),
            &effective,
            Membership::from(member),
        ))
    })
    .await
}

/// One released invitation, for the audit record and the response; its
/// change events go to `feed` (appended once, at the end of the check-in).
#[allow(clippy::too_many_arguments)]
fn release_user(
    c: &mut DbConnection,
    state: &ScimState,
    t: &Tenant,
    mut u: UserRecord,
    lifecycle: &UserLifecycle,
    events: &[provisioning_core::Event],
    actor: &str,
    now: DateTime<Utc>,
    feed: &mut Vec<store_diesel::events::NewEvent>,
) -> Result<bool, AdminError> {
    for event in events {
        if let provisioning_core::Event::InvitationReleased {
            invitation,
            expires_at,
            at,
        } = event
        {
            let released = release(c, &state.keys, &t.id, &u.id, *invitation, *at, *expires_at)?;
            if released.is_none() {
                // A concurrent check-in released it first.
                return Ok(false);
            }
        }
    }
    store_lifecycle(c, &mut u, lifecycle, now)?;
    audit_events(c, &t.id, &u.id, actor, events)?;
    feed.extend(change_events::lifecycle(
        change_events::ADMIN,
        t,
        &u,
        events,
        now,
    ));
    Ok(true)
}

pub(super) async fn check_in(
    _: Admin,
    state: web::Data<ScimState>,
    admin: web::Data<AdminConfig>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &[])?;
    let released = check_in_as(&state, &admin, path.into_inner(), ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Ok().json(json!({ "released": released })))
}

/// An admin check-in ("an administrator opened the mobile app"): releases
/// the tenant's queued invitations; returns how many. Audited under `actor`.
/// The admin API and the console's Invitations page call this.
pub(crate) async fn check_in_as(
    state: &web::Data<ScimState>,
    admin: &AdminConfig,
    slug: String,
    actor: String,
) -> Result<usize, AdminError> {
    let policy = admin.invitation_policy();
    let now = Utc::now();
    let st = state.clone();
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let ids = store_invitations::users_with_queued(c, &t.id)?;
        let mut loaded = Vec::with_capacity(ids.len());
        for id in ids {
            let u = match users::get(c, &t.id, &id) {
                Ok(u) => u,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            let lifecycle = lifecycle_of(&u)?;
            loaded.push((u, lifecycle));
        }
        let outcome = admin_check_in(
            loaded.iter_mut().map(|(u, l)| (u.id.clone(), l)),
            &policy,
            now,
        );
        let mut by_id: std::collections::HashMap<String, (UserRecord, UserLifecycle)> = loaded
            .into_iter()
            .map(|(u, l)| (u.id.clone(), (u, l)))
            .collect();
        let mut released = Vec::new();
        let mut feed = Vec::new();
        for (id, events) in &outcome.released {
            let Some((u, lifecycle)) = by_id.remove(id) else {
                continue;
            };
            if release_user(c, &st, &t, u, &lifecycle, events, &actor, now, &mut feed)? {
                released.push(id.clone());
            }
        }
        audit_as(
            c,
            &actor,
            &t.id,
            "admin.checkin",
            "Tenant",
            Some(&t.id),
            &json!({"released": released.len(), "users": released}),
        )?;
        // Last: the tenant's event lock is taken once, after every user row
        // this check-in locks (no lock-order cycle with SCIM writes).
        store_diesel::events::append_all(c, &t.id, feed)?;
        Ok(released.len())
    })
    .await
}
