//! Filter benchmarks. `parse`: parsing the filters Entra ID sends.
//!
//! Run: `cargo bench -p scim-model --bench filter -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_model::filter::parse_filter;

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

criterion_group!(parse, bench_parse);
criterion_main!(parse);
