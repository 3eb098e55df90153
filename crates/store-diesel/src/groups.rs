//! Group rows and their direct members. The member list lives only in
//! `group_members` (never in the stored document), so membership changes are
//! deltas that touch one row per added or removed member, and reading a group
//! without its members reads no member rows.

use crate::single::SingleRow as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::macros::db_run;
use crate::schema::{group_members, groups};
use crate::time::{from_db, to_db};
use crate::users::fold;
use crate::{DbConnection, StoreError, write_transaction};

/// Members are written and deleted in batches of this many rows (well under
/// SQLite's bound-parameter limit).
const BATCH: usize = 500;

/// A group row.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Tenant.
    pub tenant_id: String,
    /// SCIM `id`.
    pub id: String,
    /// SCIM `displayName` (unique per tenant, case-insensitively).
    pub display_name: String,
    /// SCIM `externalId`.
    pub external_id: Option<String>,
    /// Per-group mobile-authentication override (`None`: inherit the tenant's).
    pub override_require_mobile_auth: Option<bool>,
    /// Whether members may store data in this group (default on).
    pub members_can_store_data: bool,
    /// `meta.created`.
    pub created_at: DateTime<Utc>,
    /// `meta.lastModified`.
    pub last_modified: DateTime<Utc>,
    /// `meta.version` counter; [`insert`] stores it as given, [`update`] bumps it.
    pub version: i64,
    /// The SCIM resource without `members`, `id` and `meta` (see
    /// [`GroupRecord::to_resource`]). Its `displayName` and `externalId` must
    /// agree with the columns above.
    pub document: serde_json::Value,
}

impl GroupRecord {
    /// The SCIM resource without members: the stored document plus `id` and
    /// `meta` (`resourceType`, `created`, `lastModified`, `version`). The HTTP
    /// layer adds `meta.location`, and `members` when asked for.
    pub fn to_resource(&self) -> serde_json::Value {
        crate::render::resource(
            &self.document,
            &self.id,
            "Group",
            self.created_at,
            self.last_modified,
            self.version,
        )
    }
}

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = groups)]
pub(crate) struct GroupRow {
    tenant_id: String,
    id: String,
    display_name: String,
    external_id: Option<String>,
    override_require_mobile_auth: Option<bool>,
    members_can_store_data: bool,
    created_at: NaiveDateTime,
    last_modified: NaiveDateTime,
    version: i64,
    document: String,
}

impl TryFrom<GroupRow> for GroupRecord {
    type Error = StoreError;
    fn try_from(row: GroupRow) -> Result<Self, StoreError> {
        Ok(Self {
            document: serde_json::from_str(&row.document).map_err(StoreError::other)?,
            tenant_id: row.tenant_id,
            id: row.id,
            display_name: row.display_name,
            external_id: row.external_id,
            override_require_mobile_auth: row.override_require_mobile_auth,
            members_can_store_data: row.members_can_store_data,
            created_at: from_db(row.created_at),
            last_modified: from_db(row.last_modified),
            version: row.version,
        })
    }
}

/// The columns that [`insert`] and [`update`] both write.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = groups, treat_none_as_null = true)]
struct GroupColumns {
    display_name: String,
    display_name_folded: String,
    external_id: Option<String>,
    override_require_mobile_auth: Option<bool>,
    members_can_store_data: bool,
    last_modified: NaiveDateTime,
    document: String,
}

fn columns(g: &GroupRecord) -> Result<GroupColumns, StoreError> {
    Ok(GroupColumns {
        display_name: g.display_name.clone(),
        display_name_folded: fold(&g.display_name),
        external_id: g.external_id.clone(),
        override_require_mobile_auth: g.override_require_mobile_auth,
        members_can_store_data: g.members_can_store_data,
        last_modified: to_db(g.last_modified),
        document: serde_json::to_string(&g.document).map_err(StoreError::other)?,
    })
}

/// Inserts a group (without members).
///
/// # Errors
/// [`StoreError::Conflict`] (`"displayName"`) when the folded displayName is
/// taken in the tenant.
pub fn insert(conn: &mut DbConnection, group: &GroupRecord) -> Result<(), StoreError> {
    diesel::insert_into(groups::table)
        .values((
            groups::tenant_id.eq(&group.tenant_id),
            groups::id.eq(&group.id),
            groups::created_at.eq(to_db(group.created_at)),
            groups::version.eq(group.version),
            &columns(group)?,
        ))
        .execute(conn)?;
    Ok(())
}

/// The group `(tenant, id)`, without members.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<GroupRecord, StoreError> {
    let row: GroupRow = db_run!(conn => {
        groups::table
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::id.eq(id))
            .select(GroupRow::as_select())
            .single(conn)?
    });
    row.try_into()
}

/// [`get`] for a read-modify-write: on PostgreSQL the row is locked
/// (`FOR UPDATE`) until the transaction ends, so concurrent writers of one
/// group queue instead of failing on the version check; on SQLite the write
/// transaction already holds the database's write lock.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get_for_update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<GroupRecord, StoreError> {
    let row: GroupRow = match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(conn) => groups::table
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::id.eq(id))
            .select(GroupRow::as_select())
            .for_update()
            .single(conn)?,
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(conn) => groups::table
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::id.eq(id))
            .select(GroupRow::as_select())
            .single(conn)?,
    };
    row.try_into()
}

