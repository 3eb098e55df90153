//! Provisioning activity: is the directory calling, and what goes wrong?
//!
//! Every SCIM request of a known tenant is counted **in memory** by the
//! replica that answered it ([`Activity::record`]: one short lock, no
//! allocation unless the request failed), per time bucket; a background task
//! adds the counts to the database every few seconds ([`Activity::flush`]:
//! one upsert per tenant and bucket), where each bucket's row holds the sum
//! of all replicas. The console's Provisioning activity page reads those rows
//! and [`summarize`]s them: requests and errors in the last hour, the
//! directory's cycles (bursts of requests separated by at least
//! [`Activity::silence`] of quiet, 10 minutes by default), and the last
//! errors with the SCIM error each got.
//!
//! A request counts for a tenant when its token opened the tenant
//! ([`AuthenticatedTenant`]), or when a token this server signed was refused
//! for a tenant that exists ([`RefusedAuthentication`], e.g. a regenerated
//! Secret Token): so unsigned junk sent to a Tenant URL counts nowhere.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use actix_web::HttpMessage;
use actix_web::dev::ServiceResponse;
use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use store_diesel::activity::{Bucket, RequestError};
use store_diesel::{Store, StoreError};

use crate::ApiError;
use crate::auth::{AuthenticatedTenant, RefusedAuthentication};

/// Errors of one tenant kept per replica between two flushes (the newest).
const ERRORS_PER_FLUSH: usize = 10;
/// Errors kept in the database per tenant.
pub const KEEP_ERRORS: i64 = 50;
/// How far back the page looks for cycles; buckets older than twice this
/// are deleted when a replica flushes.
pub const LOOKBACK: TimeDelta = TimeDelta::hours(24);

/// The default silence between two cycles.
pub const DEFAULT_SILENCE: std::time::Duration = std::time::Duration::from_secs(600);

/// The per-replica counters (register as `web::Data<Activity>`; without it
/// nothing is counted).
#[derive(Debug)]
pub struct Activity {
    silence: TimeDelta,
    bucket_secs: i64,
    pending: Mutex<HashMap<String, Pending>>,
}

/// A tenant's counts since the last flush.
#[derive(Debug, Default)]
struct Pending {
    buckets: Vec<Bucket>,
    errors: Vec<RequestError>,
}

