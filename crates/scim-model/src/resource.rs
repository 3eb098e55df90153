//! Lenient input, strict output: turning what real clients POST and PUT into a
//! canonical resource document, and finishing documents for output.
//!
//! [`normalize`] accepts what Entra ID, Okta and other clients really send (see the
//! crate docs) and produces a document with canonical camelCase names, JSON
//! booleans, no `null`s, no read-only or write-only input, and extension data
//! under its canonical URN. Wrong types of attributes we support are
//! `400 invalidValue`; unknown attributes are `400 invalidSyntax` unless
//! [`UnknownAttributes::Ignore`] is chosen.

use serde_json::{Map, Value};

use crate::messages::{ScimError, ScimType};
use crate::path::AttrPath;
use crate::schema::{AttrType, AttributeDef, Mutability, ResourceType, Schema};

/// A request body that does not fit the schema.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ResourceError {
    /// The SCIM error keyword.
    pub scim_type: ScimType,
    /// What is wrong, naming the attribute.
    pub detail: String,
}

impl ResourceError {
    /// An error of the given type.
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ResourceError {
            scim_type,
            detail: detail.into(),
        }
    }
    fn value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }
}

impl From<ResourceError> for ScimError {
    fn from(e: ResourceError) -> Self {
        ScimError::bad_request(e.scim_type, e.detail)
    }
}

/// What to do with attributes no schema of the resource type defines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownAttributes {
    /// `400 invalidSyntax` naming the attribute (the default).
    #[default]
    Reject,
    /// Drop them silently.
    Ignore,
}

/// Options of [`normalize`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Unknown plain attributes. Objects keyed by an unknown schema URN (another
    /// vendor's extension) are always ignored.
    pub unknown: UnknownAttributes,
}

/// Normalizes a client's resource body; see the module docs. Read-only attributes
/// (`id`, `meta`, `groups`, the product `status`, ...) and write-only ones
/// (`password`) are dropped: the server owns the first and never stores the second.
/// `schemas` is dropped too; [`finish_output`] writes it.
pub fn normalize(
    rt: &ResourceType,
    input: &Value,
    opts: NormalizeOptions,
) -> Result<Value, ResourceError> {
    let obj = input.as_object().ok_or_else(|| {
        ResourceError::new(
            ScimType::InvalidSyntax,
            "the resource must be a JSON object",
        )
    })?;
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            normalize_urn_key(rt, key, value, opts, &mut out)?;
            continue;
        }
        let def = crate::schema::common_attribute(key).or_else(|| rt.schema.attribute(key));
        match def {
            Some(def) => put(&mut out, def, value, opts)?,
            None => unknown(opts, key)?,
        }
    }
    Ok(Value::Object(out))
}

fn unknown(opts: NormalizeOptions, key: &str) -> Result<(), ResourceError> {
    match opts.unknown {
        UnknownAttributes::Ignore => Ok(()),
        UnknownAttributes::Reject => Err(ResourceError::new(
            ScimType::InvalidSyntax,
            format!("unknown attribute '{key}'"),
        )),
    }
}