/// The group whose displayName equals `display_name` case-insensitively.
///
/// # Errors
/// Database errors.
pub fn find_by_display_name(
    conn: &mut DbConnection,
    tenant_id: &str,
    display_name: &str,
) -> Result<Option<GroupRecord>, StoreError> {
    let folded = fold(display_name);
    let row: Option<GroupRow> = db_run!(conn => {
        groups::table
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::display_name_folded.eq(&folded))
            .select(GroupRow::as_select())
            .single(conn)
            .optional()?
    });
    row.map(GroupRecord::try_from).transpose()
}

/// One page of the tenant's groups matching `q`, without members (see
/// [`crate::list`]). `group_members` is read only by filters on `members`
/// (`members.value …`, `members[value …]`, `members pr`), through `EXISTS`.
///
/// # Errors
/// [`StoreError::UnsupportedFilter`] for a filter that does not compile against
/// the Group schema, that tests a member attribute other than `value`, or that
/// combines `members` with attributes that are not indexed.
pub fn list(
    conn: &mut DbConnection,
    tenant_id: &str,
    q: &crate::ListQuery<'_>,
) -> Result<crate::Page<GroupRecord>, StoreError> {
    crate::list::list(conn, tenant_id, q)
}

/// Replaces the group's row when its version is `expected_version` (`None`: any
/// version); returns the new version. Members are untouched.
///
/// # Errors
/// [`StoreError::NotFound`], [`StoreError::PreconditionFailed`],
/// [`StoreError::Conflict`].
pub fn update(
    conn: &mut DbConnection,
    group: &GroupRecord,
    expected_version: Option<i64>,
) -> Result<i64, StoreError> {
    let values = columns(group)?;
    write_transaction(conn, |conn| {
        let current: i64 = groups::table
            .filter(groups::tenant_id.eq(&group.tenant_id))
            .filter(groups::id.eq(&group.id))
            .select(groups::version)
            .single(conn)?;
        if expected_version.is_some_and(|v| v != current) {
            return Err(StoreError::PreconditionFailed { current });
        }
        let updated = diesel::update(
            groups::table
                .filter(groups::tenant_id.eq(&group.tenant_id))
                .filter(groups::id.eq(&group.id))
                .filter(groups::version.eq(current)),
        )
        .set((&values, groups::version.eq(current + 1)))
        .execute(conn)?;
        if updated == 0 {
            return Err(StoreError::PreconditionFailed {
                current: current + 1,
            });
        }
        Ok(current + 1)
    })
}

/// Deletes the group and its memberships.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn delete(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        groups::table
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Adds users to the group; members already present are skipped
/// (`INSERT … ON CONFLICT DO NOTHING` on both backends). Returns how many were
/// actually added.
///
/// # Errors
/// [`StoreError::MissingReference`] when the group or a user does not exist in
/// the tenant.
pub fn add_members(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    user_ids: &[&str],
) -> Result<usize, StoreError> {
    if user_ids.is_empty() {
        // Not even a savepoint (two round trips on PostgreSQL).
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        let mut added = 0;
        for chunk in user_ids.chunks(BATCH) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|user_id| {
                    (
                        group_members::tenant_id.eq(tenant_id),
                        group_members::group_id.eq(group_id),
                        group_members::user_id.eq(*user_id),
                    )
                })
                .collect();
            added += db_run!(conn => {
                diesel::insert_into(group_members::table)
                    .values(&rows)
                    .on_conflict_do_nothing()
                    .execute(conn)?
            });
        }
        Ok(added)
    })
}

/// Removes users from the group; absent ones are ignored. Returns how many
/// were actually removed.
///
/// # Errors
/// Database errors.
pub fn remove_members(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    user_ids: &[&str],
) -> Result<usize, StoreError> {
    if user_ids.is_empty() {
        // Not even a savepoint (two round trips on PostgreSQL).
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        let mut removed = 0;
        for chunk in user_ids.chunks(BATCH) {
            removed += diesel::delete(
                group_members::table
                    .filter(group_members::tenant_id.eq(tenant_id))
                    .filter(group_members::group_id.eq(group_id))
                    .filter(group_members::user_id.eq_any(chunk)),
            )
            .execute(conn)?;
        }
        Ok(removed)
    })
}

/// Removes every member of the group (a PUT that replaces the member list
/// starts with this); returns how many there were.
///
/// # Errors
/// Database errors.
pub fn clear_members(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        group_members::table
            .filter(group_members::tenant_id.eq(tenant_id))
            .filter(group_members::group_id.eq(group_id)),
    )
    .execute(conn)?)
}

/// Number of direct members, counted on the primary key.
///
/// # Errors
/// Database errors.
pub fn member_count(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
) -> Result<i64, StoreError> {
    Ok(group_members::table
        .filter(group_members::tenant_id.eq(tenant_id))
        .filter(group_members::group_id.eq(group_id))
        .count()
        .get_result(conn)?)
}

