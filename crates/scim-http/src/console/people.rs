//! The console's user page, Organisation → Groups, Invitations, the Audit log
//! and the operator's tenant creation. Every read and write goes through the
//! admin API's functions (`admin::people`, `admin::tenants`); writes are
//! audited under the signed-in person.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use provisioning_core::{Effective, Override, Source};
use store_diesel::invitations::{Cursor, StateFilter};

use super::pages::CsrfForm;
use super::{ConsoleError, Signed, base, html, see_other};
use crate::ScimState;
use crate::admin::people::{
    access_check, check_in_as, group_detail, group_members_page, group_settings, groups_page,
    invite_as, put_group_settings_as, put_user_settings_as, user_detail, user_history,
};
use crate::admin::tenants::{
    AuditQuery, activity_of, audit_page, create_tenant_as, integration_of, invitations_page,
};
use crate::admin::{AdminConfig, AdminError, PageParams};
use crate::users::tenant_settings;

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// `inherit`, `on` or `off`: the value of a tri-state override control.
fn override_value(o: Override) -> &'static str {
    match o {
        Override::Inherit => "inherit",
        Override::On => "on",
        Override::Off => "off",
    }
}

/// An effective setting as the pages print it: "on (tenant default)".
struct Shown {
    value: &'static str,
    source: String,
}

fn shown(e: Effective<bool>) -> Shown {
    Shown {
        value: on_off(e.value),
        source: match e.source {
            Source::TenantDefault => "tenant default".to_owned(),
            Source::Override => "individual override".to_owned(),
        },
    }
}

/// A tri-state form field: absent leaves the setting alone; `inherit`, `on`
/// or `off` sets it.
fn tri_state_field(name: &str, v: Option<&str>) -> Result<Option<Option<bool>>, ConsoleError> {
    match v {
        None => Ok(None),
        Some("inherit") => Ok(Some(None)),
        Some("on") => Ok(Some(Some(true))),
        Some("off") => Ok(Some(Some(false))),
        Some(_) => Err(ConsoleError::Admin(AdminError::BadRequest(format!(
            "{name}: expected inherit, on or off"
        )))),
    }
}

// ---- user page -------------------------------------------------------------------

