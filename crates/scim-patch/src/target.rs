//! Resolving PATCH paths and path-less value keys to what they address.

use scim_model::ScimType;
use scim_model::filter::{ElementFilter, Filter};
use scim_model::path::{AttrPath, PatchPath};
use scim_model::schema::{
    AttrLocation, ENTERPRISE_USER_URN, GROUP_SCHEMA_URN, ResolvedAttr, ResourceType, Schema,
    USER_SCHEMA_URN,
};
use serde_json::Value;

use crate::error::OpError;

/// What one operation (or one key of a path-less value object) addresses.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// The resource itself (no path), or a whole schema: the core schema or an
    /// extension named by its URN. The value is an object of attributes.
    Schema(Option<&'static Schema>),
    /// An attribute, or a sub-attribute (`name.givenName`, `emails.value`).
    Attr(ResolvedAttr),
    /// `attr[filter]` or `attr[filter].sub`.
    Filtered {
        /// The complex attribute (never with `sub` set).
        r: ResolvedAttr,
        /// The filter, relative to the element.
        filter: Filter,
        /// The sub-attribute after `]`.
        sub: Option<&'static scim_model::schema::AttributeDef>,
    },
    /// Data of another vendor's schema (an unknown `urn:` prefix): ignored.
    Ignored,
}

/// Shortens client text for error messages (by characters, never by bytes).
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 120;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// Parses and resolves the `path` of an operation.
pub(crate) fn resolve_patch_path(rt: &ResourceType, path: &str) -> Result<Target, OpError> {
    let p = PatchPath::parse(path).map_err(|e| {
        OpError::path(format!(
            "path {:?} is not a valid PATCH path: {e}",
            shorten(path)
        ))
    })?;
    match p.filter {
        None => resolve_attr_path(rt, &p.attr, None),
        Some(filter) => {
            let Some(r) = rt.resolve(&p.attr) else {
                return unknown(rt, &p.attr);
            };
            if !r.attr.is_complex() {
                return Err(OpError::path(format!(
                    "'{}[...]': a value filter needs a complex attribute, and '{}' is not one",
                    shorten(&p.attr.to_string()),
                    r.canonical_path()
                )));
            }
            let sub = match &p.sub_attr {
                None => None,
                Some(s) => Some(r.attr.sub_attribute(s).ok_or_else(|| {
                    OpError::path(format!(
                        "'{}' has no sub-attribute '{}'",
                        r.canonical_path(),
                        shorten(s)
                    ))
                })?),
            };
            Ok(Target::Filtered { r, filter, sub })
        }
    }
}

/// Resolves a key of a path-less value object (`"displayName"`, `"name.givenName"`,
/// `"urn:...:enterprise:2.0:User:employeeNumber"`, or a whole schema URN). `within`
/// is the schema whose object the key is in, when it is inside one.
pub(crate) fn resolve_key(
    rt: &ResourceType,
    within: Option<&'static Schema>,
    key: &str,
) -> Result<Target, OpError> {
    if within.is_none()
        && let Some(schema) = rt.schema_by_urn(key)
    {
        return Ok(Target::Schema(Some(schema)));
    }
    if key.contains("://") {
        // Another vendor's schema named by URL (Microsoft's ADSCIM URI): ignored.
        return Ok(Target::Ignored);
    }
    let path = AttrPath::parse(key).map_err(|e| {
        OpError::path(format!(
            "key {:?} of the value is not an attribute path: {e}",
            shorten(key)
        ))
    })?;
    match resolve_attr_path(rt, &path, within)? {
        Target::Schema(_) if within.is_some() => Err(OpError::path(format!(
            "key {:?}: a schema object cannot be nested in another",
            shorten(key)
        ))),
        t => Ok(t),
    }
}

fn resolve_attr_path(
    rt: &ResourceType,
    path: &AttrPath,
    within: Option<&'static Schema>,
) -> Result<Target, OpError> {
    if path.sub_attr.is_none()
        && let Some(urn) = &path.urn
        && let Some(schema) = rt.schema_by_urn(&format!("{urn}:{}", path.name))
    {
        return Ok(Target::Schema(Some(schema)));
    }
    let r = match (within, &path.urn) {
        (Some(schema), None) => {
            rt.resolve_parts(Some(schema.id), &path.name, path.sub_attr.as_deref())
        }
        _ => rt.resolve(path),
    };
    match r {
        Some(r) => Ok(Target::Attr(r)),
        None => unknown(rt, path),
    }
}

fn unknown(rt: &ResourceType, path: &AttrPath) -> Result<Target, OpError> {
    if let Some(urn) = &path.urn
        && rt.schema_by_urn(urn).is_none()
    {
        // Another vendor's extension (quirk 10 is about *our* extensions; data of
        // schemas we do not serve is ignored, as on POST).
        return Ok(Target::Ignored);
    }
    Err(OpError::path(format!(
        "'{}' names no attribute of the {} resource",
        shorten(&path.to_string()),
        rt.name
    )))
}

/// `members` of the core Group schema: never materialised, turned into a delta.
pub(crate) fn is_members(r: &ResolvedAttr) -> bool {
    r.schema.id == GROUP_SCHEMA_URN
        && matches!(r.location, AttrLocation::Core)
        && r.attr.name == "members"
}

/// `active` of the core User schema.
pub(crate) fn is_active(r: &ResolvedAttr) -> bool {
    r.schema.id == USER_SCHEMA_URN
        && matches!(r.location, AttrLocation::Core)
        && r.attr.name == "active"
        && r.sub.is_none()
}

/// The Enterprise User `manager`.
pub(crate) fn is_manager(r: &ResolvedAttr) -> bool {
    r.schema.id == ENTERPRISE_USER_URN && r.attr.name == "manager"
}

/// Tests one element of a (multi-valued or single) complex attribute against the
/// filter of a PATCH path (scim-model's [`ElementFilter`]).
pub(crate) struct ElementMatcher {
    compiled: ElementFilter,
}

impl ElementMatcher {
    pub(crate) fn new(
        rt: &ResourceType,
        r: &ResolvedAttr,
        filter: &Filter,
    ) -> Result<Self, OpError> {
        let attr = match r.location {
            AttrLocation::Core => AttrPath::new(r.attr.name),
            AttrLocation::Extension(s) => AttrPath::qualified(s.id, r.attr.name, None),
        };
        let compiled = filter.compile_for_elements(rt, &attr).map_err(|e| {
            OpError::new(
                ScimType::InvalidFilter,
                format!("filter of '{}[...]': {}", r.canonical_path(), e.message),
            )
        })?;
        Ok(ElementMatcher { compiled })
    }

    pub(crate) fn matches(&self, element: &Value) -> bool {
        self.compiled.matches(element)
    }
}
