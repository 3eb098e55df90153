//! A user's `groups` (RFC 7643 §4.1.2): read-only, returned by default, the
//! user's direct groups; filterable, in SQL, on both backends.

use serde_json::{Value, json};

use crate::harness::{Server, on_both};

const T: &str = "/scim/v2/acme";

fn post(s: &Server, token: &str, path: &str, body: &Value) -> String {
    let r = s
        .request()
        .bearer(token)
        .json("POST", &format!("{T}{path}"), body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_owned()
}

fn user_names(s: &Server, token: &str, filter: &str) -> Vec<String> {
    let q = filter.replace(' ', "%20").replace('"', "%22");
    let r = s
        .request()
        .bearer(token)
        .get(&format!("{T}/Users?filter={q}&sortBy=userName"));
    assert_eq!(
        r.status,
        200,
        "{filter}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect()
}

fn group_names(user: &Value) -> Vec<String> {
    user["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|g| g["display"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn users_show_their_direct_groups_and_filters_on_groups_run() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let u1 = post(s, &token, "/Users", &json!({"userName": "u1@example.net"}));
        let u2 = post(s, &token, "/Users", &json!({"userName": "u2@example.net"}));
        let _u3 = post(s, &token, "/Users", &json!({"userName": "u3@example.net"}));
        let eng = post(
            s,
            &token,
            "/Groups",
            &json!({"displayName": "Engineering", "members": [{"value": u1}, {"value": u2}]}),
        );
        let ops = post(
            s,
            &token,
            "/Groups",
            &json!({"displayName": "Operations", "members": [{"value": u2}]}),
        );

        // Reads: every shape, with value, $ref, display and type.
        let got = req.get(&format!("{T}/Users/{u2}")).json();
        assert_eq!(group_names(&got), ["Engineering", "Operations"], "{got}");
        let first = &got["groups"][0];
        assert_eq!(first["value"], eng.as_str());
        assert_eq!(
            first["$ref"],
            format!("https://scim.example.net{T}/Groups/{eng}")
        );
        assert_eq!(first["type"], "direct");
        let listed = req.get(&format!("{T}/Users?sortBy=userName")).json();
        let all: Vec<Vec<String>> = listed["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(group_names)
            .collect();
        assert_eq!(
            all,
            vec![
                vec!["Engineering".to_owned()],
                vec!["Engineering".to_owned(), "Operations".to_owned()],
                vec![]
            ]
        );
        let lookup = req
            .get(&format!(
                "{T}/Users?filter=userName%20eq%20%22u1@example.net%22"
            ))
            .json();
        assert_eq!(group_names(&lookup["Resources"][0]), ["Engineering"]);
        let excluded = req
            .get(&format!("{T}/Users/{u2}?excludedAttributes=groups"))
            .json();
        assert!(excluded.get("groups").is_none(), "{excluded}");
        let only = req.get(&format!("{T}/Users/{u2}?attributes=groups")).json();
        assert_eq!(group_names(&only), ["Engineering", "Operations"]);
        let searched = req
            .json(
                "POST",
                &format!("{T}/.search"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "userName eq \"u2@example.net\""}),
            )
            .json();
        assert_eq!(
            group_names(&searched["Resources"][0]),
            ["Engineering", "Operations"]
        );

        // Filters.
        let both = ["u1@example.net", "u2@example.net"];
        assert_eq!(
            user_names(s, &token, &format!("groups.value eq \"{eng}\"")),
            both
        );
        assert_eq!(
            user_names(s, &token, &format!("groups eq \"{ops}\"")),
            ["u2@example.net"]
        );
        assert_eq!(
            user_names(s, &token, "groups.display eq \"engineering\""),
            both
        );
        assert_eq!(
            user_names(s, &token, "groups[display sw \"Op\"]"),
            ["u2@example.net"]
        );
        assert_eq!(user_names(s, &token, "groups pr"), both);
        assert_eq!(user_names(s, &token, "not (groups pr)"), ["u3@example.net"]);
        assert_eq!(
            user_names(s, &token, &format!("groups.value ne \"{eng}\"")),
            ["u3@example.net"]
        );
        assert_eq!(
            user_names(
                s,
                &token,
                &format!("groups.value eq \"{ops}\" or userName eq \"u1@example.net\"")
            ),
            both
        );
        let r = req.get(&format!("{T}/Users?filter=groups.type%20eq%20%22direct%22"));
        r.assert_error(400, Some("invalidFilter"));

        // Writes keep it right: member removal, PUT and PATCH responses, group delete.
        let removed = req.json(
            "PATCH",
            &format!("{T}/Groups/{eng}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]}),
        );
        assert!(removed.status == 204 || removed.status == 200);
        let put = req
            .json(
                "PUT",
                &format!("{T}/Users/{u2}"),
                &json!({"userName": "u2@example.net", "displayName": "Two"}),
            )
            .json();
        assert_eq!(group_names(&put), ["Operations"], "{put}");
        let patched = req
            .json(
                "PATCH",
                &format!("{T}/Users/{u1}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": "One"}]}),
            )
            .json();
        assert_eq!(group_names(&patched), ["Engineering"], "{patched}");
        assert_eq!(req.delete(&format!("{T}/Groups/{ops}")).status, 204);
        let after = req.get(&format!("{T}/Users/{u2}")).json();
        assert!(after.get("groups").is_none(), "{after}");
        // `groups` is read-only: a client's value is ignored, never stored.
        let ignored = req
            .json(
                "PUT",
                &format!("{T}/Users/{u2}"),
                &json!({"userName": "u2@example.net", "groups": [{"value": eng}]}),
            )
            .json();
        assert!(ignored.get("groups").is_none(), "{ignored}");
    });
}
