//! The SCIM filter language (RFC 7644 §3.4.2.2): AST, parser and canonical printer.
//!
//! ```
//! use scim_model::filter::{parse_filter, CompValue, CompareOp, Filter};
//! use scim_model::path::AttrPath;
//!
//! let f = parse_filter(r#"userName EQ "bjensen""#).unwrap();
//! assert_eq!(
//!     f,
//!     Filter::Compare {
//!         path: AttrPath::new("userName"),
//!         op: CompareOp::Eq,
//!         value: CompValue::String("bjensen".into()),
//!     }
//! );
//! assert_eq!(f.to_string(), r#"userName eq "bjensen""#);
//! ```
//!
//! Precedence: `not (…)` binds tightest, then `and`, then `or`; `and` and `or` are
//! left-associative. Keywords are case-insensitive; attribute names are kept as written.
//! See [`parse_filter`] for what is accepted beyond the RFC grammar.
//!
//! Canonical printing ([`std::fmt::Display`] on [`Filter`]): lower-case keywords and
//! operators, single spaces, JSON strings and numbers, and parentheses only where needed, so
//! that `parse_filter(&f.to_string()) == Ok(f)` for every tree the parser can produce (names
//! valid, no value path nested in a value path, a value path's attribute without
//! sub-attribute, and the printed text within [`MAX_FILTER_LEN`], [`MAX_FILTER_DEPTH`] and
//! [`MAX_FILTER_OPERATORS`]).

mod ast;
mod display;
mod lexer;
pub(crate) mod parser;

pub use ast::{CompValue, CompareOp, Filter, FilterError};
pub use parser::parse_filter;

mod eval;
pub use eval::{CompiledFilter, ElementFilter};

/// Longest filter (and PATCH path) accepted, in bytes. Longer input is a [`FilterError`]
/// before any parsing happens.
pub const MAX_FILTER_LEN: usize = 8192;

/// Deepest nesting accepted: each `( … )`, `not ( … )` and `attr[ … ]` adds one level.
/// Deeper input is a [`FilterError`], so parsing never overflows the stack. (Chains of
/// `and`/`or` are limited by [`MAX_FILTER_OPERATORS`].)
pub const MAX_FILTER_DEPTH: usize = 64;

/// Most `and`/`or` operators accepted in one filter. A chain of them is a tree as
/// deep as the chain is long, and compiling, evaluating, translating to SQL and
/// printing a filter recurse over that tree, so without this limit an 8 KiB chain
/// (~900 operators) overflows a 2 MiB worker stack and aborts the process.
pub const MAX_FILTER_OPERATORS: usize = 128;
