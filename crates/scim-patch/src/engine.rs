//! The PATCH engine: operations applied in order to a working copy of the resource.

use std::collections::BTreeSet;

use scim_model::ScimType;
use scim_model::filter::Filter;
use scim_model::messages::{PatchOpKind, PatchOperation, PatchRequest};
use scim_model::resource::coerce;
use scim_model::schema::{
    AttrLocation, AttributeDef, Mutability, ResolvedAttr, ResourceType, Schema, get_ci,
};
use serde_json::{Map, Value};

use crate::error::{Deactivation, OpError, PatchError};
use crate::target::{
    ElementMatcher, Target, is_active, is_manager, is_members, resolve_key, resolve_patch_path,
    shorten,
};
use crate::values::{
    OPTS, collect_seed, enforce_primary, is_empty, is_primary, loosely_equal, remove_ci,
    same_element, set_ci,
};
use crate::{ChangeSet, Outcome, PatchLimits};

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

impl From<PatchOpKind> for Kind {
    fn from(k: PatchOpKind) -> Self {
        match k {
            PatchOpKind::Add => Kind::Add,
            PatchOpKind::Replace => Kind::Replace,
            PatchOpKind::Remove => Kind::Remove,
        }
    }
}

/// The member delta of a Group PATCH, netted in request order.
#[derive(Debug, Default)]
struct MemberDelta {
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
    cleared: bool,
}

impl MemberDelta {
    fn add(&mut self, id: String) {
        self.removed.remove(&id);
        self.added.insert(id);
    }
    fn remove(&mut self, id: String) {
        self.added.remove(&id);
        if !self.cleared {
            self.removed.insert(id);
        }
    }
    fn clear(&mut self) {
        self.cleared = true;
        self.added.clear();
        self.removed.clear();
    }
}

struct Engine<'r> {
    rt: &'r ResourceType,
    doc: Map<String, Value>,
    members: MemberDelta,
    password_set: bool,
    limits: PatchLimits,
}

/// Entry point of [`crate::apply_with`].
pub(crate) fn run(
    resource: &Value,
    rt: &ResourceType,
    patch: &PatchRequest,
    limits: PatchLimits,
) -> Result<Outcome, PatchError> {
    match run_atomic(resource, rt, &patch.operations, limits) {
        Ok(o) => Ok(o),
        Err(mut e) => {
            e.deactivation = deactivation(resource, rt, &patch.operations).map(Box::new);
            Err(e)
        }
    }
}

fn run_atomic(
    resource: &Value,
    rt: &ResourceType,
    ops: &[PatchOperation],
    limits: PatchLimits,
) -> Result<Outcome, PatchError> {
    let Some(original) = resource.as_object() else {
        return Err(PatchError::new(
            ScimType::InvalidSyntax,
            None,
            "the resource to patch is not a JSON object".to_owned(),
        ));
    };
    if ops.is_empty() {
        return Err(PatchError::new(
            ScimType::InvalidSyntax,
            None,
            "a PATCH request needs at least one operation in \"Operations\"".to_owned(),
        ));
    }
    if ops.len() > limits.max_operations {
        return Err(PatchError::new(
            ScimType::TooMany,
            None,
            format!(
                "{} operations in one PATCH request; at most {} are accepted",
                ops.len(),
                limits.max_operations
            ),
        ));
    }
    let mut engine = Engine {
        rt,
        doc: original.clone(),
        members: MemberDelta::default(),
        password_set: false,
        limits,
    };
    for (i, op) in ops.iter().enumerate() {
        engine.apply_op(op).map_err(|e| e.at(i))?;
    }
    Ok(engine.finish(original))
}

/// Counts the values an operation carries, for [`PatchLimits::max_values_per_operation`].
fn count_values(v: &Value, pathless: bool) -> usize {
    match v {
        Value::Array(a) => a.len(),
        Value::Object(o) if pathless => o
            .values()
            .map(|x| match x {
                Value::Array(a) => a.len().max(1),
                Value::Object(inner) => inner.len().max(1),
                _ => 1,
            })
            .sum(),
        _ => 1,
    }
}

fn label(r: &ResolvedAttr) -> String {
    r.canonical_path()
}

