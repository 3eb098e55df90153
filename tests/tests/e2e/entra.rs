//! The Entra ID request sequences of `docs/entra-id.md` (Test connection, a
//! provisioning cycle), in the legacy dialect
//! (capitalised ops, string booleans, member removal by value array) and the
//! compliant one (`aadOptscim062020`: lower-case ops, path-less replace with
//! dotted and URN keys, member removal by filter path), on both backends.

use serde_json::{Value, json};

use crate::harness::{Server, on_both};

const T: &str = "/scim/v2/acme";

fn nora(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "b7e2f0c4-2f1d-4a55-9a0e-6d0c2a1f9e31",
        "userName": user_name,
        "active": true,
        "displayName": "Nora Lind",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nora"},
        "title": "Controller",
        "phoneNumbers": [{"type": "mobile", "value": "+46 70 555 01 23"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "E-4411", "department": "Finance"
        },
        "roles": []
    })
}

fn filter_count(s: &Server, token: &str, query: &str) -> u64 {
    let r = s.request().bearer(token).get(&format!("{T}/Users?{query}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["totalResults"].as_u64().unwrap()
}

pub(crate) fn test_connection(s: &Server, token: &str) {
    // No Accept, no Content-Type, no User-Agent; '+' for spaces; an unknown flag.
    let r = s.request().bearer(token).get(&format!(
        "{T}/Users?filter=userName+eq+%2275a1c2de-0b7e-4c1a-9f3e-2d1f0c9b8a77%22&aadOptscim062020"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        r.json(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
               "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );
    // The group probe, both ways.
    let r = s.request().bearer(token).get(&format!(
        "{T}/Groups?excludedAttributes=members&filter=displayName+eq+%2275a1c2de%22"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["totalResults"], 0);
    s.request()
        .bearer(token)
        .get(&format!("{T}/Groups/75a1c2de-0b7e-4c1a-9f3e-2d1f0c9b8a77"))
        .assert_error(404, None);
}

pub(crate) fn user_lifecycle(s: &Server, token: &str, legacy: bool) {
    let user_name = if legacy {
        "nora.lind@fabrikam.example"
    } else {
        "kemi.okafor@fabrikam.example"
    };
    let req = s
        .request()
        .bearer(token)
        .header("Content-Type", "application/scim+json");

    // Create.
    let r = req.json("POST", &format!("{T}/Users"), &nora(user_name));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://scim.example.net{T}/Users/{id}")
    );
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert_eq!(created["active"], true);
    assert_eq!(created["userName"], user_name);
    assert_eq!(
        created["phoneNumbers"][0]["value"], "+46 70 555 01 23",
        "values round-trip as sent"
    );
    assert_eq!(
        created["urn:ietf:params:scim:schemas:extension:provisioning:2.0:User"]["status"],
        "Staged"
    );
    assert!(created.get("roles").is_none());
    assert!(created["meta"]["created"].is_string());

    // Query by userName in another case; by externalId; by work email.
    assert_eq!(
        filter_count(
            s,
            token,
            &format!("filter=userName+eq+%22{}%22", user_name.to_uppercase())
        ),
        1
    );
    assert_eq!(
        filter_count(
            s,
            token,
            "filter=externalId+eq+%22b7e2f0c4-2f1d-4a55-9a0e-6d0c2a1f9e31%22"
        ),
        1
    );
    assert_eq!(
        filter_count(
            s,
            token,
            "filter=externalId+eq+%22B7E2F0C4-2F1D-4A55-9A0E-6D0C2A1F9E31%22"
        ),
        0
    );
    assert_eq!(
        filter_count(
            s,
            token,
            &format!("filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22{user_name}%22")
        ),
        1
    );

    // A second POST with the same userName in another case: 409 uniqueness.
    let r = req.json(
        "POST",
        &format!("{T}/Users"),
        &nora(&user_name.to_uppercase()),
    );
    r.assert_error(409, Some("uniqueness"));

    // Update.
    let update = if legacy {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "nora.lind-berg@fabrikam.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Lind-Berg"},
            {"op": "Add", "path": "nickName", "value": "Nor"}
        ]})
    } else {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "nora.lind-berg@fabrikam.example"},
            {"op": "replace", "value": {
                "displayName": "Nora Lind-Berg",
                "name.familyName": "Lind-Berg",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E-5120"
            }}
        ]})
    };
    let r = req.json("PATCH", &format!("{T}/Users/{id}"), &update);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let u = r.json();
    assert_eq!(u["emails"][0]["value"], "nora.lind-berg@fabrikam.example");
    assert_eq!(u["name"]["familyName"], "Lind-Berg");
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    if !legacy {
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "E-5120"
        );
    }
    // The same PATCH again changes nothing: no new version.
    let r = req.json("PATCH", &format!("{T}/Users/{id}"), &update);
    assert_eq!(r.header("etag"), Some("W/\"2\""));

    // Rename: found by the new userName, not by the old one.
    let new_name = format!("x.{user_name}");
    let op = if legacy { "Replace" } else { "replace" };
    let r = req.json(
        "PATCH",
        &format!("{T}/Users/{id}"),
        &json!({"Operations": [{"op": op, "path": "userName", "value": new_name}]}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        filter_count(s, token, &format!("filter=userName+eq+%22{new_name}%22")),
        1
    );
    assert_eq!(
        filter_count(s, token, &format!("filter=userName+eq+%22{user_name}%22")),
        0
    );

    // Disable.
    let disable = if legacy {
        json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    } else {
        json!({"Operations": [{"op": "replace", "value": {"active": false}}]})
    };
    let r = req.json("PATCH", &format!("{T}/Users/{id}"), &disable);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["active"], false);
    let got = req.get(&format!("{T}/Users/{id}")).json();
    assert_eq!(got["active"], false);
    assert_eq!(
        got["urn:ietf:params:scim:schemas:extension:provisioning:2.0:User"]["status"],
        "Suspended"
    );
    let list = req
        .get(&format!("{T}/Users?filter=userName+eq+%22{new_name}%22"))
        .json();
    assert_eq!(
        list["Resources"][0]["active"], false,
        "disabled users stay visible with active"
    );

    // Garbage for active is rejected and changes nothing.
    let r = req.json(
        "PATCH",
        &format!("{T}/Users/{id}"),
        &json!({"Operations": [{"op": "Replace", "path": "active", "value": "no"}]}),
    );
    r.assert_error(400, Some("invalidValue"));

    // Reactivate: the earlier status comes back.
    let enable = if legacy {
        json!({"Operations": [{"op": "Replace", "path": "active", "value": "True"}]})
    } else {
        json!({"Operations": [{"op": "replace", "path": "active", "value": true}]})
    };
    let r = req.json("PATCH", &format!("{T}/Users/{id}"), &enable);
    assert_eq!(r.status, 200);
    let u = r.json();
    assert_eq!(u["active"], true);
    assert_eq!(
        u["urn:ietf:params:scim:schemas:extension:provisioning:2.0:User"]["status"],
        "Staged"
    );

    // Delete: 204, then 404 and 0 results; the userName is free again.
    let r = req.delete(&format!("{T}/Users/{id}"));
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    req.get(&format!("{T}/Users/{id}")).assert_error(404, None);
    assert_eq!(
        filter_count(s, token, &format!("filter=userName+eq+%22{new_name}%22")),
        0
    );
    let r = req.json("POST", &format!("{T}/Users"), &nora(&new_name));
    assert_eq!(r.status, 201);
    assert_eq!(
        req.delete(&format!("{T}/Users/{}", r.json()["id"].as_str().unwrap()))
            .status,
        204
    );
}

