//! Schema-aware evaluation of filters on resources (`serde_json::Value`).
//!
//! A [`Filter`] is first compiled against a [`ResourceType`]: every attribute path
//! is resolved (case-insensitively) and every comparison is checked against the
//! attribute's type. Comparisons RFC 7644 forbids (`gt` on a boolean, ordering on a
//! complex attribute, a string against an integer, ...) are [`FilterError`]s
//! (`400 invalidFilter`), never a silent `false`. The compiled filter then matches
//! resources without failing.
//!
//! Semantics:
//! - String comparison follows the attribute's `caseExact` (`userName` and
//!   `emails.value` ignore case, `id` and `externalId` do not).
//! - `dateTime` values compare as instants; integers and decimals as numbers;
//!   booleans accept the literals `true`/`false` and the strings `"true"`/`"false"`
//!   in any case (Entra ID sends `primary eq "True"`).
//! - A multi-valued attribute matches when any of its values matches.
//! - A complex attribute named without a sub-attribute compares its `value`
//!   sub-attribute (`emails co "example.com"` means `emails.value co ...`).
//! - `pr`: present and non-empty (not `null`, `""`, `[]` or `{}`).
//! - `ne` is the negation of `eq` over the whole attribute: it matches when no
//!   value equals the literal, including when the attribute is absent.
//! - `eq null` matches an absent attribute and `ne null` a present one.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::{CompValue, CompareOp, Filter, FilterError};
use crate::path::AttrPath;
use crate::schema::{AttrType, AttributeDef, ResolvedAttr, ResourceType, get_ci};

/// A filter resolved and type-checked against a resource type; see the module docs.
#[derive(Clone, Debug)]
pub struct CompiledFilter {
    root: Node,
}

#[derive(Clone, Debug)]
enum Node {
    Compare {
        target: Target,
        op: CompareOp,
        operand: Operand,
    },
    Present(Target),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    ValuePath {
        attr: ResolvedAttr,
        filter: Box<Node>,
    },
}

/// What a comparison reads.
#[derive(Clone, Debug)]
enum Target {
    /// An attribute of the resource; `implicit_value` when a complex attribute was
    /// named without a sub-attribute and its `value` is compared.
    Resource {
        resolved: ResolvedAttr,
        compared: &'static AttributeDef,
        implicit_value: Option<&'static AttributeDef>,
    },
    /// A sub-attribute of the element of a value path.
    Element { def: &'static AttributeDef },
}

impl Target {
    fn compared(&self) -> &'static AttributeDef {
        match self {
            Target::Resource { compared, .. } => compared,
            Target::Element { def } => def,
        }
    }
}

#[derive(Clone, Debug)]
enum Operand {
    Null,
    Bool(bool),
    Number(f64, Option<i64>),
    Text { raw: String, folded: String },
    Instant(DateTime<FixedOffset>),
}

fn err(message: impl Into<String>) -> FilterError {
    FilterError::new(0, message)
}

impl Filter {
    /// Resolves and type-checks the filter against `rt`; see [`CompiledFilter`].
    pub fn compile(&self, rt: &ResourceType) -> Result<CompiledFilter, FilterError> {
        Ok(CompiledFilter {
            root: compile(self, rt, None)?,
        })
    }

    /// Compiles the filter and evaluates it on one resource. To test many
    /// resources, compile once and call [`CompiledFilter::matches`].
    pub fn matches(&self, resource: &Value, rt: &ResourceType) -> Result<bool, FilterError> {
        Ok(self.compile(rt)?.matches(resource))
    }
}

impl CompiledFilter {
    /// Whether `resource` satisfies the filter.
    pub fn matches(&self, resource: &Value) -> bool {
        eval(&self.root, resource, None)
    }
}

/// A value filter compiled for the elements of one complex attribute: the `[...]`
/// of a PATCH path such as `emails[type eq "work"]` or `members[value eq "id"]`.
#[derive(Clone, Debug)]
pub struct ElementFilter {
    root: Node,
}

impl ElementFilter {
    /// Whether one element (a JSON object) satisfies the filter. Non-objects never do.
    pub fn matches(&self, element: &Value) -> bool {
        match element.as_object() {
            Some(obj) => eval(&self.root, &Value::Null, Some(obj)),
            None => false,
        }
    }
}

impl Filter {
    /// Compiles the filter as a value filter over the elements of `attr` (a complex
    /// attribute of `rt`, single- or multi-valued): its paths name sub-attributes of
    /// `attr`. Errors if `attr` is unknown or not complex, or as [`Filter::compile`].
    pub fn compile_for_elements(
        &self,
        rt: &ResourceType,
        attr: &AttrPath,
    ) -> Result<ElementFilter, FilterError> {
        let resolved = rt
            .resolve(attr)
            .ok_or_else(|| err(format!("unknown attribute '{attr}'")))?;
        if resolved.sub.is_some() || !resolved.attr.is_complex() {
            return Err(err(format!(
                "'{attr}[...]' needs a complex attribute; '{}' is not one",
                resolved.canonical_path()
            )));
        }
        Ok(ElementFilter {
            root: compile(self, rt, Some(resolved.attr))?,
        })
    }
}