struct InvitationView {
    number: u32,
    trigger: String,
    state: String,
    queued_at: String,
    sent_at: Option<String>,
    expires_at: Option<String>,
    failure: Option<String>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    notice: Option<&'static str>,
    id: String,
    user_name: String,
    display_name: String,
    external_id: String,
    status: String,
    active: bool,
    mobile_device: Option<String>,
    created_at: String,
    last_modified: String,
    automatic_invitation: Shown,
    require_mobile_auth: Shown,
    override_automatic: &'static str,
    override_mobile: &'static str,
    can_invite: bool,
    invitation: Option<InvitationView>,
    invitation_held: bool,
    history: Vec<InvitationRow>,
    /// (id for a URL, displayName)
    groups: Vec<(String, String)>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct NoticeQuery {
    saved: Option<String>,
    invited: Option<String>,
    user: Option<String>,
    /// Paging of a group's members.
    #[serde(flatten)]
    page: PageParams,
}

pub(super) async fn user(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (slug, id) = path.into_inner();
    let d = user_detail(&state, slug.clone(), id.clone()).await?;
    let (invitations, groups) = user_history(&state, slug, id).await?;
    let overrides = provisioning_core::UserOverrides {
        automatic_invitation: Override::from(d.user.override_automatic_invitation),
        require_mobile_auth: Override::from(d.user.override_require_mobile_auth),
    };
    let effective = tenant_settings(&d.tenant).effective_for_user(&overrides);
    let now = Utc::now();
    let invitation = d.lifecycle.invitation().map(|i| InvitationView {
        number: i.number,
        trigger: i.trigger.to_string(),
        state: serde_json::to_value(i.reported_state(now))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        queued_at: when(i.queued_at),
        // When the email was handed to the relay, from the invitation's row
        // (as the Invitations page and the admin API show it).
        sent_at: invitations
            .iter()
            .find(|r| u32::try_from(r.number).is_ok_and(|n| n == i.number))
            .and_then(|r| r.sent_at)
            .map(when),
        expires_at: i.expires_at.map(when),
        failure: i.failure.clone(),
    });
    let notice = if query.saved.is_some() {
        Some("Saved.")
    } else if query.invited.is_some() {
        Some("Invitation queued: it goes out once an administrator opens the mobile app.")
    } else {
        None
    };
    let u = d.user;
    let body = UserPage {
        csrf: Some(signed.csrf_token.clone()),
        base: base(&state),
        csrf_token: signed.csrf_token,
        tab: "users",
        slug: d.tenant.slug,
        tenant_name: d.tenant.name,
        notice,
        // Invite when nothing is queued or waiting to be used already.
        can_invite: (u.status == "Staged" || u.status == "Invited")
            && invitation
                .as_ref()
                .is_none_or(|i| i.state != "queued" && i.state != "sent"),
        id: url_part(&u.id),
        user_name: u.user_name,
        display_name: u.display_name.unwrap_or_default(),
        external_id: u.external_id.unwrap_or_default(),
        status: u.status,
        active: u.active,
        mobile_device: u.mobile_device_enrolled.then(|| {
            u.mobile_device_name
                .unwrap_or_else(|| "enrolled".to_owned())
        }),
        created_at: when(u.created_at),
        last_modified: when(u.last_modified),
        automatic_invitation: shown(effective.automatic_invitation),
        require_mobile_auth: shown(effective.require_mobile_auth),
        override_automatic: override_value(overrides.automatic_invitation),
        override_mobile: override_value(overrides.require_mobile_auth),
        invitation,
        invitation_held: d.lifecycle.invitation_held(),
        history: invitations
            .into_iter()
            .map(|i| invitation_row(i, now))
            .collect(),
        groups: groups
            .into_iter()
            .map(|g| (url_part(&g.id), g.display_name))
            .collect(),
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

/// The user page's override form.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserSettingsForm {
    #[serde(default)]
    csrf: String,
    automatic_invitation: Option<String>,
    require_mobile_auth: Option<String>,
}

pub(super) async fn save_user_settings(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<UserSettingsForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let automatic = tri_state_field("automaticInvitation", form.automatic_invitation.as_deref())?;
    let mobile = tri_state_field("requireMobileAuth", form.require_mobile_auth.as_deref())?;
    let (slug, id) = path.into_inner();
    let (t, u, _) =
        put_user_settings_as(&state, slug, id, signed.actor(), automatic, mobile).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/users/{}?saved=1",
        base(&state),
        t.slug,
        url_part(&u.id)
    )))
}

pub(super) async fn invite(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(form.csrf())?;
    let (slug, id) = path.into_inner();
    let (t, u, _) = invite_as(&state, slug, id, signed.actor()).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/users/{}?invited=1",
        base(&state),
        t.slug,
        url_part(&u.id)
    )))
}

/// Percent-encodes an id for a URL path segment or query value.
pub(super) fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- groups ----------------------------------------------------------------------

struct GroupRow {
    id: String,
    display_name: String,
    members: i64,
    require_mobile_auth: Shown,
    members_can_store_data: bool,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct GroupsPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    total: u64,
    groups: Vec<GroupRow>,
    limit: u32,
    after_given: bool,
    next: Option<String>,
}

