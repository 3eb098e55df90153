//! The definitions: RFC 7643 core User and Group, the Enterprise User extension,
//! the product's provisioning extensions, and the common attributes.

use super::{
    AttrType, AttributeDef as A, Mutability, ResourceType, Returned, Schema, SchemaExtension,
    Uniqueness,
};

/// URN of the core User schema.
pub const USER_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema.
pub const GROUP_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the Enterprise User extension.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the product's User extension (status, overrides, mobile enrolment).
pub const PROVISIONING_USER_URN: &str =
    "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User";
/// URN of the product's Group extension (overrides, store flag).
pub const PROVISIONING_GROUP_URN: &str =
    "urn:ietf:params:scim:schemas:extension:provisioning:2.0:Group";
/// URN of the ServiceProviderConfig schema.
pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of the ResourceType schema.
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the Schema schema.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

const TYPE_WHO: &[&str] = &["work", "home", "other"];

const fn value() -> A {
    A::string("value")
}
const fn display() -> A {
    A::string("display")
}
const fn primary() -> A {
    A::boolean("primary").describe("Whether this is the primary value; at most one per attribute.")
}
const fn typ(values: &'static [&'static str]) -> A {
    A::string("type").canonical(values)
}

/// The common attributes every resource carries (RFC 7643 §3.1): `id`, `externalId`, `meta`.
pub const COMMON_ATTRIBUTES: &[A] = &[
    A::string("id")
        .describe("Unique identifier of the resource, issued by the service provider.")
        .case_exact()
        .read_only()
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server),
    A::string("externalId")
        .describe("Identifier of the resource as defined by the provisioning client.")
        .case_exact(),
    A::complex("meta", META_SUBS)
        .describe("Resource metadata.")
        .read_only(),
];

const META_SUBS: &[A] = &[
    A::string("resourceType").case_exact().read_only(),
    A::date_time("created").read_only(),
    A::date_time("lastModified").read_only(),
    A::reference("location", &["uri"]).read_only(),
    A::string("version").case_exact().read_only(),
];

const NAME_SUBS: &[A] = &[
    A::string("formatted").describe("The full name, formatted for display."),
    A::string("familyName").describe("The family name."),
    A::string("givenName").describe("The given name."),
    A::string("middleName").describe("The middle name(s)."),
    A::string("honorificPrefix").describe("Honorific prefix, e.g. 'Ms.'."),
    A::string("honorificSuffix").describe("Honorific suffix, e.g. 'III'."),
];

