//! Tenant administrators in the console: sign-in with email and password,
//! the second-factor step (TOTP code or recovery code), forced enrolment,
//! the set-password page of the emailed or printed link, and the operator's
//! page that creates and disables them and switches the 2FA requirement.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde_json::json;
use store_diesel::console_sessions::{self, Scope};
use store_diesel::tenant_admins::{self as store_admins, AdminSecrets, LinkState};
use store_diesel::tenants;

use super::pages::{CsrfForm, login_page, login_page_with};
use super::{
    ConsoleConfig, ConsoleError, LOGIN_COOKIE, Pending, SESSION_COOKIE, Signed, base, cookie, html,
    see_other, set_cookie,
};
use crate::admin::tenant_admins::{
    LinkDelivery, admins_of, create_admin_as, disable_admin_as, enable_admin_as, new_link_as,
    reset_second_factor_as, set_password_url, set_second_factor_as,
};
use crate::admin::{AdminError, audit_as, read, tx};
use crate::{ScimState, passwords, totp};

/// The sealing purpose of TOTP seeds.
const TOTP_PURPOSE: &str = "totp-seed";
/// The issuer authenticator apps show next to the account.
const ISSUER: &str = "SCIM admin portal";
/// Session steps.
const STEP_TOTP: &str = "totp";
const STEP_ENROL: &str = "enrol";
/// The set-password form's pre-session CSRF cookie.
const SET_PASSWORD_COOKIE: &str = "scim_console_setpw";

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn home_of(base: &str, slug: &str) -> String {
    format!("{base}/tenants/{slug}/settings/integrations")
}

/// What follows a change of session.
enum Then<'a> {
    /// A `303` to this page.
    Go(&'a str),
    /// This page (HTML), with `200`.
    Show(String),
}

/// The response that replaces the session cookie with `session_id` (a new id
/// at every change of privilege), then goes on or shows a page.
fn with_session(state: &ScimState, session_id: &str, then: Then<'_>) -> HttpResponse {
    let mut res = match &then {
        Then::Go(location) => {
            let mut r = HttpResponse::SeeOther();
            r.insert_header((header::LOCATION, (*location).to_owned()));
            r
        }
        Then::Show(_) => HttpResponse::Ok(),
    };
    res.insert_header(set_cookie(
        state,
        SESSION_COOKIE,
        session_id,
        &base(state),
        None,
    ))
    .append_header(set_cookie(
        state,
        LOGIN_COOKIE,
        "",
        &format!("{}/login", base(state)),
        Some(0),
    ));
    match then {
        Then::Go(_) => res.finish(),
        Then::Show(body) => res.content_type("text/html; charset=utf-8").body(body),
    }
}

