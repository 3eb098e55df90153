//! The console's pages and form handlers.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use super::{
    ConsoleConfig, ConsoleError, LOGIN_COOKIE, OPERATOR, SESSION_COOKIE, Signed, base, cookie,
    html, see_other, set_cookie,
};
use crate::ScimState;
use crate::admin::people::{find_users, user_status_filter, users_page};
use crate::admin::tenants::{generate_token_as, integration_of, list_tenants, update_settings_as};
use crate::admin::{AdminError, PageParams};

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub(super) struct MessagePage {
    pub(super) csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    pub(super) base: String,
    pub(super) heading: String,
    pub(super) message: String,
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    login_csrf: String,
    error: Option<String>,
    notice: Option<String>,
    email: String,
}

struct TenantRow {
    name: String,
    slug: String,
    tenant_url: String,
    created_at: String,
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    operator: bool,
    tenants: Vec<TenantRow>,
}

#[derive(Template)]
#[template(path = "console/integrations.html")]
struct IntegrationsPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    tenant_url: String,
    token_created_at: Option<String>,
    new_token: Option<String>,
    error: Option<String>,
    /// The tenant's OAuth client id, if it has one.
    oauth_client_id: Option<String>,
    /// A client secret just issued (shown once).
    oauth_new_secret: Option<String>,
    /// Where the identity provider gets access tokens.
    token_endpoint: String,
    /// The tenant refuses its Secret Token (OAuth only).
    oauth_only: bool,
}

#[derive(Template)]
#[template(path = "console/scim_settings.html")]
struct ScimSettingsPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    saved: bool,
    automatic_invitation: bool,
    require_users: bool,
    require_groups: bool,
    overrides: crate::admin::tenants::OverrideCounts,
}

/// A form that carries only its CSRF token.
#[derive(Debug, serde::Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    /// The form's CSRF token.
    pub(super) fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn home(
    state: web::Data<ScimState>,
    signed: Result<Signed, ConsoleError>,
) -> HttpResponse {
    match signed {
        Ok(_) => see_other(&format!("{}/tenants", base(&state))),
        Err(_) => see_other(&format!("{}/login", base(&state))),
    }
}

pub(super) fn login_page(
    state: &ScimState,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    login_page_with(state, status, error, None, String::new())
}

/// The sign-in page with an `error` or a `notice`, the email field filled in.
pub(super) fn login_page_with(
    state: &ScimState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    email: String,
) -> Result<HttpResponse, ConsoleError> {
    // Login CSRF: the form's token must match a cookie only this origin set.
    let login_csrf = uuid::Uuid::new_v4().simple().to_string();
    let body = LoginPage {
        csrf: None,
        base: base(state),
        login_csrf: login_csrf.clone(),
        error,
        notice,
        email,
    }
    .render()?;
    Ok(HttpResponse::build(status)
        .insert_header(set_cookie(
            state,
            LOGIN_COOKIE,
            &login_csrf,
            &format!("{}/login", base(state)),
            None,
        ))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LoginQuery {
    password: Option<String>,
}

pub(super) async fn login_form(
    state: web::Data<ScimState>,
    config: web::Data<ConsoleConfig>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let error = (!config.enabled()).then(|| {
        "Operator sign-in is disabled: start the server with --admin-token (SCIM_ADMIN_TOKEN) or --admin-token-sha256.".to_owned()
    });
    let notice = (query.password.as_deref() == Some("set"))
        .then(|| "Your password is set: sign in with your email and password.".to_owned());
    login_page_with(&state, StatusCode::OK, error, notice, String::new())
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn login(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: web::Data<ConsoleConfig>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ConsoleError> {
    let expected = cookie(&req, LOGIN_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || !crate::auth::hashes_equal(&form.csrf, &expected) {
        return Err(ConsoleError::Csrf);
    }
    let addr = req.peer_addr().map(|a| a.ip());
    let delay = config.delay_for(addr);
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    if form.token.is_empty() && !form.email.is_empty() {
        let LoginForm {
            email, password, ..
        } = form.into_inner();
        return super::admins::password_sign_in(&state, &config, addr, email, password).await;
    }
    if !config.token_ok(&form.token) {
        config.record(addr, false);
        tracing::warn!(peer = ?addr, "console sign-in failed");
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Sign-in failed: that is not the admin token.".to_owned()),
        );
    }
    config.record(addr, true);
    let store = state.store.clone();
    let idle = config.idle_timeout;
    let new = web::block(move || {
        store.transaction(|c| {
            // Sessions nobody signed out of are pruned here, at the next sign-in.
            store_diesel::console_sessions::delete_idle(c, idle)?;
            store_diesel::console_sessions::create(c, OPERATOR)
        })
    })
    .await??;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}/tenants", base(&state))))
        .insert_header(set_cookie(
            &state,
            SESSION_COOKIE,
            &new.id,
            &base(&state),
            None,
        ))
        .append_header(set_cookie(
            &state,
            LOGIN_COOKIE,
            "",
            &format!("{}/login", base(&state)),
            Some(0),
        ))
        .finish())
}

pub(super) async fn logout(
    state: web::Data<ScimState>,
    signed: Signed,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let store = state.store.clone();
    let id = signed.session_id.clone();
    web::block(move || store.transaction(|c| store_diesel::console_sessions::delete(c, &id)))
        .await??;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}/login", base(&state))))
        .insert_header(set_cookie(
            &state,
            SESSION_COOKIE,
            "",
            &base(&state),
            Some(0),
        ))
        .finish())
}