impl Activity {
    /// Counters whose cycles are separated by `silence` (at least 1 s); a
    /// bucket lasts a tenth of it, between 1 s and 60 s.
    pub fn new(silence: std::time::Duration) -> Activity {
        let silence = TimeDelta::from_std(silence)
            .unwrap_or(TimeDelta::seconds(600))
            .max(TimeDelta::seconds(1));
        Activity {
            bucket_secs: (silence.num_seconds() / 10).clamp(1, 60),
            silence,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// The quiet time that ends a cycle.
    pub fn silence(&self) -> TimeDelta {
        self.silence
    }

    /// Counts one request of tenant `slug` answered at `now`, failed with
    /// `error` if it did.
    pub fn record(&self, slug: &str, now: DateTime<Utc>, error: Option<RequestError>) {
        let bucket = now.timestamp().div_euclid(self.bucket_secs) * self.bucket_secs;
        let failed = i64::from(error.is_some());
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let p = match pending.get_mut(slug) {
            Some(p) => p,
            None => pending.entry(slug.to_owned()).or_default(),
        };
        match p.buckets.iter_mut().rev().find(|b| b.bucket == bucket) {
            Some(b) => {
                b.requests += 1;
                b.errors += failed;
                b.first_at = b.first_at.min(now);
                b.last_at = b.last_at.max(now);
            }
            None => p.buckets.push(Bucket {
                bucket,
                requests: 1,
                errors: failed,
                first_at: now,
                last_at: now,
            }),
        }
        if let Some(e) = error {
            if p.errors.len() >= ERRORS_PER_FLUSH {
                p.errors.remove(0);
            }
            p.errors.push(e);
        }
    }

    /// Adds what this replica counted since the last flush to the database
    /// (one transaction per tenant); returns the number of tenants written.
    /// Counts of a tenant that could not be written are kept for the next
    /// flush. Blocking: call it off the async workers.
    ///
    /// # Errors
    /// The first database error (the other tenants are still tried).
    pub fn flush(&self, store: &Store) -> Result<usize, StoreError> {
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let prune_before = (Utc::now() - LOOKBACK * 2).timestamp();
        let mut written = 0;
        let mut first_error = None;
        for (slug, p) in taken {
            let result = store.transaction(|c| {
                let tenant = match store_diesel::tenants::get_by_slug(c, &slug) {
                    Ok(t) => t,
                    // Deleted meanwhile: its counts go with it.
                    Err(StoreError::NotFound) => return Ok(false),
                    Err(e) => return Err(e),
                };
                store_diesel::activity::add(
                    c,
                    &tenant.id,
                    &p.buckets,
                    &p.errors,
                    KEEP_ERRORS,
                    prune_before,
                )?;
                Ok(true)
            });
            match result {
                Ok(true) => written += 1,
                Ok(false) => {}
                Err(e) => {
                    self.put_back(slug, p);
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Merges counts that could not be written back into the pending ones.
    fn put_back(&self, slug: String, old: Pending) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let p = pending.entry(slug).or_default();
        for b in old.buckets {
            match p.buckets.iter_mut().find(|x| x.bucket == b.bucket) {
                Some(x) => {
                    x.requests += b.requests;
                    x.errors += b.errors;
                    x.first_at = x.first_at.min(b.first_at);
                    x.last_at = x.last_at.max(b.last_at);
                }
                None => p.buckets.push(b),
            }
        }
        let mut errors = old.errors;
        errors.append(&mut p.errors);
        let extra = errors.len().saturating_sub(ERRORS_PER_FLUSH);
        errors.drain(..extra);
        p.errors = errors;
    }
}

/// Counts the request of `res` (for the SCIM scope's `wrap_fn`).
pub(crate) fn observe<B>(res: &ServiceResponse<B>) {
    let req = res.request();
    let Some(activity) = req.app_data::<web::Data<Activity>>() else {
        return;
    };
    let ext = req.extensions();
    let (slug, refused) = match (
        ext.get::<AuthenticatedTenant>(),
        ext.get::<RefusedAuthentication>(),
    ) {
        (Some(t), _) => (t.0.as_str(), None),
        (
            None,
            Some(RefusedAuthentication {
                tenant: Some(t),
                reason,
            }),
        ) => (t.as_str(), Some(*reason)),
        _ => return,
    };
    let now = Utc::now();
    let status = res.status();
    let error = (status.is_client_error() || status.is_server_error()).then(|| {
        let body = res
            .response()
            .error()
            .and_then(|e| e.as_error::<ApiError>())
            .map(ApiError::body);
        let detail = match (refused, &body) {
            (Some(reason), _) => format!("the bearer token was refused: {reason}"),
            (None, Some(b)) => b.detail.clone().unwrap_or_default(),
            (None, None) => status.canonical_reason().unwrap_or_default().to_owned(),
        };
        RequestError {
            at: now,
            request: clip(format!("{} {}", req.method(), req.path()), 300),
            status: i32::from(status.as_u16()),
            scim_type: body.and_then(|b| b.scim_type).map(|t| t.to_string()),
            detail: clip(detail, 1000),
        }
    });
    activity.record(slug, now, error);
}

/// `s` cut to at most `max` characters (with an ellipsis).
fn clip(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
        s.push('…');
    }
    s
}

/// One burst of directory requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Its first request.
    pub started_at: DateTime<Utc>,
    /// Its last request so far.
    pub last_at: DateTime<Utc>,
    /// Requests in it.
    pub requests: i64,
    /// Of which failed.
    pub errors: i64,
    /// Still going: the silence that would end it has not passed yet.
    pub in_progress: bool,
}

/// What the Provisioning activity page shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// When the directory last called.
    pub last_request_at: Option<DateTime<Utc>>,
    /// Requests in the last hour.
    pub hour_requests: i64,
    /// Failed requests in the last hour.
    pub hour_errors: i64,
    /// The latest cycles (newest first, at most 5) within [`LOOKBACK`].
    pub cycles: Vec<Cycle>,
}

/// Summarises `buckets` (any order) as of `now`: a cycle ends where the
/// directory was quiet for at least `silence`. The hour's figures count
/// whole buckets, so they are exact to a bucket (at most a minute).
pub fn summarize(buckets: &[Bucket], now: DateTime<Utc>, silence: TimeDelta) -> Summary {
    let mut sorted: Vec<&Bucket> = buckets.iter().filter(|b| b.requests > 0).collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.bucket));
    let hour_ago = now - TimeDelta::hours(1);
    let mut summary = Summary {
        last_request_at: sorted.iter().map(|b| b.last_at).max(),
        ..Summary::default()
    };
    for b in sorted.iter().filter(|b| b.last_at > hour_ago) {
        summary.hour_requests += b.requests;
        summary.hour_errors += b.errors;
    }
    let mut current: Option<Cycle> = None;
    for b in sorted {
        match current.as_mut() {
            Some(c) if c.started_at - b.last_at < silence => {
                c.started_at = c.started_at.min(b.first_at);
                c.requests += b.requests;
                c.errors += b.errors;
            }
            _ => {
                if let Some(done) = current.take() {
                    summary.cycles.push(done);
                    if summary.cycles.len() == 5 {
                        return summary;
                    }
                }
                current = Some(Cycle {
                    started_at: b.first_at,
                    last_at: b.last_at,
                    requests: b.requests,
                    errors: b.errors,
                    in_progress: now - b.last_at < silence,
                });
            }
        }
    }
    summary.cycles.extend(current);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn bucket(start: i64, requests: i64, errors: i64, first: i64, last: i64) -> Bucket {
        Bucket {
            bucket: 1_800_000_000 + start,
            requests,
            errors,
            first_at: at(first),
            last_at: at(last),
        }
    }

