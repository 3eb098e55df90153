//! Input limits: what a client may store, checked by the services before any
//! write, identically on SQLite and PostgreSQL. PostgreSQL cannot store a NUL
//! character in text and cannot index a value much longer than 2,700 bytes;
//! SQLite could store both, so without these checks the two backends would
//! answer the same request differently (a 500 on one, a stored value on the
//! other). Every violation is `400 invalidValue` naming the attribute and the
//! limit, and nothing is written.

use scim_model::ScimType;
use scim_model::schema::ResourceType;
use serde_json::Value;

use crate::ApiError;

/// The limits on stored values. [`InputLimits::default`] gives the documented
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputLimits {
    /// Longest value, in characters, of an attribute the store indexes
    /// (a user's `userName`, `displayName`, `externalId` and `emails.value`; a
    /// group's `displayName` and `externalId`; member ids). Default 512: far
    /// above what directories send (Entra ID's UPN is at most 113 characters)
    /// and below PostgreSQL's index row limit at 4 bytes per character.
    pub max_indexed_chars: usize,
    /// Longest value, in characters, of any other string attribute. Default
    /// 16,384.
    pub max_string_chars: usize,
    /// Most values of one multi-valued attribute other than a group's
    /// `members` (emails, phone numbers, addresses, ...). Default 100.
    pub max_values: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_indexed_chars: 512,
            max_string_chars: 16_384,
            max_values: 100,
        }
    }
}

impl InputLimits {
    /// These limits with `max_indexed_chars` changed.
    pub fn with_max_indexed_chars(mut self, n: usize) -> Self {
        self.max_indexed_chars = n;
        self
    }

    /// These limits with `max_string_chars` changed.
    pub fn with_max_string_chars(mut self, n: usize) -> Self {
        self.max_string_chars = n;
        self
    }

    /// These limits with `max_values` changed.
    pub fn with_max_values(mut self, n: usize) -> Self {
        self.max_values = n;
        self
    }
}

/// The attributes (top-level name, sub-attribute) whose values the store
/// indexes, per resource type.
fn indexed(rt: &ResourceType, attr: &str, sub: Option<&str>) -> bool {
    let is = |a: &str| attr.eq_ignore_ascii_case(a);
    match rt.name {
        "User" => {
            (sub.is_none() && (is("userName") || is("displayName") || is("externalId")))
                || (is("emails") && sub.is_some_and(|s| s.eq_ignore_ascii_case("value")))
        }
        "Group" => sub.is_none() && (is("displayName") || is("externalId")),
        _ => false,
    }
}

fn invalid(detail: String) -> ApiError {
    ApiError::bad_request(ScimType::InvalidValue, detail)
}

/// A string from the client: no NUL character, at most `max` characters.
pub(crate) fn check_string(name: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.contains('\0') {
        return Err(invalid(format!(
            "'{name}' contains a NUL character, which cannot be stored"
        )));
    }
    let len = s.chars().count();
    if len > max {
        return Err(invalid(format!(
            "'{name}' is {len} characters long; at most {max} are allowed"
        )));
    }
    Ok(())
}

/// Member ids: no NUL, at most `max_indexed_chars` each.
pub(crate) fn check_ids<'a>(
    limits: &InputLimits,
    name: &str,
    ids: impl IntoIterator<Item = &'a String>,
) -> Result<(), ApiError> {
    ids.into_iter()
        .try_for_each(|id| check_string(name, id, limits.max_indexed_chars))
}

/// Checks every string of a resource document about to be stored (the
/// client's attributes; a group's members are checked as ids).
pub(crate) fn check_document(
    limits: &InputLimits,
    rt: &ResourceType,
    doc: &Value,
) -> Result<(), ApiError> {
    let Some(obj) = doc.as_object() else {
        return Ok(());
    };
    for (name, value) in obj {
        if name == "members" && rt.name == "Group" {
            continue;
        }
        check_attribute(limits, rt, name, name, None, value, true)?;
    }
    Ok(())
}

/// `top`: the top-level attribute; `sub`: the sub-attribute being checked;
/// `shown`: the name used in errors.
fn check_attribute(
    limits: &InputLimits,
    rt: &ResourceType,
    top: &str,
    shown: &str,
    sub: Option<&str>,
    value: &Value,
    top_level: bool,
) -> Result<(), ApiError> {
    match value {
        Value::String(s) => {
            let max = if indexed(rt, top, sub) {
                limits.max_indexed_chars
            } else {
                limits.max_string_chars
            };
            check_string(shown, s, max)
        }
        Value::Array(items) => {
            if top_level && items.len() > limits.max_values {
                return Err(invalid(format!(
                    "'{shown}' has {} values; at most {} are allowed",
                    items.len(),
                    limits.max_values
                )));
            }
            items
                .iter()
                .try_for_each(|v| check_attribute(limits, rt, top, shown, sub, v, false))
        }
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_string(shown, k, limits.max_string_chars)?;
            if top_level && top.contains(':') {
                // An extension object: its keys are that schema's attributes.
                let name = format!("{top}:{k}");
                check_attribute(limits, rt, k, &name, None, v, true)
            } else {
                let name = format!("{shown}.{k}");
                check_attribute(limits, rt, top, &name, Some(k), v, false)
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_model::schema::{GROUP, USER};
    use serde_json::json;

    fn detail(r: Result<(), ApiError>) -> String {
        r.unwrap_err().body().detail.unwrap_or_default()
    }

    #[test]
    fn nul_and_length_are_checked_per_attribute_kind() {
        let l = InputLimits::default();
        assert!(check_document(&l, &USER, &json!({"userName": "a", "title": "b"})).is_ok());
        assert!(
            detail(check_document(&l, &USER, &json!({"userName": "a\u{0}b"})))
                .contains("'userName'")
        );
        let long = "x".repeat(513);
        assert!(
            detail(check_document(&l, &USER, &json!({"userName": long}))).contains("at most 512")
        );
        assert!(check_document(&l, &USER, &json!({"title": long})).is_ok());
        let d = detail(check_document(
            &l,
            &USER,
            &json!({"emails": [{"value": "x".repeat(600), "type": "work"}]}),
        ));
        assert!(d.contains("'emails.value'") && d.contains("512"), "{d}");
        assert!(
            detail(check_document(
                &l,
                &USER,
                &json!({"name": {"givenName": "a\u{0}"}})
            ))
            .contains("'name.givenName'")
        );
        let d = detail(check_document(
            &l,
            &USER,
            &json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "\u{0}"}}),
        ));
        assert!(d.contains("employeeNumber"), "{d}");
        let many: Vec<Value> = (0..101)
            .map(|i| json!({"value": format!("{i}@x")}))
            .collect();
        assert!(detail(check_document(&l, &USER, &json!({"emails": many}))).contains("101 values"));
        assert!(check_document(&l, &GROUP, &json!({"displayName": "g", "members": (0..500).map(|i| json!({"value": i.to_string()})).collect::<Vec<_>>()})).is_ok());
        assert!(
            detail(check_document(
                &l,
                &GROUP,
                &json!({"displayName": "g".repeat(513)})
            ))
            .contains("'displayName'")
        );
        let ids = vec!["ok".to_owned(), "a\u{0}".to_owned()];
        assert!(detail(check_ids(&l, "members.value", &ids)).contains("NUL"));
    }
}
