//! Rendering stored documents as SCIM resources (`id` and `meta` added).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// `t` as RFC 3339 in UTC with `Z` and as many fractional digits as needed.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `document` (an object without `id` and `meta`) plus `id` and `meta`.
pub(crate) fn resource(
    document: &Value,
    id: &str,
    resource_type: &str,
    created: DateTime<Utc>,
    last_modified: DateTime<Utc>,
    version: i64,
) -> Value {
    let mut map = match document {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    map.insert("id".to_owned(), Value::String(id.to_owned()));
    map.insert(
        "meta".to_owned(),
        json!({
            "resourceType": resource_type,
            "created": timestamp(created),
            "lastModified": timestamp(last_modified),
            "version": scim_model::version_tag(version),
        }),
    );
    Value::Object(map)
}
