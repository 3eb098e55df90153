//! `GET /admin/v1/openapi.json`: served without a token, and every operation
//! it describes reaches a registered handler on the real server (never the
//! admin API's "no such route" 404 or a 405). The unit test in
//! `scim_http::admin` checks the other direction (every registered route is
//! described).

use crate::harness::{ADMIN, on_both_with_admin};

#[test]
fn the_openapi_document_is_served_and_every_operation_is_routed() {
    on_both_with_admin(|s| {
        let r = s.request().get("/admin/v1/openapi.json");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let doc = r.json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc,
            serde_json::from_str::<serde_json::Value>(scim_http::admin::OPENAPI_JSON).unwrap()
        );
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            // A tenant that does not exist: the handlers answer 404 for it
            // and change nothing.
            let concrete = path
                .replace("{t}", "no-such-tenant")
                .replace("{id}", "no-such-id")
                .replace("{user}", "no-such-user");
            for method in item.as_object().unwrap().keys() {
                let method = method.to_ascii_uppercase();
                let r = s.request().bearer(ADMIN).send(
                    &method,
                    &format!("/admin/v1{concrete}"),
                    Some(b"{}"),
                );
                let body = String::from_utf8_lossy(&r.body);
                assert_ne!(r.status, 405, "{method} {path}: {body}");
                assert!(
                    !body.contains("no such admin API route"),
                    "{method} {path} is not routed: {body}"
                );
                assert!(r.status < 500, "{method} {path}: {} {body}", r.status);
                checked += 1;
            }
        }
        assert!(checked > 40);
    });
}
