//! Client-controlled sizes and numbers at their limits: the largest filter the
//! parser accepts, and paging numbers near the integer limits. None may crash a
//! worker; each gets a SCIM answer.

use serde_json::json;

use crate::harness::on_both;

const T: &str = "/scim/v2/acme";

/// `<leaf> and <leaf> and ...` as long as the parser's length limit (8 KiB) allows.
fn longest_chain(leaf: &str) -> String {
    let mut f = leaf.to_owned();
    while f.len() + 5 + leaf.len() <= 8192 {
        f.push_str(" and ");
        f.push_str(leaf);
    }
    f
}

/// The deepest filter the parser accepts: 128 `and`/`or` (the operator limit)
/// inside 63 levels of `not (` and `(`, with value paths at the 64th (the nesting limit).
fn deepest_accepted(kind: &str) -> String {
    let leaves = if kind == "Users" {
        [
            "userName pr",
            "title pr",
            "displayName eq \"Deep\"",
            "emails[type pr]",
        ]
    } else {
        [
            "displayName pr",
            "externalId pr",
            "displayName eq \"Deep\"",
            "meta.created pr",
        ]
    };
    let mut chain = String::from(leaves[0]);
    for i in 1..=128 {
        chain.push_str(if i % 3 == 0 { " or " } else { " and " });
        chain.push_str(leaves[i % leaves.len()]);
    }
    format!(
        "{}{}{chain}{}",
        "not (".repeat(32),
        "(".repeat(31),
        ")".repeat(63)
    )
}

#[test]
fn largest_filters_are_answered_on_users_groups_and_search() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let r = req.json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "deep@example.net", "displayName": "Deep"}),
        );
        assert_eq!(r.status, 201);
        let r = req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": "Deep"}),
        );
        assert_eq!(r.status, 201);
        for kind in ["Users", "Groups"] {
            // The longest and/or chain (~900 operators) is refused, not a crash.
            for leaf in ["a pr", "id pr", "displayName pr"] {
                let filter = longest_chain(leaf);
                let r = req.json(
                    "POST",
                    &format!("{T}/{kind}/.search"),
                    &json!({"filter": filter}),
                );
                r.assert_error(400, Some("invalidFilter"));
                let q = filter.replace(' ', "+");
                req.get(&format!("{T}/{kind}?filter={q}"))
                    .assert_error(400, Some("invalidFilter"));
                let r = req.json("POST", &format!("{T}/.search"), &json!({"filter": filter}));
                r.assert_error(400, Some("invalidFilter"));
            }
            // The deepest accepted filter is compiled, translated and evaluated.
            let filter = deepest_accepted(kind);
            let r = req.json(
                "POST",
                &format!("{T}/{kind}/.search"),
                &json!({"filter": filter}),
            );
            assert_eq!(
                r.status,
                200,
                "{kind}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let q = filter
                .replace(' ', "+")
                .replace('"', "%22")
                .replace('[', "%5B")
                .replace(']', "%5D");
            let r = req.get(&format!("{T}/{kind}?filter={q}&sortBy=displayName"));
            assert_eq!(
                r.status,
                200,
                "{kind}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let r = req.json("POST", &format!("{T}/.search"), &json!({"filter": filter}));
            assert_eq!(
                r.status,
                200,
                "{kind}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
    });
}

#[test]
fn paging_numbers_at_the_integer_limits() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let r = req.json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "p@example.net"}),
        );
        assert_eq!(r.status, 201);
        for kind in ["Users", "Groups"] {
            for q in [
                "startIndex=9223372036854775807&count=1000",
                "startIndex=9223372036854775807&count=9223372036854775807",
                "startIndex=-9223372036854775808&count=-9223372036854775808",
                "count=-1",
                "startIndex=0&count=0",
                "startIndex=18446744073709551616",
            ] {
                let r = req.get(&format!("{T}/{kind}?{q}"));
                assert!(
                    r.status == 200 || r.status == 400,
                    "{kind}?{q}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                );
                assert_eq!(r.header("content-type"), Some("application/scim+json"));
            }
            for body in [
                json!({"startIndex": i64::MAX, "count": 1000}),
                json!({"startIndex": i64::MAX, "count": i64::MAX}),
                json!({"startIndex": i64::MIN, "count": -1}),
            ] {
                let r = req.json("POST", &format!("{T}/{kind}/.search"), &body);
                assert_eq!(
                    r.status,
                    200,
                    "{kind} {body}: {}",
                    String::from_utf8_lossy(&r.body)
                );
            }
        }
        for body in [
            json!({"startIndex": i64::MAX, "count": 1000}),
            json!({"startIndex": i64::MAX, "count": i64::MAX}),
        ] {
            let r = req.json("POST", &format!("{T}/.search"), &body);
            assert_eq!(
                r.status,
                200,
                "/.search {body}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
    });
}
