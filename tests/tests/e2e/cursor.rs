//! RFC 9865 cursor paging on /Users, /Groups and their .search: keyset pages
//! that never skip or repeat a resource present throughout a walk, whatever
//! is created or deleted meanwhile; cursors opaque, signed and bound to their
//! tenant, resource type and filter.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::harness::{Server, on_both};

const T: &str = "/scim/v2/acme";

fn bulk_users(s: &Server, token: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                       "data": {"userName": format!("{prefix}{i:05}@example.net")}})
            })
            .collect();
        let r = s.request().bearer(token).json(
            "POST",
            &format!("{T}/Bulk"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        for op in r.json()["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            ids.push(location.rsplit('/').next().unwrap().to_owned());
        }
    }
    ids
}

/// Walks `/Users` by cursor; returns the ids in the order seen.
fn walk(s: &Server, token: &str, count: usize, filter: Option<&str>) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let filter = filter
        .map(|f| format!("&filter={}", f.replace(' ', "%20").replace('"', "%22")))
        .unwrap_or_default();
    for _ in 0..100_000 {
        let r = s.request().bearer(token).get(&format!(
            "{T}/Users?count={count}&cursor={cursor}&attributes=userName{filter}"
        ));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let page = r.json();
        assert!(page.get("startIndex").is_none(), "{page}");
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(page["itemsPerPage"].as_u64(), Some(items.len() as u64));
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => return seen,
        }
    }
    panic!("the walk never ended");
}

#[test]
fn a_cursor_walk_sees_every_stable_user_once_despite_concurrent_writes() {
    on_both(|s| {
        let token = s.tenant("acme");
        let stable = bulk_users(s, &token, "stable", 10_000);
        let churn = bulk_users(s, &token, "churn", 300);
        let stop = Arc::new(AtomicBool::new(false));
        // Meanwhile: delete the churn users and create new ones.
        let writer = {
            let (addr, token, stop, churn) = (s.addr, token.clone(), stop.clone(), churn.clone());
            std::thread::spawn(move || {
                let mut created = 0;
                for (i, id) in churn.iter().enumerate() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let del = crate::harness::raw_request(
                        addr,
                        "DELETE",
                        &format!("{T}/Users/{id}"),
                        &token,
                        None,
                    );
                    assert_eq!(del.status, 204);
                    let body = json!({"userName": format!("new{i:05}@example.net")});
                    let made = crate::harness::raw_request(
                        addr,
                        "POST",
                        &format!("{T}/Users"),
                        &token,
                        Some(&body),
                    );
                    assert_eq!(made.status, 201);
                    created += 1;
                }
                created
            })
        };
        let seen = walk(s, &token, 200, None);
        stop.store(true, Ordering::Relaxed);
        let created = writer.join().unwrap();
        assert!(created > 0, "no concurrent writes happened during the walk");
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a user was seen twice");
        let missing: Vec<&String> = stable.iter().filter(|id| !unique.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "{} stable users were skipped",
            missing.len()
        );
    });
}

