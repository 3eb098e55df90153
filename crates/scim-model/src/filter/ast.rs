//! The filter abstract syntax tree.

use crate::path::AttrPath;

/// A parsed SCIM filter (RFC 7644 §3.4.2.2).
///
/// Attribute names are kept as written; resolution against a schema (case-insensitive)
/// happens in the evaluator. [`std::fmt::Display`] prints the canonical form, and
/// `parse_filter(&f.to_string()) == Ok(f)` for every tree the parser can produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`, for example `userName eq "bjensen"`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The comparison operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `attr[filter]`: some element of multi-valued (or the value of single complex) `attr`
    /// satisfies `filter`, whose paths are relative to the element (sub-attribute names in
    /// [`AttrPath::name`]).
    ///
    /// The common non-RFC form `attr[f].sub op value` (Entra ID sends
    /// `emails[type eq "work"].value eq "a@b.c"`) is parsed into
    /// `ValuePath { attr, filter: And(f, Compare { path: sub, op, value }) }`, and
    /// `attr[f].sub pr` into `ValuePath { attr, filter: And(f, Present(sub)) }`: the same
    /// meaning (one element satisfies both). It prints back as `attr[f and sub op value]`.
    ValuePath {
        /// The multi-valued or complex attribute (never has a sub-attribute).
        attr: AttrPath,
        /// The filter applied to each element.
        filter: Box<Filter>,
    },
}

/// A comparison operator (RFC 7644 Table 3), case-insensitive on input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The canonical (lower-case) keyword: `"eq"`, `"ne"`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Looks up an operator keyword in any letter case (`"EQ"` → `Eq`).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// A comparison literal: a JSON `null`, boolean, number or string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number. Integers without fraction or exponent that fit `u64`/`i64` are stored as
    /// integers, everything else as a finite `f64`.
    Number(serde_json::Number),
    /// A JSON string, escapes decoded.
    String(String),
}

impl CompValue {
    /// The literal as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            CompValue::Null => serde_json::Value::Null,
            CompValue::Bool(b) => serde_json::Value::Bool(*b),
            CompValue::Number(n) => serde_json::Value::Number(n.clone()),
            CompValue::String(s) => serde_json::Value::String(s.clone()),
        }
    }
}

/// A filter syntax error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at position {pos}: {message}")]
pub struct FilterError {
    /// Byte offset (0-based) in the input where the problem was found.
    pub pos: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
        }
    }
}
