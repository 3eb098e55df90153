//! Retention: a background task that prunes what the server keeps only for a
//! while, shortly after start and then periodically (`docs/operations.md`,
//! "Personal data"; `docs/events.md`):
//!
//! * change events older than `--event-retention-days`;
//! * webhook delivery logs (finished deliveries and their attempts) older than
//!   `--webhook-log-retention` (default: the event retention);
//! * audit records older than `--audit-retention` (default: kept);
//! * finished invitations queued before `--invitation-retention` (default:
//!   kept);
//! * the personal data of users deleted more than
//!   `--erase-deleted-users-after` ago, in the audit log and the events feed
//!   (default: kept).
//!
//! It runs every hour, or more often when a period is short (a quarter of the
//! shortest period, at least every second). Every replica may run it: each
//! step is idempotent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use chrono::{TimeDelta, Utc};
use store_diesel::{Store, events, retention, webhooks};

/// Longest time between two runs.
const EVERY: Duration = Duration::from_secs(3600);
/// Delay before the first run, so start-up is not slowed down.
const FIRST_AFTER: Duration = Duration::from_secs(10);
/// Users erased per transaction.
const ERASE_BATCH: usize = 100;

/// The periods; `None` keeps forever.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Change events.
    pub events: Duration,
    /// Webhook delivery logs.
    pub webhook_logs: Option<Duration>,
    /// Audit records.
    pub audit: Option<Duration>,
    /// Finished invitations.
    pub invitations: Option<Duration>,
    /// Erasure of a deleted user's personal data, after their deletion.
    pub erase_deleted_users: Option<Duration>,
}

impl Policy {
    /// Time between two runs: an hour, or a quarter of the shortest period.
    fn interval(&self) -> Duration {
        [
            Some(self.events),
            self.webhook_logs,
            self.audit,
            self.invitations,
            self.erase_deleted_users,
        ]
        .into_iter()
        .flatten()
        .map(|p| p / 4)
        .fold(EVERY, Duration::min)
        .max(Duration::from_secs(1))
    }
}

fn ago(period: Duration) -> chrono::DateTime<Utc> {
    Utc::now() - TimeDelta::from_std(period).unwrap_or(TimeDelta::MAX)
}

/// Starts the task on the current actix system; it ends when `stop` is set.
pub fn spawn(store: Store, policy: Policy, stop: Arc<AtomicBool>) {
    let every = policy.interval();
    actix_web::rt::spawn(async move {
        let mut wait = FIRST_AFTER.min(every);
        loop {
            if sleep_unless_stopped(wait, &stop).await {
                return;
            }
            wait = every;
            let store = store.clone();
            match web::block(move || run_once(&store, &policy)).await {
                Ok(Ok(report)) if report.is_empty() => {}
                Ok(Ok(report)) => tracing::info!(
                    events = report.events,
                    webhook_logs = report.webhook_logs,
                    audit_records = report.audit,
                    invitations = report.invitations,
                    erased_users = report.erased.users,
                    erased_audit_records = report.erased.audit_records,
                    erased_events = report.erased.events,
                    "retention: pruned and erased past their periods"
                ),
                Ok(Err(e)) => tracing::warn!(error = %e, "retention: cannot prune; retrying later"),
                Err(e) => tracing::warn!(error = %e, "retention: blocking pool unavailable"),
            }
        }
    });
}

/// What one run did.
#[derive(Debug, Default)]
struct Report {
    events: usize,
    webhook_logs: usize,
    audit: usize,
    invitations: usize,
    erased: retention::Erased,
}

impl Report {
    fn is_empty(&self) -> bool {
        self.events + self.webhook_logs + self.audit + self.invitations + self.erased.users == 0
    }
}

/// One run, each step in its own transaction. Erasure runs before the
/// pruning of audit records, and in batches until none is left.
fn run_once(store: &Store, policy: &Policy) -> Result<Report, store_diesel::StoreError> {
    let mut report = Report::default();
    if let Some(period) = policy.erase_deleted_users {
        let cutoff = ago(period);
        loop {
            let erased =
                store.transaction(|c| retention::erase_deleted_users(c, cutoff, ERASE_BATCH))?;
            report.erased.users += erased.users;
            report.erased.audit_records += erased.audit_records;
            report.erased.events += erased.events;
            if erased.users < ERASE_BATCH {
                break;
            }
        }
    }
    report.events = store.transaction(|c| events::prune_before(c, ago(policy.events)))?;
    if let Some(period) = policy.webhook_logs {
        report.webhook_logs = store.transaction(|c| webhooks::prune_before(c, ago(period)))?;
    }
    if let Some(period) = policy.audit {
        report.audit = store.transaction(|c| retention::prune_audit_before(c, ago(period)))?;
    }
    if let Some(period) = policy.invitations {
        report.invitations = store
            .transaction(|c| retention::prune_invitations_before(c, ago(period), Utc::now()))?;
    }
    Ok(report)
}

/// Sleeps `total` in short steps; true when asked to stop meanwhile.
async fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(200);
    let mut waited = Duration::ZERO;
    while waited < total {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        let next = step.min(total - waited);
        actix_web::rt::time::sleep(next).await;
        waited += next;
    }
    stop.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cli::{Period, parse_period};

    #[test]
    fn periods_parse_with_units_and_off() {
        let secs = |s| parse_period(s).unwrap().0.map(|d: Duration| d.as_secs());
        assert_eq!(secs("400d"), Some(400 * 86_400));
        assert_eq!(secs("30"), Some(30 * 86_400), "a bare number is days");
        assert_eq!(secs("12h"), Some(12 * 3600));
        assert_eq!(secs("15m"), Some(900));
        assert_eq!(secs("2s"), Some(2));
        assert_eq!(parse_period("off").unwrap(), Period(None));
        assert_eq!(parse_period("0").unwrap(), Period(None));
        assert_eq!(parse_period("0d").unwrap(), Period(None));
        for bad in ["", "d", "1w", "-1d", "1.5d", "40000y", "36600000d"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runs_hourly_or_four_times_per_shortest_period() {
        let policy = |erase| Policy {
            events: Duration::from_secs(30 * 86_400),
            webhook_logs: None,
            audit: None,
            invitations: None,
            erase_deleted_users: erase,
        };
        assert_eq!(policy(None).interval(), EVERY);
        assert_eq!(
            policy(Some(Duration::from_secs(120))).interval(),
            Duration::from_secs(30)
        );
        assert_eq!(
            policy(Some(Duration::from_secs(2))).interval(),
            Duration::from_secs(1)
        );
    }
}
