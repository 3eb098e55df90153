//! The webhook worker's per-endpoint concurrency limit: one hanging endpoint
//! holds at most `endpoint_concurrency` threads; the other threads keep
//! delivering to other endpoints.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use scim_http::webhooks::{
    Outgoing, SECRET_PURPOSE, SendError, WebhookSender, WebhookSettings, WebhookWorker,
};
use serde_json::json;
use store_diesel::events::{self, NewEvent};
use store_diesel::testing::TestDb;
use store_diesel::{tenants, webhooks};

use crate::common::Fixture;

/// Blocks every POST to `slow` until released; counts how many are in flight
/// at once per URL and records every URL sent to.
#[derive(Default)]
struct Recorder {
    in_flight: Mutex<HashMap<String, usize>>,
    peak: Mutex<HashMap<String, usize>>,
    sent: Mutex<Vec<String>>,
    release: AtomicBool,
}

const SLOW: &str = "https://slow.example.net/hook";
const FAST: &str = "https://fast.example.net/hook";

struct Shared(Arc<Recorder>);

impl WebhookSender for Shared {
    fn send(&self, req: &Outgoing) -> Result<u16, SendError> {
        let this = &self.0;
        {
            let mut f = this.in_flight.lock().unwrap();
            let n = f.entry(req.url.clone()).or_default();
            *n += 1;
            let mut p = this.peak.lock().unwrap();
            let peak = p.entry(req.url.clone()).or_default();
            *peak = (*peak).max(*n);
        }
        if req.url == SLOW {
            let until = Instant::now() + Duration::from_secs(20);
            while !this.release.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        this.sent.lock().unwrap().push(req.url.clone());
        *this.in_flight.lock().unwrap().get_mut(&req.url).unwrap() -= 1;
        Ok(200)
    }
}

fn run(db: TestDb) {
    let fx = Fixture::on(db);
    let store = fx.state.store.clone();
    let sealed = fx
        .state
        .keys
        .sealer()
        .seal(SECRET_PURPOSE, b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    let mut tenant_ids = Vec::new();
    for (slug, url) in [("slow", SLOW), ("fast", FAST)] {
        let t = store
            .transaction(|c| tenants::create(c, slug, slug))
            .unwrap();
        store
            .transaction(|c| webhooks::create(c, &t.id, url, &[], &sealed, Utc::now()))
            .unwrap();
        tenant_ids.push(t.id);
    }
    // Many independent users on the slow endpoint (nothing orders them), so
    // without a limit every thread would pick one up and hang.
    let append = |tenant: &str, n: usize| {
        for i in 0..n {
            store
                .transaction(|c| {
                    events::append(
                        c,
                        tenant,
                        NewEvent {
                            event_type: "user.provisioned".to_owned(),
                            time: Utc::now(),
                            actor: "directory".to_owned(),
                            resource_type: "User".to_owned(),
                            resource_id: Some(format!("u{i}")),
                            data: json!({"id": format!("u{i}")}),
                        },
                    )
                })
                .unwrap();
        }
    };
    append(&tenant_ids[0], 12);
    let recorder = Arc::new(Recorder::default());
    let mut settings = WebhookSettings::default();
    settings.threads = 4;
    settings.batch = 1;
    settings.poll_interval = Duration::from_millis(50);
    settings.endpoint_concurrency = 2;
    let worker = WebhookWorker::start(
        store.clone(),
        fx.state.keys.clone(),
        settings,
        Arc::new(Shared(recorder.clone())),
    )
    .unwrap();
    // Let the threads take what they may of the slow endpoint...
    std::thread::sleep(Duration::from_millis(800));
    // ...then the fast endpoint's events arrive: the free threads send them
    // while the slow ones hang.
    append(&tenant_ids[1], 5);
    let deadline = Instant::now() + Duration::from_secs(15);
    let fast_sent = || {
        recorder
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|u| *u == FAST)
            .count()
    };
    while fast_sent() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(fast_sent(), 5, "the fast endpoint was starved");
    let peak_slow = recorder.peak.lock().unwrap().get(SLOW).copied();
    assert_eq!(
        peak_slow,
        Some(2),
        "at most two threads on the slow endpoint"
    );
    // Released, the slow endpoint's backlog drains, still two at a time.
    recorder.release.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorder.sent.lock().unwrap().len() < 17 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    worker.stop_and_join();
    assert_eq!(recorder.sent.lock().unwrap().len(), 17);
    assert_eq!(recorder.peak.lock().unwrap().get(SLOW).copied(), Some(2));
}

#[test]
fn a_hanging_endpoint_holds_at_most_its_share_of_threads_sqlite() {
    run(TestDb::sqlite());
}

#[test]
fn a_hanging_endpoint_holds_at_most_its_share_of_threads_postgres() {
    if let Some(db) = TestDb::postgres() {
        run(db);
    }
}
