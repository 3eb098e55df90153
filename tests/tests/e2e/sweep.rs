//! Every attribute and sub-attribute that `/Schemas` advertises, with every
//! filter operator, and as `sortBy`, `attributes` and `excludedAttributes`, on
//! `/Users` and `/Groups`: no request answers 5xx (a filter the server cannot
//! run is `400 invalidFilter`), on both backends.

use serde_json::{Value, json};

use crate::harness::on_both;

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Attribute paths of a schema document: `name` and `name.sub`, URN-qualified
/// for extensions.
fn paths(schema: &Value, core: bool) -> Vec<String> {
    let urn = schema["id"].as_str().unwrap();
    let mut out = Vec::new();
    for a in schema["attributes"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let top = if core {
            name.to_owned()
        } else {
            format!("{urn}:{name}")
        };
        out.push(top.clone());
        for sub in a["subAttributes"].as_array().into_iter().flatten() {
            out.push(format!("{top}.{}", sub["name"].as_str().unwrap()));
        }
    }
    out
}

#[test]
fn every_advertised_attribute_with_every_operator_never_answers_5xx() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = || s.request().bearer(&token);
        // Some data, so the filters have rows to run over.
        let u = req().json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "sweep@example.net",
                    "emails": [{"value": "sweep@example.net", "type": "work"}], "title": "t"}),
        );
        let uid = u.json()["id"].as_str().unwrap().to_owned();
        req().json(
            "POST",
            "/scim/v2/acme/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sweep", "members": [{"value": uid}]}),
        );
        let types = req().get("/scim/v2/acme/ResourceTypes").json();
        let schemas = req().get("/scim/v2/acme/Schemas").json();
        let schema = |id: &str| {
            schemas["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == id)
                .cloned()
                .unwrap()
        };
        let mut requests = 0;
        let mut failures = Vec::new();
        for rt in types["Resources"].as_array().unwrap() {
            let endpoint = rt["endpoint"].as_str().unwrap();
            let mut all = paths(&schema(rt["schema"].as_str().unwrap()), true);
            for ext in rt["schemaExtensions"].as_array().into_iter().flatten() {
                all.extend(paths(&schema(ext["schema"].as_str().unwrap()), false));
            }
            for path in &all {
                let mut queries: Vec<String> =
                    ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
                        .iter()
                        .flat_map(|op| {
                            [
                                format!("filter={}", enc(&format!("{path} {op} \"x\""))),
                                format!("filter={}", enc(&format!("{path} {op} true"))),
                                format!("filter={}", enc(&format!("{path} {op} 1"))),
                            ]
                        })
                        .collect();
                queries.push(format!("filter={}", enc(&format!("{path} pr"))));
                queries.push(format!("sortBy={}", enc(path)));
                queries.push(format!("attributes={}", enc(path)));
                queries.push(format!("excludedAttributes={}", enc(path)));
                for q in queries {
                    let url = format!("/scim/v2/acme{endpoint}?{q}");
                    let r = req().get(&url);
                    requests += 1;
                    if r.status >= 500 {
                        failures.push(format!(
                            "{} {url}: {}",
                            r.status,
                            String::from_utf8_lossy(&r.body)
                        ));
                    }
                }
            }
        }
        assert!(requests > 1000, "{requests} requests");
        assert!(
            failures.is_empty(),
            "{} of {requests} answered 5xx:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
}