/// Up to `limit` member ids with `user_id > after`, in id order (keyset paging
/// on the primary key).
///
/// # Errors
/// Database errors.
pub fn member_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let mut query = group_members::table
        .filter(group_members::tenant_id.eq(tenant_id))
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::user_id)
        .order(group_members::user_id.asc())
        .limit(i64::from(limit))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(group_members::user_id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Which of `user_ids` are members of the group now (one query per 500 ids),
/// so a writer can tell the members it really adds or removes.
///
/// # Errors
/// Database errors.
pub fn members_among(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    user_ids: &[&str],
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    let mut found = std::collections::BTreeSet::new();
    for chunk in user_ids.chunks(BATCH) {
        let ids: Vec<String> = group_members::table
            .filter(group_members::tenant_id.eq(tenant_id))
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::user_id.eq_any(chunk))
            .select(group_members::user_id)
            .load(conn)?;
        found.extend(ids);
    }
    Ok(found)
}

/// The member ids of each of `group_ids` (each list in id order): one query
/// per 500 groups, however many groups a page holds. Groups without members
/// are absent from the map.
///
/// # Errors
/// Database errors.
pub fn member_ids_of_groups(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for chunk in group_ids.chunks(BATCH) {
        let rows: Vec<(String, String)> = group_members::table
            .filter(group_members::tenant_id.eq(tenant_id))
            .filter(group_members::group_id.eq_any(chunk))
            .select((group_members::group_id, group_members::user_id))
            .order((group_members::group_id.asc(), group_members::user_id.asc()))
            .load(conn)?;
        for (group, user) in rows {
            out.entry(group).or_default().push(user);
        }
    }
    Ok(out)
}

/// A group a user is a direct member of: what a user's `groups` attribute
/// shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group's id.
    pub id: String,
    /// The group's displayName.
    pub display_name: String,
}

/// The groups each of `user_ids` is a direct member of, in displayName
/// order (then id): one indexed query per 500 users. Users without groups are
/// absent from the map.
///
/// # Errors
/// Database errors.
pub fn groups_of_users(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<GroupRef>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<(String, GroupRef)>> =
        std::collections::HashMap::new();
    let joined = || {
        group_members::table
            .inner_join(
                groups::table.on(groups::tenant_id
                    .eq(group_members::tenant_id)
                    .and(groups::id.eq(group_members::group_id))),
            )
            .filter(group_members::tenant_id.eq(tenant_id))
            // No ORDER BY: SQLite would then walk every group of the tenant in
            // name order to avoid a sort, probing its members for these users.
            // Driven by the users' index instead; the few rows are sorted here.
            .select((
                group_members::user_id,
                groups::id,
                groups::display_name,
                groups::display_name_folded,
            ))
    };
    for chunk in user_ids.chunks(BATCH) {
        // One user (every single read, Entra's lookups): `=` keeps the
        // statement in diesel's prepared-statement cache, which an `IN`
        // list of variable length cannot use.
        let rows: Vec<(String, String, String, String)> = match chunk {
            [one] => db_run!(conn => {
                joined()
                    .filter(group_members::user_id.eq(*one))
                    .load(conn)?
            }),
            _ => joined()
                .filter(group_members::user_id.eq_any(chunk))
                .load(conn)?,
        };
        for (user, id, display_name, folded) in rows {
            out.entry(user)
                .or_default()
                .push((folded, GroupRef { id, display_name }));
        }
    }
    // By display name (folded), then id: the order the groups are listed in.
    Ok(out
        .into_iter()
        .map(|(user, mut groups)| {
            groups.sort_by(|(a, ga), (b, gb)| a.cmp(b).then_with(|| ga.id.cmp(&gb.id)));
            (user, groups.into_iter().map(|(_, g)| g).collect())
        })
        .collect())
}

/// Ids of the groups the user is a direct member of, in id order.
///
/// # Errors
/// Database errors.
pub fn group_ids_of_user(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(group_members::table
        .filter(group_members::tenant_id.eq(tenant_id))
        .filter(group_members::user_id.eq(user_id))
        .select(group_members::group_id)
        .order(group_members::group_id.asc())
        .load(conn)?)
}

/// Which of `ids` are groups of the tenant (one indexed query per 500 ids), e.g.
/// to tell a nested-group member from an unknown id.
///
/// # Errors
/// Database errors.
pub fn existing_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[&str],
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    let mut found = std::collections::BTreeSet::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<String> = groups::table
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::id.eq_any(chunk))
            .select(groups::id)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// How many of the tenant's groups carry their own "require mobile
/// authentication" override (a count on a partial index).
///
/// # Errors
/// Database errors.
pub fn override_count(conn: &mut DbConnection, tenant_id: &str) -> Result<i64, StoreError> {
    Ok(groups::table
        .filter(groups::tenant_id.eq(tenant_id))
        .filter(groups::override_require_mobile_auth.is_not_null())
        .count()
        .get_result(conn)?)
}