const EMAIL_SUBS: &[A] = &[
    value().describe("Email address."),
    display(),
    typ(TYPE_WHO),
    primary(),
];
const PHONE_SUBS: &[A] = &[
    value().describe("Phone number."),
    display(),
    typ(&["work", "home", "mobile", "fax", "pager", "other"]),
    primary(),
];
const IM_SUBS: &[A] = &[
    value(),
    display(),
    typ(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    primary(),
];
const PHOTO_SUBS: &[A] = &[
    A::reference("value", &["external"]),
    display(),
    typ(&["photo", "thumbnail"]),
    primary(),
];
const ADDRESS_SUBS: &[A] = &[
    A::string("formatted"),
    A::string("streetAddress"),
    A::string("locality"),
    A::string("region"),
    A::string("postalCode"),
    A::string("country"),
    typ(TYPE_WHO),
    primary(),
];
const USER_GROUP_SUBS: &[A] = &[
    // A group's id: compared case-exactly, like `members.value` and `id`.
    A::string("value").case_exact().read_only(),
    A::reference("$ref", &["User", "Group"]).read_only(),
    A::string("display").read_only(),
    A::string("type")
        .canonical(&["direct", "indirect"])
        .read_only(),
];
const VALUE_DISPLAY_TYPE_PRIMARY: &[A] = &[value(), display(), A::string("type"), primary()];
const CERT_SUBS: &[A] = &[
    A::new("value", AttrType::Binary).case_exact(),
    display(),
    A::string("type"),
    primary(),
];

const USER_ATTRIBUTES: &[A] = &[
    A::string("userName")
        .describe("Unique identifier for the user, unique per tenant, compared case-insensitively.")
        .required()
        .uniqueness(Uniqueness::Server),
    A::complex("name", NAME_SUBS).describe("The components of the user's name."),
    A::string("displayName").describe("The name of the user, suitable for display."),
    A::string("nickName").describe("The casual way to address the user."),
    A::reference("profileUrl", &["external"]).describe("A URI of the user's online profile."),
    A::string("title").describe("The user's title, such as 'Vice President'."),
    A::string("userType").describe("The relationship between the organisation and the user."),
    A::string("preferredLanguage").describe("Preferred written or spoken language."),
    A::string("locale").describe("Default location for localisation."),
    A::string("timezone").describe("Time zone in IANA format, e.g. 'Europe/Copenhagen'."),
    A::boolean("active")
        .describe("Administrative status; false exactly when the user is suspended.")
        .returned(Returned::Always),
    A::string("password")
        .describe("Accepted for compatibility; never stored or returned.")
        .case_exact()
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never),
    A::complex("emails", EMAIL_SUBS)
        .multi()
        .describe("Email addresses."),
    A::complex("phoneNumbers", PHONE_SUBS)
        .multi()
        .describe("Phone numbers."),
    A::complex("ims", IM_SUBS)
        .multi()
        .describe("Instant messaging addresses."),
    A::complex("photos", PHOTO_SUBS)
        .multi()
        .describe("URLs of photos of the user."),
    A::complex("addresses", ADDRESS_SUBS)
        .multi()
        .describe("Physical mailing addresses."),
    A::complex("groups", USER_GROUP_SUBS)
        .multi()
        .read_only()
        .describe("Groups the user belongs to, maintained by the service provider."),
    A::complex("entitlements", VALUE_DISPLAY_TYPE_PRIMARY)
        .multi()
        .describe("Entitlements."),
    A::complex("roles", VALUE_DISPLAY_TYPE_PRIMARY)
        .multi()
        .describe("Roles."),
    A::complex("x509Certificates", CERT_SUBS)
        .multi()
        .describe("X.509 certificates."),
];

const MEMBER_SUBS: &[A] = &[
    A::string("value")
        .describe("Identifier of the member (a User id; nested groups are not supported).")
        .case_exact()
        .immutable(),
    A::reference("$ref", &["User", "Group"]).immutable(),
    A::string("display").read_only(),
    A::string("type").canonical(&["User", "Group"]).immutable(),
];

const GROUP_ATTRIBUTES: &[A] = &[
    A::string("displayName")
        .describe("Human-readable name of the group, unique per tenant.")
        .required()
        .uniqueness(Uniqueness::Server),
    A::complex("members", MEMBER_SUBS)
        .multi()
        .describe("Direct members of the group (users only)."),
];

