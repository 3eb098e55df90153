//! Small helpers over JSON values: case-insensitive keys, emptiness, loose equality,
//! element identity, filter seeds and the single-primary rule.

use scim_model::filter::{CompValue, CompareOp, Filter};
use scim_model::resource::{NormalizeOptions, UnknownAttributes, coerce, parse_bool};
use scim_model::schema::{AttributeDef, get_ci};
use serde_json::{Map, Value};

/// Coercion options: unknown sub-attributes inside values are dropped (lenient input).
pub(crate) const OPTS: NormalizeOptions = NormalizeOptions {
    unknown: UnknownAttributes::Ignore,
};

/// Removes every key equal to `name` ignoring ASCII case; returns the exact match if
/// any, else the first case-insensitive one.
pub(crate) fn remove_ci(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let exact = obj.remove(name);
    let others: Vec<String> = obj
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    let mut found = exact;
    for k in others {
        let v = obj.remove(&k);
        if found.is_none() {
            found = v;
        }
    }
    found
}

/// Sets `name` (canonical) after removing any case variant of it.
pub(crate) fn set_ci(obj: &mut Map<String, Value>, name: &str, value: Value) {
    remove_ci(obj, name);
    obj.insert(name.to_owned(), value);
}

/// `null`, `""`, `[]`, `{}` (or an object/array of only such values).
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn str_eq(def: &AttributeDef, a: &str, b: &str) -> bool {
    if def.case_exact {
        a == b
    } else {
        a == b || a.to_lowercase() == b.to_lowercase()
    }
}

/// Whether the client's `raw` value says the same as the stored `current` one: used
/// for read-only attributes, where an equal value is ignored and another is rejected.
/// Objects compare on the keys the client sent; strings follow `caseExact`; booleans
/// accept the string forms.
pub(crate) fn loosely_equal(def: &AttributeDef, current: Option<&Value>, raw: &Value) -> bool {
    let Some(cur) = current else {
        return is_empty(raw);
    };
    match (cur, raw) {
        (Value::String(a), Value::String(b)) => str_eq(def, a, b),
        (Value::Bool(a), Value::String(s)) => parse_bool(s) == Some(*a),
        (Value::Object(c), Value::Object(o)) => o.iter().all(|(k, v)| match def.sub_attribute(k) {
            Some(sd) => loosely_equal(sd, get_ci(c, sd.name), v),
            None => true,
        }),
        (Value::Array(c), Value::Array(o)) => {
            c.len() == o.len()
                && o.iter()
                    .all(|v| c.iter().any(|x| loosely_equal(def, Some(x), v)))
        }
        (Value::Array(c), single) if c.len() == 1 => loosely_equal(def, c.first(), single),
        (c, v) => c == v,
    }
}

/// Whether two elements of the multi-valued attribute `def` are "the same value":
/// same `value` (following its `caseExact`) and, when both carry one, same `type`;
/// for attributes without a `value` sub-attribute (addresses), equal apart from
/// `primary`.
pub(crate) fn same_element(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    let (Value::Object(x), Value::Object(y)) = (a, b) else {
        return a == b;
    };
    if let Some(value_def) = def.sub_attribute("value") {
        let same_value = match (get_ci(x, "value"), get_ci(y, "value")) {
            (Some(Value::String(p)), Some(Value::String(q))) => str_eq(value_def, p, q),
            (Some(p), Some(q)) => p == q,
            _ => false,
        };
        let same_type = match (get_ci(x, "type"), get_ci(y, "type")) {
            (Some(Value::String(p)), Some(Value::String(q))) => p.eq_ignore_ascii_case(q),
            (Some(p), Some(q)) => p == q,
            _ => true,
        };
        same_value && same_type
    } else {
        let strip = |m: &Map<String, Value>| {
            let mut m = m.clone();
            remove_ci(&mut m, "primary");
            m
        };
        strip(x) == strip(y)
    }
}

/// Whether an element says `primary: true`.
pub(crate) fn is_primary(v: &Value) -> bool {
    v.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(|p| p == &Value::Bool(true))
}

/// At most one `primary: true`: when element `preferred` is primary, every other
/// primary element gets `primary: false`.
pub(crate) fn enforce_primary(items: &mut [Value], preferred: Option<usize>) {
    let Some(p) = preferred else { return };
    if !items.get(p).is_some_and(is_primary) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if i != p
            && is_primary(item)
            && let Some(o) = item.as_object_mut()
        {
            set_ci(o, "primary", Value::Bool(false));
        }
    }
}

/// Collects the `sub eq value` conjuncts of a value filter as sub-attribute values of
/// a new element (`type eq "work"` → `{"type": "work"}`). Returns `false` when some
/// part of the filter is not such a conjunct (the seed is then partial).
pub(crate) fn collect_seed(def: &AttributeDef, f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::And(a, b) => {
            let left = collect_seed(def, a, out);
            let right = collect_seed(def, b, out);
            left && right
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let Some(sub) = def.sub_attribute(&path.name) else {
                return false;
            };
            if matches!(value, CompValue::Null) {
                return false;
            }
            match coerce(sub, &value.to_json(), OPTS, sub.name) {
                Ok(Some(v)) => {
                    if let Some(existing) = get_ci(out, sub.name)
                        && existing != &v
                    {
                        return false;
                    }
                    set_ci(out, sub.name, v);
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}
