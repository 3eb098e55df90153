//! Writes the Provisioning activity this replica counted (SCIM requests and
//! errors per tenant, `scim_http::activity`) to the database every few
//! seconds, and once more when the server stops ([`Flusher::flush_now`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use scim_http::activity::Activity;
use store_diesel::Store;

/// The replica's counters and where they go.
#[derive(Debug, Clone)]
pub struct Flusher {
    store: Store,
    activity: web::Data<Activity>,
}

impl Flusher {
    /// Writes what was counted since the last flush (blocking: call it when
    /// the server has stopped, so the last seconds are not lost).
    pub fn flush_now(&self) {
        if let Err(e) = self.activity.flush(&self.store) {
            tracing::warn!(error = %e, "activity: cannot write the last counts");
        }
    }
}

/// Starts the flush loop on the current actix system; it ends when `stop`
/// is set.
pub fn spawn(
    store: Store,
    activity: web::Data<Activity>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Flusher {
    let flusher = Flusher { store, activity };
    let looping = flusher.clone();
    actix_web::rt::spawn(async move {
        while !sleep_unless_stopped(every, &stop).await {
            let (store, activity) = (looping.store.clone(), looping.activity.clone());
            match web::block(move || activity.flush(&store)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "activity: cannot write the counts; retrying later");
                }
                Err(e) => tracing::warn!(error = %e, "activity: blocking pool unavailable"),
            }
        }
    });
    flusher
}

/// Sleeps `total` in short steps; true when asked to stop meanwhile.
async fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(250).min(total);
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