    #[test]
    fn a_silence_of_ten_minutes_separates_cycles() {
        let silence = TimeDelta::minutes(10);
        // Cycle 1: 0..130 s; 10 min quiet; cycle 2: 730..800 s, with a
        // 9-minute pause inside it (not a new cycle).
        let buckets = [
            bucket(0, 5, 0, 0, 50),
            bucket(120, 3, 1, 125, 130),
            bucket(720, 4, 2, 730, 740),
            bucket(1260, 1, 0, 1280, 1280),
        ];
        let s = summarize(&buckets, at(1300), silence);
        assert_eq!(s.last_request_at, Some(at(1280)));
        assert_eq!(s.cycles.len(), 2, "{s:?}");
        assert_eq!(s.cycles[0].started_at, at(730));
        assert_eq!(s.cycles[0].requests, 5);
        assert_eq!(s.cycles[0].errors, 2);
        assert!(s.cycles[0].in_progress);
        assert_eq!(s.cycles[1].started_at, at(0));
        assert_eq!(s.cycles[1].last_at, at(130));
        assert_eq!((s.cycles[1].requests, s.cycles[1].errors), (8, 1));
        assert!(!s.cycles[1].in_progress);
        assert_eq!((s.hour_requests, s.hour_errors), (13, 3));
        // An hour later the hour is empty and no cycle is in progress.
        let later = summarize(&buckets, at(1280 + 3600), silence);
        assert_eq!((later.hour_requests, later.hour_errors), (0, 0));
        assert!(!later.cycles[0].in_progress);
        assert_eq!(summarize(&[], at(0), silence), Summary::default());
    }

    #[test]
    fn counts_go_to_buckets_and_errors_are_bounded() {
        let a = Activity::new(std::time::Duration::from_secs(600));
        assert_eq!(a.bucket_secs, 60);
        let err = |n: i64| RequestError {
            at: at(n),
            request: format!("GET /{n}"),
            status: 404,
            scim_type: None,
            detail: String::new(),
        };
        a.record("acme", at(0), None);
        a.record("acme", at(59), Some(err(59)));
        a.record("acme", at(61), None);
        for n in 0..15 {
            a.record("other", at(n), Some(err(n)));
        }
        let pending = a.pending.lock().unwrap();
        let acme = &pending["acme"];
        assert_eq!(acme.buckets.len(), 2);
        assert_eq!((acme.buckets[0].requests, acme.buckets[0].errors), (2, 1));
        assert_eq!(
            (acme.buckets[0].first_at, acme.buckets[0].last_at),
            (at(0), at(59))
        );
        assert_eq!(acme.buckets[1].requests, 1);
        let other = &pending["other"];
        assert_eq!(other.buckets[0].requests, 15);
        assert_eq!(other.errors.len(), ERRORS_PER_FLUSH);
        assert_eq!(other.errors[0].request, "GET /5", "the newest are kept");
        assert_eq!(clip("abcdef".to_owned(), 3), "abc…");
        assert_eq!(clip("abc".to_owned(), 3), "abc");
    }
}
