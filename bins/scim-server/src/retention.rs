//! Event retention: a background task that deletes change events (and closed
//! webhook deliveries with their log) older than
//! `--event-retention-days` (`docs/events.md`), shortly after start and then
//! hourly. Every replica may run it: the deletes are idempotent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use chrono::{TimeDelta, Utc};
use store_diesel::{Store, events, webhooks};

/// Time between two prunes.
const EVERY: Duration = Duration::from_secs(3600);
/// Delay before the first prune, so start-up is not slowed down.
const FIRST_AFTER: Duration = Duration::from_secs(10);

/// Starts the task on the current actix system; it ends when `stop` is set.
pub fn spawn(store: Store, retention_days: u32, stop: Arc<AtomicBool>) {
    let keep = TimeDelta::days(i64::from(retention_days));
    actix_web::rt::spawn(async move {
        let mut wait = FIRST_AFTER;
        loop {
            if sleep_unless_stopped(wait, &stop).await {
                return;
            }
            wait = EVERY;
            let store = store.clone();
            let cutoff = Utc::now() - keep;
            match web::block(move || {
                store.transaction(|c| {
                    // Closed webhook deliveries and their log go with the events.
                    Ok(events::prune_before(c, cutoff)? + webhooks::prune_before(c, cutoff)?)
                })
            })
            .await
            {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(deleted = n, "events: pruned past retention"),
                Ok(Err(e)) => tracing::warn!(error = %e, "events: cannot prune; retrying later"),
                Err(e) => tracing::warn!(error = %e, "events: blocking pool unavailable"),
            }
        }
    });
}

/// Sleeps `total` in short steps; true when asked to stop meanwhile.
async fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(500);
    let mut waited = Duration::ZERO;
    while waited < total {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        actix_web::rt::time::sleep(step).await;
        waited += step;
    }
    stop.load(Ordering::SeqCst)
}
