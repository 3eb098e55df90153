#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Table tests for the SCIM filter parser and canonical printer.

use scim_model::filter::{
    CompValue, CompareOp, Filter, FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LEN,
    MAX_FILTER_OPERATORS, parse_filter,
};
use scim_model::path::AttrPath;

// ---- builders -------------------------------------------------------------------------

fn p(s: &str) -> AttrPath {
    AttrPath::parse(s).unwrap()
}

fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: p(path),
        op,
        value,
    }
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.to_owned())
}

fn eq(path: &str, v: &str) -> Filter {
    cmp(path, CompareOp::Eq, s(v))
}

fn n(v: i64) -> CompValue {
    CompValue::Number(v.into())
}

fn pr(path: &str) -> Filter {
    Filter::Present(p(path))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn vp(attr: &str, f: Filter) -> Filter {
    Filter::ValuePath {
        attr: p(attr),
        filter: Box::new(f),
    }
}

/// Parses, checks the expected tree, and checks that the canonical form re-parses to it and
/// is a fixed point of printing.
fn check(input: &str, expected: Filter) {
    let got = parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(got, expected, "input {input:?}");
    let printed = got.to_string();
    assert_eq!(
        parse_filter(&printed).unwrap(),
        expected,
        "printed {printed:?}"
    );
    assert_eq!(parse_filter(&printed).unwrap().to_string(), printed);
}

fn check_canonical(input: &str, canonical: &str) {
    let got = parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(got.to_string(), canonical, "input {input:?}");
}

fn err(input: &str) -> FilterError {
    match parse_filter(input) {
        Ok(f) => panic!("{input:?} parsed as {f:?}"),
        Err(e) => e,
    }
}

fn err_at(input: &str, pos: usize) {
    let e = err(input);
    assert_eq!(e.pos, pos, "{input:?}: {e}");
}

// ---- operators and values -------------------------------------------------------------

#[test]
fn every_operator() {
    for op in CompareOp::ALL {
        let input = format!("title {} \"x\"", op.as_str());
        check(&input, cmp("title", op, s("x")));
        let upper = format!("title {} \"x\"", op.as_str().to_uppercase());
        check(&upper, cmp("title", op, s("x")));
        assert_eq!(
            CompareOp::from_keyword(&op.as_str().to_uppercase()),
            Some(op)
        );
        assert_eq!(op.to_string(), op.as_str());
    }
    let names: Vec<_> = CompareOp::ALL.iter().map(|o| o.as_str()).collect();
    assert_eq!(
        names,
        ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
    );
    assert_eq!(CompareOp::from_keyword("pr"), None);
}

#[test]
fn present() {
    check("title pr", pr("title"));
    check("title PR", pr("title"));
    check("name.givenName Pr", pr("name.givenName"));
}

#[test]
fn literal_values() {
    check(
        "active eq true",
        cmp("active", CompareOp::Eq, CompValue::Bool(true)),
    );
    check(
        "active eq TRUE",
        cmp("active", CompareOp::Eq, CompValue::Bool(true)),
    );
    check(
        "active eq False",
        cmp("active", CompareOp::Eq, CompValue::Bool(false)),
    );
    check(
        "manager eq null",
        cmp("manager", CompareOp::Eq, CompValue::Null),
    );
    check(
        "manager eq NULL",
        cmp("manager", CompareOp::Eq, CompValue::Null),
    );
    check("x eq \"\"", eq("x", ""));
}

#[test]
fn numbers() {
    check("x gt 0", cmp("x", CompareOp::Gt, n(0)));
    check("x gt -1", cmp("x", CompareOp::Gt, n(-1)));
    check("x gt 42", cmp("x", CompareOp::Gt, n(42)));
    check(
        "x gt 18446744073709551615",
        cmp("x", CompareOp::Gt, CompValue::Number(u64::MAX.into())),
    );
    check(
        "x gt -9223372036854775808",
        cmp("x", CompareOp::Gt, CompValue::Number(i64::MIN.into())),
    );
    let f = |v: f64| CompValue::Number(serde_json::Number::from_f64(v).unwrap());
    check("x lt 1.5", cmp("x", CompareOp::Lt, f(1.5)));
    check("x lt -0.25", cmp("x", CompareOp::Lt, f(-0.25)));
    check("x lt 1e3", cmp("x", CompareOp::Lt, f(1000.0)));
    check("x lt 1E+3", cmp("x", CompareOp::Lt, f(1000.0)));
    check("x lt 2.5e-3", cmp("x", CompareOp::Lt, f(0.0025)));
    // Beyond u64: stored as a float.
    check(
        "x lt 18446744073709551616",
        cmp("x", CompareOp::Lt, f(18_446_744_073_709_551_616.0)),
    );
    check_canonical("x lt 1e3", "x lt 1000.0");
    check_canonical("x lt 1.50", "x lt 1.5");
    err_at("x lt 01", 6);
    err_at("x lt 1.", 7);
    err_at("x lt .5", 5);
    err_at("x lt 1e", 7);
    err_at("x lt -", 6);
    err_at("x lt +1", 5);
    err_at("x lt 1e999", 5);
    err_at("x lt 12abc", 7);
    err_at("x lt 0x10", 6);
}

#[test]
fn string_escapes() {
    check(r#"x eq "a\"b""#, eq("x", "a\"b"));
    check(r#"x eq "a\\b""#, eq("x", "a\\b"));
    check(r#"x eq "a\/b""#, eq("x", "a/b"));
    check(r#"x eq "\b\f\n\r\t""#, eq("x", "\u{8}\u{c}\n\r\t"));
    check(r#"x eq "\u00e9\u00C9""#, eq("x", "éÉ"));
    check(r#"x eq "\ud83d\ude00""#, eq("x", "😀"));
    check(r#"x eq "\u0000""#, eq("x", "\0"));
    check("x eq \"raw ünïcödé 😀\"", eq("x", "raw ünïcödé 😀"));
    check_canonical(r#"x eq "a\/b""#, r#"x eq "a/b""#);
    check_canonical(r#"x eq "\u00e9""#, r#"x eq "é""#);
    check_canonical(r#"x eq "\u001f\u0000""#, r#"x eq "\u001f\u0000""#);
    check_canonical(r#"x eq "q\"b\\s""#, r#"x eq "q\"b\\s""#);
    // Printing matches serde_json's escaping.
    for v in ["a\"b\\c", "\u{1}\u{8}\u{c}\n\r\t\u{1f}", "é😀/", ""] {
        let f = eq("x", v);
        assert_eq!(
            f.to_string(),
            format!("x eq {}", serde_json::to_string(v).unwrap())
        );
    }

    err_at(r#"x eq "a\qb""#, 7);
    err_at(r#"x eq "a\u12""#, 7);
    err_at(r#"x eq "a\u12zz""#, 7);
    err_at(r#"x eq "\ud83d""#, 6);
    err_at(r#"x eq "\ud83dx""#, 6);
    err_at(r#"x eq "\ud83d\u0041""#, 12);
    err_at(r#"x eq "\ude00""#, 6);
    err_at("x eq \"abc", 5);
    err_at("x eq \"abc\\", 5);
    err_at("x eq \"a\nb\"", 7);
}

// ---- structure ------------------------------------------------------------------------

#[test]
fn precedence_and_associativity() {
    let (a, b, c) = (
        cmp("a", CompareOp::Eq, n(1)),
        cmp("b", CompareOp::Eq, n(2)),
        cmp("c", CompareOp::Eq, n(3)),
    );
    check(
        "a eq 1 or b eq 2 and c eq 3",
        or(a.clone(), and(b.clone(), c.clone())),
    );
    check(
        "a eq 1 and b eq 2 or c eq 3",
        or(and(a.clone(), b.clone()), c.clone()),
    );
    check(
        "a eq 1 and b eq 2 and c eq 3",
        and(and(a.clone(), b.clone()), c.clone()),
    );
    check(
        "a eq 1 or b eq 2 or c eq 3",
        or(or(a.clone(), b.clone()), c.clone()),
    );
    check(
        "a eq 1 and (b eq 2 or c eq 3)",
        and(a.clone(), or(b.clone(), c.clone())),
    );
    check(
        "(a eq 1 or b eq 2) and c eq 3",
        and(or(a.clone(), b.clone()), c.clone()),
    );
    check(
        "a eq 1 and (b eq 2 and c eq 3)",
        and(a.clone(), and(b.clone(), c.clone())),
    );
    check(
        "a eq 1 or (b eq 2 or c eq 3)",
        or(a.clone(), or(b.clone(), c.clone())),
    );
    // `not` binds to its parenthesised group only.
    check("not (a eq 1) and b eq 2", and(not(a.clone()), b.clone()));
    check(
        "not (a eq 1 or b eq 2) and c eq 3",
        and(not(or(a.clone(), b.clone())), c.clone()),
    );
    check(
        "a eq 1 or not (b eq 2) and c eq 3",
        or(a.clone(), and(not(b.clone()), c.clone())),
    );
    check("NOT (a eq 1)", not(a.clone()));
    check("Not(a eq 1)", not(a.clone()));
    check("not (not (a eq 1))", not(not(a.clone())));
    check("((a eq 1))", a.clone());
    check(
        "a eq 1 AND b eq 2 Or c eq 3",
        or(and(a.clone(), b.clone()), c.clone()),
    );

    check_canonical("((a eq 1) and ((b eq 2)))", "a eq 1 and b eq 2");
    check_canonical(
        "a eq 1 and (b eq 2 and c eq 3)",
        "a eq 1 and (b eq 2 and c eq 3)",
    );
    check_canonical(
        "(a eq 1 and b eq 2) and c eq 3",
        "a eq 1 and b eq 2 and c eq 3",
    );
    check_canonical(
        "a eq 1 or (b eq 2 and c eq 3)",
        "a eq 1 or b eq 2 and c eq 3",
    );
    check_canonical(
        "(a eq 1 or b eq 2) and c eq 3",
        "(a eq 1 or b eq 2) and c eq 3",
    );
    check_canonical("NOT(a EQ 1)", "not (a eq 1)");
}

#[test]
fn printer_parenthesises_every_shape() {
    let leaf = |i: i64| cmp("a", CompareOp::Eq, n(i));
    let shapes = [
        and(leaf(1), or(leaf(2), leaf(3))),
        and(or(leaf(1), leaf(2)), leaf(3)),
        and(leaf(1), and(leaf(2), leaf(3))),
        or(leaf(1), or(leaf(2), leaf(3))),
        or(or(leaf(1), leaf(2)), or(leaf(3), leaf(4))),
        and(and(leaf(1), leaf(2)), and(leaf(3), leaf(4))),
        not(and(leaf(1), or(leaf(2), leaf(3)))),
        vp("emails", or(leaf(1), and(leaf(2), leaf(3)))),
        vp("emails", and(leaf(1), or(leaf(2), leaf(3)))),
        vp("emails", and(or(leaf(1), leaf(2)), pr("value"))),
    ];
    for f in shapes {
        let printed = f.to_string();
        assert_eq!(parse_filter(&printed).unwrap(), f, "{printed}");
    }
    assert_eq!(
        and(leaf(1), or(leaf(2), leaf(3))).to_string(),
        "a eq 1 and (a eq 2 or a eq 3)"
    );
    assert_eq!(
        and(leaf(1), and(leaf(2), leaf(3))).to_string(),
        "a eq 1 and (a eq 2 and a eq 3)"
    );
}

#[test]
fn whitespace_leniency() {
    let f = eq("userName", "x");
    check("userName eq \"x\"", f.clone());
    check("  userName \t eq   \"x\"  ", f.clone());
    check("userName\neq\r\n\"x\"", f.clone());
    check("userName eq\"x\"", f.clone());
    check(
        "(userName eq \"x\")and(title pr)",
        and(f.clone(), pr("title")),
    );
    check(
        "emails[ type eq \"work\" ]",
        vp("emails", eq("type", "work")),
    );
    // A path is one lexical unit.
    err_at("emails [type eq \"work\"]", 6);
    err_at("emails[type eq \"work\"] .value eq \"x\"", 23);
    err_at("emails[type eq \"work\"]. value eq \"x\"", 23);
    // Two words must be separated.
    err_at("userNameeq \"x\"", 11);
}

#[test]
fn value_paths() {
    check("emails[type eq \"work\"]", vp("emails", eq("type", "work")));
    check(
        "emails[type eq \"work\" and value co \"@example.com\" and primary eq true]",
        vp(
            "emails",
            and(
                and(
                    eq("type", "work"),
                    cmp("value", CompareOp::Co, s("@example.com")),
                ),
                cmp("primary", CompareOp::Eq, CompValue::Bool(true)),
            ),
        ),
    );
    check(
        "emails[not (type eq \"work\")]",
        vp("emails", not(eq("type", "work"))),
    );
    check("emails[value pr]", vp("emails", pr("value")));
    check(
        "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]",
        vp(
            "urn:ietf:params:scim:schemas:core:2.0:User:emails",
            eq("type", "work"),
        ),
    );
    // Entra ID's `attr[f].sub op value` form is desugared.
    check(
        "emails[type eq \"work\"].value eq \"x@y\"",
        vp("emails", and(eq("type", "work"), eq("value", "x@y"))),
    );
    check(
        "emails[type eq \"work\"].value pr",
        vp("emails", and(eq("type", "work"), pr("value"))),
    );
    check(
        "emails[type eq \"work\" or type eq \"home\"].Value EQ \"x@y\"",
        vp(
            "emails",
            and(
                or(eq("type", "work"), eq("type", "home")),
                eq("Value", "x@y"),
            ),
        ),
    );
    check_canonical(
        "emails[type eq \"work\"].value eq \"x@y\"",
        "emails[type eq \"work\" and value eq \"x@y\"]",
    );
    // Nested value paths are not allowed.
    err_at("emails[x[y pr]]", 8);
    err_at("a[b pr] and c[d[e pr]]", 15);
    // A value path on a sub-attribute.
    err_at("name.x[y pr]", 0);
    // Bad sub-attribute after `]`.
    err_at("emails[type pr].value.x eq 1", 21);
    err_at("emails[type pr].", 16);
    err_at("emails[type pr].value", 21);
    err_at("emails[type pr].1 eq 2", 16);
    err_at("emails[type pr", 6);
    err_at("emails[]", 7);
    err_at("emails[type pr)", 14);
}

#[test]
fn keyword_named_attributes() {
    check("not pr", pr("not"));
    check("not eq \"x\"", eq("not", "x"));
    check("and eq \"x\" and or pr", and(eq("and", "x"), pr("or")));
    check("pr pr", pr("pr"));
    check("eq eq \"x\"", eq("eq", "x"));
    check("not[pr pr]", vp("not", pr("pr")));
    err_at("not title pr", 4);
}

#[test]
fn attribute_names() {
    check("$ref eq \"x\"", eq("$ref", "x"));
    check("members.$ref pr", pr("members.$ref"));
    check("a-b_c9 pr", pr("a-b_c9"));
    check(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"",
        Filter::Compare {
            path: AttrPath::qualified(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "manager",
                Some("value".into()),
            ),
            op: CompareOp::Eq,
            value: s("m"),
        },
    );
    check("URN:foo:bar:x pr", pr("URN:foo:bar:x"));
    err_at("a.b.c pr", 3);
    err_at("foo:bar pr", 3);
    err_at("$foo pr", 0);
    err_at("a$ pr", 1);
    err_at("_a pr", 0);
}

// ---- RFC 7644 §3.4.2.2 examples -------------------------------------------------------

#[test]
fn rfc7644_examples() {
    check("userName Eq \"john\"", eq("userName", "john"));
    check("Username eq \"john\"", eq("Username", "john"));
    check(
        "name.familyName co \"O'Malley\"",
        cmp("name.familyName", CompareOp::Co, s("O'Malley")),
    );
    check("userName sw \"J\"", cmp("userName", CompareOp::Sw, s("J")));
    check(
        "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
        cmp(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            CompareOp::Sw,
            s("J"),
        ),
    );
    check("title pr", pr("title"));
    check(
        "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
        cmp(
            "meta.lastModified",
            CompareOp::Gt,
            s("2011-05-13T04:42:34Z"),
        ),
    );
    check(
        "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
        cmp(
            "meta.lastModified",
            CompareOp::Ge,
            s("2011-05-13T04:42:34Z"),
        ),
    );
    check(
        "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
        cmp(
            "meta.lastModified",
            CompareOp::Lt,
            s("2011-05-13T04:42:34Z"),
        ),
    );
    check(
        "meta.lastModified le \"2011-05-13T04:42:34Z\"",
        cmp(
            "meta.lastModified",
            CompareOp::Le,
            s("2011-05-13T04:42:34Z"),
        ),
    );
    check(
        "title pr and userType eq \"Employee\"",
        and(pr("title"), eq("userType", "Employee")),
    );
    check(
        "title pr or userType eq \"Intern\"",
        or(pr("title"), eq("userType", "Intern")),
    );
    check(
        "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
        eq(
            "schemas",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ),
    );
    let emails_or = || {
        or(
            cmp("emails", CompareOp::Co, s("example.com")),
            cmp("emails.value", CompareOp::Co, s("example.org")),
        )
    };
    check(
        "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
        and(eq("userType", "Employee"), emails_or()),
    );
    check(
        "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
        and(
            cmp("userType", CompareOp::Ne, s("Employee")),
            not(emails_or()),
        ),
    );
    check(
        "userType eq \"Employee\" and (emails.type eq \"work\")",
        and(eq("userType", "Employee"), eq("emails.type", "work")),
    );
    check(
        "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
        and(
            eq("userType", "Employee"),
            vp(
                "emails",
                and(
                    eq("type", "work"),
                    cmp("value", CompareOp::Co, s("@example.com")),
                ),
            ),
        ),
    );
    check(
        "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
        or(
            vp(
                "emails",
                and(
                    eq("type", "work"),
                    cmp("value", CompareOp::Co, s("@example.com")),
                ),
            ),
            vp(
                "ims",
                and(
                    eq("type", "xmpp"),
                    cmp("value", CompareOp::Co, s("@foo.com")),
                ),
            ),
        ),
    );
}

// ---- what Entra ID and Okta send ------------------------------------------------------

#[test]
fn entra_shapes() {
    check(
        "userName eq \"75a1c2de-7b5e-4f5a-9d4c-0a1b2c3d4e5f\"",
        eq("userName", "75a1c2de-7b5e-4f5a-9d4c-0a1b2c3d4e5f"),
    );
    check(
        "userName eq \"nora.lind@fabrikam.example\"",
        eq("userName", "nora.lind@fabrikam.example"),
    );
    check(
        "externalId eq \"b7e2f0c4-2f1d-4a55-9a0e-6d0c2a1f9e31\"",
        eq("externalId", "b7e2f0c4-2f1d-4a55-9a0e-6d0c2a1f9e31"),
    );
    check(
        "emails[type eq \"work\"].value eq \"x@y\"",
        vp("emails", and(eq("type", "work"), eq("value", "x@y"))),
    );
    check(
        "displayName eq \"Finance Vault Users\"",
        eq("displayName", "Finance Vault Users"),
    );
    check(
        "id eq \"7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10\" and manager eq \"a0b9c8d7-1e2f-4a3b-8c4d-5e6f7a8b9c0d\"",
        and(
            eq("id", "7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10"),
            eq("manager", "a0b9c8d7-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
        ),
    );
    // Guests (quirk 29) and special characters (quirk 22).
    check(
        "userName eq \"nora_fabrikam.example#EXT#@contoso.onmicrosoft.com\"",
        eq(
            "userName",
            "nora_fabrikam.example#EXT#@contoso.onmicrosoft.com",
        ),
    );
    check(
        r#"displayName eq "say \"hi\" to C:\\temp""#,
        eq("displayName", r#"say "hi" to C:\temp"#),
    );
    // The IPSIE profile writes `username eq`; names are kept as written (quirk 15).
    check("username eq \"x\"", eq("username", "x"));
    check(
        "emails[type eq \"other\"].Value eq \"x\"",
        vp("emails", and(eq("type", "other"), eq("Value", "x"))),
    );
    // Legacy documentation shape (quirk 32): unquoted values are rejected.
    let e = err("externalId eq jyoung");
    assert_eq!(e.pos, 14);
    assert!(e.message.contains("unquoted"), "{e}");
}

// ---- errors ---------------------------------------------------------------------------

#[test]
fn error_positions() {
    err_at("", 0);
    err_at("   ", 3);
    err_at("userName", 8);
    err_at("userName eq", 11);
    err_at("userName xx \"a\"", 9);
    err_at("userName eq 'a'", 12);
    err_at("userName eq \"a\" garbage", 16);
    err_at("userName eq \"a\" and", 19);
    err_at("userName eq \"a\")", 15);
    err_at("(userName eq \"a\"", 0);
    err_at("((a pr) and (b pr)", 0);
    err_at("not (a pr", 4);
    err_at("()", 1);
    err_at("a pr ]", 5);
    err_at("userName eq \"a\" \"b\"", 16);
    err_at("userName % \"a\"", 9);
    err_at("a pr and [b pr]", 9);
    err_at("userName eq \"a\" ~", 16);
    err_at("1 eq 1", 0);
    err_at("a eq b eq c", 5);
    err_at("é eq \"x\"", 0);
    err_at("x eq \"é\" é", 10);
    let e = err("userName eq");
    assert_eq!(
        e.to_string(),
        format!("invalid filter at position 11: {}", e.message)
    );
}

#[test]
fn length_limit() {
    let pad = MAX_FILTER_LEN - "userName eq \"\"".len();
    let ok = format!("userName eq \"{}\"", "a".repeat(pad));
    assert_eq!(ok.len(), MAX_FILTER_LEN);
    assert!(parse_filter(&ok).is_ok());
    let long = format!("userName eq \"{}\"", "a".repeat(pad + 1));
    let e = err(&long);
    assert_eq!(e.pos, MAX_FILTER_LEN);
    // and/or chains up to the operator limit parse and print back.
    let chain = vec!["a pr"; MAX_FILTER_OPERATORS + 1].join(" or ");
    assert!(chain.len() <= MAX_FILTER_LEN);
    let f = parse_filter(&chain).unwrap();
    assert_eq!(parse_filter(&f.to_string()).unwrap(), f);
}

#[test]
fn operator_limit() {
    // One more and/or than the limit, in any mix, is an error at that operator: a
    // chain builds a tree as deep as it is long, and an 8 KiB chain overflowed the
    // stack of whatever recursed over it (compile, evaluate, SQL, print).
    for op in [" and ", " or "] {
        let chain = vec!["a pr"; MAX_FILTER_OPERATORS + 2].join(op);
        let e = err(&chain);
        assert!(e.message.contains("operators"), "{e}");
        assert_eq!(
            e.pos,
            (MAX_FILTER_OPERATORS + 1) * (4 + op.len()) - op.len() + 1
        );
    }
    let mixed = format!(
        "({}) and (a pr or a pr)",
        vec!["a pr"; MAX_FILTER_OPERATORS].join(" and ")
    );
    assert!(err(&mixed).message.contains("operators"));
    // Inside value paths too.
    let bracket = format!(
        "emails[{}]",
        vec!["type pr"; MAX_FILTER_OPERATORS + 2].join(" or ")
    );
    assert!(err(&bracket).message.contains("operators"));
    // The longest chain the length limit allows is refused, and not by a crash.
    let longest = vec!["a pr"; MAX_FILTER_LEN / 9].join(" and ");
    assert!(longest.len() <= MAX_FILTER_LEN);
    assert!(err(&longest).message.contains("operators"));
}

#[test]
fn depth_limit() {
    let nest = |d: usize| format!("{}a pr{}", "(".repeat(d), ")".repeat(d));
    assert!(parse_filter(&nest(MAX_FILTER_DEPTH)).is_ok());
    let e = err(&nest(MAX_FILTER_DEPTH + 1));
    assert_eq!(e.pos, MAX_FILTER_DEPTH);
    assert!(e.message.contains("nested"), "{e}");

    let nots = |d: usize| format!("{}a pr{}", "not (".repeat(d), ")".repeat(d));
    assert!(parse_filter(&nots(MAX_FILTER_DEPTH)).is_ok());
    assert_eq!(err(&nots(MAX_FILTER_DEPTH + 1)).pos, MAX_FILTER_DEPTH * 5);

    // Brackets count too.
    let mixed = format!(
        "{}e[x pr]{}",
        "(".repeat(MAX_FILTER_DEPTH - 1),
        ")".repeat(MAX_FILTER_DEPTH - 1)
    );
    assert!(parse_filter(&mixed).is_ok());
    let mixed = format!("({mixed})");
    assert!(err(&mixed).message.contains("nested"));

    // Far beyond the limit, within the length limit: an error, not a stack overflow.
    let deep = "(".repeat(MAX_FILTER_LEN);
    assert!(parse_filter(&deep).is_err());
    let deep = "not (".repeat(MAX_FILTER_LEN / 5);
    assert!(parse_filter(&deep).is_err());
}

#[test]
fn from_str_and_display() {
    let f: Filter = "userName eq \"x\"".parse().unwrap();
    assert_eq!(f, eq("userName", "x"));
    assert!("userName eq".parse::<Filter>().is_err());
    assert_eq!(CompValue::Null.to_string(), "null");
    assert_eq!(s("a\"b").to_string(), r#""a\"b""#);
    assert_eq!(s("x").to_json(), serde_json::json!("x"));
    assert_eq!(n(3).to_json(), serde_json::json!(3));
}
