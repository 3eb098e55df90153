//! Reads arbitrary bytes as a whole SCIM request body, the way the server does
//! before any database work: as a User and a Group (`normalize`, required
//! attributes, the output pass), as a PATCH request applied to a user and a
//! group, and as a Bulk request whose operations' bodies go through the same
//! checks. Must never panic; a normalized resource never keeps `password`,
//! `id` or `meta`, and normalizing it again gives the same document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::messages::{BulkRequest, PatchRequest};
use scim_model::resource::{NormalizeOptions, check_required, finish_output, normalize};
use scim_model::schema::{GROUP, ResourceType, USER};
use serde_json::{Value, json};

fn resource(rt: &ResourceType, body: &Value) {
    let Ok(doc) = normalize(rt, body, NormalizeOptions::default()) else {
        return;
    };
    assert!(doc.get("password").is_none());
    assert!(doc.get("id").is_none());
    assert!(doc.get("meta").is_none());
    let again = normalize(rt, &doc, NormalizeOptions::default());
    assert_eq!(again.as_ref().ok(), Some(&doc), "normalize is idempotent");
    if check_required(rt, &doc).is_ok() {
        let mut out = doc;
        finish_output(rt, &mut out);
        assert!(out["schemas"].is_array());
    }
}

fn patch(req: &PatchRequest) {
    let user = json!({"id": "u1", "userName": "a@example.net", "active": true,
                      "emails": [{"value": "a@example.net", "primary": true}]});
    let _ = scim_patch::apply(&user, &USER, req);
    let group = json!({"id": "g1", "displayName": "G"});
    let _ = scim_patch::apply(&group, &GROUP, req);
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    resource(&USER, &body);
    resource(&GROUP, &body);
    if let Ok(req) = serde_json::from_value::<PatchRequest>(body.clone()) {
        patch(&req);
    }
    if let Ok(bulk) = serde_json::from_value::<BulkRequest>(body) {
        for op in &bulk.operations {
            let Some(data) = &op.data else { continue };
            let rt = if op.path.starts_with("/Groups") { &GROUP } else { &USER };
            match op.method.to_ascii_uppercase().as_str() {
                "PATCH" => {
                    if let Ok(req) = serde_json::from_value::<PatchRequest>(data.clone()) {
                        patch(&req);
                    }
                }
                _ => resource(rt, data),
            }
        }
    }
});
