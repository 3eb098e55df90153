//! Timestamps: stored as UTC `Timestamp` without zone, truncated to whole
//! microseconds so both backends hold and return the same value.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};

/// Now, truncated to microseconds.
pub(crate) fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `t` truncated to microseconds (PostgreSQL's precision).
pub(crate) fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    let micros = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(micros).unwrap_or(t)
}

pub(crate) fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    truncate(t).naive_utc()
}

pub(crate) fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
