//! Canonical printing.
//!
//! Keywords and operators in lower case, single spaces between tokens, strings as JSON
//! strings (escaped exactly as `serde_json` escapes them), numbers as `serde_json` prints
//! them, and parentheses only where they are needed for `parse_filter(&f.to_string())` to
//! give back the same tree: `and` binds tighter than `or` and both are left-associative, so
//! a right operand of the same operator (`a and (b and c)`) and an `or` under an `and`
//! (`a and (b or c)`) are parenthesised. `Not(x)` prints as `not (x)`.

use std::fmt::{self, Write as _};

use super::ast::{CompValue, CompareOp, Filter};

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    /// The literal as JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string literal with `serde_json`'s escaping rules.
fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        let (plain, tail) = rest.split_at(i);
        f.write_str(plain)?;
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c => write!(f, "\\u{:04x}", u32::from(c))?,
        }
        rest = chars.as_str();
    }
    f.write_str(rest)?;
    f.write_char('"')
}

/// Binding strength: `or` < `and` < everything else.
fn prec(filter: &Filter) -> u8 {
    match filter {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

impl fmt::Display for Filter {
    /// Canonical form; see the module documentation of [`crate::filter`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(l, r) | Filter::Or(l, r) => {
                let (p, kw) = if matches!(self, Filter::And(..)) {
                    (2, "and")
                } else {
                    (1, "or")
                };
                write_operand(f, l, prec(l) < p)?;
                write!(f, " {kw} ")?;
                write_operand(f, r, prec(r) <= p)
            }
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}
