//! SCIM filters → SQL `WHERE` conditions over the indexed columns.
//!
//! A filter is first put in negation normal form (`not` pushed down to the
//! leaves through De Morgan), then every leaf is translated when its attribute
//! is indexed:
//!
//! | attribute | column |
//! | --- | --- |
//! | `id` | `id` (case-exact) |
//! | `externalId` | `external_id` (case-exact) |
//! | `userName` | `user_name_folded` |
//! | `displayName` | `display_name_folded` |
//! | `active` (`eq`/`ne`) | `active` |
//! | `meta.created`, `meta.lastModified` | `created_at`, `last_modified` |
//! | `emails.value`, `emails.type`, `emails[…]` | `EXISTS` on `user_emails` (folded) |
//! | `members.value`, `members[value …]`, `members pr` | `EXISTS` on `group_members` |
//!
//! Each translated leaf is *two-valued* (never SQL `NULL`), so `NOT` of it is the
//! filter's negation, absent attributes included. A leaf that is not indexed
//! makes its branch "not exact": `and` keeps the other side as a narrowing
//! condition, `or` and a negated leaf cannot narrow. The caller evaluates the
//! whole filter in memory whenever the translation is not exact.
//!
//! Strings compare byte-wise (SQLite `BINARY`, PostgreSQL `COLLATE "C"`), which
//! is Rust's `str` order. Case-insensitive attributes compare their folded
//! column (filled by [`crate::users::fold`]) with the folded literal; SQL
//! `LOWER()` is never used. Substring tests never rely on SQLite's
//! ASCII-case-insensitive `LIKE`: `sw` is a range `[p, succ(p))`, `co`/`ew` are
//! `LIKE … ESCAPE '\'` on PostgreSQL and `instr`/`substr` on SQLite.

use chrono::{DateTime, NaiveDateTime, Utc};
use scim_model::filter::{CompValue, CompareOp, Filter};
use scim_model::path::AttrPath;
use scim_model::schema::{AttrLocation, ResourceType};

use crate::StoreError;
use crate::time::to_db;
use crate::users::fold;

/// Which resource a filter is translated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `users` (+ `user_emails`).
    User,
    /// `groups` (+ `group_members`).
    Group,
}

impl Kind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Group => "groups",
        }
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Bool(bool),
    Ts(NaiveDateTime),
    BigInt(i64),
}

/// SQL text with `?` placeholders and the values they bind, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct SqlText {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind>,
}

impl SqlText {
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    pub(crate) fn bind(&mut self, b: Bind) -> &mut Self {
        self.sql.push('?');
        self.binds.push(b);
        self
    }

    /// The SQL for PostgreSQL: `?` → `$1`, `$2`, … (no literal in our SQL
    /// contains `?`: every value is bound).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn pg_sql(&self) -> String {
        let mut out = String::with_capacity(self.sql.len() + 16);
        let mut n = 0;
        for c in self.sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// Child tables reached through `EXISTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sub {
    Emails,
    Members,
    /// A user's groups: `group_members` joined to `groups`.
    Groups,
}

/// A leaf test on one column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Cmp(&'static str, Bind),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    /// A string that is neither NULL nor empty.
    NonEmpty,
}

/// The translated condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Const(bool),
    Leaf {
        col: &'static str,
        nullable: bool,
        test: Test,
    },
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Exists(Sub, Option<Box<Cond>>),
}

/// A translation: `cond` (when present) holds for every matching row; when
/// `exact`, exactly for the matching rows.
#[derive(Debug, Clone)]
pub(crate) struct Translation {
    pub(crate) cond: Option<Cond>,
    pub(crate) exact: bool,
    /// Whether some leaf reads `group_members`.
    pub(crate) uses_members: bool,
}

impl Translation {
    fn none() -> Self {
        Self {
            cond: None,
            exact: false,
            uses_members: false,
        }
    }

    fn exact(cond: Cond) -> Self {
        Self {
            cond: Some(cond),
            exact: true,
            uses_members: false,
        }
    }
}