#[test]
fn cursors_are_signed_bound_and_advertised() {
    on_both(|s| {
        let token = s.tenant("acme");
        let other = s.tenant("other");
        let req = s.request().bearer(&token);
        let ids = bulk_users(s, &token, "u", 25);

        let spc = req.get(&format!("{T}/ServiceProviderConfig")).json();
        assert_eq!(spc["pagination"]["cursor"], true, "{spc}");
        assert_eq!(spc["pagination"]["index"], true);
        assert!(spc["pagination"]["cursorTimeout"].as_u64().unwrap() > 0);

        // Pages of 10: 10, 10, 5, in the default order (index paging's).
        let ids: Vec<String> = {
            let mut created: Vec<String> = req
                .get(&format!("{T}/Users?count=100&attributes=id"))
                .json()["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect();
            let mut sorted = created.clone();
            sorted.sort();
            let mut expected = ids.clone();
            expected.sort();
            assert_eq!(sorted, expected);
            std::mem::take(&mut created)
        };
        let walked = walk(s, &token, 10, None);
        assert_eq!(walked, ids, "cursor pages follow the default order");
        let filtered = walk(s, &token, 4, Some("userName sw \"u0001\""));
        assert_eq!(filtered.len(), 10);

        let first = req.get(&format!("{T}/Users?cursor=&count=10")).json();
        assert_eq!(first["totalResults"], 25);
        let next = first["nextCursor"].as_str().unwrap().to_owned();
        // Another tenant, another filter, an altered cursor: invalidCursor.
        s.request()
            .bearer(&other)
            .get(&format!("/scim/v2/other/Users?cursor={next}"))
            .assert_error(400, Some("invalidCursor"));
        req.get(&format!("{T}/Users?cursor={next}&filter=userName%20pr"))
            .assert_error(400, Some("invalidCursor"));
        req.get(&format!("{T}/Groups?cursor={next}"))
            .assert_error(400, Some("invalidCursor"));
        let mut altered = next.clone();
        altered.replace_range(0..1, if next.starts_with('e') { "f" } else { "e" });
        req.get(&format!("{T}/Users?cursor={altered}"))
            .assert_error(400, Some("invalidCursor"));
        req.get(&format!("{T}/Users?cursor=nonsense"))
            .assert_error(400, Some("invalidCursor"));
        // Not with startIndex or sortBy.
        req.get(&format!("{T}/Users?cursor=&startIndex=2"))
            .assert_error(400, Some("invalidValue"));
        req.get(&format!("{T}/Users?cursor=&sortBy=userName"))
            .assert_error(400, Some("invalidValue"));
        // .search takes the cursor in its body; groups page the same way.
        let searched = req
            .json(
                "POST",
                &format!("{T}/Users/.search"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "cursor": next, "count": 10}),
            )
            .json();
        let got: Vec<&str> = searched["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = ids[10..20].iter().map(String::as_str).collect();
        assert_eq!(got, want);
        for i in 0..3 {
            let r = req.json(
                "POST",
                &format!("{T}/Groups"),
                &json!({"displayName": format!("G{i}")}),
            );
            assert_eq!(r.status, 201);
        }
        let groups = req.get(&format!("{T}/Groups?cursor=&count=2")).json();
        assert_eq!(groups["Resources"].as_array().unwrap().len(), 2);
        let next = groups["nextCursor"].as_str().unwrap();
        let last = req.get(&format!("{T}/Groups?cursor={next}&count=2")).json();
        assert_eq!(last["Resources"].as_array().unwrap().len(), 1);
        assert!(last.get("nextCursor").is_none(), "{last}");
        let names: BTreeSet<&str> = groups["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .chain(last["Resources"].as_array().unwrap())
            .map(|g| g["displayName"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 3);
    });
}

#[test]
fn a_cursor_page_cut_by_the_byte_budget_in_a_later_round_still_leads_to_the_rest() {
    for backend in [
        store_diesel::Backend::Sqlite,
        store_diesel::Backend::Postgres,
    ] {
        let Some(db) = store_diesel::testing::TestDb::of(backend) else {
            continue;
        };
        let s = Server::start(db, &["--max-list-bytes", "65536"]);
        let token = s.tenant("acme");
        // 20 small users fill the first round; 10 of 8 KB each then cross
        // the budget in the second round.
        let mut ids = bulk_users(&s, &token, "small", 20);
        let filler = "x".repeat(8000);
        for i in 0..10 {
            let r = s.request().bearer(&token).json(
                "POST",
                &format!("{T}/Users"),
                &json!({"userName": format!("big{i}@example.net"), "title": filler}),
            );
            assert_eq!(r.status, 201);
            ids.push(r.json()["id"].as_str().unwrap().to_owned());
        }
        let seen = walk(&s, &token, 30, None);
        let seen: HashSet<String> = seen.into_iter().collect();
        let missing = ids.iter().filter(|id| !seen.contains(*id)).count();
        assert_eq!(missing, 0, "the walk stopped before the last users");
    }
}
