//! JSON representations of schemas and resource types for `/Schemas` and
//! `/ResourceTypes` (RFC 7643 §6, §7), generated from the definitions.

use serde_json::{Map, Value, json};

use super::{AttributeDef, RESOURCE_TYPE_URN, ResourceType, SCHEMA_URN, Schema};

impl AttributeDef {
    /// The attribute's definition as JSON, as `/Schemas` lists it. Absent values are
    /// omitted rather than sent as `null`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.attr_type.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        if !self.description.is_empty() {
            m.insert("description".into(), json!(self.description));
        }
        m.insert("required".into(), json!(self.required));
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.is_complex() {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if !self.is_complex() {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if self.is_complex() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(|a| a.to_json()).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

impl Schema {
    /// The schema as a SCIM Schema resource; `base_url` (the Tenant URL, without a
    /// trailing slash) forms `meta.location`.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

impl ResourceType {
    /// The resource type as a SCIM ResourceType resource.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": self.extensions.iter().map(|e| json!({
                "schema": e.schema.id,
                "required": e.required,
            })).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name),
            }
        })
    }
}
