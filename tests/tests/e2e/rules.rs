//! Product rules (`docs/provisioning-core.md`) at the edges the dialect tests do not reach.

use serde_json::{Value, json};

use crate::harness::{Server, on_both};

const T: &str = "/scim/v2/acme";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User";

fn create(s: &Server, token: &str, user_name: &str) -> String {
    let r = s.request().bearer(token).json(
        "POST",
        &format!("{T}/Users"),
        &json!({"userName": user_name}),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_owned()
}

fn status(s: &Server, token: &str, id: &str) -> Value {
    let u = s
        .request()
        .bearer(token)
        .get(&format!("{T}/Users/{id}"))
        .json();
    json!([u["active"], u[EXT]["status"]])
}

/// Deactivation wins even when the rest of the request is rejected by the
/// store (a userName taken by another user), not only by the PATCH engine.
#[test]
fn deactivation_wins_over_a_taken_user_name() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        create(s, &token, "taken@example.net");
        let a = create(s, &token, "leaver-a@example.net");
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{a}"),
            &json!({"Operations": [
                {"op": "Replace", "path": "userName", "value": "TAKEN@example.net"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]}),
        );
        r.assert_error(409, Some("uniqueness"));
        assert_eq!(status(s, &token, &a), json!([false, "Suspended"]));
        let u = req.get(&format!("{T}/Users/{a}")).json();
        assert_eq!(
            u["userName"], "leaver-a@example.net",
            "the rename is not applied"
        );

        let b = create(s, &token, "leaver-b@example.net");
        let r = req.json(
            "PUT",
            &format!("{T}/Users/{b}"),
            &json!({"userName": "taken@example.net", "active": false}),
        );
        r.assert_error(409, Some("uniqueness"));
        assert_eq!(status(s, &token, &b), json!([false, "Suspended"]));
        let u = req.get(&format!("{T}/Users/{b}")).json();
        assert_eq!(
            u["userName"], "leaver-b@example.net",
            "the rename is not applied"
        );

        // Without a deactivation the conflict changes nothing (atomic).
        let c = create(s, &token, "stayer@example.net");
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{c}"),
            &json!({"Operations": [{"op": "replace", "path": "userName", "value": "taken@example.net"}]}),
        );
        r.assert_error(409, Some("uniqueness"));
        assert_eq!(status(s, &token, &c), json!([true, "Staged"]));
    });
}
