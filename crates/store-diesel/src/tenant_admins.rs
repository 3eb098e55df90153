//! Tenant administrators: the web console's accounts of one tenant.
//!
//! An account has an email (unique per tenant, compared case-insensitively),
//! a password hash (a PHC string the caller computed; `NULL` until set through
//! a set-password link), and a TOTP second factor: the seed *sealed* by the
//! caller with the server key, the last accepted step (a code works once),
//! and single-use recovery codes kept as SHA-256 hashes. Set-password links
//! are random tokens kept as SHA-256 hashes, single use, expiring.
//!
//! This module stores what it is given: it never sees a plain password or an
//! unsealed seed. The random secrets it makes itself (link tokens, recovery
//! codes) are returned once and only their hashes stay.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::{
    console_sessions, tenant_admin_links, tenant_admin_recovery_codes, tenant_admins,
    tenant_console_settings,
};
use crate::time::{from_db, now, to_db};
use crate::{DbConnection, StoreError, hex};

/// The outbox kind of a set-password email; its payload is `{"adminId": ...}`
/// (never the link: the mail worker issues it when it sends).
pub const KIND_LINK_EMAIL: &str = "admin.link.email";

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;
/// Longest email accepted.
pub const MAX_EMAIL_LEN: usize = 254;

/// A tenant administrator as shown to people (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAdmin {
    /// Stable id (a UUID string).
    pub id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The email as entered.
    pub email: String,
    /// Whether a password was set (through a set-password link).
    pub password_set: bool,
    /// Whether a TOTP second factor is enrolled.
    pub totp_enrolled: bool,
    /// When the operator disabled the account.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Who created it (the audit actor).
    pub created_by: String,
}

/// An account with what sign-in checks. `Debug` hides the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminSecrets {
    /// The account.
    pub admin: TenantAdmin,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// Sealed TOTP seed of the enrolled second factor.
    pub totp_seed: Option<String>,
    /// Sealed TOTP seed of an enrolment in progress.
    pub totp_pending: Option<String>,
}

impl std::fmt::Debug for AdminSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSecrets")
            .field("admin", &self.admin)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .field("totp_seed", &self.totp_seed.as_ref().map(|_| "***"))
            .field("totp_pending", &self.totp_pending.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenant_admins)]
struct Row {
    id: String,
    tenant_id: String,
    email: String,
    password_hash: Option<String>,
    totp_seed: Option<String>,
    totp_pending: Option<String>,
    disabled_at: Option<chrono::NaiveDateTime>,
    created_at: chrono::NaiveDateTime,
    created_by: String,
}

impl From<Row> for AdminSecrets {
    fn from(r: Row) -> Self {
        AdminSecrets {
            admin: TenantAdmin {
                id: r.id,
                tenant_id: r.tenant_id,
                email: r.email,
                password_set: r.password_hash.is_some(),
                totp_enrolled: r.totp_seed.is_some(),
                disabled_at: r.disabled_at.map(from_db),
                created_at: from_db(r.created_at),
                created_by: r.created_by,
            },
            password_hash: r.password_hash,
            totp_seed: r.totp_seed,
            totp_pending: r.totp_pending,
        }
    }
}

/// An email as compared: trimmed and lower-cased.
pub fn fold_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The trimmed email, or [`StoreError::InvalidInput`] saying what is wrong:
/// empty, too long, control characters or spaces, no `local@domain` shape.
///
/// # Errors
/// [`StoreError::InvalidInput`].
pub fn validate_email(email: &str) -> Result<String, StoreError> {
    let e = email.trim();
    let bad = |why: &str| Err(StoreError::InvalidInput(format!("email {e:?} {why}")));
    if e.is_empty() {
        return Err(StoreError::InvalidInput("email: required".to_owned()));
    }
    if e.len() > MAX_EMAIL_LEN {
        return bad("is longer than 254 characters");
    }
    if e.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must not contain spaces or control characters");
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(e.to_owned())
        }
        _ => bad("is not an address of the form name@domain"),
    }
}

fn hash(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes()))
}

/// Creates an account of `tenant_id` without a password; `created_by` is the
/// audit actor.
///
/// # Errors
/// [`StoreError::InvalidInput`] for a bad email, [`StoreError::Conflict`] when
/// the tenant already has an account with this email,
/// [`StoreError::MissingReference`] for an unknown tenant.
pub fn create(
    conn: &mut DbConnection,
    tenant_id: &str,
    email: &str,
    created_by: &str,
) -> Result<TenantAdmin, StoreError> {
    let email = validate_email(email)?;
    let admin = TenantAdmin {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.to_owned(),
        email: email.clone(),
        password_set: false,
        totp_enrolled: false,
        disabled_at: None,
        created_at: now(),
        created_by: created_by.to_owned(),
    };
    diesel::insert_into(tenant_admins::table)
        .values((
            tenant_admins::id.eq(&admin.id),
            tenant_admins::tenant_id.eq(tenant_id),
            tenant_admins::email.eq(&email),
            tenant_admins::email_folded.eq(fold_email(&email)),
            tenant_admins::created_at.eq(to_db(admin.created_at)),
            tenant_admins::created_by.eq(created_by),
        ))
        .execute(conn)?;
    Ok(admin)
}