/// The first step of a tenant administrator's sign-in: email and password.
pub(super) async fn password_sign_in(
    state: &ScimState,
    config: &ConsoleConfig,
    addr: Option<IpAddr>,
    email: String,
    password: String,
) -> Result<HttpResponse, ConsoleError> {
    let lookup = email.clone();
    let candidates = read(state, move |c| {
        if lookup.contains('\0') {
            return Ok(Vec::new());
        }
        Ok(store_admins::for_sign_in(c, &lookup)?)
    })
    .await?;
    // Argon2id is slow on purpose: off the async workers. An unknown email
    // is checked against a dummy hash so it costs the same time.
    let matched = web::block(move || {
        if candidates.is_empty() {
            let _ = passwords::verify(&password, passwords::dummy_hash());
            return None;
        }
        candidates.into_iter().find(|a| {
            a.password_hash
                .as_deref()
                .is_some_and(|h| passwords::verify(&password, h))
        })
    })
    .await?;
    let Some(admin) = matched else {
        config.record(addr, false);
        tracing::warn!(peer = ?addr, "console sign-in failed (tenant administrator)");
        return login_page_with(
            state,
            StatusCode::UNAUTHORIZED,
            Some("Sign-in failed: wrong email or password.".to_owned()),
            None,
            email,
        );
    };
    let AdminSecrets {
        admin, totp_seed, ..
    } = admin;
    let tenant_id = admin.tenant_id.clone();
    let store = state.store.clone();
    let idle = config.idle_timeout;
    let (scope, pending, new) = web::block(move || {
        store.transaction(|c| {
            console_sessions::delete_idle(c, idle)?;
            let t = tenants::get(c, &tenant_id)?;
            let pending = if totp_seed.is_some() {
                Some(STEP_TOTP)
            } else if store_admins::second_factor_required(c, &t.id)? {
                Some(STEP_ENROL)
            } else {
                None
            };
            let scope = Scope {
                tenant_id: t.id.clone(),
                tenant_slug: t.slug.clone(),
                admin_id: admin.id.clone(),
            };
            let new = console_sessions::create_for(c, &admin.email, Some(&scope), pending)?;
            if pending.is_none() {
                audit_sign_in(c, &admin.email, &t.id, &admin.id, "password only")?;
            }
            Ok((scope, pending, new))
        })
    })
    .await??;
    let location = match pending {
        Some(STEP_TOTP) => format!("{}/login/second-factor", base(state)),
        Some(_) => format!("{}/login/enrol", base(state)),
        None => {
            config.record(addr, true);
            home_of(&base(state), &scope.tenant_slug)
        }
    };
    Ok(with_session(state, &new.id, Then::Go(&location)))
}

fn audit_sign_in(
    c: &mut store_diesel::DbConnection,
    email: &str,
    tenant_id: &str,
    admin_id: &str,
    how: &str,
) -> Result<(), store_diesel::StoreError> {
    audit_as(
        c,
        &format!("console:{email}"),
        tenant_id,
        "console.sign_in",
        "TenantAdmin",
        Some(admin_id),
        &json!({"secondFactor": how}),
    )
}

/// Ends the half-signed-in session `pending` and starts a signed-in one.
async fn complete_sign_in(
    state: &ScimState,
    pending: &Pending,
    how: &'static str,
) -> Result<String, ConsoleError> {
    let store = state.store.clone();
    let old = pending.session_id.clone();
    let scope = pending.scope.clone();
    let email = pending.subject.clone();
    let new = web::block(move || {
        store.transaction(|c| {
            console_sessions::delete(c, &old)?;
            audit_sign_in(c, &email, &scope.tenant_id, &scope.admin_id, how)?;
            console_sessions::create_for(c, &email, Some(&scope), None)
        })
    })
    .await??;
    Ok(new.id)
}

#[derive(Template)]
#[template(path = "console/second_factor.html")]
struct SecondFactorPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    email: String,
    error: Option<String>,
}

fn second_factor_page(
    pending: &Pending,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let body = SecondFactorPage {
        csrf: None,
        base: pending.base.clone(),
        csrf_token: pending.csrf_token.clone(),
        email: pending.subject.clone(),
        error,
    }
    .render()?;
    Ok(html(status, body))
}