impl Engine<'_> {
    fn apply_op(&mut self, op: &PatchOperation) -> Result<(), OpError> {
        let kind = Kind::from(op.op);
        let path = op.path.as_deref().map(str::trim).filter(|p| !p.is_empty());
        if let Some(v) = &op.value {
            let n = count_values(v, path.is_none());
            if n > self.limits.max_values_per_operation {
                return Err(OpError::new(
                    ScimType::TooMany,
                    format!(
                        "{n} values in one operation; at most {} are accepted",
                        self.limits.max_values_per_operation
                    ),
                ));
            }
        }
        let target = match path {
            None => Target::Schema(None),
            Some(p) => resolve_patch_path(self.rt, p)?,
        };
        match kind {
            Kind::Remove => {
                if path.is_none() {
                    return Err(OpError::no_target("a remove operation needs a \"path\""));
                }
                self.remove(target, op.value.as_ref())
            }
            Kind::Add | Kind::Replace => {
                let Some(value) = &op.value else {
                    return Err(OpError::value(format!(
                        "an {} operation needs a \"value\"",
                        op.op
                    )));
                };
                self.write(kind, target, value)
            }
        }
    }

    // ---- reading and writing the working document --------------------------------

    fn container(&self, loc: AttrLocation) -> Option<&Map<String, Value>> {
        match loc {
            AttrLocation::Core => Some(&self.doc),
            AttrLocation::Extension(s) => get_ci(&self.doc, s.id).and_then(Value::as_object),
        }
    }

    fn current(&self, r: &ResolvedAttr) -> Option<&Value> {
        self.container(r.location)
            .and_then(|c| get_ci(c, r.attr.name))
            .filter(|v| !v.is_null())
    }

    /// Sets (or with `None` removes) the attribute's whole value.
    fn set(&mut self, r: &ResolvedAttr, value: Option<Value>) {
        match r.location {
            AttrLocation::Core => match value {
                Some(v) => set_ci(&mut self.doc, r.attr.name, v),
                None => {
                    remove_ci(&mut self.doc, r.attr.name);
                }
            },
            AttrLocation::Extension(s) => {
                let mut ext = match remove_ci(&mut self.doc, s.id) {
                    Some(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                match value {
                    Some(v) => set_ci(&mut ext, r.attr.name, v),
                    None => {
                        remove_ci(&mut ext, r.attr.name);
                    }
                }
                if !ext.is_empty() {
                    self.doc.insert(s.id.to_owned(), Value::Object(ext));
                }
            }
        }
    }

    // ---- add / replace -------------------------------------------------------------

    fn write(&mut self, kind: Kind, target: Target, value: &Value) -> Result<(), OpError> {
        match target {
            Target::Ignored => Ok(()),
            Target::Schema(schema) => self.write_object(kind, schema, value),
            Target::Attr(r) => self.write_attr(kind, &r, value),
            Target::Filtered { r, filter, sub } => {
                self.filtered(kind, &r, &filter, sub, Some(value))
            }
        }
    }

    /// A path-less value, or the value of a whole schema: an object of attributes.
    fn write_object(
        &mut self,
        kind: Kind,
        schema: Option<&'static Schema>,
        value: &Value,
    ) -> Result<(), OpError> {
        let obj = match value {
            Value::Object(o) => o,
            v if is_empty(v) => {
                return match schema {
                    Some(s) if !std::ptr::eq(s, self.rt.schema) => {
                        self.clear_extension(s);
                        Ok(())
                    }
                    _ => Ok(()),
                };
            }
            _ => {
                return Err(OpError::value(match schema {
                    None => "an operation without \"path\" needs an object of attributes as its \"value\"".to_owned(),
                    Some(s) => format!("the value of '{}' must be an object of attributes", s.id),
                }));
            }
        };
        for (key, v) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                match schema {
                    None => continue,
                    // How generic client libraries serialise an extension
                    // object: its own `schemas` names it. Ignored; naming
                    // anything else is an error.
                    Some(s) if names_only(v, s.id) => continue,
                    Some(s) => {
                        return Err(OpError::value(format!(
                            "'schemas' inside the value of '{}' may name only that schema",
                            s.id
                        )));
                    }
                }
            }
            let target = resolve_key(self.rt, schema, key)?;
            self.write(kind, target, v)?;
        }
        Ok(())
    }

    fn clear_extension(&mut self, s: &'static Schema) {
        let Some(Value::Object(mut ext)) = remove_ci(&mut self.doc, s.id) else {
            return;
        };
        ext.retain(|k, _| {
            s.attribute(k)
                .is_some_and(|d| matches!(d.mutability, Mutability::ReadOnly))
        });
        if !ext.is_empty() {
            self.doc.insert(s.id.to_owned(), Value::Object(ext));
        }
    }

    fn write_attr(&mut self, kind: Kind, r: &ResolvedAttr, value: &Value) -> Result<(), OpError> {
        if is_members(r) {
            return self.members_write(kind, r, value);
        }
        let target = r.target();
        if matches!(r.attr.mutability, Mutability::ReadOnly)
            || matches!(target.mutability, Mutability::ReadOnly)
        {
            return self.read_only_write(r, value);
        }
        if matches!(target.mutability, Mutability::WriteOnly) {
            // `password`: checked, reported, never stored.
            if coerce(target, value, OPTS, &label(r))?.is_some() {
                self.password_set = true;
            }
            return Ok(());
        }
        match r.sub {
            None => self.write_whole(kind, r, value),
            Some(sub) => self.write_sub(r, sub, value),
        }
    }

    fn read_only_write(&self, r: &ResolvedAttr, value: &Value) -> Result<(), OpError> {
        let current = match r.sub {
            None => self.current(r),
            Some(sub) => self
                .current(r)
                .and_then(Value::as_object)
                .and_then(|o| get_ci(o, sub.name)),
        };
        if loosely_equal(r.target(), current, value) {
            Ok(())
        } else {
            Err(OpError::mutability(format!("'{}' is read-only", label(r))))
        }
    }

    fn write_whole(&mut self, kind: Kind, r: &ResolvedAttr, value: &Value) -> Result<(), OpError> {
        let def = r.attr;
        let Some(new) = coerce(def, value, OPTS, &label(r))? else {
            // An empty container adds nothing; null or "" removes (quirk 19).
            if kind == Kind::Add && (value.is_array() || value.is_object()) {
                return Ok(());
            }
            return self.remove_whole(r);
        };
        if def.multi_valued {
            let Value::Array(items) = new else {
                return Err(OpError::value(format!("'{}' must be an array", label(r))));
            };
            match kind {
                Kind::Add => self.add_elements(r, items),
                _ => {
                    self.set(r, Some(Value::Array(items)));
                    Ok(())
                }
            }
        } else if def.is_complex() {
            // RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes not given are left as they are.
            let Value::Object(new) = new else {
                return Err(OpError::value(format!("'{}' must be an object", label(r))));
            };
            let mut obj = self
                .current(r)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in new {
                if let Some(sub) = def.sub_attribute(&k) {
                    check_immutable(r, sub, get_ci(&obj, sub.name), &v)?;
                }
                set_ci(&mut obj, &k, v);
            }
            self.set(r, Some(Value::Object(obj)));
            Ok(())
        } else {
            check_immutable(r, def, self.current(r), &new)?;
            self.set(r, Some(new));
            Ok(())
        }
    }

    fn add_elements(&mut self, r: &ResolvedAttr, items: Vec<Value>) -> Result<(), OpError> {
        let def = r.attr;
        let mut arr = current_array(self.current(r));
        let mut primary = None;
        for item in items {
            let idx = match arr.iter().position(|e| same_element(def, e, &item)) {
                Some(i) => {
                    if let (Some(Value::Object(e)), Value::Object(n)) = (arr.get_mut(i), &item) {
                        for (k, v) in n {
                            // `value` and `type` made the match: the stored spelling stays.
                            let identity = k == "value" || k == "type";
                            if !(identity && get_ci(e, k).is_some()) {
                                set_ci(e, k, v.clone());
                            }
                        }
                    }
                    i
                }
                None => {
                    arr.push(item);
                    arr.len().saturating_sub(1)
                }
            };
            if arr.get(idx).is_some_and(is_primary) {
                primary = Some(idx);
            }
        }
        enforce_primary(&mut arr, primary);
        self.set(r, Some(Value::Array(arr)));
        Ok(())
    }

    /// `attr.sub` without a filter: the sub-attribute of a single complex attribute,
    /// or of every element of a multi-valued one.
    fn write_sub(
        &mut self,
        r: &ResolvedAttr,
        sub: &'static AttributeDef,
        value: &Value,
    ) -> Result<(), OpError> {
        let new = coerce(sub, value, OPTS, &label(r))?;
        if new.is_none() && sub.required {
            return Err(OpError::value(format!(
                "'{}' is required; it cannot be removed",
                label(r)
            )));
        }
        if r.attr.multi_valued {
            let mut arr = current_array(self.current(r));
            if arr.is_empty() {
                return match new {
                    None => Ok(()),
                    Some(_) => Err(OpError::no_target(format!(
                        "'{}' addresses every value of '{}', and it has none; use a filter such as '{}[type eq \"work\"].{}'",
                        label(r),
                        r.attr.name,
                        r.attr.name,
                        sub.name
                    ))),
                };
            }
            if sub.name == "primary" && new == Some(Value::Bool(true)) && arr.len() > 1 {
                return Err(OpError::value(format!(
                    "'{}': only one value of '{}' can be primary",
                    label(r),
                    r.attr.name
                )));
            }
            let mut keep = Vec::with_capacity(arr.len());
            for mut el in arr.drain(..) {
                if set_sub_in(r, &mut el, sub, new.clone())? {
                    keep.push(el);
                }
            }
            self.set(r, (!keep.is_empty()).then_some(Value::Array(keep)));
        } else {
            let mut el = self
                .current(r)
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            let keep = set_sub_in(r, &mut el, sub, new)?;
            self.set(r, keep.then_some(el));
        }
        Ok(())
    }

    // ---- filtered paths --------------------------------------------------------------

    /// `attr[filter]` and `attr[filter].sub`. `value` is `None` for `remove`.
    fn filtered(
        &mut self,
        kind: Kind,
        r: &ResolvedAttr,
        filter: &Filter,
        sub: Option<&'static AttributeDef>,
        value: Option<&Value>,
    ) -> Result<(), OpError> {
        if is_members(r) {
            return self.members_filtered(kind, filter, sub);
        }
        let path = format!("{}[{}]", label(r), filter);
        if matches!(r.attr.mutability, Mutability::ReadOnly)
            || sub.is_some_and(|s| matches!(s.mutability, Mutability::ReadOnly))
        {
            return Err(OpError::mutability(format!("'{path}' is read-only")));
        }
        let matcher = ElementMatcher::new(self.rt, r, filter)?;
        // The new content: a sub-attribute value, or a whole element.
        let new: Option<Value> = match (kind, value) {
            (Kind::Remove, _) | (_, None) => None,
            (_, Some(v)) => match sub {
                Some(s) => coerce(s, v, OPTS, &format!("{path}.{}", s.name))?,
                None => match coerce(r.attr, v, OPTS, &path)? {
                    Some(Value::Array(mut items)) if items.len() <= 1 => items.pop(),
                    Some(Value::Array(_)) => {
                        return Err(OpError::value(format!(
                            "'{path}' takes one value (an object), not an array of several"
                        )));
                    }
                    other => other,
                },
            },
        };
        if let (Some(s), None) = (sub, &new)
            && kind != Kind::Remove
            && s.required
        {
            return Err(OpError::value(format!(
                "'{path}.{}' is required; it cannot be removed",
                s.name
            )));
        }
        let mut seed = Map::new();
        let seedable = collect_seed(r.attr, filter, &mut seed);

        if r.attr.multi_valued {
            let mut arr = current_array(self.current(r));
            let hits: Vec<usize> = arr
                .iter()
                .enumerate()
                .filter(|(_, e)| matcher.matches(e))
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                let Some(new) = new else {
                    return if kind == Kind::Remove {
                        Err(OpError::no_target(format!(
                            "no value of '{}' matches '{path}'",
                            label(r)
                        )))
                    } else {
                        Ok(())
                    };
                };
                // Quirk 4: create the element the filter describes.
                if !seedable {
                    return Err(OpError::no_target(format!(
                        "no value of '{}' matches '{path}', and a new one can only be created from a filter of the form 'sub eq value [and ...]'",
                        label(r)
                    )));
                }
                let el = build_element(seed, sub, new)?;
                arr.push(el);
                let idx = arr.len().saturating_sub(1);
                enforce_primary(&mut arr, Some(idx));
                self.set(r, Some(Value::Array(arr)));
                return Ok(());
            }
            let mut drop = vec![false; arr.len()];
            let mut primary = None;
            for &i in &hits {
                let Some(el) = arr.get_mut(i) else { continue };
                let keep = self.update_element(kind, r, el, &seed, sub, new.clone())?;
                if !keep {
                    if let Some(d) = drop.get_mut(i) {
                        *d = true;
                    }
                } else if is_primary(el) {
                    primary = Some(i);
                }
            }
            enforce_primary(&mut arr, primary);
            let kept: Vec<Value> = arr
                .into_iter()
                .zip(drop)
                .filter(|(_, d)| !d)
                .map(|(e, _)| e)
                .collect();
            self.set(r, (!kept.is_empty()).then_some(Value::Array(kept)));
            Ok(())
        } else {
            let current = self.current(r).cloned();
            let matched = current.as_ref().is_some_and(|c| matcher.matches(c));
            match (current, matched) {
                (Some(mut el), true) => {
                    let keep = self.update_element(kind, r, &mut el, &seed, sub, new)?;
                    self.set(r, keep.then_some(el));
                    Ok(())
                }
                (current, _) => {
                    let Some(new) = new else {
                        // Quirk 11: removing a manager who is not (or no longer) the
                        // manager is a no-op success.
                        return if kind == Kind::Remove && !is_manager(r) {
                            Err(OpError::no_target(format!(
                                "'{}' does not match '{path}'",
                                label(r)
                            )))
                        } else {
                            Ok(())
                        };
                    };
                    if current.is_some() {
                        return Err(OpError::no_target(format!(
                            "'{}' has a value that does not match '{path}'",
                            label(r)
                        )));
                    }
                    if !seedable {
                        return Err(OpError::no_target(format!(
                            "'{}' has no value, and one can only be created from a filter of the form 'sub eq value [and ...]'",
                            label(r)
                        )));
                    }
                    let el = build_element(seed, sub, new)?;
                    self.set(r, Some(el));
                    Ok(())
                }
            }
        }
    }

    /// Applies a filtered operation to one matching element; returns whether the
    /// element stays.
    fn update_element(
        &self,
        kind: Kind,
        r: &ResolvedAttr,
        el: &mut Value,
        seed: &Map<String, Value>,
        sub: Option<&'static AttributeDef>,
        new: Option<Value>,
    ) -> Result<bool, OpError> {
        match (sub, new) {
            (Some(s), new) => set_sub_in(r, el, s, new),
            (None, None) => Ok(false),
            (None, Some(Value::Object(n))) => {
                let Some(obj) = el.as_object_mut() else {
                    return Ok(false);
                };
                if kind == Kind::Replace {
                    // The matching value is replaced; it keeps what its filter says.
                    let mut fresh = seed.clone();
                    for (k, v) in n {
                        set_ci(&mut fresh, &k, v);
                    }
                    for (k, v) in fresh.iter() {
                        if let Some(sd) = r.attr.sub_attribute(k) {
                            check_immutable(r, sd, get_ci(obj, sd.name), v)?;
                        }
                    }
                    *obj = fresh;
                } else {
                    for (k, v) in n {
                        if let Some(sd) = r.attr.sub_attribute(&k) {
                            check_immutable(r, sd, get_ci(obj, sd.name), &v)?;
                        }
                        set_ci(obj, &k, v);
                    }
                }
                Ok(true)
            }
            (None, Some(_)) => Err(OpError::value(format!(
                "a value of '{}' must be an object",
                label(r)
            ))),
        }
    }

    // ---- remove ----------------------------------------------------------------------

    fn remove(&mut self, target: Target, value: Option<&Value>) -> Result<(), OpError> {
        match target {
            Target::Ignored => Ok(()),
            Target::Schema(None) => Err(OpError::no_target("a remove operation needs a \"path\"")),
            Target::Schema(Some(s)) => {
                if std::ptr::eq(s, self.rt.schema) {
                    return Err(OpError::path(format!(
                        "'{}' names the whole resource; remove its attributes one by one",
                        s.id
                    )));
                }
                self.clear_extension(s);
                Ok(())
            }
            Target::Attr(r) => self.remove_attr(&r, value),
            Target::Filtered { r, filter, sub } => {
                self.filtered(Kind::Remove, &r, &filter, sub, None)
            }
        }
    }

    fn remove_attr(&mut self, r: &ResolvedAttr, value: Option<&Value>) -> Result<(), OpError> {
        if is_members(r) {
            return self.members_remove(r, value);
        }
        let target = r.target();
        if matches!(r.attr.mutability, Mutability::ReadOnly)
            || matches!(target.mutability, Mutability::ReadOnly)
        {
            return self.read_only_write(r, &Value::Null);
        }
        if matches!(target.mutability, Mutability::WriteOnly) {
            return Ok(());
        }
        if let Some(sub) = r.sub {
            return self.write_sub(r, sub, &Value::Null);
        }
        match value {
            None | Some(Value::Null) => self.remove_whole(r),
            Some(v) => {
                // Remove with a value: only the listed values (the Entra members dialect,
                // applied to every multi-valued attribute); a single value only if equal.
                let Some(current) = self.current(r).cloned() else {
                    return Ok(());
                };
                let Some(listed) = coerce(r.attr, v, OPTS, &label(r))? else {
                    return Ok(());
                };
                if r.attr.multi_valued {
                    let listed = match listed {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    let arr = current_array(Some(&current));
                    let kept: Vec<Value> = arr
                        .into_iter()
                        .filter(|e| !listed.iter().any(|l| same_element(r.attr, e, l)))
                        .collect();
                    self.set(r, (!kept.is_empty()).then_some(Value::Array(kept)));
                    Ok(())
                } else {
                    let equal = if r.attr.is_complex() {
                        same_element(r.attr, &current, &listed)
                    } else {
                        loosely_equal(r.attr, Some(&current), &listed)
                    };
                    if equal { self.remove_whole(r) } else { Ok(()) }
                }
            }
        }
    }

    fn remove_whole(&mut self, r: &ResolvedAttr) -> Result<(), OpError> {
        if is_active(r) {
            return Err(OpError::value(
                "'active' must be true or false; it cannot be removed or set to null or \"\"",
            ));
        }
        if r.attr.required {
            return Err(OpError::value(format!(
                "'{}' is required; it cannot be removed or set to null or \"\"",
                label(r)
            )));
        }
        if matches!(r.attr.mutability, Mutability::Immutable) && self.current(r).is_some() {
            return Err(OpError::mutability(format!(
                "'{}' is immutable; it cannot be removed",
                label(r)
            )));
        }
        self.set(r, None);
        Ok(())
    }

    // ---- members ---------------------------------------------------------------------

    fn members_write(
        &mut self,
        kind: Kind,
        r: &ResolvedAttr,
        value: &Value,
    ) -> Result<(), OpError> {
        if let Some(sub) = r.sub {
            return Err(member_sub_error(sub));
        }
        let ids = member_ids(value)?;
        if kind == Kind::Replace {
            self.members.clear();
        }
        for id in ids {
            self.members.add(id);
        }
        Ok(())
    }

    fn members_remove(&mut self, r: &ResolvedAttr, value: Option<&Value>) -> Result<(), OpError> {
        if let Some(sub) = r.sub {
            return Err(member_sub_error(sub));
        }
        match value {
            // RFC 7644 §3.5.2.2: neither value nor filter removes every member.
            None => {
                self.members.clear();
                Ok(())
            }
            Some(Value::Null) => Err(OpError::value(
                "a remove of 'members' with \"value\": null is ambiguous; list the members to remove, or send no value to remove them all",
            )),
            // Quirk 5: remove exactly the listed members.
            Some(v) => {
                for id in member_ids(v)? {
                    self.members.remove(id);
                }
                Ok(())
            }
        }
    }

    fn members_filtered(
        &mut self,
        kind: Kind,
        filter: &Filter,
        sub: Option<&'static AttributeDef>,
    ) -> Result<(), OpError> {
        if let Some(sub) = sub {
            return Err(member_sub_error(sub));
        }
        if kind != Kind::Remove {
            return Err(OpError::path(
                "members are added with path \"members\" and a value listing them, not with a filter",
            ));
        }
        let mut ids = Vec::new();
        member_filter_ids(filter, &mut ids)?;
        for id in ids {
            self.members.remove(id);
        }
        Ok(())
    }

    // ---- result ----------------------------------------------------------------------

    fn finish(self, original: &Map<String, Value>) -> Outcome {
        let mut attributes = BTreeSet::new();
        diff(self.rt, original, &self.doc, &mut attributes);
        let members_changed = self.members.cleared
            || !self.members.added.is_empty()
            || !self.members.removed.is_empty();
        if members_changed {
            attributes.insert("members".to_owned());
        }
        let before = get_ci(original, "active");
        let after = get_ci(&self.doc, "active");
        let active_changed = match after {
            Some(Value::Bool(b)) if before != after => Some(*b),
            _ => None,
        };
        let changed = members_changed || original != &self.doc;
        Outcome {
            resource: Value::Object(self.doc),
            changes: ChangeSet {
                attributes,
                active_changed,
                members_added: self.members.added,
                members_removed: self.members.removed,
                members_cleared: self.members.cleared,
                password_set: self.password_set,
                changed,
            },
        }
    }
}