/// The tenant's accounts, by email.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConnection, tenant_id: &str) -> Result<Vec<TenantAdmin>, StoreError> {
    Ok(tenant_admins::table
        .filter(tenant_admins::tenant_id.eq(tenant_id))
        .order(tenant_admins::email_folded.asc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| AdminSecrets::from(r).admin)
        .collect())
}

/// The account `id` of `tenant_id` with its secrets.
///
/// # Errors
/// [`StoreError::NotFound`] when the tenant has no such account.
pub fn get(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<AdminSecrets, StoreError> {
    tenant_admins::table
        .filter(tenant_admins::tenant_id.eq(tenant_id))
        .filter(tenant_admins::id.eq(id))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(AdminSecrets::from)
        .ok_or(StoreError::NotFound)
}

/// The enabled accounts with this email and a password, in every tenant
/// (sign-in asks for email and password only; an email may administer
/// several tenants).
///
/// # Errors
/// Database errors.
pub fn for_sign_in(conn: &mut DbConnection, email: &str) -> Result<Vec<AdminSecrets>, StoreError> {
    Ok(tenant_admins::table
        .filter(tenant_admins::email_folded.eq(fold_email(email)))
        .filter(tenant_admins::disabled_at.is_null())
        .filter(tenant_admins::password_hash.is_not_null())
        .order(tenant_admins::created_at.asc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(AdminSecrets::from)
        .collect())
}

/// Disables the account: its sessions end and its unused links stop working.
/// Disabling twice keeps the first time.
///
/// # Errors
/// [`StoreError::NotFound`] when the tenant has no such account.
pub fn disable(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<TenantAdmin, StoreError> {
    let found = get(conn, tenant_id, id)?;
    if found.admin.disabled_at.is_none() {
        diesel::update(tenant_admins::table.filter(tenant_admins::id.eq(id)))
            .set(tenant_admins::disabled_at.eq(to_db(now())))
            .execute(conn)?;
    }
    diesel::delete(console_sessions::table.filter(console_sessions::admin_id.eq(id)))
        .execute(conn)?;
    diesel::delete(
        tenant_admin_links::table
            .filter(tenant_admin_links::admin_id.eq(id))
            .filter(tenant_admin_links::used_at.is_null()),
    )
    .execute(conn)?;
    Ok(get(conn, tenant_id, id)?.admin)
}

/// Enables a disabled account again (its password and second factor are
/// kept).
///
/// # Errors
/// [`StoreError::NotFound`] when the tenant has no such account.
pub fn enable(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<TenantAdmin, StoreError> {
    get(conn, tenant_id, id)?;
    diesel::update(tenant_admins::table.filter(tenant_admins::id.eq(id)))
        .set(tenant_admins::disabled_at.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)?;
    Ok(get(conn, tenant_id, id)?.admin)
}

/// Removes the account's second factor (a lost phone): seed, enrolment in
/// progress and recovery codes go, and its sessions end; at the next sign-in
/// it enrols again if the tenant requires a second factor.
///
/// # Errors
/// [`StoreError::NotFound`] when the tenant has no such account.
pub fn reset_second_factor(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<TenantAdmin, StoreError> {
    get(conn, tenant_id, id)?;
    diesel::update(tenant_admins::table.filter(tenant_admins::id.eq(id)))
        .set((
            tenant_admins::totp_seed.eq(None::<String>),
            tenant_admins::totp_pending.eq(None::<String>),
            tenant_admins::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)?;
    diesel::delete(
        tenant_admin_recovery_codes::table.filter(tenant_admin_recovery_codes::admin_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(console_sessions::table.filter(console_sessions::admin_id.eq(id)))
        .execute(conn)?;
    Ok(get(conn, tenant_id, id)?.admin)
}

/// A freshly issued set-password link token: shown once, `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedLink {
    /// The secret that goes into the link (64 hex characters).
    pub token: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedLink")
            .field("token", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A new set-password link for the account, valid for `validity`; earlier
/// unused links of the account stop working.
///
/// # Errors
/// Database errors.
pub fn issue_link(
    conn: &mut DbConnection,
    admin_id: &str,
    validity: TimeDelta,
) -> Result<IssuedLink, StoreError> {
    diesel::delete(
        tenant_admin_links::table
            .filter(tenant_admin_links::admin_id.eq(admin_id))
            .filter(tenant_admin_links::used_at.is_null()),
    )
    .execute(conn)?;
    let token = hex::encode(&rand::random::<[u8; 32]>());
    let at = now();
    let expires_at = at + validity;
    diesel::insert_into(tenant_admin_links::table)
        .values((
            tenant_admin_links::token_hash.eq(hash(&token)),
            tenant_admin_links::admin_id.eq(admin_id),
            tenant_admin_links::created_at.eq(to_db(at)),
            tenant_admin_links::expires_at.eq(to_db(expires_at)),
        ))
        .execute(conn)?;
    Ok(IssuedLink { token, expires_at })
}

/// What a set-password link token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Usable: the account it sets the password of.
    Valid(TenantAdmin),
    /// Already used.
    Used,
    /// Past its expiry.
    Expired,
    /// No such link (never issued, replaced by a newer one, or its account
    /// was disabled).
    Unknown,
}

/// What the link `token` leads to, changing nothing.
///
/// # Errors
/// Database errors.
pub fn link_state(conn: &mut DbConnection, token: &str) -> Result<LinkState, StoreError> {
    let row = tenant_admin_links::table
        .filter(tenant_admin_links::token_hash.eq(hash(token)))
        .select((
            tenant_admin_links::admin_id,
            tenant_admin_links::expires_at,
            tenant_admin_links::used_at,
        ))
        .first::<(String, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)>(conn)
        .optional()?;
    let Some((admin_id, expires_at, used_at)) = row else {
        return Ok(LinkState::Unknown);
    };
    if used_at.is_some() {
        return Ok(LinkState::Used);
    }
    if from_db(expires_at) <= now() {
        return Ok(LinkState::Expired);
    }
    let admin = tenant_admins::table
        .filter(tenant_admins::id.eq(&admin_id))
        .filter(tenant_admins::disabled_at.is_null())
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?;
    Ok(admin.map_or(LinkState::Unknown, |r| {
        LinkState::Valid(AdminSecrets::from(r).admin)
    }))
}

/// Uses the link `token`: when it is [`LinkState::Valid`], sets the account's
/// password hash to `password_hash`, marks the link used and ends the
/// account's sessions, in one step; otherwise changes nothing. Returns the state the link was in.
///
/// # Errors
/// Database errors.
pub fn use_link(
    conn: &mut DbConnection,
    token: &str,
    password_hash: &str,
) -> Result<LinkState, StoreError> {
    let state = link_state(conn, token)?;
    if let LinkState::Valid(admin) = &state {
        // The `used_at IS NULL` guard makes a concurrent second use lose.
        let n = diesel::update(
            tenant_admin_links::table
                .filter(tenant_admin_links::token_hash.eq(hash(token)))
                .filter(tenant_admin_links::used_at.is_null()),
        )
        .set(tenant_admin_links::used_at.eq(to_db(now())))
        .execute(conn)?;
        if n == 0 {
            return Ok(LinkState::Used);
        }
        diesel::update(tenant_admins::table.filter(tenant_admins::id.eq(&admin.id)))
            .set(tenant_admins::password_hash.eq(password_hash))
            .execute(conn)?;
        // A new password (a reset through a new link) ends the old sessions.
        diesel::delete(console_sessions::table.filter(console_sessions::admin_id.eq(&admin.id)))
            .execute(conn)?;
    }
    Ok(state)
}

/// Keeps `sealed_seed` as the seed of an enrolment in progress.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown account.
pub fn set_pending_totp(
    conn: &mut DbConnection,
    admin_id: &str,
    sealed_seed: &str,
) -> Result<(), StoreError> {
    let n = diesel::update(tenant_admins::table.filter(tenant_admins::id.eq(admin_id)))
        .set(tenant_admins::totp_pending.eq(sealed_seed))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Completes an enrolment whose first code was of `step`: the pending seed
/// becomes the account's seed and [`RECOVERY_CODES`] new recovery codes
/// replace any earlier ones. Returns the codes (shown once; only hashes stay).
///
/// # Errors
/// [`StoreError::InvalidInput`] when no enrolment is in progress.
pub fn confirm_totp(
    conn: &mut DbConnection,
    admin_id: &str,
    step: i64,
) -> Result<Vec<String>, StoreError> {
    let n = diesel::update(
        tenant_admins::table
            .filter(tenant_admins::id.eq(admin_id))
            .filter(tenant_admins::totp_pending.is_not_null()),
    )
    .set((
        tenant_admins::totp_seed.eq(tenant_admins::totp_pending),
        tenant_admins::totp_pending.eq(None::<String>),
        tenant_admins::totp_last_step.eq(step),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::InvalidInput(
            "no second-factor enrolment is in progress".to_owned(),
        ));
    }
    diesel::delete(
        tenant_admin_recovery_codes::table
            .filter(tenant_admin_recovery_codes::admin_id.eq(admin_id)),
    )
    .execute(conn)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    for code in &codes {
        diesel::insert_into(tenant_admin_recovery_codes::table)
            .values((
                tenant_admin_recovery_codes::admin_id.eq(admin_id),
                tenant_admin_recovery_codes::code_hash.eq(hash(&normalize_code(code))),
            ))
            .execute(conn)?;
    }
    Ok(codes)
}

/// Records `step` as the account's last accepted TOTP step if it is later
/// than the last one; `false` (a replayed or older code) otherwise.
///
/// # Errors
/// Database errors.
pub fn accept_totp_step(
    conn: &mut DbConnection,
    admin_id: &str,
    step: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        tenant_admins::table
            .filter(tenant_admins::id.eq(admin_id))
            .filter(
                tenant_admins::totp_last_step
                    .is_null()
                    .or(tenant_admins::totp_last_step.lt(step)),
            ),
    )
    .set(tenant_admins::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(n > 0)
}

/// Uses one of the account's recovery codes: `true` if `code` was an unused
/// one (now used), `false` otherwise.
///
/// # Errors
/// Database errors.
pub fn use_recovery_code(
    conn: &mut DbConnection,
    admin_id: &str,
    code: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        tenant_admin_recovery_codes::table
            .filter(tenant_admin_recovery_codes::admin_id.eq(admin_id))
            .filter(tenant_admin_recovery_codes::code_hash.eq(hash(&normalize_code(code))))
            .filter(tenant_admin_recovery_codes::used_at.is_null()),
    )
    .set(tenant_admin_recovery_codes::used_at.eq(to_db(now())))
    .execute(conn)?;
    Ok(n > 0)
}

/// How many unused recovery codes the account has.
///
/// # Errors
/// Database errors.
pub fn recovery_codes_left(conn: &mut DbConnection, admin_id: &str) -> Result<i64, StoreError> {
    Ok(tenant_admin_recovery_codes::table
        .filter(tenant_admin_recovery_codes::admin_id.eq(admin_id))
        .filter(tenant_admin_recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Alphabet of recovery codes: no 0/O, 1/I/L look-alikes.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A random recovery code `XXXXX-XXXXX` (49 bits).
fn new_recovery_code() -> String {
    let bytes = rand::random::<[u8; 10]>();
    let mut code = String::with_capacity(11);
    for (i, b) in bytes.iter().enumerate() {
        if i == 5 {
            code.push('-');
        }
        let pick = usize::from(*b) % CODE_ALPHABET.len();
        code.push(char::from(CODE_ALPHABET.get(pick).copied().unwrap_or(b'A')));
    }
    code
}

/// A recovery code as hashed: upper case, without dashes and spaces.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether the tenant's administrators must use a second factor (the
/// default: yes).
///
/// # Errors
/// Database errors.
pub fn second_factor_required(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> Result<bool, StoreError> {
    Ok(tenant_console_settings::table
        .filter(tenant_console_settings::tenant_id.eq(tenant_id))
        .select(tenant_console_settings::second_factor_required)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(true))
}

/// Sets whether the tenant's administrators must use a second factor.
///
/// # Errors
/// [`StoreError::MissingReference`] for an unknown tenant.
pub fn set_second_factor_required(
    conn: &mut DbConnection,
    tenant_id: &str,
    required: bool,
) -> Result<(), StoreError> {
    let at = to_db(now());
    let n = diesel::update(
        tenant_console_settings::table.filter(tenant_console_settings::tenant_id.eq(tenant_id)),
    )
    .set((
        tenant_console_settings::second_factor_required.eq(required),
        tenant_console_settings::updated_at.eq(at),
    ))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(tenant_console_settings::table)
            .values((
                tenant_console_settings::tenant_id.eq(tenant_id),
                tenant_console_settings::second_factor_required.eq(required),
                tenant_console_settings::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_and_emails() {
        let c = new_recovery_code();
        assert_eq!(c.len(), 11);
        assert_eq!(normalize_code(&c.to_lowercase()), normalize_code(&c));
        assert_eq!(
            validate_email("  Ann@Example.com ").unwrap(),
            "Ann@Example.com"
        );
        assert_eq!(fold_email(" Ann@Example.COM"), "ann@example.com");
        for bad in ["", "ann", "@x", "ann@", "a b@x", "a@b@c", "a\0@x"] {
            assert!(validate_email(bad).is_err(), "{bad:?}");
        }
    }
}