fn unsupported(what: impl std::fmt::Display) -> StoreError {
    StoreError::UnsupportedFilter(what.to_string())
}

/// Translates `filter` for `kind`; see the module docs.
///
/// # Errors
/// [`StoreError::UnsupportedFilter`] for attributes the store cannot answer
/// (`meta.location`, member sub-attributes other than `value`, a user's
/// groups' sub-attributes other than `value` and `display`).
pub(crate) fn translate(
    filter: &Filter,
    kind: Kind,
    rt: &'static ResourceType,
) -> Result<Translation, StoreError> {
    tr(filter, false, kind, rt)
}

fn tr(
    f: &Filter,
    neg: bool,
    kind: Kind,
    rt: &'static ResourceType,
) -> Result<Translation, StoreError> {
    match f {
        Filter::Not(inner) => tr(inner, !neg, kind, rt),
        Filter::And(a, b) | Filter::Or(a, b) => {
            let (x, y) = (tr(a, neg, kind, rt)?, tr(b, neg, kind, rt)?);
            // De Morgan: under negation `and` becomes `or` and vice versa.
            Ok(if matches!(f, Filter::And(..)) != neg {
                and(x, y)
            } else {
                or(x, y)
            })
        }
        leaf => {
            let t = top_leaf(leaf, kind, rt)?;
            Ok(if neg { negate(t) } else { t })
        }
    }
}

fn negate(t: Translation) -> Translation {
    match (t.exact, t.cond) {
        (true, Some(c)) => Translation {
            cond: Some(Cond::Not(Box::new(c))),
            exact: true,
            uses_members: t.uses_members,
        },
        _ => Translation {
            uses_members: t.uses_members,
            ..Translation::none()
        },
    }
}

fn and(x: Translation, y: Translation) -> Translation {
    let exact = x.exact && y.exact;
    let cond = match (x.cond, y.cond) {
        (Some(a), Some(b)) => Some(Cond::And(Box::new(a), Box::new(b))),
        (a, b) => a.or(b),
    };
    Translation {
        cond,
        exact,
        uses_members: x.uses_members || y.uses_members,
    }
}

fn or(x: Translation, y: Translation) -> Translation {
    let exact = x.exact && y.exact;
    let cond = match (x.cond, y.cond) {
        (Some(a), Some(b)) => Some(Cond::Or(Box::new(a), Box::new(b))),
        _ => None,
    };
    Translation {
        cond,
        exact,
        uses_members: x.uses_members || y.uses_members,
    }
}

