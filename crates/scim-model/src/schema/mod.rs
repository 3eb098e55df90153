//! Schema definitions as data (RFC 7643 §2 and §7).
//!
//! Every attribute the server knows is described once, in [`defs`], with all its
//! characteristics. Validation, filter case rules, PATCH, projection and the
//! `/Schemas` endpoint all read these definitions; there is no second list.
//!
//! Names are resolved case-insensitively ([`ResourceType::resolve`]) and written
//! back in their canonical camelCase ([`AttributeDef::name`]).

pub mod defs;
mod render;
mod resolve;

pub use defs::*;
pub use resolve::{AttrLocation, ResolvedAttr, common_attribute, get_ci};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// A Unicode string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime` instant, e.g. `2008-01-23T04:56:22Z`.
    DateTime,
    /// Base64-encoded bytes.
    Binary,
    /// A URI pointing at a resource.
    Reference,
    /// A set of sub-attributes.
    Complex,
}

impl AttrType {
    /// The RFC name (`string`, `boolean`, `dateTime`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Whether and how a client may change an attribute (RFC 7643 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Set by the server only.
    ReadOnly,
    /// Read and written by clients.
    ReadWrite,
    /// Set once (on creation, or when it has no value yet), never changed after.
    Immutable,
    /// Written by clients, never returned.
    WriteOnly,
}

impl Mutability {
    /// The RFC name (`readOnly`, `readWrite`, `immutable`, `writeOnly`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned in a response (RFC 7643 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Returned {
    /// Always, even when not asked for or when excluded.
    Always,
    /// Never (e.g. `password`).
    Never,
    /// By default, unless excluded or when `attributes` names others.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// The RFC name (`always`, `never`, `default`, `request`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique a value is (RFC 7643 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the service provider's tenant.
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The RFC name (`none`, `server`, `global`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with every characteristic of RFC 7643 §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributeDef {
    /// Canonical name, e.g. `userName`.
    pub name: &'static str,
    /// Data type.
    pub attr_type: AttrType,
    /// Whether the attribute holds an array of values.
    pub multi_valued: bool,
    /// Human-readable description.
    pub description: &'static str,
    /// Whether a resource must carry it.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Uniqueness.
    pub uniqueness: Uniqueness,
    /// Suggested values (e.g. `work`, `home`).
    pub canonical_values: &'static [&'static str],
    /// For references: the resource types or `external`/`uri` they may point at.
    pub reference_types: &'static [&'static str],
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttributeDef],
}

impl AttributeDef {
    /// A single-valued, optional, case-insensitive, readWrite attribute of the given
    /// type; the other constructors and modifiers refine it.
    pub const fn new(name: &'static str, attr_type: AttrType) -> Self {
        AttributeDef {
            name,
            attr_type,
            multi_valued: false,
            description: "",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }
    /// A string attribute.
    pub const fn string(name: &'static str) -> Self {
        Self::new(name, AttrType::String)
    }
    /// A boolean attribute.
    pub const fn boolean(name: &'static str) -> Self {
        Self::new(name, AttrType::Boolean)
    }
    /// A dateTime attribute.
    pub const fn date_time(name: &'static str) -> Self {
        Self::new(name, AttrType::DateTime)
    }
    /// An integer attribute.
    pub const fn integer(name: &'static str) -> Self {
        Self::new(name, AttrType::Integer)
    }
    /// A reference attribute pointing at the given types.
    pub const fn reference(name: &'static str, types: &'static [&'static str]) -> Self {
        let mut a = Self::new(name, AttrType::Reference);
        a.reference_types = types;
        a.case_exact = true;
        a
    }
    /// A complex attribute with the given sub-attributes.
    pub const fn complex(name: &'static str, subs: &'static [AttributeDef]) -> Self {
        let mut a = Self::new(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }
    /// Sets the description.
    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }
    /// Makes it multi-valued.
    pub const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Makes it required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Makes string comparison case-sensitive.
    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    /// Sets the mutability.
    pub const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Shorthand for `mutability(Mutability::ReadOnly)`.
    pub const fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
    /// Shorthand for `mutability(Mutability::Immutable)`.
    pub const fn immutable(self) -> Self {
        self.mutability(Mutability::Immutable)
    }
    /// Sets when it is returned.
    pub const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    /// Sets the uniqueness.
    pub const fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    /// Sets the canonical values.
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// Whether the attribute is complex.
    pub const fn is_complex(&self) -> bool {
        matches!(self.attr_type, AttrType::Complex)
    }

    /// Finds a sub-attribute by name, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether a client may set this attribute (readWrite, writeOnly, or immutable).
    pub const fn client_writable(&self) -> bool {
        !matches!(self.mutability, Mutability::ReadOnly)
    }
}

/// A schema: a URN and its attributes (RFC 7643 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schema {
    /// The schema URN, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttributeDef],
}

impl Schema {
    /// Finds a top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema extension of a resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaExtension {
    /// The extension schema.
    pub schema: &'static Schema,
    /// Whether every resource must carry the extension.
    pub required: bool,
}

/// A resource type (RFC 7643 §6): a core schema, its extensions and its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// Identifier and name, e.g. `User`.
    pub name: &'static str,
    /// Endpoint relative to the base URL, e.g. `/Users`.
    pub endpoint: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// The core schema.
    pub schema: &'static Schema,
    /// Extensions.
    pub extensions: &'static [SchemaExtension],
}

impl ResourceType {
    /// Finds an extension schema by URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .find(|e| e.schema.id.eq_ignore_ascii_case(urn))
            .map(|e| e.schema)
    }

    /// Finds the core schema or an extension by URN, case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static Schema> {
        if self.schema.id.eq_ignore_ascii_case(urn) {
            Some(self.schema)
        } else {
            self.extension(urn)
        }
    }

    /// Every schema of the type: the core first, then the extensions.
    pub fn schemas(&self) -> impl Iterator<Item = &'static Schema> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().map(|e| e.schema))
    }
}
