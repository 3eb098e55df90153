//! Lists of users and groups: filter, sort and page ([`ListQuery`] → [`Page`]).
//!
//! * The filter is compiled against the resource type (an uncompilable filter is
//!   [`StoreError::UnsupportedFilter`]) and translated to SQL where its
//!   attributes are indexed (see `filter_sql`).
//! * **Exact translation, sort in SQL**: one `COUNT(*)` and one page query
//!   (`ORDER BY … LIMIT … OFFSET …`).
//! * **Otherwise** (a part of the filter is not indexed, or the sort attribute
//!   has no column): the rows that satisfy the SQL narrowing are read in
//!   batches of [`SCAN_BATCH`] (keyset on `created_at, id`), the whole filter is
//!   evaluated on each [`to_resource`](crate::users::UserRecord::to_resource)
//!   by scim-model's evaluator, the matches' sort keys are sorted in memory,
//!   and the requested page is read again by id. `total` and paging are
//!   computed after evaluation. Only `(sort key, created_at, id)` of each match
//!   is kept in memory.
//! * Order: the sort key (absent values last, in both directions), then
//!   `created_at, id` ascending. Without `sort_by`: `created_at, id`.
//!   `userName`, `displayName`, `externalId`, `id`, `meta.created` and
//!   `meta.lastModified` sort in SQL (case-insensitive attributes by their
//!   folded column); any other attribute sorts in memory by its first value
//!   (a complex attribute by its `value`; strings folded unless caseExact,
//!   dateTimes as instants).

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
#[cfg(feature = "sqlite")]
use diesel::sqlite::Sqlite;
use scim_model::filter::CompiledFilter;
use scim_model::path::AttrPath;
use scim_model::schema::{AttrLocation, AttrType, ResolvedAttr, ResourceType, get_ci};
use serde_json::Value;

use crate::filter_sql::{Bind, Kind, SqlText, render, translate};
use crate::groups::GroupRecord;
use crate::macros::db_run;
use crate::time::to_db;
use crate::users::{UserRecord, fold};
use crate::{DbConnection, StoreError};

/// Rows read per query when a list is finished in memory.
pub const SCAN_BATCH: i64 = 1000;

/// Ids per `IN (…)` when a page is read again by id.
const ID_BATCH: usize = 500;

/// What to list: filter, sort and page.
#[derive(Debug, Clone, Copy)]
pub struct ListQuery<'a> {
    /// The SCIM filter (type-checked by the HTTP layer; checked again here).
    pub filter: Option<&'a scim_model::Filter>,
    /// The attribute to sort by; `None`: `meta.created`, then `id`.
    pub sort_by: Option<&'a scim_model::AttrPath>,
    /// Descending sort (absent values stay last).
    pub descending: bool,
    /// 1-based index of the first item; values < 1 are treated as 1.
    pub start_index: u64,
    /// Page size; 0 = only count.
    pub count: u64,
    /// Keyset paging (cursors): only resources after this one in the default
    /// order (`meta.created`, then `id`); `start_index` is then ignored and
    /// `sort_by` must be `None`. `total` still counts every match.
    pub after: Option<&'a Keyset>,
}

/// A position in the default order (`meta.created`, then `id`): where a
/// cursor page starts after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// `meta.created` of the last resource seen.
    pub created: chrono::DateTime<chrono::Utc>,
    /// Its id.
    pub id: String,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// How many resources match the filter in total.
    pub total: u64,
    /// The resources of the requested page, in order.
    pub items: Vec<T>,
}

/// A row type that loads on every backend of this build.
#[cfg(feature = "sqlite")]
pub(crate) trait Loadable: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static {}
#[cfg(feature = "sqlite")]
impl<R: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static> Loadable for R {}
/// A row type that loads on every backend of this build.
#[cfg(not(feature = "sqlite"))]
pub(crate) trait Loadable: QueryableByName<Pg> + 'static {}
#[cfg(not(feature = "sqlite"))]
impl<R: QueryableByName<Pg> + 'static> Loadable for R {}

