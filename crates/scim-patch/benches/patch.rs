//! `cargo bench -p scim-patch -- --warm-up-time 1 --measurement-time 2`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_model::messages::PatchRequest;
use scim_model::schema::{GROUP, USER};
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "id": "7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10",
        "externalId": "b7e2f0c4",
        "userName": "nora.lind@fabrikam.example",
        "active": true,
        "displayName": "Nora Lind",
        "name": {"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nora"},
        "emails": [
            {"value": "nora.lind@fabrikam.example", "type": "work", "primary": true},
            {"value": "nora@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"type": "mobile", "value": "+46 70 555 01 23"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E-4411", "department": "Finance"},
        "meta": {"resourceType": "User", "created": "2026-11-02T09:14:07Z", "version": "W/\"1\""}
    })
}

fn bench(c: &mut Criterion) {
    let u = user();
    let legacy: PatchRequest = serde_json::from_value(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Kemi Okafor"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "k.okafor@fabrikam.example"},
            {"op": "Replace", "path": "name.givenName", "value": "Kemi"},
            {"op": "Replace", "path": "name.familyName", "value": "Okafor"},
            {"op": "Replace", "path": "externalId", "value": "5e1c2a7b"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "E-5120"}
        ]
    }))
    .unwrap();
    c.bench_function("user_legacy_6_ops", |b| {
        b.iter(|| scim_patch::apply(black_box(&u), &USER, black_box(&legacy)).unwrap())
    });

    let g = json!({"id": "c51e0f77", "displayName": "Finance Vault Users", "meta": {"resourceType": "Group"}});
    let members: Vec<Value> = (0..100)
        .map(|i| json!({"$ref": null, "value": format!("00000000-0000-4000-8000-{i:012}")}))
        .collect();
    let add: PatchRequest = serde_json::from_value(json!({
        "Operations": [{"op": "Add", "path": "members", "value": members}]
    }))
    .unwrap();
    c.bench_function("group_add_100_members", |b| {
        b.iter(|| scim_patch::apply(black_box(&g), &GROUP, black_box(&add)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
