//! Attribute paths (RFC 7644 §3.10 `attrPath`) and PATCH paths (RFC 7644 §3.5.2 `PATH`).
//!
//! This module only checks syntax. Names are kept exactly as written (attribute names and
//! schema URNs are case-insensitive in SCIM); resolving a path against a schema, and deciding
//! whether `urn:…:2.0:User` is a bare extension URN or a URN-qualified attribute, happens in
//! the schema layer.
//!
//! Accepted attribute names: `ALPHA *(ALPHA / DIGIT / "-" / "_")`, plus `$ref` (any letter
//! case). A URN prefix is any run of `ALPHA / DIGIT / "-" / "_" / "." / ":"` that starts with
//! `urn:` (any letter case) and contains at least one more `:`-separated part.

use std::fmt;

use crate::filter::{Filter, MAX_FILTER_LEN};

/// A syntax error in an attribute path or a PATCH path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid path at position {pos}: {message}")]
pub struct PathError {
    /// Byte offset (0-based) in the input where the problem was found.
    pub pos: usize,
    /// What is wrong, in words (no input echo beyond the offending token).
    pub message: String,
}

impl PathError {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
        }
    }
}

/// An attribute path: `[URN ":"] name ["." sub]`, for example `userName`, `name.givenName`
/// or `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
///
/// Names and URNs keep the letter case they were written in; compare them
/// case-insensitively.
///
/// A URN-qualified path is split at the **last** `:` (URNs contain dots, as in `2.0`), so dots
/// are only significant after that colon. Consequently a bare schema URN used as a PATCH path,
/// such as `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, parses as
/// `urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0"`, `name = "User"`; the
/// schema layer recognises that case (the `urn` plus `name` form a known schema URN) and
/// treats it as "the whole extension".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing `:`, if the path was URN-qualified.
    pub urn: Option<String>,
    /// Attribute name (inside a value-path filter: the sub-attribute name of the element).
    pub name: String,
    /// Sub-attribute name after the `.`, if any.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// An unqualified path to a top-level attribute (no URN, no sub-attribute).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// An unqualified path `name.sub`.
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: Some(sub.into()),
        }
    }

    /// A URN-qualified path `urn:name[.sub]` (`urn` without the trailing `:`).
    pub fn qualified(urn: impl Into<String>, name: impl Into<String>, sub: Option<String>) -> Self {
        Self {
            urn: Some(urn.into()),
            name: name.into(),
            sub_attr: sub,
        }
    }

    /// Parses an attribute path. No whitespace is allowed anywhere.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(PathError::new(
                MAX_FILTER_LEN,
                format!("path is longer than {MAX_FILTER_LEN} bytes"),
            ));
        }
        parse_attr_path(input, 0)
    }
}

impl fmt::Display for AttrPath {
    /// Canonical form: `urn ":" name ["." sub]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for AttrPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A PATCH operation path (RFC 7644 §3.5.2): `attrPath / valuePath [subAttr]`.
///
/// Accepted forms: `attr`, `attr.sub`, `urn:…:attr[.sub]`, `attr[filter]`, `attr[filter].sub`.
/// When `filter` is `Some`, `attr.sub_attr` is always `None` and the `.sub` written after `]`
/// is in [`PatchPath::sub_attr`]. The filter's paths are relative to the element, as in
/// [`Filter::ValuePath`], and it may not contain another value path.
///
/// Whitespace is allowed inside the brackets only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute the operation targets.
    pub attr: AttrPath,
    /// The value-selection filter written inside `[...]`, if any.
    pub filter: Option<Filter>,
    /// The sub-attribute written after `]`, if any (only with a filter).
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(PathError::new(
                MAX_FILTER_LEN,
                format!("path is longer than {MAX_FILTER_LEN} bytes"),
            ));
        }
        if !input.contains('[') {
            return Ok(Self {
                attr: parse_attr_path(input, 0)?,
                filter: None,
                sub_attr: None,
            });
        }
        let (attr, filter, sub_attr) = crate::filter::parser::parse_patch_path(input)
            .map_err(|e| PathError::new(e.pos, e.message))?;
        Ok(Self {
            attr,
            filter: Some(filter),
            sub_attr,
        })
    }
}