/// A record type that can be listed.
pub(crate) trait Listed: Sized {
    type Row: Loadable;
    const KIND: Kind;
    /// The row's columns, qualified by the table name.
    const COLUMNS: &'static str;
    fn resource_type() -> &'static ResourceType;
    /// The record without child rows (enough for `to_resource`).
    fn from_row(row: Self::Row) -> Result<Self, StoreError>;
    /// Complete records (users: with their emails, read in one query).
    fn finish(conn: &mut DbConnection, rows: Vec<Self::Row>) -> Result<Vec<Self>, StoreError>;
    fn resource(&self) -> Value;
    fn created(&self) -> NaiveDateTime;
    fn id(&self) -> &str;
    /// The column a sort attribute sorts by in SQL, if any.
    fn sort_column(attr: &ResolvedAttr) -> Option<&'static str>;
}

impl Listed for UserRecord {
    type Row = crate::users::UserRow;
    const KIND: Kind = Kind::User;
    const COLUMNS: &'static str = "users.tenant_id, users.id, users.user_name, \
        users.external_id, users.display_name, users.active, users.status, \
        users.status_before_suspend, users.override_automatic_invitation, \
        users.override_require_mobile_auth, users.mobile_device_enrolled, \
        users.mobile_device_name, users.created_at, users.last_modified, users.version, \
        users.document, users.lifecycle";
    fn resource_type() -> &'static ResourceType {
        &scim_model::schema::USER
    }
    fn from_row(row: Self::Row) -> Result<Self, StoreError> {
        crate::users::record(row, Vec::new())
    }
    fn finish(conn: &mut DbConnection, rows: Vec<Self::Row>) -> Result<Vec<Self>, StoreError> {
        crate::users::load_many(conn, rows)
    }
    fn resource(&self) -> Value {
        self.to_resource()
    }
    fn created(&self) -> NaiveDateTime {
        to_db(self.created_at)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn sort_column(attr: &ResolvedAttr) -> Option<&'static str> {
        match common_sort_column(attr, "users") {
            Some(c) => Some(c),
            None => match (attr.attr.name, attr.sub) {
                ("userName", None) => Some("users.user_name_folded"),
                ("displayName", None) => Some("users.display_name_folded"),
                _ => None,
            },
        }
    }
}

impl Listed for GroupRecord {
    type Row = crate::groups::GroupRow;
    const KIND: Kind = Kind::Group;
    const COLUMNS: &'static str = "groups.tenant_id, groups.id, groups.display_name, \
        groups.external_id, groups.override_require_mobile_auth, \
        groups.members_can_store_data, groups.created_at, groups.last_modified, \
        groups.version, groups.document";
    fn resource_type() -> &'static ResourceType {
        &scim_model::schema::GROUP
    }
    fn from_row(row: Self::Row) -> Result<Self, StoreError> {
        GroupRecord::try_from(row)
    }
    fn finish(_conn: &mut DbConnection, rows: Vec<Self::Row>) -> Result<Vec<Self>, StoreError> {
        rows.into_iter().map(GroupRecord::try_from).collect()
    }
    fn resource(&self) -> Value {
        self.to_resource()
    }
    fn created(&self) -> NaiveDateTime {
        to_db(self.created_at)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn sort_column(attr: &ResolvedAttr) -> Option<&'static str> {
        match common_sort_column(attr, "groups") {
            Some(c) => Some(c),
            None => match (attr.attr.name, attr.sub) {
                ("displayName", None) => Some("groups.display_name_folded"),
                _ => None,
            },
        }
    }
}

fn common_sort_column(attr: &ResolvedAttr, table: &str) -> Option<&'static str> {
    let users = table == "users";
    let pick = |u: &'static str, g: &'static str| Some(if users { u } else { g });
    match (attr.attr.name, attr.sub.map(|s| s.name)) {
        ("id", None) => pick("users.id", "groups.id"),
        ("externalId", None) => pick("users.external_id", "groups.external_id"),
        ("meta", Some("created")) => pick("users.created_at", "groups.created_at"),
        ("meta", Some("lastModified")) => pick("users.last_modified", "groups.last_modified"),
        _ => None,
    }
}