fn compile(
    f: &Filter,
    rt: &ResourceType,
    element_of: Option<&'static AttributeDef>,
) -> Result<Node, FilterError> {
    Ok(match f {
        Filter::Compare { path, op, value } => {
            let target = target(path, rt, element_of, false)?;
            let operand = operand(target.compared(), *op, value, path)?;
            Node::Compare {
                target,
                op: *op,
                operand,
            }
        }
        Filter::Present(path) => Node::Present(target(path, rt, element_of, true)?),
        Filter::Not(inner) => Node::Not(Box::new(compile(inner, rt, element_of)?)),
        Filter::And(a, b) => Node::And(
            Box::new(compile(a, rt, element_of)?),
            Box::new(compile(b, rt, element_of)?),
        ),
        Filter::Or(a, b) => Node::Or(
            Box::new(compile(a, rt, element_of)?),
            Box::new(compile(b, rt, element_of)?),
        ),
        Filter::ValuePath { attr, filter } => {
            if element_of.is_some() {
                return Err(err(format!(
                    "value paths cannot be nested ('{attr}[...]' inside another '[...]')"
                )));
            }
            let resolved = rt
                .resolve(attr)
                .ok_or_else(|| err(format!("unknown attribute '{attr}'")))?;
            if resolved.sub.is_some() || !resolved.attr.is_complex() {
                return Err(err(format!(
                    "'{attr}[...]' needs a complex attribute; '{}' is not one",
                    resolved.canonical_path()
                )));
            }
            Node::ValuePath {
                attr: resolved,
                filter: Box::new(compile(filter, rt, Some(resolved.attr))?),
            }
        }
    })
}

fn target(
    path: &AttrPath,
    rt: &ResourceType,
    element_of: Option<&'static AttributeDef>,
    presence: bool,
) -> Result<Target, FilterError> {
    if let Some(parent) = element_of {
        if path.urn.is_some() || path.sub_attr.is_some() {
            return Err(err(format!(
                "inside '{}[...]' name a sub-attribute of '{}', not '{path}'",
                parent.name, parent.name
            )));
        }
        let def = parent.sub_attribute(&path.name).ok_or_else(|| {
            err(format!(
                "'{}' has no sub-attribute '{}'",
                parent.name, path.name
            ))
        })?;
        return Ok(Target::Element { def });
    }
    let resolved = rt
        .resolve(path)
        .ok_or_else(|| err(format!("unknown attribute '{path}'")))?;
    let target = resolved.target();
    if target.is_complex() && !presence {
        let value = target.sub_attribute("value").ok_or_else(|| {
            err(format!(
                "'{}' is complex; compare one of its sub-attributes (e.g. '{}.{}')",
                resolved.canonical_path(),
                target.name,
                target.sub_attributes.first().map_or("value", |a| a.name)
            ))
        })?;
        return Ok(Target::Resource {
            resolved,
            compared: value,
            implicit_value: Some(value),
        });
    }
    Ok(Target::Resource {
        resolved,
        compared: target,
        implicit_value: None,
    })
}

fn operand(
    def: &AttributeDef,
    op: CompareOp,
    value: &CompValue,
    path: &AttrPath,
) -> Result<Operand, FilterError> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let kind = def.attr_type.as_str();
    let bad = |why: &str| err(format!("'{path} {} ...': {why}", op.as_str()));
    if let CompValue::Null = value {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(Operand::Null)
        } else {
            Err(bad("null can only be compared with eq or ne"))
        };
    }
    match def.attr_type {
        AttrType::Boolean => {
            if ordering || substring {
                return Err(bad("a boolean supports only eq and ne"));
            }
            match value {
                CompValue::Bool(b) => Ok(Operand::Bool(*b)),
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => Ok(Operand::Bool(true)),
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => Ok(Operand::Bool(false)),
                _ => Err(bad("a boolean compares with true or false")),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if substring {
                return Err(bad(&format!("co, sw and ew do not apply to {kind} values")));
            }
            match value {
                CompValue::Number(n) => match n.as_f64() {
                    Some(f) => Ok(Operand::Number(f, n.as_i64())),
                    None => Err(bad("number out of range")),
                },
                _ => Err(bad(&format!("{kind} attributes compare with numbers"))),
            }
        }
        AttrType::DateTime => match value {
            CompValue::String(s) if substring => Ok(text(s, def.case_exact)),
            CompValue::String(s) => DateTime::parse_from_rfc3339(s)
                .map(Operand::Instant)
                .map_err(|_| {
                    bad(&format!(
                        "{s:?} is not a dateTime such as \"2026-11-02T09:14:07Z\""
                    ))
                }),
            _ => Err(bad("dateTime attributes compare with strings")),
        },
        AttrType::Binary if ordering => Err(bad("binary values cannot be ordered")),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            CompValue::String(s) => Ok(text(s, def.case_exact)),
            _ => Err(bad(&format!("{kind} attributes compare with strings"))),
        },
        AttrType::Complex => Err(bad("complex attributes cannot be compared")),
    }
}

