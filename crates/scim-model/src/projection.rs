//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) with the `returned` rules
//! of RFC 7643 §2.2: `always` is kept even when excluded or not asked for, `never`
//! is never emitted, `request` only when asked for, `default` unless excluded.

use serde_json::{Map, Value};

use crate::path::{AttrPath, PathError};
use crate::schema::{AttrLocation, AttributeDef, ResolvedAttr, ResourceType, Returned, Schema};

/// A parsed `attributes` / `excludedAttributes` pair for one resource type.
///
/// Names are resolved case-insensitively; names the schema does not know are
/// ignored (they cannot select anything). A syntactically invalid name is an error.
#[derive(Clone, Debug)]
pub struct Projection {
    rt: &'static ResourceType,
    attributes: Vec<ResolvedAttr>,
    excluded: Vec<ResolvedAttr>,
}

impl Projection {
    /// Everything with `returned: default` or `always` (no parameters given).
    pub fn all(rt: &'static ResourceType) -> Self {
        Projection {
            rt,
            attributes: Vec::new(),
            excluded: Vec::new(),
        }
    }

    /// Parses the two parameters (each a list of attribute paths, e.g. from
    /// [`crate::messages::split_attribute_list`]). When both are given,
    /// `attributes` wins, as RFC 7644 allows only one of them.
    pub fn new<S: AsRef<str>>(
        rt: &'static ResourceType,
        attributes: &[S],
        excluded: &[S],
    ) -> Result<Self, PathError> {
        let resolve_all = |names: &[S]| -> Result<Vec<ResolvedAttr>, PathError> {
            let mut out = Vec::new();
            for n in names {
                let path = AttrPath::parse(n.as_ref().trim())?;
                if let Some(r) = rt.resolve(&path) {
                    out.push(r);
                }
            }
            Ok(out)
        };
        let attributes = resolve_all(attributes)?;
        let excluded = if attributes.is_empty() {
            resolve_all(excluded)?
        } else {
            Vec::new()
        };
        Ok(Projection {
            rt,
            attributes,
            excluded,
        })
    }

    /// Whether the projection can return any part of the top-level attribute `name`
    /// of the core schema (e.g. `members`), so a store can skip loading what will
    /// not be returned.
    pub fn includes(&self, name: &str) -> bool {
        let Some(def) = self.rt.schema.attribute(name) else {
            return false;
        };
        self.keeps(AttrLocation::Core, def).is_some()
    }

    /// Applies the projection to a resource representation.
    pub fn apply(&self, resource: &Value) -> Value {
        let Some(obj) = resource.as_object() else {
            return resource.clone();
        };
        let mut out = Map::new();
        for (key, value) in obj {
            if key == "schemas" {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if let Some(ext) = self.rt.extension(key) {
                if let Some(inner) = value.as_object() {
                    let projected = self.project_object(AttrLocation::Extension(ext), ext, inner);
                    if !projected.is_empty() {
                        out.insert(key.clone(), Value::Object(projected));
                    }
                }
                continue;
            }
            let def =
                crate::schema::common_attribute(key).or_else(|| self.rt.schema.attribute(key));
            match def {
                Some(def) => {
                    if let Some(v) = self.project_attr(AttrLocation::Core, def, value) {
                        out.insert(key.clone(), v);
                    }
                }
                None if self.attributes.is_empty() => {
                    out.insert(key.clone(), value.clone());
                }
                None => {}
            }
        }
        Value::Object(out)
    }

    fn project_object(
        &self,
        loc: AttrLocation,
        schema: &'static Schema,
        obj: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in obj {
            if let Some(def) = schema.attribute(key)
                && let Some(v) = self.project_attr(loc, def, value)
            {
                out.insert(key.clone(), v);
            }
        }
        out
    }

    fn project_attr(
        &self,
        loc: AttrLocation,
        def: &'static AttributeDef,
        value: &Value,
    ) -> Option<Value> {
        match self.keeps(loc, def)? {
            Keep::All => Some(value.clone()),
            Keep::Subs(subs) => {
                let filter_el = |el: &Value| -> Value {
                    match el.as_object() {
                        Some(o) => Value::Object(
                            o.iter()
                                .filter(|(k, _)| subs(def.sub_attribute(k)))
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect(),
                        ),
                        None => el.clone(),
                    }
                };
                let v = match value {
                    Value::Array(items) => Value::Array(items.iter().map(filter_el).collect()),
                    other => filter_el(other),
                };
                Some(v)
            }
        }
    }

    /// What of attribute `def` (at `loc`) is returned.
    fn keeps(&self, loc: AttrLocation, def: &'static AttributeDef) -> Option<Keep<'_>> {
        let same = |r: &ResolvedAttr| r.location == loc && std::ptr::eq(r.attr, def);
        match def.returned {
            Returned::Never => return None,
            Returned::Always => return Some(Keep::All),
            _ => {}
        }
        if !self.attributes.is_empty() {
            let asked: Vec<&ResolvedAttr> = self.attributes.iter().filter(|r| same(r)).collect();
            if asked.is_empty() {
                return None;
            }
            if asked.iter().any(|r| r.sub.is_none()) {
                return Some(Keep::All);
            }
            let asked_subs: Vec<&'static AttributeDef> =
                asked.iter().filter_map(|r| r.sub).collect();
            return Some(Keep::Subs(Box::new(
                move |sub: Option<&'static AttributeDef>| {
                    sub.is_some_and(|s| {
                        matches!(s.returned, Returned::Always)
                            || asked_subs.iter().any(|a| std::ptr::eq(*a, s))
                    })
                },
            )));
        }
        if matches!(def.returned, Returned::Request) {
            return None;
        }
        let excluded: Vec<&ResolvedAttr> = self.excluded.iter().filter(|r| same(r)).collect();
        if excluded.iter().any(|r| r.sub.is_none()) {
            return None;
        }
        if excluded.is_empty() {
            return Some(Keep::All);
        }
        let excluded_subs: Vec<&'static AttributeDef> =
            excluded.iter().filter_map(|r| r.sub).collect();
        Some(Keep::Subs(Box::new(
            move |sub: Option<&'static AttributeDef>| match sub {
                Some(s) => {
                    !matches!(s.returned, Returned::Never)
                        && (matches!(s.returned, Returned::Always)
                            || !excluded_subs.iter().any(|a| std::ptr::eq(*a, s)))
                }
                None => true,
            },
        )))
    }
}

type SubFilter<'a> = Box<dyn Fn(Option<&'static AttributeDef>) -> bool + 'a>;

enum Keep<'a> {
    All,
    Subs(SubFilter<'a>),
}
