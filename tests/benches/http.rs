//! Requests per second that one client gets from the real server, over TCP,
//! for the requests Entra ID makes most: the userName filter (matching and Test
//! connection), GET by id, a 6-operation legacy PATCH, and a create. Each
//! iteration is one full request on a new connection (connect included).
//!
//! Run: `cargo bench -p scim-e2e --bench http -- --warm-up-time 1 --measurement-time 3`
//! (PostgreSQL too when `SCIM_TEST_PG_URL` is set.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use store_diesel::Backend;
use store_diesel::testing::TestDb;

fn bench_backend(c: &mut Criterion, backend: Backend) {
    let Some(db) = TestDb::of(backend) else {
        return;
    };
    let s = harness::Server::start(db, &[]);
    let token = s.tenant("acme");
    let req = s.request().bearer(&token);
    // Some users so lookups are not on an empty table.
    for i in 0..500 {
        let r = req.json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": format!("seed-{i}@fabrikam.example")}),
        );
        assert_eq!(r.status, 201);
    }
    let user = req
        .json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": "nora.lind@fabrikam.example", "emails": [{"type": "work", "value": "nora.lind@fabrikam.example"}]}),
        )
        .json();
    let id = user["id"].as_str().unwrap().to_owned();

    let mut g = c.benchmark_group(format!("http_{backend}"));
    g.bench_function("filter_userName_eq", |b| {
        b.iter(|| {
            let r = req
                .get("/scim/v2/acme/Users?filter=userName+eq+%22Nora.Lind%40fabrikam.example%22");
            assert_eq!(r.status, 200);
        })
    });
    g.bench_function("get_user_by_id", |b| {
        b.iter(|| {
            let r = req.get(&format!("/scim/v2/acme/Users/{id}"));
            assert_eq!(r.status, 200);
        })
    });
    let flip = AtomicU64::new(0);
    g.bench_function("patch_user_legacy_6_ops", |b| {
        b.iter(|| {
            let n = flip.fetch_add(1, Ordering::Relaxed);
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "Replace", "path": "displayName", "value": format!("Nora {n}")},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("nora{n}@fabrikam.example")},
                {"op": "Replace", "path": "name.givenName", "value": "Nora"},
                {"op": "Replace", "path": "name.familyName", "value": format!("Lind {n}")},
                {"op": "Replace", "path": "externalId", "value": format!("ext-{n}")},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": format!("E-{n}")}
            ]});
            let r = req.json("PATCH", &format!("/scim/v2/acme/Users/{id}"), &body);
            assert_eq!(r.status, 200);
        })
    });
    let next = AtomicU64::new(0);
    g.bench_function("create_user", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let r = req.json(
                "POST",
                "/scim/v2/acme/Users",
                &json!({"userName": format!("bench-{n}@fabrikam.example"), "active": true}),
            );
            assert_eq!(r.status, 201);
        })
    });
    g.finish();
}

fn bench_http(c: &mut Criterion) {
    bench_backend(c, Backend::Sqlite);
    bench_backend(c, Backend::Postgres);
}

criterion_group!(benches, bench_http);
criterion_main!(benches);