pub(super) async fn groups(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<PageParams>,
) -> Result<HttpResponse, ConsoleError> {
    let limit = query.limit()?;
    let after = query.after()?.map(str::to_owned);
    let after_given = after.is_some();
    let (t, rows, total, more) = groups_page(&state, path.into_inner(), after, limit).await?;
    let next = rows.last().filter(|_| more).map(|(g, _)| url_part(&g.id));
    let settings = tenant_settings(&t);
    let groups = rows
        .into_iter()
        .map(|(g, members)| {
            let effective = settings.effective_for_group(&group_settings(&g));
            GroupRow {
                id: url_part(&g.id),
                display_name: g.display_name,
                members,
                require_mobile_auth: shown(effective.require_mobile_auth),
                members_can_store_data: effective.members_can_store_data,
            }
        })
        .collect();
    let body = GroupsPage {
        csrf: Some(signed.csrf_token),
        base: base(&state),
        tab: "groups",
        slug: t.slug,
        tenant_name: t.name,
        total,
        groups,
        limit,
        after_given,
        next,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

struct ReasonView {
    allows: bool,
    message: String,
}

struct AccessView {
    user_id: String,
    can_view: bool,
    can_store: bool,
    reasons: Vec<ReasonView>,
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    notice: Option<&'static str>,
    id: String,
    display_name: String,
    external_id: String,
    members: i64,
    created_at: String,
    require_mobile_auth: Shown,
    override_mobile: &'static str,
    members_can_store_data: bool,
    user: String,
    access: Option<AccessView>,
    member_rows: Vec<MemberRow>,
    limit: u32,
    after_given: bool,
    next: Option<String>,
}

struct MemberRow {
    id: String,
    user_name: String,
    status: String,
}

pub(super) async fn group(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (slug, id) = path.into_inner();
    let limit = query.page.limit()?;
    let after = query.page.after()?.map(str::to_owned);
    let after_given = after.is_some();
    let (t, g, members) = group_detail(&state, slug.clone(), id.clone()).await?;
    let (member_records, more) =
        group_members_page(&state, slug.clone(), id.clone(), after, limit).await?;
    let next = member_records
        .last()
        .filter(|_| more)
        .map(|u| url_part(&u.id));
    let member_rows = member_records
        .into_iter()
        .map(|u| MemberRow {
            id: url_part(&u.id),
            user_name: u.user_name,
            status: u.status,
        })
        .collect();
    let user = query.user.as_deref().map(str::trim).unwrap_or_default();
    let access = if user.is_empty() {
        None
    } else {
        let decision = access_check(&state, slug, id, user.to_owned()).await?;
        Some(AccessView {
            user_id: user.to_owned(),
            can_view: decision.can_view,
            can_store: decision.can_store,
            reasons: decision
                .reasons
                .iter()
                .map(|r| ReasonView {
                    allows: r.allows(),
                    message: r.to_string(),
                })
                .collect(),
        })
    };
    let settings = group_settings(&g);
    let effective = tenant_settings(&t).effective_for_group(&settings);
    let body = GroupPage {
        csrf: Some(signed.csrf_token.clone()),
        base: base(&state),
        csrf_token: signed.csrf_token,
        tab: "groups",
        slug: t.slug,
        tenant_name: t.name,
        notice: query.saved.is_some().then_some("Saved."),
        id: url_part(&g.id),
        display_name: g.display_name,
        external_id: g.external_id.unwrap_or_default(),
        members,
        created_at: when(g.created_at),
        require_mobile_auth: shown(effective.require_mobile_auth),
        override_mobile: override_value(settings.require_mobile_auth),
        members_can_store_data: effective.members_can_store_data,
        user: user.to_owned(),
        access,
        member_rows,
        limit,
        after_given,
        next,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

/// The group page's "Settings" form: a "members may store data" checkbox
/// that is not ticked is not sent (= off).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupSettingsForm {
    #[serde(default)]
    csrf: String,
    require_mobile_auth: Option<String>,
    members_can_store_data: Option<String>,
}

pub(super) async fn save_group_settings(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<GroupSettingsForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let mobile = tri_state_field("requireMobileAuth", form.require_mobile_auth.as_deref())?;
    let store = Some(form.members_can_store_data.is_some());
    let (slug, id) = path.into_inner();
    let (t, g, _) = put_group_settings_as(&state, slug, id, signed.actor(), mobile, store).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/groups/{}?saved=1",
        base(&state),
        t.slug,
        url_part(&g.id)
    )))
}

// ---- invitations -----------------------------------------------------------------

