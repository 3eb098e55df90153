//! The rest of the RFC 7644 surface that Okta, the Microsoft SCIM Validator and
//! generic clients use: PUT, paging, sorting, projections, POST .search.

use serde_json::{Value, json};

use crate::harness::{Server, on_both};

const T: &str = "/scim/v2/acme";

fn create(s: &Server, token: &str, body: Value) -> Value {
    let r = s
        .request()
        .bearer(token)
        .json("POST", &format!("{T}/Users"), &body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

#[test]
fn okta_style_put_replaces_keeps_active_and_never_stores_passwords() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let u = create(
            s,
            &token,
            json!({"userName": "okta@example.net", "name": {"givenName": "O", "familyName": "K"},
                   "emails": [{"value": "okta@example.net", "primary": true, "type": "work"}],
                   "password": "t0p-s3cret!", "locale": "en-US", "groups": [], "active": true}),
        );
        let id = u["id"].as_str().unwrap().to_owned();
        assert!(u.get("password").is_none());
        assert!(u.get("groups").is_none());
        // PUT without `active` leaves it; attributes not sent are gone.
        let r = req.json(
            "PUT",
            &format!("{T}/Users/{id}"),
            &json!({"userName": "okta@example.net", "name": {"givenName": "Olga"}, "password": "n3w-s3cret!"}),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let u = r.json();
        assert_eq!(u["active"], true);
        assert_eq!(u["name"], json!({"givenName": "Olga"}));
        assert!(u.get("emails").is_none());
        assert!(u.get("locale").is_none());
        assert_eq!(r.header("etag"), Some("W/\"2\""));
        // PUT with active false suspends (Okta AIW deactivation).
        let r = req.json(
            "PUT",
            &format!("{T}/Users/{id}"),
            &json!({"userName": "okta@example.net", "active": false}),
        );
        assert_eq!(r.json()["active"], false);
        assert_eq!(
            r.json()["urn:ietf:params:scim:schemas:extension:provisioning:2.0:User"]["status"],
            "Suspended"
        );
        // The password was never stored anywhere in the user's row.
        let tenant_id =
            s.db.store()
                .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
                .unwrap()
                .id;
        let rec =
            s.db.store()
                .with_conn(|c| store_diesel::users::get(c, &tenant_id, &id))
                .unwrap();
        let row = format!("{} {}", rec.document, rec.lifecycle);
        assert!(!row.contains("s3cret"), "{row}");
        // PUT of an unknown id: 404.
        req.json(
            "PUT",
            &format!("{T}/Users/nope"),
            &json!({"userName": "x@y.z"}),
        )
        .assert_error(404, None);
    });
}

#[test]
fn paging_sorting_projection_and_search() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        for i in 0..12 {
            create(
                s,
                &token,
                json!({"userName": format!("user-{i:02}@example.net"), "title": if i % 2 == 0 { "even" } else { "odd" },
                       "displayName": format!("User {}", 11 - i)}),
            );
        }
        // The SCIM Validator's walk: startIndex echoes, pages of 5, integers.
        let mut seen = Vec::new();
        for start in [1, 6, 11] {
            let page = req
                .get(&format!(
                    "{T}/Users?startIndex={start}&count=5&sortBy=userName"
                ))
                .json();
            assert_eq!(page["startIndex"], start);
            assert_eq!(page["totalResults"], 12);
            assert_eq!(
                page["itemsPerPage"],
                page["Resources"].as_array().unwrap().len()
            );
            for u in page["Resources"].as_array().unwrap() {
                seen.push(u["userName"].as_str().unwrap().to_owned());
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
        assert_eq!(seen.len(), 12);
        // Descending by displayName, with a non-indexed filter and a projection.
        let page = req
            .get(&format!(
                "{T}/Users?filter=title+eq+%22even%22&sortBy=displayName&sortOrder=descending&attributes=displayName"
            ))
            .json();
        assert_eq!(page["totalResults"], 6);
        let names: Vec<&str> = page["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["displayName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["User 9", "User 7", "User 5", "User 3", "User 11", "User 1"]
        );
        let first = &page["Resources"][0];
        assert!(first.get("userName").is_none(), "projection: {first}");
        assert!(
            first.get("id").is_some() && first.get("active").is_some(),
            "returned: always"
        );
        // count=0: only the total.
        let page = req.get(&format!("{T}/Users?count=0")).json();
        assert_eq!(page["totalResults"], 12);
        assert_eq!(page["Resources"], json!([]));
        // POST /Users/.search and the root /.search.
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                          "filter": "userName sw \"user-1\"", "sortBy": "userName", "count": 10,
                          "attributes": ["userName"]});
        let r = req.json("POST", &format!("{T}/Users/.search"), &body);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["totalResults"], 2);
        req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": "user-1 group"}),
        );
        let root = req
            .json(
                "POST",
                &format!("{T}/.search"),
                &json!({"filter": "displayName sw \"User 1\"", "count": 50}),
            )
            .json();
        assert_eq!(root["totalResults"], 3, "{root}"); // User 1, User 10, User 11
        let root = req
            .json(
                "POST",
                &format!("{T}/.search"),
                &json!({"filter": "meta.created pr"}),
            )
            .json();
        assert_eq!(root["totalResults"], 13, "users and groups: {root}");
        // Bad paging parameters and sort attributes.
        req.get(&format!("{T}/Users?count=many"))
            .assert_error(400, Some("invalidValue"));
        req.get(&format!("{T}/Users?sortBy=shoeSize"))
            .assert_error(400, Some("invalidPath"));
    });
}

#[test]
fn group_put_replaces_members() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let a = create(s, &token, json!({"userName": "a@example.net"}))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let b = create(s, &token, json!({"userName": "b@example.net"}))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": "G", "members": [{"value": a}]}),
        );
        assert_eq!(r.status, 201);
        let g = r.json();
        let gid = g["id"].as_str().unwrap().to_owned();
        assert_eq!(g["members"][0]["value"], a.as_str());
        let r = req.json(
            "PUT",
            &format!("{T}/Groups/{gid}"),
            &json!({"displayName": "G2", "members": [{"value": b}]}),
        );
        assert_eq!(r.status, 200);
        let g = r.json();
        assert_eq!(g["displayName"], "G2");
        assert_eq!(g["members"].as_array().unwrap().len(), 1);
        assert_eq!(g["members"][0]["value"], b.as_str());
        assert_eq!(
            g["members"][0]["$ref"],
            format!("https://scim.example.net{T}/Users/{b}")
        );
        // Group displayName is unique per tenant, case-insensitively.
        req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": "g2"}),
        )
        .assert_error(409, Some("uniqueness"));
        // Group filter on members.
        let q =
            format!("{T}/Groups?filter=members%5Bvalue+eq+%22{b}%22%5D&excludedAttributes=members");
        let list = req.get(&q).json();
        assert_eq!(list["totalResults"], 1);
        assert!(list["Resources"][0].get("members").is_none());
    });
}