/// How a list is ordered.
enum Sort {
    /// `created_at, id`.
    Default,
    /// A column in SQL; the same order in memory from the attribute.
    Column(&'static str, ResolvedAttr),
    /// In memory only, by the attribute's first value (`None`: an unknown
    /// attribute, every key absent).
    Memory(Option<ResolvedAttr>),
}

fn sort_spec<T: Listed>(sort_by: Option<&AttrPath>) -> Sort {
    let Some(path) = sort_by else {
        return Sort::Default;
    };
    let resolved = T::resource_type().resolve(path);
    match resolved {
        Some(r) if !matches!(r.location, AttrLocation::Extension(_)) => match T::sort_column(&r) {
            Some(col) => Sort::Column(col, r),
            None => Sort::Memory(Some(r)),
        },
        other => Sort::Memory(other),
    }
}

/// A sort key read from a rendered resource.
#[derive(Debug, Clone)]
enum SortValue {
    Bool(bool),
    Num(f64),
    Time(DateTime<FixedOffset>),
    Str(String),
}

impl SortValue {
    fn rank(&self) -> u8 {
        match self {
            SortValue::Bool(_) => 0,
            SortValue::Num(_) => 1,
            SortValue::Time(_) => 2,
            SortValue::Str(_) => 3,
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortValue::Bool(a), SortValue::Bool(b)) => a.cmp(b),
            (SortValue::Num(a), SortValue::Num(b)) => a.total_cmp(b),
            (SortValue::Time(a), SortValue::Time(b)) => a.cmp(b),
            (SortValue::Str(a), SortValue::Str(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

/// The first value of `attr` in `resource` as a sort key.
fn sort_value(attr: &ResolvedAttr, resource: &Value) -> Option<SortValue> {
    let top = attr.attr_value(resource)?;
    let sub = attr.sub.or_else(|| {
        if attr.attr.is_complex() {
            attr.attr.sub_attribute("value")
        } else {
            None
        }
    });
    let value = match sub {
        Some(sub) => match top {
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_object)
                .find_map(|o| get_ci(o, sub.name)),
            Value::Object(o) => get_ci(o, sub.name),
            _ => None,
        },
        None => match top {
            Value::Array(items) => items.first(),
            v => Some(v),
        },
    }?;
    let def = sub.unwrap_or(attr.attr);
    match value {
        Value::String(s) if def.attr_type == AttrType::DateTime => {
            match DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(SortValue::Time(t)),
                Err(_) => Some(SortValue::Str(s.clone())),
            }
        }
        Value::String(s) if def.case_exact => Some(SortValue::Str(s.clone())),
        Value::String(s) => Some(SortValue::Str(fold(s))),
        Value::Number(n) => n.as_f64().map(SortValue::Num),
        Value::Bool(b) => Some(SortValue::Bool(*b)),
        _ => None,
    }
}

/// One match of a list finished in memory.
struct Match {
    key: Option<SortValue>,
    created: NaiveDateTime,
    id: String,
}

fn order(a: &Match, b: &Match, descending: bool) -> Ordering {
    let by_key = match (&a.key, &b.key) {
        (Some(x), Some(y)) if descending => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_key
        .then_with(|| a.created.cmp(&b.created))
        .then_with(|| a.id.cmp(&b.id))
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `q` with its binds on the connection's backend.
fn load<R>(conn: &mut DbConnection, q: &SqlText) -> Result<Vec<R>, StoreError>
where
    R: Loadable,
{
    use diesel::RunQueryDsl;
    let sql = match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => q.pg_sql(),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => q.sql.clone(),
    };
    Ok(db_run!(conn => {
        let mut query = diesel::sql_query(sql).into_boxed();
        for b in &q.binds {
            query = match b {
                Bind::Text(s) => query.bind::<Text, _>(s.clone()),
                Bind::Bool(v) => query.bind::<Bool, _>(*v),
                Bind::Ts(t) => query.bind::<Timestamp, _>(*t),
                Bind::BigInt(i) => query.bind::<BigInt, _>(*i),
            };
        }
        query.load::<R>(conn)?
    }))
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Lists records of `T` in `tenant_id`; see the module docs.
pub(crate) fn list<T: Listed>(
    conn: &mut DbConnection,
    tenant_id: &str,
    q: &ListQuery<'_>,
) -> Result<Page<T>, StoreError> {
    list_with(conn, tenant_id, q, true)
}

/// [`list`]; with `complete = false` the records keep no child rows (users:
/// no emails; the document carries them), for callers that render documents.
pub(crate) fn list_with<T: Listed>(
    conn: &mut DbConnection,
    tenant_id: &str,
    q: &ListQuery<'_>,
    complete: bool,
) -> Result<Page<T>, StoreError> {
    let rt = T::resource_type();
    let (cond, residual) = match q.filter {
        None => (None, None),
        Some(filter) => {
            let compiled = filter
                .compile(rt)
                .map_err(|e| StoreError::UnsupportedFilter(e.to_string()))?;
            let t = translate(filter, T::KIND, rt)?;
            if t.uses_members && !t.exact {
                return Err(StoreError::UnsupportedFilter(match T::KIND {
                    Kind::Group => "a filter on members can be combined only with id, externalId, \
                                    displayName, meta.created and meta.lastModified"
                        .to_owned(),
                    Kind::User => "a filter on groups can be combined only with id, userName, \
                                   externalId, displayName, active, emails, meta.created and \
                                   meta.lastModified"
                        .to_owned(),
                }));
            }
            (t.cond, (!t.exact).then_some(compiled))
        }
    };
    let pg = conn.is_pg();
    let table = T::KIND.table();
    let mut base = SqlText::default();
    base.push(" FROM ")
        .push(table)
        .push(" WHERE ")
        .push(table)
        .push(".tenant_id = ")
        .bind(Bind::Text(tenant_id.to_owned()));
    if let Some(cond) = &cond {
        base.push(" AND ");
        render(cond, pg, &mut base);
    }
    let sort = sort_spec::<T>(q.sort_by);
    if q.after.is_some() && !matches!(sort, Sort::Default) {
        return Err(StoreError::InvalidInput(
            "cursor paging follows the default order (meta.created, then id): leave sortBy out"
                .to_owned(),
        ));
    }
    let after = q
        .after
        .map(|k| (crate::time::to_db(k.created), k.id.clone()));
    let offset = if after.is_some() {
        0
    } else {
        q.start_index.max(1) - 1
    };
    match (&residual, &sort) {
        (None, Sort::Default | Sort::Column(..)) => {
            let column = match &sort {
                Sort::Column(col, _) => Some(*col),
                _ => None,
            };
            sql_page::<T>(
                conn,
                base,
                column,
                q.descending,
                (offset, after),
                q.count,
                complete,
            )
        }
        _ => scan_page::<T>(
            complete,
            conn,
            tenant_id,
            &base,
            residual.as_ref(),
            &sort,
            q.descending,
            (offset, after),
            q.count,
        ),
    }
}

/// Everything in SQL: count, then one page.
fn sql_page<T: Listed>(
    conn: &mut DbConnection,
    base: SqlText,
    column: Option<&str>,
    descending: bool,
    (offset, after): (u64, Option<(NaiveDateTime, String)>),
    count: u64,
    complete: bool,
) -> Result<Page<T>, StoreError> {
    let mut counting = SqlText::default();
    counting.push("SELECT COUNT(*) AS n");
    counting.sql.push_str(&base.sql);
    counting.binds.extend(base.binds.iter().cloned());
    let total = load::<CountRow>(conn, &counting)?
        .first()
        .map_or(0, |r| u64::try_from(r.n).unwrap_or(0));
    if count == 0 || offset >= total {
        return Ok(Page {
            total,
            items: Vec::new(),
        });
    }
    let table = T::KIND.table();
    let mut q = SqlText::default();
    q.push("SELECT ").push(T::COLUMNS);
    q.sql.push_str(&base.sql);
    q.binds.extend(base.binds);
    if let Some((created, id)) = &after {
        push_after(&mut q, table, *created, id);
    }
    q.push(" ORDER BY ");
    if let Some(col) = column {
        q.push(col)
            .push(if descending { " DESC" } else { " ASC" })
            .push(" NULLS LAST, ");
    }
    q.push(table)
        .push(".created_at, ")
        .push(table)
        .push(".id LIMIT ")
        .bind(Bind::BigInt(clamp(count)))
        .push(" OFFSET ")
        .bind(Bind::BigInt(clamp(offset)));
    let rows = load::<T::Row>(conn, &q)?;
    Ok(Page {
        total,
        items: finish::<T>(conn, rows, complete)?,
    })
}

/// SQL narrows, the evaluator and the in-memory sort finish.
#[allow(clippy::too_many_arguments)]
fn scan_page<T: Listed>(
    complete: bool,
    conn: &mut DbConnection,
    tenant_id: &str,
    base: &SqlText,
    residual: Option<&CompiledFilter>,
    sort: &Sort,
    descending: bool,
    (offset, keyset): (u64, Option<(NaiveDateTime, String)>),
    count: u64,
) -> Result<Page<T>, StoreError> {
    let table = T::KIND.table();
    let key_attr = match sort {
        Sort::Default | Sort::Memory(None) => None,
        Sort::Column(_, attr) | Sort::Memory(Some(attr)) => Some(*attr),
    };
    let mut matches: Vec<Match> = Vec::new();
    let mut after: Option<(NaiveDateTime, String)> = None;
    loop {
        let mut q = SqlText::default();
        q.push("SELECT ").push(T::COLUMNS);
        q.sql.push_str(&base.sql);
        q.binds.extend(base.binds.iter().cloned());
        if let Some((created, id)) = &after {
            push_after(&mut q, table, *created, id);
        }
        q.push(" ORDER BY ")
            .push(table)
            .push(".created_at, ")
            .push(table)
            .push(".id LIMIT ")
            .bind(Bind::BigInt(SCAN_BATCH));
        let rows = load::<T::Row>(conn, &q)?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= SCAN_BATCH;
        for row in rows {
            let record = T::from_row(row)?;
            let resource = record.resource();
            let created = record.created();
            let id = record.id().to_owned();
            if residual.is_none_or(|f| f.matches(&resource)) {
                matches.push(Match {
                    key: key_attr.as_ref().and_then(|a| sort_value(a, &resource)),
                    created,
                    id: id.clone(),
                });
            }
            after = Some((created, id));
        }
        if !full {
            break;
        }
    }
    if key_attr.is_some() {
        matches.sort_by(|a, b| order(a, b, descending));
    }
    let total = u64::try_from(matches.len()).unwrap_or(u64::MAX);
    let start = match &keyset {
        // Matches are in the default order here (a cursor allows no other).
        Some((created, id)) => matches
            .iter()
            .position(|m| (m.created, m.id.as_str()) > (*created, id.as_str()))
            .unwrap_or(matches.len()),
        None => usize::try_from(offset).unwrap_or(usize::MAX),
    };
    let len = usize::try_from(count).unwrap_or(usize::MAX);
    let wanted: Vec<&str> = matches
        .iter()
        .skip(start)
        .take(len)
        .map(|m| m.id.as_str())
        .collect();
    let items = fetch_by_ids::<T>(conn, tenant_id, &wanted, complete)?;
    Ok(Page { total, items })
}

/// `AND (created_at, id) > (created, id)`, written so that both planners
/// seek the `(tenant_id, created_at)` index (`created_at >= t` first) instead
/// of rescanning it.
fn push_after(q: &mut SqlText, table: &str, created: NaiveDateTime, id: &str) {
    q.push(" AND ")
        .push(table)
        .push(".created_at >= ")
        .bind(Bind::Ts(created))
        .push(" AND (")
        .push(table)
        .push(".created_at > ")
        .bind(Bind::Ts(created))
        .push(" OR ")
        .push(table)
        .push(".id > ")
        .bind(Bind::Text(id.to_owned()))
        .push(")");
}

/// Records from rows: complete (with child rows) or as the rows alone.
fn finish<T: Listed>(
    conn: &mut DbConnection,
    rows: Vec<T::Row>,
    complete: bool,
) -> Result<Vec<T>, StoreError> {
    if complete {
        T::finish(conn, rows)
    } else {
        rows.into_iter().map(T::from_row).collect()
    }
}

/// The records with these ids, in this order (ids deleted meanwhile are left out).
fn fetch_by_ids<T: Listed>(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[&str],
    complete: bool,
) -> Result<Vec<T>, StoreError> {
    let table = T::KIND.table();
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_BATCH) {
        let mut q = SqlText::default();
        q.push("SELECT ")
            .push(T::COLUMNS)
            .push(" FROM ")
            .push(table)
            .push(" WHERE ")
            .push(table)
            .push(".tenant_id = ")
            .bind(Bind::Text(tenant_id.to_owned()))
            .push(" AND ")
            .push(table)
            .push(".id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(Bind::Text((*id).to_owned()));
        }
        q.push(")");
        rows.extend(load::<T::Row>(conn, &q)?);
    }
    let mut records = finish::<T>(conn, rows, complete)?;
    let position: std::collections::HashMap<&str, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    records.sort_by_key(|r| position.get(r.id()).copied().unwrap_or(usize::MAX));
    Ok(records)
}
