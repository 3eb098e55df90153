//! Case-insensitive resolution of attribute names and URN-qualified paths.

use serde_json::{Map, Value};

use super::{AttributeDef, COMMON_ATTRIBUTES, ResourceType, Schema};
use crate::path::AttrPath;

/// Where an attribute's value lives in a resource's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrLocation {
    /// At the top level (core and common attributes).
    Core,
    /// Inside the object keyed by this extension's URN.
    Extension(&'static Schema),
}

/// An attribute path resolved against a resource type's schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedAttr {
    /// The schema that defines the attribute (the core schema for common attributes).
    pub schema: &'static Schema,
    /// The (top-level) attribute.
    pub attr: &'static AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static AttributeDef>,
    /// Where its value lives.
    pub location: AttrLocation,
}

impl ResolvedAttr {
    /// The definition the path ends at: the sub-attribute if any, else the attribute.
    pub fn target(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether it lives in an extension object.
    pub fn is_extension(&self) -> bool {
        matches!(self.location, AttrLocation::Extension(_))
    }

    /// The JSON object that holds the attribute in `resource`: the resource itself or
    /// its extension object (looked up case-insensitively). `None` if the extension
    /// object is absent or `resource` is not an object.
    pub fn container<'a>(&self, resource: &'a Value) -> Option<&'a Map<String, Value>> {
        let obj = resource.as_object()?;
        match self.location {
            AttrLocation::Core => Some(obj),
            AttrLocation::Extension(s) => get_ci(obj, s.id)?.as_object(),
        }
    }

    /// The attribute's value in `resource` (not descending into the sub-attribute).
    pub fn attr_value<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        get_ci(self.container(resource)?, self.attr.name)
    }

    /// The canonical path, URN-qualified for extension attributes
    /// (e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`).
    pub fn canonical_path(&self) -> String {
        let mut s = String::new();
        if let AttrLocation::Extension(schema) = self.location {
            s.push_str(schema.id);
            s.push(':');
        }
        s.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }
}

/// Looks a key up in a JSON object, exactly first, then ignoring ASCII case.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl ResourceType {
    /// Resolves a path such as `userName`, `name.givenName`, `emails.value`,
    /// `urn:ietf:params:scim:schemas:core:2.0:User:userName` or
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
    /// ignoring case. Unqualified names are looked up in the common attributes, the
    /// core schema, then each extension in order. Returns `None` for unknown names,
    /// for a sub-attribute of a non-complex attribute, and for a bare extension URN
    /// (see [`ResourceType::whole_extension`]).
    pub fn resolve(&self, path: &AttrPath) -> Option<ResolvedAttr> {
        self.resolve_parts(path.urn.as_deref(), &path.name, path.sub_attr.as_deref())
    }

    /// [`ResourceType::resolve`] on the parts of a path.
    pub fn resolve_parts(
        &self,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<ResolvedAttr> {
        let (schema, attr, location) = match urn {
            Some(urn) => {
                let schema = self.schema_by_urn(urn)?;
                if std::ptr::eq(schema, self.schema) {
                    let attr = common_attribute(name).or_else(|| schema.attribute(name))?;
                    (schema, attr, AttrLocation::Core)
                } else {
                    (
                        schema,
                        schema.attribute(name)?,
                        AttrLocation::Extension(schema),
                    )
                }
            }
            None => {
                if let Some(attr) = common_attribute(name).or_else(|| self.schema.attribute(name)) {
                    (self.schema, attr, AttrLocation::Core)
                } else {
                    self.extensions.iter().find_map(|e| {
                        e.schema
                            .attribute(name)
                            .map(|a| (e.schema, a, AttrLocation::Extension(e.schema)))
                    })?
                }
            }
        };
        let sub = match sub {
            Some(s) => Some(attr.sub_attribute(s)?),
            None => None,
        };
        Some(ResolvedAttr {
            schema,
            attr,
            sub,
            location,
        })
    }

    /// If `path` names a whole extension (`urn:...:enterprise:2.0:User`, which the
    /// path grammar splits at its last colon), returns that extension's schema.
    pub fn whole_extension(&self, path: &AttrPath) -> Option<&'static Schema> {
        if path.sub_attr.is_some() {
            return None;
        }
        match &path.urn {
            Some(urn) => self.extension(&format!("{urn}:{}", path.name)),
            None => None,
        }
    }
}

/// Finds a common attribute (`id`, `externalId`, `meta`) by name, case-insensitively.
pub fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    COMMON_ATTRIBUTES
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}
