//! Smoke run of `scim-loadgen` against the real server on SQLite: tiny numbers,
//! every phase, zero failed requests and a clean verification.

use std::time::Duration;

use scim_loadgen::{Config, Target};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::Server;

#[test]
fn loadgen_smoke_run_on_sqlite_has_no_errors_and_verifies() {
    let db = TestDb::of(Backend::Sqlite).expect("SQLite is always available");
    let s = Server::start(db, &[]);
    let targets = ["acme", "globex"]
        .into_iter()
        .map(|slug| {
            let token = s.tenant(slug);
            Target::new(format!("http://{}/scim/v2/{slug}", s.addr), token).unwrap()
        })
        .collect();
    let mut cfg = Config::new(targets);
    cfg.users = 20;
    cfg.groups = 3;
    cfg.members = 5;
    cfg.batch = 2;
    cfg.concurrency = 4;
    cfg.duration = Duration::from_secs(1);
    cfg.prefix = "smoke".to_owned();
    cfg.pid = Some(std::process::id());

    let report = scim_loadgen::run(&cfg).unwrap();
    assert!(report.ok, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    let phases: Vec<&str> = report.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(phases, ["initial", "incremental", "lookups", "verify"]);

    let count = |phase: &str, kind: &str| -> u64 {
        report
            .phases
            .iter()
            .find(|p| p.phase == phase)
            .and_then(|p| p.kinds.iter().find(|k| k.kind == kind))
            .map_or(0, |k| k.count)
    };
    assert_eq!(count("initial", "user.query"), 20);
    assert_eq!(count("initial", "user.create"), 20);
    assert_eq!(count("initial", "group.create"), 3);
    // 5 members in batches of 2: three adds per group.
    assert_eq!(count("initial", "group.addMembers"), 9);
    // Users 5 and 15 get attribute changes, user 0 is suspended (of 20).
    assert_eq!(count("incremental", "user.patch"), 2);
    assert_eq!(count("incremental", "user.suspend"), 1);
    assert_eq!(count("incremental", "group.removeMembers"), 3);
    assert!(count("lookups", "user.lookup") > 0, "{report}");

    let v = report.verification.as_ref().unwrap();
    assert_eq!(
        (v.users_checked, v.suspended_checked, v.patched_checked),
        (20, 1, 2)
    );
    assert_eq!((v.groups_checked, v.member_counts_checked), (3, 3));
    assert!(report.rss.as_ref().unwrap().vm_hwm_kib > 0);

    // The JSON form carries the same figures.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["phases"][0]["kinds"][0]["kind"], "user.query");
}

#[test]
fn loadgen_counts_refused_requests_by_status_on_a_wrong_token() {
    let db = TestDb::of(Backend::Sqlite).expect("SQLite is always available");
    let s = Server::start(db, &[]);
    s.tenant("acme");
    let target = Target::new(format!("http://{}/scim/v2/acme", s.addr), "not-a-token").unwrap();
    let mut cfg = Config::new(vec![target]);
    cfg.users = 3;
    cfg.groups = 1;
    cfg.members = 2;
    cfg.concurrency = 2;
    cfg.duration = Duration::from_millis(200);
    let report = scim_loadgen::run(&cfg).unwrap();
    assert!(!report.ok);
    let initial = &report.phases[0];
    let create = initial
        .kinds
        .iter()
        .find(|k| k.kind == "user.create")
        .unwrap();
    assert_eq!(create.errors.get("401"), Some(&3), "{report}");
}