const MANAGER_SUBS: &[A] = &[
    A::string("value")
        .describe("The id of the manager's User resource.")
        .case_exact(),
    A::reference("$ref", &["User"]),
    A::string("displayName").read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[A] = &[
    A::string("employeeNumber").describe("Employee number assigned by the organisation."),
    A::string("costCenter").describe("Cost center."),
    A::string("organization").describe("Organisation."),
    A::string("division").describe("Division."),
    A::string("department").describe("Department."),
    A::complex("manager", MANAGER_SUBS).describe("The user's manager."),
];

/// Product statuses of a user, as exposed by the provisioning extension.
pub const USER_STATUSES: &[&str] = &["Staged", "Invited", "Active", "Suspended"];

const PROVISIONING_USER_ATTRIBUTES: &[A] = &[
    A::string("status")
        .describe(
            "Product status: Staged, Invited, Active or Suspended. Not the SCIM 'active' flag.",
        )
        .case_exact()
        .read_only()
        .canonical(USER_STATUSES),
    A::boolean("automaticInvitation")
        .describe("Override of the tenant's automatic invitation setting; absent = inherit."),
    A::boolean("requireMobileAuth").describe(
        "Override of the tenant's 'require mobile authentication for users'; absent = inherit.",
    ),
    A::boolean("mobileDeviceEnrolled")
        .describe("Whether the user has enrolled a mobile device.")
        .read_only(),
];

const PROVISIONING_GROUP_ATTRIBUTES: &[A] = &[
    A::boolean("requireMobileAuth").describe(
        "Override of the tenant's 'require mobile authentication for groups'; absent = inherit.",
    ),
    A::boolean("membersCanStoreData")
        .describe("Whether members may store data in this group; default true."),
];

/// The core User schema (RFC 7643 §4.1).
pub static USER_SCHEMA: Schema = Schema {
    id: USER_SCHEMA_URN,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

/// The core Group schema (RFC 7643 §4.2).
pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP_SCHEMA_URN,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

/// The Enterprise User extension (RFC 7643 §4.3).
pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};

/// The product's User extension.
pub static PROVISIONING_USER_SCHEMA: Schema = Schema {
    id: PROVISIONING_USER_URN,
    name: "ProvisioningUser",
    description: "Product status and per-user overrides of the tenant's SCIM settings",
    attributes: PROVISIONING_USER_ATTRIBUTES,
};

/// The product's Group extension.
pub static PROVISIONING_GROUP_SCHEMA: Schema = Schema {
    id: PROVISIONING_GROUP_URN,
    name: "ProvisioningGroup",
    description: "Per-group overrides of the tenant's SCIM settings",
    attributes: PROVISIONING_GROUP_ATTRIBUTES,
};

const USER_EXTENSIONS: &[SchemaExtension] = &[
    SchemaExtension {
        schema: &ENTERPRISE_USER_SCHEMA,
        required: false,
    },
    SchemaExtension {
        schema: &PROVISIONING_USER_SCHEMA,
        required: false,
    },
];

const GROUP_EXTENSIONS: &[SchemaExtension] = &[SchemaExtension {
    schema: &PROVISIONING_GROUP_SCHEMA,
    required: false,
}];

/// The User resource type.
pub static USER: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: USER_EXTENSIONS,
};

/// The Group resource type.
pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: GROUP_EXTENSIONS,
};

/// Every resource type the server serves.
pub static RESOURCE_TYPES: &[&ResourceType] = &[&USER, &GROUP];

// ---- The discovery schemas (RFC 7643 §5, §6, §7) -------------------------------------

const SUPPORTED: &[A] = &[A::boolean("supported").required().read_only()];
const BULK_SUBS: &[A] = &[
    A::boolean("supported").required().read_only(),
    A::integer("maxOperations").required().read_only(),
    A::integer("maxPayloadSize").required().read_only(),
];
const FILTER_SUBS: &[A] = &[
    A::boolean("supported").required().read_only(),
    A::integer("maxResults").required().read_only(),
];
const AUTH_SCHEME_SUBS: &[A] = &[
    A::string("type").required().read_only(),
    A::string("name").required().read_only(),
    A::string("description").required().read_only(),
    A::reference("specUri", &["external"]).read_only(),
    A::reference("documentationUri", &["external"]).read_only(),
    A::boolean("primary").read_only(),
];

const SPC_ATTRIBUTES: &[A] = &[
    A::reference("documentationUri", &["external"]).read_only(),
    A::complex("patch", SUPPORTED).required().read_only(),
    A::complex("bulk", BULK_SUBS).required().read_only(),
    A::complex("filter", FILTER_SUBS).required().read_only(),
    A::complex("changePassword", SUPPORTED)
        .required()
        .read_only(),
    A::complex("sort", SUPPORTED).required().read_only(),
    A::complex("etag", SUPPORTED).required().read_only(),
    A::complex("authenticationSchemes", AUTH_SCHEME_SUBS)
        .multi()
        .required()
        .read_only(),
];

const EXTENSION_SUBS: &[A] = &[
    A::reference("schema", &["uri"])
        .required()
        .case_exact()
        .read_only(),
    A::boolean("required").required().read_only(),
];

const RT_ATTRIBUTES: &[A] = &[
    A::string("id").case_exact().read_only(),
    A::string("name").required().read_only(),
    A::string("description").read_only(),
    A::reference("endpoint", &["uri"]).required().read_only(),
    A::reference("schema", &["uri"])
        .required()
        .case_exact()
        .read_only(),
    A::complex("schemaExtensions", EXTENSION_SUBS)
        .multi()
        .read_only(),
];