pub(super) async fn second_factor_form(pending: Pending) -> Result<HttpResponse, ConsoleError> {
    if pending.step != STEP_TOTP {
        return Ok(see_other(&format!("{}/login/enrol", pending.base)));
    }
    second_factor_page(&pending, StatusCode::OK, None)
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

impl Pending {
    fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        if !presented.is_empty() && crate::auth::hashes_equal(presented, &self.csrf_token) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

/// A wrong code: counted per address (slowing the next attempts) and per
/// session (ended after a few, so the password must be entered again).
async fn wrong_code(
    state: &ScimState,
    config: &ConsoleConfig,
    addr: Option<IpAddr>,
    pending: &Pending,
    again: impl FnOnce(&Pending) -> Result<HttpResponse, ConsoleError>,
) -> Result<HttpResponse, ConsoleError> {
    config.record(addr, false);
    tracing::warn!(peer = ?addr, "console second factor failed");
    if config.code_failed(&pending.session_id) {
        config.forget_code_failures(&pending.session_id);
        let store = state.store.clone();
        let id = pending.session_id.clone();
        web::block(move || store.transaction(|c| console_sessions::delete(c, &id))).await??;
        return login_page(
            state,
            StatusCode::UNAUTHORIZED,
            Some("Too many wrong codes: sign in again.".to_owned()),
        );
    }
    again(pending)
}

pub(super) async fn second_factor(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: web::Data<ConsoleConfig>,
    pending: Pending,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, ConsoleError> {
    pending.check_csrf(&form.csrf)?;
    if pending.step != STEP_TOTP {
        return Ok(see_other(&format!("{}/login/enrol", base(&state))));
    }
    let addr = req.peer_addr().map(|a| a.ip());
    let delay = config.delay_for(addr);
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let keys = state.keys.clone();
    let scope = pending.scope.clone();
    let code = form.code.clone();
    let how = tx(&state, move |c| {
        let secrets = store_admins::get(c, &scope.tenant_id, &scope.admin_id)?;
        let seed = secrets
            .totp_seed
            .as_deref()
            .map(|s| keys.sealer().open(TOTP_PURPOSE, s))
            .transpose()
            .map_err(AdminError::internal)?;
        if let Some(step) = seed.and_then(|seed| totp::verify(&seed, &code, unix_now())) {
            let step = i64::try_from(step).map_err(AdminError::internal)?;
            if store_admins::accept_totp_step(c, &scope.admin_id, step)? {
                return Ok(Some("totp"));
            }
            return Ok(None);
        }
        if code.trim().len() >= 10 && store_admins::use_recovery_code(c, &scope.admin_id, &code)? {
            let left = store_admins::recovery_codes_left(c, &scope.admin_id)?;
            audit_as(
                c,
                &format!("console:{}", secrets.admin.email),
                &scope.tenant_id,
                "admin.recovery_code.use",
                "TenantAdmin",
                Some(&scope.admin_id),
                &json!({"recoveryCodesLeft": left}),
            )?;
            return Ok(Some("recovery code"));
        }
        Ok(None)
    })
    .await?;
    let Some(how) = how else {
        return wrong_code(&state, &config, addr, &pending, |p| {
            second_factor_page(
                p,
                StatusCode::UNAUTHORIZED,
                Some(
                    "That code is not valid (or was already used). Try the current code."
                        .to_owned(),
                ),
            )
        })
        .await;
    };
    config.record(addr, true);
    config.forget_code_failures(&pending.session_id);
    let id = complete_sign_in(&state, &pending, how).await?;
    Ok(with_session(
        &state,
        &id,
        Then::Go(&home_of(&pending.base, &pending.scope.tenant_slug)),
    ))
}

#[derive(Template)]
#[template(path = "console/enrol.html")]
struct EnrolPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    email: String,
    secret: String,
    uri: String,
    error: Option<String>,
}

/// The seed being enrolled: the one already pending, or a new one (kept
/// sealed), so reloading the page does not change the secret.
async fn pending_seed(state: &ScimState, pending: &Pending) -> Result<Vec<u8>, ConsoleError> {
    let keys = state.keys.clone();
    let scope = pending.scope.clone();
    Ok(tx(state, move |c| {
        let secrets = store_admins::get(c, &scope.tenant_id, &scope.admin_id)?;
        if let Some(sealed) = secrets.totp_pending.as_deref() {
            return keys
                .sealer()
                .open(TOTP_PURPOSE, sealed)
                .map_err(AdminError::internal);
        }
        let mut seed = vec![0u8; totp::SEED_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| AdminError::internal("no randomness for a TOTP seed"))?;
        let sealed = keys
            .sealer()
            .seal(TOTP_PURPOSE, &seed)
            .map_err(AdminError::internal)?;
        store_admins::set_pending_totp(c, &scope.admin_id, &sealed)?;
        Ok(seed)
    })
    .await?)
}

fn enrol_page(
    pending: &Pending,
    seed: &[u8],
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let body = EnrolPage {
        csrf: None,
        base: pending.base.clone(),
        csrf_token: pending.csrf_token.clone(),
        email: pending.subject.clone(),
        secret: totp::base32(seed),
        uri: totp::otpauth_uri(ISSUER, &pending.subject, seed),
        error,
    }
    .render()?;
    Ok(html(status, body))
}

pub(super) async fn enrol_form(
    state: web::Data<ScimState>,
    pending: Pending,
) -> Result<HttpResponse, ConsoleError> {
    if pending.step != STEP_ENROL {
        return Ok(see_other(&format!("{}/login/second-factor", base(&state))));
    }
    let seed = pending_seed(&state, &pending).await?;
    enrol_page(&pending, &seed, StatusCode::OK, None)
}

#[derive(Template)]
#[template(path = "console/recovery_codes.html")]
struct RecoveryCodesPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    codes: Vec<String>,
    next: String,
}

pub(super) async fn enrol(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: web::Data<ConsoleConfig>,
    pending: Pending,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, ConsoleError> {
    pending.check_csrf(&form.csrf)?;
    if pending.step != STEP_ENROL {
        return Ok(see_other(&format!("{}/login/second-factor", base(&state))));
    }
    let addr = req.peer_addr().map(|a| a.ip());
    let seed = pending_seed(&state, &pending).await?;
    let Some(step) = totp::verify(&seed, &form.code, unix_now()) else {
        return wrong_code(&state, &config, addr, &pending, |p| {
            enrol_page(
                p,
                &seed,
                StatusCode::BAD_REQUEST,
                Some(
                    "That code does not match: check the app's clock and enter the current code."
                        .to_owned(),
                ),
            )
        })
        .await;
    };
    let step = i64::try_from(step).map_err(AdminError::internal)?;
    let scope = pending.scope.clone();
    let actor = format!("console:{}", pending.subject);
    let codes = tx(&state, move |c| {
        let codes = store_admins::confirm_totp(c, &scope.admin_id, step)?;
        audit_as(
            c,
            &actor,
            &scope.tenant_id,
            "admin.second_factor.enrol",
            "TenantAdmin",
            Some(&scope.admin_id),
            &json!({"recoveryCodes": codes.len()}),
        )?;
        Ok(codes)
    })
    .await?;
    config.record(addr, true);
    config.forget_code_failures(&pending.session_id);
    let id = complete_sign_in(&state, &pending, "totp (enrolled)").await?;
    let body = RecoveryCodesPage {
        csrf: None,
        base: base(&state),
        codes,
        next: home_of(&pending.base, &pending.scope.tenant_slug),
    }
    .render()?;
    Ok(with_session(&state, &id, Then::Show(body)))
}

// ---- the set-password link ------------------------------------------------------

#[derive(Template)]
#[template(path = "console/set_password.html")]
struct SetPasswordPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    form_csrf: String,
    token: String,
    email: String,
    min_len: usize,
    error: Option<String>,
}

fn link_gone(state: &LinkState) -> ConsoleError {
    let why = match state {
        LinkState::Used => "This set-password link was already used.",
        LinkState::Expired => "This set-password link has expired.",
        _ => "This set-password link is not valid (a newer link replaces older ones).",
    };
    ConsoleError::Admin(AdminError::Gone(format!(
        "{why} Ask the server's operator for a new link."
    )))
}

fn valid_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn link_of(state: &ScimState, token: String) -> Result<LinkState, ConsoleError> {
    if !valid_token(&token) {
        return Ok(LinkState::Unknown);
    }
    Ok(read(state, move |c| Ok(store_admins::link_state(c, &token)?)).await?)
}

fn set_password_page(
    state: &ScimState,
    status: StatusCode,
    token: String,
    email: String,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let form_csrf = uuid::Uuid::new_v4().simple().to_string();
    let body = SetPasswordPage {
        csrf: None,
        base: base(state),
        form_csrf: form_csrf.clone(),
        token,
        email,
        min_len: passwords::MIN_LEN,
        error,
    }
    .render()?;
    Ok(HttpResponse::build(status)
        .insert_header(set_cookie(
            state,
            SET_PASSWORD_COOKIE,
            &form_csrf,
            &format!("{}/set-password", base(state)),
            None,
        ))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Shows the form; the link is used only when the form is sent (so a mail
/// scanner that opens the link does not spend it).
pub(super) async fn set_password_form(
    state: web::Data<ScimState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let token = query.into_inner().token;
    match link_of(&state, token.clone()).await? {
        LinkState::Valid(admin) => {
            set_password_page(&state, StatusCode::OK, token, admin.email, None)
        }
        other => Err(link_gone(&other)),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SetPasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub(super) async fn set_password(
    req: HttpRequest,
    state: web::Data<ScimState>,
    form: web::Form<SetPasswordForm>,
) -> Result<HttpResponse, ConsoleError> {
    let expected = cookie(&req, SET_PASSWORD_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || !crate::auth::hashes_equal(&form.csrf, &expected) {
        return Err(ConsoleError::Csrf);
    }
    let SetPasswordForm {
        token,
        password,
        confirm,
        ..
    } = form.into_inner();
    let admin = match link_of(&state, token.clone()).await? {
        LinkState::Valid(admin) => admin,
        other => return Err(link_gone(&other)),
    };
    let refuse = |why: String| {
        set_password_page(
            &state,
            StatusCode::BAD_REQUEST,
            token.clone(),
            admin.email.clone(),
            Some(format!("Nothing changed: {why}")),
        )
    };
    if password != confirm {
        return refuse("the two passwords differ.".to_owned());
    }
    if let Err(e) = passwords::check(&password) {
        return refuse(e.to_string());
    }
    let hash = web::block(move || passwords::hash(&password))
        .await?
        .map_err(AdminError::internal)?;
    let link = token.clone();
    let outcome = tx(&state, move |c| {
        let outcome = store_admins::use_link(c, &link, &hash)?;
        if let LinkState::Valid(a) = &outcome {
            audit_as(
                c,
                &format!("console:{}", a.email),
                &a.tenant_id,
                "admin.password.set",
                "TenantAdmin",
                Some(&a.id),
                &json!({"email": a.email}),
            )?;
        }
        Ok(outcome)
    })
    .await?;
    match outcome {
        LinkState::Valid(_) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("{}/login?password=set", base(&state)),
            ))
            .insert_header(set_cookie(
                &state,
                SET_PASSWORD_COOKIE,
                "",
                &format!("{}/set-password", base(&state)),
                Some(0),
            ))
            .finish()),
        other => Err(link_gone(&other)),
    }
}

// ---- the operator's page ------------------------------------------------------------

struct AdminRow {
    id: String,
    email: String,
    state: String,
    disabled: bool,
    enrolled: bool,
    created_at: String,
    created_by: String,
}

struct NewLink {
    email: String,
    url: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "console/admins.html")]
struct AdminsPage {
    csrf: Option<String>,
    /// The console's path from the root (links, forms, assets).
    base: String,
    csrf_token: String,
    slug: String,
    tenant_name: String,
    second_factor_required: bool,
    admins: Vec<AdminRow>,
    new_link: Option<NewLink>,
    error: Option<String>,
    notice: Option<String>,
}

/// `message` is an error when `status` is not 200, a notice otherwise.
async fn admins_page(
    state: &ScimState,
    signed: &Signed,
    slug: String,
    status: StatusCode,
    new_link: Option<NewLink>,
    message: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (error, notice) = if status == StatusCode::OK {
        (None, message)
    } else {
        (message, None)
    };
    let (t, admins, required) = admins_of(state, slug).await?;
    let admins = admins
        .into_iter()
        .map(|a| AdminRow {
            state: if a.disabled_at.is_some() {
                "Disabled".to_owned()
            } else if !a.password_set {
                "Waiting for the set-password link".to_owned()
            } else if a.totp_enrolled {
                "Active, second factor set up".to_owned()
            } else {
                "Active, no second factor".to_owned()
            },
            disabled: a.disabled_at.is_some(),
            enrolled: a.totp_enrolled,
            id: a.id,
            email: a.email,
            created_at: when(a.created_at),
            created_by: a.created_by,
        })
        .collect();
    let body = AdminsPage {
        csrf: Some(signed.csrf_token.clone()),
        base: base(state),
        csrf_token: signed.csrf_token.clone(),
        slug: t.slug,
        tenant_name: t.name,
        second_factor_required: required,
        admins,
        new_link,
        error,
        notice,
    }
    .render()?;
    Ok(html(status, body))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct AdminsQuery {
    emailed: Option<String>,
}

pub(super) async fn admins(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    query: web::Query<AdminsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    signed.require_operator()?;
    let notice = query.emailed.is_some().then(|| {
        "The set-password link is being emailed (if the server has mail configured; otherwise give them a new link from here).".to_owned()
    });
    admins_page(
        &state,
        &signed,
        path.into_inner(),
        StatusCode::OK,
        None,
        notice,
    )
    .await
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    send_email: Option<String>,
}

pub(super) async fn create(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    signed.require_operator()?;
    let slug = path.into_inner();
    let delivery = if form.send_email.is_some() {
        LinkDelivery::Email
    } else {
        LinkDelivery::Return
    };
    match create_admin_as(
        &state,
        slug.clone(),
        form.email.clone(),
        signed.actor(),
        delivery,
    )
    .await
    {
        Ok((t, _, None)) => Ok(see_other(&format!(
            "{}/tenants/{}/admins?emailed=1",
            base(&state),
            t.slug
        ))),
        Ok((t, admin, Some(link))) => {
            let new_link = NewLink {
                email: admin.email,
                url: set_password_url(&state.config, &link.token),
                expires_at: when(link.expires_at),
            };
            admins_page(
                &state,
                &signed,
                t.slug,
                StatusCode::OK,
                Some(new_link),
                None,
            )
            .await
        }
        Err(AdminError::BadRequest(m) | AdminError::Conflict(m)) => {
            admins_page(
                &state,
                &signed,
                slug,
                StatusCode::BAD_REQUEST,
                None,
                Some(format!("Nothing changed: {m}")),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn new_link(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(form.csrf())?;
    signed.require_operator()?;
    let (slug, id) = path.into_inner();
    let (t, admin, link) = new_link_as(&state, slug, id, signed.actor()).await?;
    let new_link = NewLink {
        email: admin.email,
        url: set_password_url(&state.config, &link.token),
        expires_at: when(link.expires_at),
    };
    admins_page(
        &state,
        &signed,
        t.slug,
        StatusCode::OK,
        Some(new_link),
        None,
    )
    .await
}

pub(super) async fn disable(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(form.csrf())?;
    signed.require_operator()?;
    let (slug, id) = path.into_inner();
    let (t, _) = disable_admin_as(&state, slug, id, signed.actor()).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/admins",
        base(&state),
        t.slug
    )))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SecondFactorSettingForm {
    #[serde(default)]
    csrf: String,
    required: Option<String>,
}

pub(super) async fn second_factor_setting(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<String>,
    form: web::Form<SecondFactorSettingForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(&form.csrf)?;
    signed.require_operator()?;
    let t = set_second_factor_as(
        &state,
        path.into_inner(),
        form.required.is_some(),
        signed.actor(),
    )
    .await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/admins",
        base(&state),
        t.slug
    )))
}

pub(super) async fn enable(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(form.csrf())?;
    signed.require_operator()?;
    let (slug, id) = path.into_inner();
    let (t, _) = enable_admin_as(&state, slug, id, signed.actor()).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/admins",
        base(&state),
        t.slug
    )))
}

pub(super) async fn reset_second_factor(
    state: web::Data<ScimState>,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_csrf(form.csrf())?;
    signed.require_operator()?;
    let (slug, id) = path.into_inner();
    let (t, _) = reset_second_factor_as(&state, slug, id, signed.actor()).await?;
    Ok(see_other(&format!(
        "{}/tenants/{}/admins",
        base(&state),
        t.slug
    )))
}