fn create_user(s: &Server, token: &str, user_name: &str) -> String {
    let r = s.request().bearer(token).json(
        "POST",
        &format!("{T}/Users"),
        &json!({"userName": user_name}),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_owned()
}

fn member_ids(s: &Server, token: &str, gid: &str) -> Vec<String> {
    let g = s
        .request()
        .bearer(token)
        .get(&format!("{T}/Groups/{gid}"))
        .json();
    let mut ids: Vec<String> = g["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

pub(crate) fn group_lifecycle(s: &Server, token: &str, legacy: bool) {
    let req = s.request().bearer(token);
    let prefix = if legacy { "legacy" } else { "compliant" };
    let mut users: Vec<String> = (0..3)
        .map(|i| create_user(s, token, &format!("{prefix}-{i}@fabrikam.example")))
        .collect();
    users.sort();

    let name = format!("Finance Vault Users {prefix}");
    let r = req.json(
        "POST",
        &format!("{T}/Groups"),
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "3d9c41a0-8e62-4f0b-b1c7-59e0d2a4f688",
            "displayName": name,
            "meta": {"resourceType": "Group"}
        }),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let g = r.json();
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(
        g["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );

    // Reads with excludedAttributes=members carry no members key.
    let got = req
        .get(&format!("{T}/Groups/{gid}?excludedAttributes=members"))
        .json();
    assert!(got.get("members").is_none(), "{got}");
    let q = format!(
        "{T}/Groups?excludedAttributes=members&filter=displayName+eq+%22{}%22",
        name.replace(' ', "+")
    );
    let list = req.get(&q).json();
    assert_eq!(list["totalResults"], 1);
    assert!(list["Resources"][0].get("members").is_none());

    // Add members ($ref: null), twice (redundant adds are idempotent).
    let (add, remove_op) = if legacy {
        ("Add", "Remove")
    } else {
        ("add", "remove")
    };
    let add_body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": add, "path": "members", "value": users.iter().map(|u| json!({"$ref": null, "value": u})).collect::<Vec<_>>()}
    ]});
    for _ in 0..2 {
        let r = req.json("PATCH", &format!("{T}/Groups/{gid}"), &add_body);
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
        assert!(r.body.is_empty());
    }
    assert_eq!(member_ids(s, token, &gid), users);

    // Remove exactly one member.
    let remove = if legacy {
        json!({"Operations": [{"op": remove_op, "path": "members", "value": [{"$ref": null, "value": users[0]}]}]})
    } else {
        json!({"Operations": [{"op": remove_op, "path": format!("members[value eq \"{}\"]", users[0])}]})
    };
    assert_eq!(
        req.json("PATCH", &format!("{T}/Groups/{gid}"), &remove)
            .status,
        204
    );
    assert_eq!(member_ids(s, token, &gid), users[1..].to_vec());

    // A nested group or an unknown id: 400 invalidValue, nothing applied.
    let other = req
        .json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": format!("{prefix} nested")}),
        )
        .json();
    let nested = json!({"Operations": [{"op": add, "path": "members", "value": [
        {"value": users[0]}, {"value": other["id"]}
    ]}]});
    let refused = req
        .json("PATCH", &format!("{T}/Groups/{gid}"), &nested)
        .assert_error(400, Some("invalidValue"));
    // The message names the member that is a group.
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains(other["id"].as_str().unwrap()),
        "{refused}"
    );
    let unknown = json!({"Operations": [{"op": add, "path": "members", "value": [
        {"value": users[0]}, {"value": "0c1d2e3f-aaaa-bbbb-cccc-000000000000"}
    ]}]});
    req.json("PATCH", &format!("{T}/Groups/{gid}"), &unknown)
        .assert_error(400, Some("invalidValue"));
    assert_eq!(member_ids(s, token, &gid), users[1..].to_vec());

    // Rename, then the group is found by its new name.
    let op = if legacy { "Replace" } else { "replace" };
    let renamed = format!("{name} (EMEA)");
    let r = req.json(
        "PATCH",
        &format!("{T}/Groups/{gid}"),
        &json!({"Operations": [{"op": op, "path": "displayName", "value": renamed}]}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        req.get(&format!("{T}/Groups/{gid}")).json()["displayName"],
        renamed
    );
    // With attributes asked for, PATCH answers 200 with the group.
    let r = req.json(
        "PATCH",
        &format!("{T}/Groups/{gid}?attributes=displayName"),
        &json!({"Operations": [{"op": op, "path": "externalId", "value": "x-1"}]}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["displayName"], renamed);

    // Deleting a user removes it from the group.
    assert_eq!(req.delete(&format!("{T}/Users/{}", users[1])).status, 204);
    assert_eq!(member_ids(s, token, &gid), users[2..].to_vec());

    // Delete the group.
    assert_eq!(req.delete(&format!("{T}/Groups/{gid}")).status, 204);
    req.get(&format!("{T}/Groups/{gid}"))
        .assert_error(404, None);
}

#[test]
fn entra_legacy_dialect() {
    on_both(|s| {
        let token = s.tenant("acme");
        test_connection(s, &token);
        user_lifecycle(s, &token, true);
        group_lifecycle(s, &token, true);
    });
}

#[test]
fn entra_compliant_dialect() {
    on_both(|s| {
        let token = s.tenant("acme");
        test_connection(s, &token);
        user_lifecycle(s, &token, false);
        group_lifecycle(s, &token, false);
    });
}