const ATTRIBUTE_META_SUBS: &[A] = &[
    A::string("name").required().case_exact().read_only(),
    A::string("type").required().read_only().canonical(&[
        "string",
        "complex",
        "boolean",
        "decimal",
        "integer",
        "dateTime",
        "reference",
        "binary",
    ]),
    A::boolean("multiValued").required().read_only(),
    A::string("description").read_only(),
    A::boolean("required").read_only(),
    A::string("canonicalValues")
        .multi()
        .case_exact()
        .read_only(),
    A::boolean("caseExact").read_only(),
    A::string("mutability")
        .case_exact()
        .read_only()
        .canonical(&["readOnly", "readWrite", "immutable", "writeOnly"]),
    A::string("returned")
        .case_exact()
        .read_only()
        .canonical(&["always", "never", "default", "request"]),
    A::string("uniqueness")
        .case_exact()
        .read_only()
        .canonical(&["none", "server", "global"]),
    A::string("referenceTypes").multi().case_exact().read_only(),
    A::complex("subAttributes", ATTRIBUTE_META_SUBS_LEAF)
        .multi()
        .read_only(),
];

// Sub-attributes of sub-attributes have the same shape, without further nesting.
const ATTRIBUTE_META_SUBS_LEAF: &[A] = &[
    A::string("name").required().case_exact().read_only(),
    A::string("type").required().read_only(),
    A::boolean("multiValued").required().read_only(),
    A::string("description").read_only(),
    A::boolean("required").read_only(),
    A::string("canonicalValues")
        .multi()
        .case_exact()
        .read_only(),
    A::boolean("caseExact").read_only(),
    A::string("mutability").case_exact().read_only(),
    A::string("returned").case_exact().read_only(),
    A::string("uniqueness").case_exact().read_only(),
    A::string("referenceTypes").multi().case_exact().read_only(),
];

const SCHEMA_ATTRIBUTES: &[A] = &[
    A::reference("id", &["uri"])
        .required()
        .case_exact()
        .read_only(),
    A::string("name").read_only(),
    A::string("description").read_only(),
    A::complex("attributes", ATTRIBUTE_META_SUBS)
        .multi()
        .required()
        .read_only(),
];

/// The ServiceProviderConfig schema (RFC 7643 §5).
pub static SERVICE_PROVIDER_CONFIG_SCHEMA: Schema = Schema {
    id: SERVICE_PROVIDER_CONFIG_URN,
    name: "Service Provider Configuration",
    description: "Schema for representing the service provider's configuration",
    attributes: SPC_ATTRIBUTES,
};

/// The ResourceType schema (RFC 7643 §6).
pub static RESOURCE_TYPE_SCHEMA: Schema = Schema {
    id: RESOURCE_TYPE_URN,
    name: "ResourceType",
    description: "Specifies the schema that describes a SCIM resource type",
    attributes: RT_ATTRIBUTES,
};

/// The Schema schema (RFC 7643 §7).
pub static SCHEMA_SCHEMA: Schema = Schema {
    id: SCHEMA_URN,
    name: "Schema",
    description: "Specifies the schema attributes",
    attributes: SCHEMA_ATTRIBUTES,
};

/// Every schema `/Schemas` lists, resource schemas first.
pub static ALL_SCHEMAS: &[&Schema] = &[
    &USER_SCHEMA,
    &ENTERPRISE_USER_SCHEMA,
    &PROVISIONING_USER_SCHEMA,
    &GROUP_SCHEMA,
    &PROVISIONING_GROUP_SCHEMA,
    &SERVICE_PROVIDER_CONFIG_SCHEMA,
    &RESOURCE_TYPE_SCHEMA,
    &SCHEMA_SCHEMA,
];

/// Finds a schema of [`ALL_SCHEMAS`] by URN, case-insensitively.
pub fn schema_by_urn(urn: &str) -> Option<&'static Schema> {
    ALL_SCHEMAS
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// Finds a resource type by name (`User`, `Group`), case-insensitively.
pub fn resource_type(name: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .copied()
        .find(|r| r.name.eq_ignore_ascii_case(name))
}
