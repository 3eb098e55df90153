//! Filter benchmarks. `parse`: parsing the filters Entra ID sends; `eval`:
//! compiling them against the User schema and matching a user.
//!
//! Run: `cargo bench -p scim-model --bench filter -- --warm-up-time 1 --measurement-time 2`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_model::filter::parse_filter;
use scim_model::schema::USER;
use serde_json::json;

const USER_NAME: &str = r#"userName eq "nora.lind@fabrikam.example""#;
const VALUE_PATH: &str =
    r#"emails[type eq "work" and value co "@example.com" and primary eq true]"#;

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.bench_function("userName_eq", |b| {
        b.iter(|| parse_filter(black_box(USER_NAME)))
    });
    g.bench_function("value_path_3_clauses", |b| {
        b.iter(|| parse_filter(black_box(VALUE_PATH)))
    });
    g.finish();
}

fn bench_eval(c: &mut Criterion) {
    let user = json!({
        "id": "7f3a9d1e",
        "userName": "Nora.Lind@fabrikam.example",
        "active": true,
        "emails": [
            {"value": "nora@home.example", "type": "home"},
            {"value": "nora.lind@example.com", "type": "work", "primary": true}
        ],
        "meta": {"created": "2026-11-02T09:14:07Z"}
    });
    let mut g = c.benchmark_group("eval");
    for (name, text) in [
        ("userName_eq", USER_NAME),
        ("value_path_3_clauses", VALUE_PATH),
    ] {
        let filter = parse_filter(text).unwrap();
        let compiled = filter.compile(&USER).unwrap();
        assert!(compiled.matches(&user), "{name} must match the sample user");
        g.bench_function(format!("compile_{name}"), |b| {
            b.iter(|| black_box(&filter).compile(&USER))
        });
        g.bench_function(format!("match_{name}"), |b| {
            b.iter(|| compiled.matches(black_box(&user)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse, bench_eval);
criterion_main!(benches);