/// What an attribute maps to.
enum Target {
    /// A string column (`fold`: compare folded values).
    Str {
        col: &'static str,
        nullable: bool,
        fold: bool,
    },
    Bool(&'static str),
    Time(&'static str),
    /// A string column of a child table: any row matches.
    Multi {
        sub: Sub,
        col: &'static str,
        nullable: bool,
        fold: bool,
    },
    /// Not indexed: the evaluator decides.
    Residual,
}

fn resolve_top(
    path: &AttrPath,
    kind: Kind,
    rt: &'static ResourceType,
    presence: bool,
) -> Result<Target, StoreError> {
    let Some(resolved) = rt.resolve(path) else {
        return Err(unsupported(format!("unknown attribute '{path}'")));
    };
    if matches!(resolved.location, AttrLocation::Extension(_)) {
        return Ok(Target::Residual);
    }
    let sub = resolved.sub.map(|s| s.name);
    let col = |name: &'static str| -> &'static str {
        match (kind, name) {
            (Kind::User, "id") => "users.id",
            (Kind::User, "external_id") => "users.external_id",
            (Kind::User, "created_at") => "users.created_at",
            (Kind::User, "last_modified") => "users.last_modified",
            (Kind::Group, "id") => "groups.id",
            (Kind::Group, "external_id") => "groups.external_id",
            (Kind::Group, "created_at") => "groups.created_at",
            (Kind::Group, "last_modified") => "groups.last_modified",
            _ => "",
        }
    };
    Ok(match (kind, resolved.attr.name, sub) {
        (_, "id", None) => Target::Str {
            col: col("id"),
            nullable: false,
            fold: false,
        },
        (_, "externalId", None) => Target::Str {
            col: col("external_id"),
            nullable: true,
            fold: false,
        },
        (_, "meta", Some("created")) => Target::Time(col("created_at")),
        (_, "meta", Some("lastModified")) => Target::Time(col("last_modified")),
        (_, "meta", Some("location")) => {
            return Err(unsupported(
                "meta.location cannot be filtered on (the HTTP layer sets it)",
            ));
        }
        (Kind::User, "userName", None) => Target::Str {
            col: "users.user_name_folded",
            nullable: false,
            fold: true,
        },
        (Kind::User, "displayName", None) => Target::Str {
            col: "users.display_name_folded",
            nullable: true,
            fold: true,
        },
        (Kind::User, "active", None) => Target::Bool("users.active"),
        (Kind::User, "emails", Some("value")) => Target::Multi {
            sub: Sub::Emails,
            col: "e.value_folded",
            nullable: false,
            fold: true,
        },
        (Kind::User, "emails", None) if !presence => Target::Multi {
            sub: Sub::Emails,
            col: "e.value_folded",
            nullable: false,
            fold: true,
        },
        (Kind::User, "emails", Some("type")) => Target::Multi {
            sub: Sub::Emails,
            col: "e.email_type_folded",
            nullable: true,
            fold: true,
        },
        (Kind::User, "groups", Some("value")) => Target::Multi {
            sub: Sub::Groups,
            col: "gm.group_id",
            nullable: false,
            fold: false,
        },
        (Kind::User, "groups", None) if !presence => Target::Multi {
            sub: Sub::Groups,
            col: "gm.group_id",
            nullable: false,
            fold: false,
        },
        (Kind::User, "groups", Some("display")) => Target::Multi {
            sub: Sub::Groups,
            col: "g.display_name_folded",
            nullable: false,
            fold: true,
        },
        (Kind::User, "groups", Some(other)) => {
            return Err(unsupported(format!(
                "a user's groups can be filtered by 'value' and 'display', not by '{other}'"
            )));
        }
        (Kind::Group, "displayName", None) => Target::Str {
            col: "groups.display_name_folded",
            nullable: false,
            fold: true,
        },
        (Kind::Group, "members", Some("value")) => Target::Multi {
            sub: Sub::Members,
            col: "m.user_id",
            nullable: false,
            fold: false,
        },
        (Kind::Group, "members", None) if !presence => Target::Multi {
            sub: Sub::Members,
            col: "m.user_id",
            nullable: false,
            fold: false,
        },
        (Kind::Group, "members", Some(other)) => {
            return Err(unsupported(format!(
                "members can be filtered by 'value' only, not by '{other}'"
            )));
        }
        _ => Target::Residual,
    })
}

/// A top-level leaf: comparison, presence or value path.
fn top_leaf(f: &Filter, kind: Kind, rt: &'static ResourceType) -> Result<Translation, StoreError> {
    match f {
        Filter::Compare { path, op, value } => {
            let target = resolve_top(path, kind, rt, false)?;
            let uses_members = matches!(
                target,
                Target::Multi {
                    sub: Sub::Members | Sub::Groups,
                    ..
                }
            );
            let mut t = compare(&target, *op, value);
            t.uses_members = uses_members;
            Ok(t)
        }
        Filter::Present(path) => {
            let resolved = rt.resolve(path);
            // `members pr`: some member row (every rendered member is non-empty).
            if kind == Kind::Group
                && resolved.is_some_and(|r| {
                    r.attr.name == "members"
                        && r.sub.is_none()
                        && !matches!(r.location, AttrLocation::Extension(_))
                })
            {
                let mut t = Translation::exact(Cond::Exists(Sub::Members, None));
                t.uses_members = true;
                return Ok(t);
            }
            // `groups pr`: some membership (the stored document has no
            // `groups`; the memberships are the truth).
            if kind == Kind::User
                && resolved.is_some_and(|r| {
                    r.attr.name == "groups"
                        && r.sub.is_none()
                        && !matches!(r.location, AttrLocation::Extension(_))
                })
            {
                let mut t = Translation::exact(Cond::Exists(Sub::Groups, None));
                t.uses_members = true;
                return Ok(t);
            }
            let target = resolve_top(path, kind, rt, true)?;
            let uses_members = matches!(
                target,
                Target::Multi {
                    sub: Sub::Members | Sub::Groups,
                    ..
                }
            );
            let mut t = present(&target);
            t.uses_members = uses_members;
            Ok(t)
        }
        Filter::ValuePath { attr, filter } => {
            let Some(resolved) = rt.resolve(attr) else {
                return Err(unsupported(format!("unknown attribute '{attr}'")));
            };
            let core = !matches!(resolved.location, AttrLocation::Extension(_));
            let sub = match (kind, resolved.attr.name) {
                (Kind::User, "emails") if core => Sub::Emails,
                (Kind::Group, "members") if core => Sub::Members,
                (Kind::User, "groups") if core => Sub::Groups,
                _ => return Ok(Translation::none()),
            };
            let inner = element(filter, false, sub)?;
            let uses_members = matches!(sub, Sub::Members | Sub::Groups);
            // Some element satisfies the inner filter, so some row exists and
            // satisfies the inner narrowing.
            Ok(Translation {
                cond: Some(Cond::Exists(sub, inner.cond.map(Box::new))),
                exact: inner.exact,
                uses_members,
            })
        }
        // `not`, `and`, `or` are handled by `tr`.
        Filter::Not(_) | Filter::And(..) | Filter::Or(..) => Ok(Translation::none()),
    }
}

/// The filter inside `emails[…]` / `members[…]`, over one child row.
fn element(f: &Filter, neg: bool, sub: Sub) -> Result<Translation, StoreError> {
    match f {
        Filter::Not(inner) => element(inner, !neg, sub),
        Filter::And(a, b) | Filter::Or(a, b) => {
            let (x, y) = (element(a, neg, sub)?, element(b, neg, sub)?);
            Ok(if matches!(f, Filter::And(..)) != neg {
                and(x, y)
            } else {
                or(x, y)
            })
        }
        Filter::Compare { path, .. } | Filter::Present(path) => {
            let name = path.name.to_ascii_lowercase();
            let target = match (sub, name.as_str()) {
                (Sub::Emails, "value") => Target::Str {
                    col: "e.value_folded",
                    nullable: false,
                    fold: true,
                },
                (Sub::Emails, "type") => Target::Str {
                    col: "e.email_type_folded",
                    nullable: true,
                    fold: true,
                },
                (Sub::Emails, _) => Target::Residual,
                (Sub::Members, "value") => Target::Str {
                    col: "m.user_id",
                    nullable: false,
                    fold: false,
                },
                (Sub::Members, other) => {
                    return Err(unsupported(format!(
                        "members can be filtered by 'value' only, not by '{other}'"
                    )));
                }
                (Sub::Groups, "value") => Target::Str {
                    col: "gm.group_id",
                    nullable: false,
                    fold: false,
                },
                (Sub::Groups, "display") => Target::Str {
                    col: "g.display_name_folded",
                    nullable: false,
                    fold: true,
                },
                (Sub::Groups, other) => {
                    return Err(unsupported(format!(
                        "a user's groups can be filtered by 'value' and 'display', not by '{other}'"
                    )));
                }
            };
            let t = match f {
                Filter::Compare { op, value, .. } => compare(&target, *op, value),
                _ => present(&target),
            };
            Ok(if neg { negate(t) } else { t })
        }
        Filter::ValuePath { .. } => Err(unsupported("value paths cannot be nested")),
    }
}

fn leaf(col: &'static str, nullable: bool, test: Test) -> Cond {
    Cond::Leaf {
        col,
        nullable,
        test,
    }
}

fn not(c: Cond) -> Cond {
    Cond::Not(Box::new(c))
}

/// A comparison on one (possibly multi-valued) target.
fn compare(target: &Target, op: CompareOp, value: &CompValue) -> Translation {
    match *target {
        Target::Residual => Translation::none(),
        Target::Str {
            col,
            nullable,
            fold: folded,
        } => match string_test(col, nullable, folded, op, value) {
            Some(c) => Translation::exact(c),
            None => Translation::none(),
        },
        Target::Multi {
            sub,
            col,
            nullable,
            fold: folded,
        } => {
            let exists = |c: Cond| Cond::Exists(sub, Some(Box::new(c)));
            let cond = match (op, value) {
                // `ne`/`eq null` are negations over the whole attribute.
                (CompareOp::Ne, CompValue::Null) | (CompareOp::Eq, CompValue::Null) => {
                    let some = exists(leaf(col, nullable, Test::NonEmpty));
                    Some(if op == CompareOp::Eq { not(some) } else { some })
                }
                (CompareOp::Ne, v) => {
                    string_test(col, nullable, folded, CompareOp::Eq, v).map(|c| not(exists(c)))
                }
                (op, v) => string_test(col, nullable, folded, op, v).map(exists),
            };
            match cond {
                Some(c) => Translation::exact(c),
                None => Translation::none(),
            }
        }
        Target::Bool(col) => {
            let b = match value {
                CompValue::Bool(b) => Some(*b),
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            };
            match (op, b) {
                (CompareOp::Eq, Some(b)) => {
                    Translation::exact(leaf(col, false, Test::Cmp("=", Bind::Bool(b))))
                }
                (CompareOp::Ne, Some(b)) => {
                    Translation::exact(not(leaf(col, false, Test::Cmp("=", Bind::Bool(b)))))
                }
                // `active pr` / `eq null` read the document.
                _ => Translation::none(),
            }
        }
        Target::Time(col) => match time_test(col, op, value) {
            Some(c) => Translation::exact(c),
            None => Translation::none(),
        },
    }
}

/// `pr` on one target.
fn present(target: &Target) -> Translation {
    match *target {
        Target::Str { col, nullable, .. } => {
            Translation::exact(leaf(col, nullable, Test::NonEmpty))
        }
        Target::Multi {
            sub, col, nullable, ..
        } => Translation::exact(Cond::Exists(
            sub,
            Some(Box::new(leaf(col, nullable, Test::NonEmpty))),
        )),
        // The timestamps are always rendered.
        Target::Time(_) => Translation::exact(Cond::Const(true)),
        Target::Bool(_) | Target::Residual => Translation::none(),
    }
}

/// A two-valued test on one string column (single value).
fn string_test(
    col: &'static str,
    nullable: bool,
    folded: bool,
    op: CompareOp,
    value: &CompValue,
) -> Option<Cond> {
    let s = match value {
        CompValue::String(s) => {
            if folded {
                fold(s)
            } else {
                s.clone()
            }
        }
        CompValue::Null => {
            let some = leaf(col, nullable, Test::NonEmpty);
            return match op {
                CompareOp::Eq => Some(not(some)),
                CompareOp::Ne => Some(some),
                _ => None,
            };
        }
        // The compiler rejects other literals for strings.
        _ => return None,
    };
    let cmp = |sym: &'static str, s: String| leaf(col, nullable, Test::Cmp(sym, Bind::Text(s)));
    Some(match op {
        CompareOp::Eq => cmp("=", s),
        CompareOp::Ne => not(cmp("=", s)),
        CompareOp::Gt => cmp(">", s),
        CompareOp::Ge => cmp(">=", s),
        CompareOp::Lt => cmp("<", s),
        CompareOp::Le => cmp("<=", s),
        CompareOp::Co => leaf(col, nullable, Test::Contains(s)),
        CompareOp::Sw => leaf(col, nullable, Test::StartsWith(s)),
        CompareOp::Ew => leaf(col, nullable, Test::EndsWith(s)),
    })
}

/// A test on a timestamp column (always present). Stored values are whole
/// microseconds, so a literal with finer digits compares as its truncation
/// `t` (`> lit` ⇔ `> t`, `>= lit` ⇔ `> t`, `< lit` ⇔ `<= t`, `= lit` never).
fn time_test(col: &'static str, op: CompareOp, value: &CompValue) -> Option<Cond> {
    let s = match value {
        CompValue::Null => {
            return match op {
                CompareOp::Eq => Some(Cond::Const(false)),
                CompareOp::Ne => Some(Cond::Const(true)),
                _ => None,
            };
        }
        CompValue::String(s) => s,
        _ => return None,
    };
    // `co`/`sw`/`ew` compare the rendered text: the evaluator does that.
    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        return None;
    }
    let lit = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    let t = to_db(lit);
    let whole = t.and_utc() == lit;
    let cmp = |sym: &'static str| leaf(col, false, Test::Cmp(sym, Bind::Ts(t)));
    Some(match (op, whole) {
        (CompareOp::Eq, true) => cmp("="),
        (CompareOp::Eq, false) => Cond::Const(false),
        (CompareOp::Ne, true) => not(cmp("=")),
        (CompareOp::Ne, false) => Cond::Const(true),
        (CompareOp::Gt, _) => cmp(">"),
        (CompareOp::Ge, true) => cmp(">="),
        (CompareOp::Ge, false) => cmp(">"),
        (CompareOp::Lt, true) => cmp("<"),
        (CompareOp::Lt, false) => cmp("<="),
        (CompareOp::Le, _) => cmp("<="),
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => return None,
    })
}

/// The smallest string greater than every string that starts with `p`
/// (`p` with its last character incremented), if there is one.
fn prefix_successor(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
        // `last` is char::MAX: drop it and increment the one before.
    }
    None
}