fn current_array(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

fn check_immutable(
    r: &ResolvedAttr,
    def: &AttributeDef,
    current: Option<&Value>,
    new: &Value,
) -> Result<(), OpError> {
    if matches!(def.mutability, Mutability::Immutable)
        && let Some(cur) = current
        && !cur.is_null()
        && cur != new
    {
        return Err(OpError::mutability(format!(
            "'{}' is immutable: it can be set once, not changed",
            if std::ptr::eq(def, r.attr) {
                label(r)
            } else {
                format!("{}.{}", label(r), def.name)
            }
        )));
    }
    Ok(())
}

/// Sets (or with `None` removes) `sub` in the element `el`; returns whether the
/// element stays (it goes when it becomes empty, or loses its `value`).
fn set_sub_in(
    r: &ResolvedAttr,
    el: &mut Value,
    sub: &'static AttributeDef,
    new: Option<Value>,
) -> Result<bool, OpError> {
    if !el.is_object() {
        *el = Value::Object(Map::new());
    }
    let Some(obj) = el.as_object_mut() else {
        return Ok(false);
    };
    match new {
        Some(v) => {
            check_immutable(r, sub, get_ci(obj, sub.name), &v)?;
            set_ci(obj, sub.name, v);
            Ok(true)
        }
        None => {
            remove_ci(obj, sub.name);
            let lost_value = sub.name == "value" && r.attr.sub_attribute("value").is_some();
            Ok(!lost_value && !obj.is_empty())
        }
    }
}

fn build_element(
    seed: Map<String, Value>,
    sub: Option<&'static AttributeDef>,
    new: Value,
) -> Result<Value, OpError> {
    let mut el = seed;
    match (sub, new) {
        (Some(s), v) => set_ci(&mut el, s.name, v),
        (None, Value::Object(n)) => {
            for (k, v) in n {
                set_ci(&mut el, &k, v);
            }
        }
        (None, _) => {
            return Err(OpError::value("a filtered value must be an object"));
        }
    }
    Ok(Value::Object(el))
}

fn member_sub_error(sub: &AttributeDef) -> OpError {
    OpError::mutability(format!(
        "'members.{}' cannot be changed; add or remove the member instead",
        sub.name
    ))
}

/// The member ids of an add/replace/remove value: an array of `{value, $ref?,
/// display?, type?}` objects, or one such object (a bare id string is accepted too).
fn member_ids(value: &Value) -> Result<Vec<String>, OpError> {
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let id = match item {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Object(o) => {
                if let Some(Value::String(t)) = get_ci(o, "type")
                    && t.eq_ignore_ascii_case("Group")
                {
                    return Err(OpError::value(format!(
                        "member {i} is a group: nested groups are not supported"
                    )));
                }
                if let Some(Value::String(r)) = get_ci(o, "$ref")
                    && r.contains("/Groups/")
                {
                    return Err(OpError::value(format!(
                        "member {i} refers to a group: nested groups are not supported"
                    )));
                }
                match get_ci(o, "value") {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    _ => {
                        return Err(OpError::value(format!(
                            "member {i} has no \"value\" (the member's id as a non-empty string)"
                        )));
                    }
                }
            }
            _ => {
                return Err(OpError::value(format!(
                    "member {i} must be an object such as {{\"value\": \"<user id>\"}}"
                )));
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// The ids of `members[value eq "<id>"]`, also `or`-ed together.
fn member_filter_ids(f: &Filter, out: &mut Vec<String>) -> Result<(), OpError> {
    use scim_model::filter::{CompValue, CompareOp};
    match f {
        Filter::Or(a, b) => {
            member_filter_ids(a, out)?;
            member_filter_ids(b, out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            out.push(id.clone());
            Ok(())
        }
        other => Err(OpError::new(
            ScimType::InvalidFilter,
            format!(
                "members[{}]: member filters support only value eq \"<id>\" (optionally joined with or)",
                shorten(&other.to_string())
            ),
        )),
    }
}

/// The canonical paths of the attributes that differ between `before` and `after`:
/// sub-attribute paths for single complex attributes, attribute paths otherwise.
fn diff(
    rt: &ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    out: &mut BTreeSet<String>,
) {
    let get = |doc: &Map<String, Value>, ext: Option<&str>, name: &str| -> Option<Value> {
        let c = match ext {
            None => Some(doc),
            Some(id) => get_ci(doc, id).and_then(Value::as_object),
        };
        c.and_then(|c| get_ci(c, name)).cloned()
    };
    let common = scim_model::schema::COMMON_ATTRIBUTES.iter();
    let core = common.chain(rt.schema.attributes.iter()).map(|d| (None, d));
    let exts = rt.extensions.iter().flat_map(|e| {
        e.schema
            .attributes
            .iter()
            .map(move |d| (Some(e.schema.id), d))
    });
    for (ext, def) in core.chain(exts) {
        let (b, a) = (get(before, ext, def.name), get(after, ext, def.name));
        if b == a {
            continue;
        }
        let prefix = match ext {
            Some(id) => format!("{id}:{}", def.name),
            None => def.name.to_owned(),
        };
        let mut any_sub = false;
        if def.is_complex() && !def.multi_valued {
            for sub in def.sub_attributes {
                let sb = b
                    .as_ref()
                    .and_then(Value::as_object)
                    .and_then(|o| get_ci(o, sub.name));
                let sa = a
                    .as_ref()
                    .and_then(Value::as_object)
                    .and_then(|o| get_ci(o, sub.name));
                if sb != sa {
                    out.insert(format!("{prefix}.{}", sub.name));
                    any_sub = true;
                }
            }
        }
        if !any_sub {
            out.insert(prefix);
        }
    }
}

/// Deactivation wins: when the operations validly set `active` to `false` (the last
/// valid value given to `active` is `false`), the outcome of applying only that.
fn deactivation(
    resource: &Value,
    rt: &ResourceType,
    ops: &[PatchOperation],
) -> Option<Deactivation> {
    rt.resolve_parts(None, "active", None).filter(is_active)?;
    let mut last = None;
    let mut indices = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if op.op == PatchOpKind::Remove {
            continue;
        }
        let Some(value) = &op.value else { continue };
        let path = op.path.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let mut found = Vec::new();
        let target = match path {
            None => Some(Target::Schema(None)),
            Some(p) => resolve_patch_path(rt, p).ok(),
        };
        if let Some(t) = target {
            find_active(rt, t, value, 0, &mut found);
        }
        for b in found {
            last = Some(b);
            if !b && !indices.contains(&i) {
                indices.push(i);
            }
        }
    }
    if last != Some(false) {
        return None;
    }
    let only = PatchRequest::new(vec![PatchOperation {
        op: PatchOpKind::Replace,
        path: Some("active".to_owned()),
        value: Some(Value::Bool(false)),
    }]);
    let outcome = run_atomic(resource, rt, &only.operations, PatchLimits::default()).ok()?;
    Some(Deactivation {
        operations: indices,
        outcome,
    })
}

/// Whether `v` (a `schemas` value: an array of strings, or one string) names
/// `urn` and nothing else (URNs compare case-insensitively).
fn names_only(v: &Value, urn: &str) -> bool {
    match v {
        Value::String(s) => s.eq_ignore_ascii_case(urn),
        Value::Array(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        }
        _ => false,
    }
}

fn find_active(rt: &ResourceType, target: Target, value: &Value, depth: u8, out: &mut Vec<bool>) {
    match target {
        Target::Attr(r) if is_active(&r) => {
            if let Ok(Some(Value::Bool(b))) = coerce(r.attr, value, OPTS, "active") {
                out.push(b);
            }
        }
        Target::Schema(schema) if depth < 2 => {
            if let Value::Object(o) = value {
                for (k, v) in o {
                    if let Ok(t) = resolve_key(rt, schema, k) {
                        find_active(rt, t, v, depth + 1, out);
                    }
                }
            }
        }
        _ => {}
    }
}
