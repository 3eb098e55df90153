//! [`SingleRow::single`]: `first()` without `LIMIT`, for queries that match at
//! most one row (a primary or unique key, an aggregate).
//!
//! Why not `first()`: diesel sends `LIMIT ?` with the limit as a bound
//! parameter. SQLite (3.4x and later) reads a bound `LIMIT` value while it
//! plans the statement and marks the prepared statement to be re-planned
//! whenever that parameter is bound again, and diesel binds every parameter on
//! every execution: each `first()` is therefore parsed and planned again on
//! every call, as if it were not cached at all. On the lookup path of a SCIM
//! request that re-planning was the largest single cost of the server
//! (`docs/performance.md`). A unique-key query needs no `LIMIT`: reading its
//! rows gives the same answer, and its prepared statement stays cached.

use diesel::QueryResult;
use diesel::query_dsl::{LoadQuery, RunQueryDsl};

/// `first()` without `LIMIT`, for queries that can match at most one row.
pub(crate) trait SingleRow<C>: RunQueryDsl<C> + Sized {
    /// The row of a query that matches at most one row (when the query could
    /// match more, which one is returned is unspecified: use `first()`).
    ///
    /// # Errors
    /// `NotFound` when no row matches (like `first()`), or the database's error.
    fn single<'q, U>(self, conn: &mut C) -> QueryResult<U>
    where
        Self: LoadQuery<'q, C, U>,
    {
        self.load::<U>(conn)?
            .into_iter()
            .next()
            .ok_or(diesel::result::Error::NotFound)
    }
}

impl<C, Q: RunQueryDsl<C>> SingleRow<C> for Q {}