/// Escapes `\`, `%` and `_` for `LIKE … ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Renders `cond` (a boolean SQL expression, never NULL) into `out`.
pub(crate) fn render(cond: &Cond, pg: bool, out: &mut SqlText) {
    match cond {
        Cond::Const(true) => {
            out.push("1 = 1");
        }
        Cond::Const(false) => {
            out.push("1 = 0");
        }
        Cond::Not(c) => {
            out.push("NOT (");
            render(c, pg, out);
            out.push(")");
        }
        Cond::And(a, b) | Cond::Or(a, b) => {
            out.push("(");
            render(a, pg, out);
            out.push(if matches!(cond, Cond::And(..)) {
                " AND "
            } else {
                " OR "
            });
            render(b, pg, out);
            out.push(")");
        }
        Cond::Exists(sub, inner) => {
            out.push(match sub {
                Sub::Emails => {
                    "EXISTS (SELECT 1 FROM user_emails e WHERE e.tenant_id = users.tenant_id \
                     AND e.user_id = users.id"
                }
                Sub::Members => {
                    "EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = groups.tenant_id \
                     AND m.group_id = groups.id"
                }
                Sub::Groups => {
                    "EXISTS (SELECT 1 FROM group_members gm JOIN groups g \
                     ON g.tenant_id = gm.tenant_id AND g.id = gm.group_id \
                     WHERE gm.tenant_id = users.tenant_id AND gm.user_id = users.id"
                }
            });
            if let Some(inner) = inner {
                out.push(" AND ");
                render(inner, pg, out);
            }
            out.push(")");
        }
        Cond::Leaf {
            col,
            nullable,
            test,
        } => {
            out.push("(");
            if *nullable {
                out.push(col).push(" IS NOT NULL AND ");
            }
            render_test(col, test, pg, out);
            out.push(")");
        }
    }
}