impl fmt::Display for PatchPath {
    /// Canonical form: `attr ["[" filter "]" ["." sub]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PatchPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Characters allowed in a URN prefix.
pub(crate) fn is_urn_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

/// Checks one `ATTRNAME` (or `$ref`). `offset` is added to error positions.
pub(crate) fn check_attr_name(name: &str, offset: usize) -> Result<(), PathError> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.char_indices();
    match chars.next() {
        None => return Err(PathError::new(offset, "expected an attribute name")),
        Some((_, c)) if c.is_ascii_alphabetic() => {}
        Some((i, c)) => {
            return Err(PathError::new(
                offset + i,
                format!("attribute name must start with a letter, found {c:?}"),
            ));
        }
    }
    for (i, c) in chars {
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(PathError::new(
                offset + i,
                format!("unexpected character {c:?} in attribute name"),
            ));
        }
    }
    Ok(())
}

/// Parses `[URN ":"] name ["." sub]`; `offset` is the position of `input` in a larger text.
pub(crate) fn parse_attr_path(input: &str, offset: usize) -> Result<AttrPath, PathError> {
    let is_urn = input
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest, rest_offset) = if is_urn {
        // `rfind` returns a byte index of an ASCII ':' so both slices are on char boundaries.
        let colon = input.rfind(':').unwrap_or(3);
        let prefix = input.get(..colon).unwrap_or_default();
        if let Some((i, c)) = prefix.char_indices().find(|&(_, c)| !is_urn_char(c)) {
            return Err(PathError::new(
                offset + i,
                format!("unexpected character {c:?} in URN prefix"),
            ));
        }
        if colon <= 4 {
            return Err(PathError::new(
                offset,
                "a URN prefix needs at least one part after \"urn:\"",
            ));
        }
        let urn = input.get(..colon).unwrap_or_default();
        let rest = input.get(colon + 1..).unwrap_or_default();
        if urn.ends_with(':') || urn.contains("::") {
            return Err(PathError::new(offset + colon, "empty part in URN prefix"));
        }
        (Some(urn.to_owned()), rest, offset + colon + 1)
    } else {
        (None, input, offset)
    };
    let (name, sub) = match rest.split_once('.') {
        None => (rest, None),
        Some((name, sub)) => (name, Some(sub)),
    };
    check_attr_name(name, rest_offset)?;
    let sub_attr = match sub {
        None => None,
        Some(sub) => {
            let sub_offset = rest_offset + name.len() + 1;
            if let Some(i) = sub.find('.') {
                return Err(PathError::new(
                    sub_offset + i,
                    "a path has at most one sub-attribute",
                ));
            }
            check_attr_name(sub, sub_offset)?;
            Some(sub.to_owned())
        }
    };
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub_attr,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn urn_split_at_last_colon() {
        let p = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();
        assert_eq!(
            p.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(AttrPath::parse("").unwrap_err().pos, 0);
        assert_eq!(AttrPath::parse("name.").unwrap_err().pos, 5);
        assert_eq!(AttrPath::parse("a.b.c").unwrap_err().pos, 3);
        assert_eq!(AttrPath::parse("1abc").unwrap_err().pos, 0);
        assert_eq!(AttrPath::parse("ab c").unwrap_err().pos, 2);
        assert_eq!(AttrPath::parse("foo:bar").unwrap_err().pos, 3);
        assert_eq!(AttrPath::parse("urn:x:").unwrap_err().pos, 6);
        assert_eq!(AttrPath::parse("urn:name").unwrap_err().pos, 0);
        assert_eq!(AttrPath::parse("urn:a::b").unwrap_err().pos, 6);
        assert_eq!(AttrPath::parse("é").unwrap_err().pos, 0);
    }
}