struct InvitationRow {
    user_id: String,
    number: i32,
    trigger: String,
    state: &'static str,
    queued_at: String,
    sent_at: Option<String>,
    expires_at: Option<String>,
    attempts: i32,
    last_error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/invitations.html")]
struct InvitationsPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    notice: Option<String>,
    states: Vec<(&'static str, bool)>,
    state: String,
    invitations: Vec<InvitationRow>,
    limit: u32,
    after_given: bool,
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct InvitationsQuery {
    state: Option<String>,
    released: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

fn invitation_row(
    i: store_diesel::invitations::InvitationRecord,
    now: DateTime<Utc>,
) -> InvitationRow {
    InvitationRow {
        state: i.reported_state(now),
        user_id: url_part(&i.user_id),
        number: i.number,
        trigger: i.trigger,
        queued_at: when(i.created_at),
        sent_at: i.sent_at.map(when),
        expires_at: i.expires_at.map(when),
        attempts: i.attempts,
        last_error: i.last_error,
    }
}

const INVITATION_STATES: [&str; 6] = [
    "queued",
    "sent",
    "failed",
    "expired",
    "accepted",
    "cancelled",
];

pub(super) async fn invitations(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<InvitationsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let wanted = query.state.as_deref().unwrap_or_default();
    let filter = match wanted {
        "" => None,
        s => Some(StateFilter::parse(s).ok_or_else(|| {
            AdminError::BadRequest(format!(
                "state: {s:?} is not one of queued, sent, failed, expired, accepted, cancelled"
            ))
        })?),
    };
    let limit = query.page.limit()?;
    let after = match query.page.after()? {
        None => None,
        Some(a) => Some(Cursor::parse(a).ok_or_else(|| {
            AdminError::BadRequest("after: not a cursor from a previous page".to_owned())
        })?),
    };
    let after_given = after.is_some();
    let slug = path.into_inner();
    // The tenant's name for the page (and a 404 for an unknown tenant).
    let (t, _) = integration_of(&state, slug.clone()).await?;
    let now = Utc::now();
    let rows = invitations_page(&state, slug, filter, after, limit, now).await?;
    let full = u32::try_from(rows.len()).is_ok_and(|n| n >= limit);
    let next = rows
        .last()
        .filter(|_| full)
        .map(|r| url_part(&Cursor::after(r).to_string()));
    let invitations = rows.into_iter().map(|i| invitation_row(i, now)).collect();
    let notice = query
        .released
        .as_deref()
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| match n {
            1 => "Admin check-in recorded: 1 queued invitation was released.".to_owned(),
            n => format!("Admin check-in recorded: {n} queued invitations were released."),
        });
    let body = InvitationsPage {
        csrf: Some(signed.csrf_token.clone()),
        base: base(&state),
        csrf_token: signed.csrf_token,
        tab: "invitations",
        slug: t.slug,
        tenant_name: t.name,
        notice,
        states: INVITATION_STATES
            .into_iter()
            .map(|s| (s, s == wanted))
            .collect(),
        state: wanted.to_owned(),
        invitations,
        limit,
        after_given,
        next,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

pub(super) async fn check_in(
    state: web::Data<ScimState>,
    admin: web::Data<AdminConfig>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(form.csrf())?;
    let slug = path.into_inner();
    let released = check_in_as(&state, &admin, slug.clone(), signed.actor()).await?;
    Ok(see_other(&format!(
        "{}/tenants/{slug}/invitations?released={released}",
        base(&state)
    )))
}

// ---- audit log -------------------------------------------------------------------

struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    actor: String,
    action: String,
    target: String,
    /// The filters as a query string (URL-encoded), for the pager's links.
    filter_query: String,
    records: Vec<AuditRow>,
    limit: u32,
    after_given: bool,
    next: Option<i64>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct AuditLogQuery {
    #[serde(flatten)]
    filter: AuditQuery,
    #[serde(flatten)]
    page: PageParams,
}

pub(super) async fn audit(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<AuditLogQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let AuditLogQuery {
        filter,
        page: query,
    } = query.into_inner();
    let filter = filter.cleaned()?;
    let [actor, action, target] = filter.parts().map(str::to_owned);
    let filter_query = format!(
        "actor={}&targetId={}&action={}",
        url_part(&actor),
        url_part(&target),
        url_part(&action)
    );
    let limit = query.limit()?;
    let after = match query.after()? {
        None => None,
        Some(a) => Some(a.parse::<i64>().map_err(|_| {
            AdminError::BadRequest("after: expected the next value of a previous page".to_owned())
        })?),
    };
    let slug = path.into_inner();
    let (t, _) = integration_of(&state, slug.clone()).await?;
    let rows = audit_page(&state, slug, filter, after, limit).await?;
    let full = u32::try_from(rows.len()).is_ok_and(|n| n >= limit);
    let next = rows.last().filter(|_| full).map(|r| r.seq);
    let records = rows
        .into_iter()
        .map(|r| AuditRow {
            seq: r.seq,
            at: when(r.at),
            actor: r.actor,
            action: r.action,
            target: match r.target_id {
                Some(id) => format!("{} {id}", r.target_type),
                None => r.target_type,
            },
            details: r.details.to_string(),
        })
        .collect();
    let body = AuditPage {
        csrf: Some(signed.csrf_token),
        base: base(&state),
        tab: "audit",
        slug: t.slug,
        tenant_name: t.name,
        actor,
        action,
        target,
        filter_query,
        records,
        limit,
        after_given: after.is_some(),
        next,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

// ---- provisioning activity -------------------------------------------------------

#[derive(Template)]
#[template(path = "console/activity.html")]
struct ActivityPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    last_write: Option<String>,
    last_request: Option<String>,
    hour_requests: i64,
    hour_errors: i64,
    silence_minutes: String,
    cycles: Vec<CycleRow>,
    errors: Vec<ErrorRow>,
    invitations_queued: i64,
    invitations_undelivered: i64,
    invitations_failed: i64,
    outbox_pending: i64,
    outbox_oldest: Option<String>,
}

struct CycleRow {
    started: String,
    last: String,
    requests: i64,
    errors: i64,
    in_progress: bool,
}

struct ErrorRow {
    at: String,
    request: String,
    status: i32,
    scim_type: String,
    detail: String,
}

/// A time with how long ago it was: "2026-01-02 10:00 UTC (5 min ago)".
fn when_ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({} ago)", when(t), ago(t, now))
}

/// How long ago `t` was: "5 s", "3 min", "2 h", "4 days".
fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

/// To the second: "2026-01-02 10:00:07 UTC".
fn when_exactly(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) async fn activity(
    state: web::Data<ScimState>,
    counters: Option<web::Data<crate::activity::Activity>>,
    signed: Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (t, s, a) = activity_of(&state, path.into_inner()).await?;
    let now = Utc::now();
    let silence = counters.map_or_else(
        || chrono::TimeDelta::from_std(crate::activity::DEFAULT_SILENCE).unwrap_or_default(),
        |c| c.silence(),
    );
    let summary = crate::activity::summarize(&a.buckets, now, silence);
    let secs = silence.num_seconds();
    let body = ActivityPage {
        csrf: Some(signed.csrf_token),
        base: base(&state),
        tab: "activity",
        slug: t.slug,
        tenant_name: t.name,
        last_write: s.last_scim_write_at.map(|at| when_ago(at, now)),
        last_request: summary
            .last_request_at
            .map(|at| format!("{} ({} ago)", when_exactly(at), ago(at, now))),
        hour_requests: summary.hour_requests,
        hour_errors: summary.hour_errors,
        silence_minutes: if secs % 60 == 0 {
            format!("{} minutes", secs / 60)
        } else {
            format!("{secs} seconds")
        },
        cycles: summary
            .cycles
            .into_iter()
            .map(|c| CycleRow {
                started: when_exactly(c.started_at),
                last: when_exactly(c.last_at),
                requests: c.requests,
                errors: c.errors,
                in_progress: c.in_progress,
            })
            .collect(),
        errors: a
            .errors
            .into_iter()
            .map(|e| ErrorRow {
                at: when_exactly(e.at),
                request: e.request,
                status: e.status,
                scim_type: e.scim_type.unwrap_or_default(),
                detail: e.detail,
            })
            .collect(),
        invitations_queued: s.invitations_queued,
        invitations_undelivered: s.invitations_undelivered,
        invitations_failed: s.invitations_failed,
        outbox_pending: s.outbox_pending,
        outbox_oldest: s.outbox_oldest_pending_at.map(|at| when_ago(at, now)),
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

// ---- tenant creation -------------------------------------------------------------

/// The operator's "Create a tenant" form.
#[derive(Debug, serde::Deserialize)]
pub(super) struct TenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn create_tenant(
    state: web::Data<ScimState>,
    signed: Signed,
    form: web::Form<TenantForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    signed.require_operator()?;
    let slug = form.slug.trim().to_owned();
    let name = match form.name.trim() {
        "" => slug.clone(),
        n if n.contains('\0') => {
            return Err(ConsoleError::Admin(AdminError::BadRequest(
                "name: must not contain NUL characters".to_owned(),
            )));
        }
        n => n.to_owned(),
    };
    let t = create_tenant_as(&state, slug, name, signed.actor()).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/settings/integrations",
        base(&state),
        t.slug
    )))
}