fn render_test(col: &str, test: &Test, pg: bool, out: &mut SqlText) {
    match test {
        Test::Cmp(sym, b) => {
            out.push(col).push(" ").push(sym).push(" ").bind(b.clone());
        }
        Test::NonEmpty => {
            out.push(col).push(" <> ''");
        }
        // Every string contains, starts and ends with "".
        Test::Contains(s) | Test::StartsWith(s) | Test::EndsWith(s) if s.is_empty() => {
            out.push(col).push(" IS NOT NULL");
        }
        Test::StartsWith(s) => {
            out.push(col).push(" >= ").bind(Bind::Text(s.clone()));
            match prefix_successor(s) {
                Some(end) => {
                    out.push(" AND ")
                        .push(col)
                        .push(" < ")
                        .bind(Bind::Text(end));
                }
                None => {
                    out.push(" AND substr(")
                        .push(col)
                        .push(", 1, length(")
                        .bind(Bind::Text(s.clone()))
                        .push(")) = ")
                        .bind(Bind::Text(s.clone()));
                }
            }
        }
        Test::Contains(s) if pg => {
            out.push(col)
                .push(" LIKE ")
                .bind(Bind::Text(format!("%{}%", like_escape(s))))
                .push(" ESCAPE '\\'");
        }
        Test::EndsWith(s) if pg => {
            out.push(col)
                .push(" LIKE ")
                .bind(Bind::Text(format!("%{}", like_escape(s))))
                .push(" ESCAPE '\\'");
        }
        // SQLite's LIKE ignores ASCII case: use exact-case functions.
        Test::Contains(s) => {
            out.push("instr(")
                .push(col)
                .push(", ")
                .bind(Bind::Text(s.clone()))
                .push(") > 0");
        }
        Test::EndsWith(s) => {
            out.push("substr(")
                .push(col)
                .push(", -length(")
                .bind(Bind::Text(s.clone()))
                .push(")) = ")
                .bind(Bind::Text(s.clone()));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor("user-1").as_deref(), Some("user-2"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(
            prefix_successor("a\u{10FFFF}").as_deref(),
            Some("b"),
            "drops char::MAX and increments the previous character"
        );
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
    }

    fn exactness(kind: Kind, text: &str) -> (bool, bool) {
        let rt = match kind {
            Kind::User => &scim_model::schema::USER,
            Kind::Group => &scim_model::schema::GROUP,
        };
        let f = scim_model::parse_filter(text).unwrap_or_else(|e| unreachable!("{text}: {e}"));
        let t = translate(&f, kind, rt).unwrap_or_else(|e| unreachable!("{text}: {e}"));
        (t.exact, t.cond.is_some())
    }

    #[test]
    fn indexed_filters_are_exact_others_narrow() {
        for text in [
            r#"userName eq "a""#,
            r#"not (userName sw "a" or externalId co "%")"#,
            r#"emails[type eq "work" and not (value ew "x")]"#,
            r#"emails.value ne "x" and active eq "true""#,
            r#"meta.created gt "2026-01-01T00:00:00.5Z" and displayName pr"#,
            r#"id eq "x" or meta.lastModified le "2026-01-01T00:00:00Z""#,
        ] {
            assert_eq!(exactness(Kind::User, text), (true, true), "{text}");
        }
        for text in [
            r#"title eq "x" and userName sw "a""#,
            r#"emails[type eq "work" and display eq "x"]"#,
        ] {
            assert_eq!(exactness(Kind::User, text), (false, true), "{text}");
        }
        for text in [
            r#"title eq "x" or userName sw "a""#,
            r#"not (title eq "x" and userName sw "a")"#,
            "emails pr",
            "active pr",
        ] {
            assert_eq!(exactness(Kind::User, text), (false, false), "{text}");
        }
        for text in [
            r#"members[value eq "u"] or not (members pr)"#,
            r#"members.value sw "u" and displayName co "x""#,
        ] {
            assert_eq!(exactness(Kind::Group, text), (true, true), "{text}");
        }
    }

    #[test]
    fn escapes_like_patterns() {
        assert_eq!(like_escape(r"a%b_c\d"), r"a\%b\_c\\d");
    }

    #[test]
    fn numbers_placeholders_for_postgres() {
        let mut q = SqlText::default();
        q.push("a = ")
            .bind(Bind::BigInt(1))
            .push(" AND b = ")
            .bind(Bind::Bool(true));
        assert_eq!(q.pg_sql(), "a = $1 AND b = $2");
        assert_eq!(q.sql, "a = ? AND b = ?");
    }
}