fn normalize_urn_key(
    rt: &ResourceType,
    key: &str,
    value: &Value,
    opts: NormalizeOptions,
    out: &mut Map<String, Value>,
) -> Result<(), ResourceError> {
    // A whole schema: `"urn:...:enterprise:2.0:User": {...}`.
    if let Some(schema) = rt.schema_by_urn(key) {
        let inner = match value {
            Value::Null => return Ok(()),
            Value::Object(o) => o,
            _ => {
                return Err(ResourceError::value(format!(
                    "'{}' must be an object",
                    schema.id
                )));
            }
        };
        if std::ptr::eq(schema, rt.schema) {
            for (k, v) in inner {
                match rt.schema.attribute(k) {
                    Some(def) => put(out, def, v, opts)?,
                    None => unknown(opts, k)?,
                }
            }
            return Ok(());
        }
        let mut ext = match out.remove(schema.id) {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        for (k, v) in inner {
            match schema.attribute(k) {
                Some(def) => put(&mut ext, def, v, opts)?,
                None => unknown(opts, &format!("{}:{k}", schema.id))?,
            }
        }
        if !ext.is_empty() {
            out.insert(schema.id.to_owned(), Value::Object(ext));
        }
        return Ok(());
    }
    // A URN-qualified attribute: `"urn:...:enterprise:2.0:User:employeeNumber": "E-1"`.
    if let Ok(path) = AttrPath::parse(key)
        && path.sub_attr.is_none()
        && let Some(r) = rt.resolve(&path)
    {
        return match r.location {
            crate::schema::AttrLocation::Core => put(out, r.attr, value, opts),
            crate::schema::AttrLocation::Extension(schema) => {
                let mut ext = match out.remove(schema.id) {
                    Some(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                put(&mut ext, r.attr, value, opts)?;
                if !ext.is_empty() {
                    out.insert(schema.id.to_owned(), Value::Object(ext));
                }
                Ok(())
            }
        };
    }
    // Another vendor's extension (e.g. Microsoft's ADSCIM Group URI): ignored.
    Ok(())
}

/// Coerces `value` to `def` and stores it under the canonical name, unless the
/// attribute is not client-writable (dropped) or the value is empty (absent).
fn put(
    out: &mut Map<String, Value>,
    def: &'static AttributeDef,
    value: &Value,
    opts: NormalizeOptions,
) -> Result<(), ResourceError> {
    if matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
        return Ok(());
    }
    if let Some(v) = coerce(def, value, opts, def.name)? {
        out.insert(def.name.to_owned(), v);
    }
    Ok(())
}

/// Coerces one attribute value to its definition. `Ok(None)` means "absent"
/// (`null`, `""`, `[]`, an object with nothing in it).
///
/// Read-only sub-attributes of a complex value are dropped (the server owns
/// them), so a complex attribute whose sub-attributes are all read-only, such as
/// `meta`, always comes back as `Ok(None)`: check the attribute's own
/// [`Mutability`] before calling this if "read-only" must differ from "absent".
pub fn coerce(
    def: &'static AttributeDef,
    value: &Value,
    opts: NormalizeOptions,
    label: &str,
) -> Result<Option<Value>, ResourceError> {
    if def.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(def, item, opts, label)? {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        let primaries = out
            .iter()
            .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(ResourceError::value(format!(
                "'{label}' has {primaries} values with primary true; at most one is allowed"
            )));
        }
        return Ok(Some(Value::Array(out)));
    }
    match value {
        // A one-element array for a single-valued attribute (Entra's manager).
        Value::Array(items) if items.len() <= 1 => match items.first() {
            Some(v) => coerce_single(def, v, opts, label),
            None => Ok(None),
        },
        Value::Array(_) => Err(ResourceError::value(format!(
            "'{label}' is single-valued; got an array of several values"
        ))),
        other => coerce_single(def, other, opts, label),
    }
}

fn coerce_single(
    def: &'static AttributeDef,
    value: &Value,
    opts: NormalizeOptions,
    label: &str,
) -> Result<Option<Value>, ResourceError> {
    let wrong = |expected: &str| {
        ResourceError::value(format!(
            "'{label}' must be {expected}; got {}",
            kind_of(value)
        ))
    };
    Ok(match def.attr_type {
        _ if value.is_null() => None,
        AttrType::Complex => match value {
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, v) in o {
                    match def.sub_attribute(k) {
                        Some(sub) => {
                            if matches!(sub.mutability, Mutability::ReadOnly) {
                                continue;
                            }
                            let sub_label = format!("{label}.{}", sub.name);
                            if let Some(v) = coerce(sub, v, opts, &sub_label)? {
                                out.insert(sub.name.to_owned(), v);
                            }
                        }
                        None => unknown(opts, &format!("{label}.{k}"))?,
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            // A bare value for a complex attribute with a `value` (Entra's manager).
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                match def.sub_attribute("value") {
                    Some(sub) => coerce(sub, value, opts, &format!("{label}.value"))?.map(|v| {
                        let mut m = Map::new();
                        m.insert("value".to_owned(), v);
                        Value::Object(m)
                    }),
                    None => return Err(wrong("an object")),
                }
            }
            _ => return Err(wrong("an object")),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::String(s) => Some(Value::Bool(parse_bool(s).ok_or_else(|| {
                ResourceError::value(format!("'{label}' must be true or false; got {s:?}"))
            })?)),
            _ => return Err(wrong("a boolean")),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(value.clone()),
            _ => return Err(wrong("an integer")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Some(value.clone()),
            _ => return Err(wrong("a number")),
        },
        AttrType::DateTime => match value {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => {
                if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                    return Err(ResourceError::value(format!(
                        "'{label}' must be a dateTime such as \"2026-11-02T09:14:07Z\"; got {s:?}"
                    )));
                }
                Some(value.clone())
            }
            _ => return Err(wrong("a dateTime string")),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(s) if s.is_empty() => None,
            Value::String(_) => Some(value.clone()),
            _ => return Err(wrong("a string")),
        },
    })
}

/// Parses `"true"`/`"false"` in any letter case (Entra ID sends `"True"`/`"False"`).
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks that every required attribute of the core schema and of required
/// extensions is present (`400 invalidValue` naming the first missing one).
pub fn check_required(rt: &ResourceType, doc: &Value) -> Result<(), ResourceError> {
    let check = |schema: &Schema, obj: Option<&Map<String, Value>>| {
        for def in schema
            .attributes
            .iter()
            .filter(|a| a.required && a.client_writable())
        {
            let present = obj
                .and_then(|o| o.get(def.name))
                .is_some_and(|v| !v.is_null());
            if !present {
                return Err(ResourceError::value(format!("'{}' is required", def.name)));
            }
        }
        Ok(())
    };
    let obj = doc.as_object();
    check(rt.schema, obj)?;
    for ext in rt.extensions.iter().filter(|e| e.required) {
        check(
            ext.schema,
            obj.and_then(|o| o.get(ext.schema.id))
                .and_then(Value::as_object),
        )?;
    }
    Ok(())
}

/// Writes the `schemas` list of a document for output: the core schema URN and the
/// URN of each extension the document carries data for.
pub fn finish_output(rt: &ResourceType, doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let mut schemas = vec![Value::String(rt.schema.id.to_owned())];
    for ext in rt.extensions {
        if obj
            .get(ext.schema.id)
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty())
        {
            schemas.push(Value::String(ext.schema.id.to_owned()));
        }
    }
    obj.insert("schemas".to_owned(), Value::Array(schemas));
}