pub(super) async fn tenants(
    state: web::Data<ScimState>,
    signed: Signed,
) -> Result<HttpResponse, ConsoleError> {
    let all = list_tenants(&state).await?;
    let tenants = all
        .into_iter()
        .filter(|t| signed.may_see(&t.slug))
        .map(|t| TenantRow {
            tenant_url: state.config.tenant_url(&t.slug),
            name: t.name,
            slug: t.slug,
            created_at: when(t.created_at),
        })
        .collect();
    let body = TenantsPage {
        operator: signed.scope.is_none(),
        csrf: Some(signed.csrf_token.clone()),
        base: base(&state),
        csrf_token: signed.csrf_token,
        tenants,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

async fn integrations_page(
    state: &ScimState,
    signed: &Signed,
    slug: String,
    status: StatusCode,
    new_token: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    integrations_page_with(state, signed, slug, status, new_token, error, None).await
}

async fn integrations_page_with(
    state: &ScimState,
    signed: &Signed,
    slug: String,
    status: StatusCode,
    new_token: Option<String>,
    error: Option<String>,
    oauth_new_secret: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (client, oauth_only) = crate::admin::oauth::client_of(state, slug.clone()).await?;
    let (t, live) = integration_of(state, slug).await?;
    let body = IntegrationsPage {
        oauth_client_id: client.map(|c| c.client_id),
        oauth_new_secret,
        token_endpoint: state.config.token_endpoint(),
        oauth_only,
        csrf: Some(signed.csrf_token.clone()),
        base: base(state),
        csrf_token: signed.csrf_token.clone(),
        tab: "integrations",
        tenant_url: state.config.tenant_url(&t.slug),
        slug: t.slug,
        tenant_name: t.name,
        token_created_at: live.map(|l| when(l.created_at)),
        new_token,
        error,
    }
    .render()?;
    Ok(html(status, body))
}

pub(super) async fn integrations(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    integrations_page(
        &state,
        &signed,
        path.into_inner(),
        StatusCode::OK,
        None,
        None,
    )
    .await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct GenerateForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

pub(super) async fn generate(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<GenerateForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let slug = path.into_inner();
    // Regenerate needs the confirmation that the previous token dies at once.
    let (_, live) = integration_of(&state, slug.clone()).await?;
    if live.is_some() && form.confirm.as_deref() != Some("yes") {
        return integrations_page(
            &state,
            &signed,
            slug,
            StatusCode::BAD_REQUEST,
            None,
            Some("Nothing changed: tick the box to confirm that the previous Secret Token stops working at once, then press Regenerate.".to_owned()),
        )
        .await;
    }
    let (t, issued) = generate_token_as(&state, slug, signed.actor()).await?;
    integrations_page(
        &state,
        &signed,
        t.slug,
        StatusCode::OK,
        Some(issued.token),
        None,
    )
    .await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct OAuthClientForm {
    #[serde(default)]
    csrf: String,
    /// Seconds the previous secret keeps working after a rotation.
    grace: Option<String>,
}

/// Settings → Integrations → OAuth 2.0 client: create the client, or rotate
/// its secret (the previous one working for the chosen grace period); the new
/// secret is shown once. The admin API's function, audited as the person.
pub(super) async fn oauth_client(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<OAuthClientForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let slug = path.into_inner();
    let grace = match form.grace.as_deref() {
        None | Some("") | Some("0") => 0,
        Some("3600") => 3600,
        Some("86400") => 86_400,
        Some("604800") => 604_800,
        Some(_) => {
            return integrations_page(
                &state,
                &signed,
                slug,
                StatusCode::BAD_REQUEST,
                None,
                Some(
                    "Nothing changed: choose how long the previous client secret keeps working."
                        .to_owned(),
                ),
            )
            .await;
        }
    };
    let issued = crate::admin::oauth::create_or_rotate_as(
        &state,
        slug.clone(),
        signed.actor(),
        chrono::TimeDelta::seconds(grace),
    )
    .await?;
    integrations_page_with(
        &state,
        &signed,
        slug,
        StatusCode::OK,
        None,
        None,
        Some(issued.client_secret),
    )
    .await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct OAuthOnlyForm {
    #[serde(default)]
    csrf: String,
    /// Present (`on`) when the box is ticked.
    oauth_only: Option<String>,
}

/// Settings → Integrations: accept OAuth access tokens only (the Secret
/// Token is refused) or both.
pub(super) async fn oauth_only(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<OAuthOnlyForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let slug = path.into_inner();
    let only = form.oauth_only.as_deref() == Some("on");
    match crate::admin::oauth::update_as(&state, slug.clone(), signed.actor(), Some(only), None)
        .await
    {
        Ok(_) => integrations_page(&state, &signed, slug, StatusCode::OK, None, None).await,
        Err(AdminError::Conflict(why)) => {
            integrations_page(&state, &signed, slug, StatusCode::CONFLICT, None, Some(why)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct DeleteClientForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

/// Settings → Integrations: delete the OAuth client (its secrets and access
/// tokens stop working at once); needs the confirmation tick.
pub(super) async fn delete_oauth_client(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<DeleteClientForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let slug = path.into_inner();
    if form.confirm.as_deref() != Some("yes") {
        return integrations_page(
            &state,
            &signed,
            slug,
            StatusCode::BAD_REQUEST,
            None,
            Some("Nothing changed: tick the box to confirm that the client's secret and access tokens stop working at once, then press Delete client.".to_owned()),
        )
        .await;
    }
    crate::admin::oauth::delete_as(&state, slug.clone(), signed.actor()).await?;
    integrations_page(&state, &signed, slug, StatusCode::OK, None, None).await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SavedQuery {
    saved: Option<String>,
}

pub(super) async fn scim_settings(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (t, overrides) =
        crate::admin::tenants::override_counts_of(&state, path.into_inner()).await?;
    let body = ScimSettingsPage {
        overrides,
        csrf: Some(signed.csrf_token.clone()),
        base: base(&state),
        csrf_token: signed.csrf_token,
        tab: "scim",
        slug: t.slug,
        tenant_name: t.name,
        saved: query.saved.is_some(),
        automatic_invitation: t.settings.automatic_invitation,
        require_users: t.settings.require_mobile_auth_users,
        require_groups: t.settings.require_mobile_auth_groups,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

/// The settings form: a checkbox that is not ticked is not sent (= off).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    automatic_invitation: Option<String>,
    require_mobile_auth_for_users: Option<String>,
    require_mobile_auth_for_groups: Option<String>,
}

pub(super) async fn save_scim_settings(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    let on = |v: &Option<String>| Some(v.is_some());
    let t = update_settings_as(
        &state,
        path.into_inner(),
        signed.actor(),
        [
            on(&form.automatic_invitation),
            on(&form.require_mobile_auth_for_users),
            on(&form.require_mobile_auth_for_groups),
        ],
    )
    .await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/settings/scim?saved=1",
        base(&state),
        t.slug
    )))
}

pub(super) async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../../assets/console/console.css"))
}

pub(super) async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(include_str!("../../assets/console/console.js"))
}

pub(super) async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::Admin(AdminError::NotFound(
        "There is no such console page.".to_owned(),
    )))
}

struct UserRow {
    id: String,
    user_name: String,
    display_name: String,
    status: String,
    active: bool,
    created_at: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    tab: &'static str,
    slug: String,
    tenant_name: String,
    statuses: Vec<(&'static str, bool)>,
    status: String,
    q: String,
    users: Vec<UserRow>,
    limit: u32,
    after_given: bool,
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct UsersQuery {
    status: Option<String>,
    /// Search: a userName or externalId.
    q: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

pub(super) async fn users(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let status = user_status_filter(query.status.as_deref())?;
    let limit = query.page.limit()?;
    let after = query.page.after()?.map(str::to_owned);
    let after_given = after.is_some();
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let (t, rows, next) = if q.is_empty() {
        let (t, rows) = users_page(&state, path.into_inner(), status, after, limit).await?;
        let full = u32::try_from(rows.len()).is_ok_and(|n| n >= limit);
        let next = rows.last().filter(|_| full).map(|u| u.id.clone());
        (t, rows, next)
    } else {
        let (t, rows) = find_users(&state, path.into_inner(), q.clone()).await?;
        let rows = rows
            .into_iter()
            .filter(|u| status.is_none_or(|s| u.status == s))
            .collect();
        (t, rows, None)
    };
    let users = rows
        .into_iter()
        .map(|u| UserRow {
            id: super::people::url_part(&u.id),
            display_name: u.display_name.unwrap_or_default(),
            user_name: u.user_name,
            status: u.status,
            active: u.active,
            created_at: when(u.created_at),
        })
        .collect();
    let body = UsersPage {
        csrf: Some(signed.csrf_token),
        base: base(&state),
        tab: "users",
        slug: t.slug,
        tenant_name: t.name,
        statuses: ["Staged", "Invited", "Active", "Suspended"]
            .into_iter()
            .map(|s| (s, status == Some(s)))
            .collect(),
        status: status.unwrap_or_default().to_owned(),
        q,
        users,
        limit,
        after_given,
        next,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}