fn text(s: &str, case_exact: bool) -> Operand {
    Operand::Text {
        raw: s.to_owned(),
        folded: if case_exact {
            s.to_owned()
        } else {
            s.to_lowercase()
        },
    }
}

fn eval(node: &Node, resource: &Value, element: Option<&Map<String, Value>>) -> bool {
    match node {
        Node::Compare {
            target,
            op,
            operand,
        } => {
            let values = gather(target, resource, element);
            let def = target.compared();
            match (op, operand) {
                (CompareOp::Eq, Operand::Null) => !values.iter().any(|v| non_empty(v)),
                (CompareOp::Ne, Operand::Null) => values.iter().any(|v| non_empty(v)),
                (CompareOp::Ne, _) => !values
                    .iter()
                    .any(|v| compare(def, v, CompareOp::Eq, operand)),
                _ => values.iter().any(|v| compare(def, v, *op, operand)),
            }
        }
        Node::Present(target) => gather(target, resource, element)
            .iter()
            .any(|v| non_empty(v)),
        Node::Not(inner) => !eval(inner, resource, element),
        Node::And(a, b) => eval(a, resource, element) && eval(b, resource, element),
        Node::Or(a, b) => eval(a, resource, element) || eval(b, resource, element),
        Node::ValuePath { attr, filter } => match attr.attr_value(resource) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_object)
                .any(|el| eval(filter, resource, Some(el))),
            Some(Value::Object(obj)) => eval(filter, resource, Some(obj)),
            _ => false,
        },
    }
}

/// The values a target reads, with multi-valued attributes flattened.
fn gather<'a>(
    target: &Target,
    resource: &'a Value,
    element: Option<&'a Map<String, Value>>,
) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match target {
        Target::Element { def } => {
            if let Some(v) = element.and_then(|el| get_ci(el, def.name)) {
                push_flat(&mut out, v);
            }
        }
        Target::Resource {
            resolved,
            implicit_value,
            ..
        } => {
            let Some(top) = resolved.attr_value(resource) else {
                return out;
            };
            match resolved.sub.or(*implicit_value) {
                None => push_flat(&mut out, top),
                Some(sub) => {
                    let mut each = |v: &'a Value| {
                        if let Some(x) = v.as_object().and_then(|o| get_ci(o, sub.name)) {
                            push_flat(&mut out, x);
                        }
                    };
                    match top {
                        Value::Array(items) => items.iter().for_each(&mut each),
                        other => each(other),
                    }
                }
            }
        }
    }
    out
}

fn push_flat<'a>(out: &mut Vec<&'a Value>, v: &'a Value) {
    match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(non_empty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(def: &AttributeDef, v: &Value, op: CompareOp, operand: &Operand) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match operand {
        Operand::Null => None,
        Operand::Bool(b) => match v {
            Value::Bool(x) => Some(x.cmp(b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true.cmp(b)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false.cmp(b)),
            _ => None,
        },
        Operand::Number(f, i) => match v {
            Value::Number(n) => match (n.as_i64(), i) {
                (Some(a), Some(b)) => Some(a.cmp(b)),
                _ => n.as_f64().and_then(|a| a.partial_cmp(f)),
            },
            _ => None,
        },
        Operand::Instant(t) => match v {
            Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|x| x.cmp(t)),
            _ => None,
        },
        Operand::Text { raw, folded } => {
            let Value::String(s) = v else {
                return false;
            };
            let (hay, needle) = if def.case_exact {
                (s.clone(), raw.as_str())
            } else {
                (s.to_lowercase(), folded.as_str())
            };
            return match op {
                CompareOp::Co => hay.contains(needle),
                CompareOp::Sw => hay.starts_with(needle),
                CompareOp::Ew => hay.ends_with(needle),
                _ => ordering_holds(op, hay.as_str().cmp(needle)),
            };
        }
    };
    ord.is_some_and(|o| ordering_holds(op, o))
}

fn ordering_holds(op: CompareOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Eq => o == Equal,
        CompareOp::Ne => o != Equal,
        CompareOp::Gt => o == Greater,
        CompareOp::Ge => o != Less,
        CompareOp::Lt => o == Less,
        CompareOp::Le => o != Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
