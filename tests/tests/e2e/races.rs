//! Parallel writers without `If-Match` (what Entra ID and Okta send) never
//! fail because another writer won a race: writes of one resource queue on
//! its row (PostgreSQL) or on the write lock (SQLite). With `If-Match`,
//! exactly one of the racing writers wins.

use serde_json::json;

use crate::harness::{Server, on_both};

fn create_user(s: &Server, token: &str, name: &str) -> String {
    let r = s.request().bearer(token).json(
        "POST",
        "/scim/v2/acme/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn thirty_two_parallel_member_adds_without_if_match_all_land() {
    on_both(|s| {
        let token = s.tenant("acme");
        let users: Vec<String> = (0..32)
            .map(|i| create_user(s, &token, &format!("m{i}@example.net")))
            .collect();
        let g = s.request().bearer(&token).json(
            "POST",
            "/scim/v2/acme/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Race"}),
        );
        assert_eq!(g.status, 201);
        let gid = g.json()["id"].as_str().unwrap().to_owned();
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = users
                .iter()
                .map(|uid| {
                    let (token, gid) = (&token, &gid);
                    scope.spawn(move || {
                        s.request()
                            .bearer(token)
                            .json(
                                "PATCH",
                                &format!("/scim/v2/acme/Groups/{gid}"),
                                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                        "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid}]}]}),
                            )
                            .status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
        let got = s
            .request()
            .bearer(&token)
            .get(&format!("/scim/v2/acme/Groups/{gid}"))
            .json();
        assert_eq!(got["members"].as_array().unwrap().len(), 32, "{got}");
        assert_eq!(got["meta"]["version"], "W/\"33\"", "one version per add");
    });
}

#[test]
fn parallel_user_patches_without_if_match_all_apply_and_with_it_one_wins() {
    on_both(|s| {
        let token = s.tenant("acme");
        let id = create_user(s, &token, "busy@example.net");
        let path = format!("/scim/v2/acme/Users/{id}");
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let (token, path) = (&token, &path);
                    scope.spawn(move || {
                        s.request()
                            .bearer(token)
                            .json(
                                "PATCH",
                                path,
                                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                        "Operations": [{"op": "Replace", "path": "title", "value": format!("t{i}")}]}),
                            )
                            .status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let got = s.request().bearer(&token).get(&path).json();
        assert_eq!(got["meta"]["version"], "W/\"17\"", "{got}");

        // With If-Match on the same version: exactly one wins, the rest 412.
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (token, path) = (&token, &path);
                    scope.spawn(move || {
                        s.request()
                            .bearer(token)
                            .header("If-Match", "W/\"17\"")
                            .json(
                                "PATCH",
                                path,
                                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                        "Operations": [{"op": "Replace", "path": "title", "value": format!("x{i}")}]}),
                            )
                            .status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 412).count(),
            7,
            "{statuses:?}"
        );
    });
}
