//! Building SCIM responses and reading SCIM requests.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use scim_model::messages::ScimType;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, SCIM_CONTENT_TYPE};

/// A response with a JSON body and `Content-Type: application/scim+json`.
pub fn scim_json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_CONTENT_TYPE)
        .json(body)
}

/// Parses a request body as JSON whatever its `Content-Type` (`application/scim+json`,
/// `application/json`, with parameters, or none). Broken JSON is `400 invalidSyntax`
/// naming the line and column.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            ScimType::InvalidSyntax,
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body is not valid: {e}"),
        )
    })
}

/// The decoded query parameters, by form rules (`+` is a space), with names
/// compared case-insensitively by [`Query::get`]. Unknown parameters (such as
/// Entra ID's `aadOptscim062020`) are simply never asked for.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes the query string of `req`.
    pub fn of(req: &HttpRequest) -> Self {
        Query(form_decode(req.query_string()))
    }

    /// The first value of the parameter `name` (any letter case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `application/x-www-form-urlencoded` text: `+` → space, then `%XX`;
/// invalid escapes are kept literally and invalid UTF-8 is replaced.
pub fn form_decode(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_query_strings_decode() {
        let q =
            form_decode("filter=userName+eq+%22nora.lind%40fabrikam.example%22&aadOptscim062020");
        assert_eq!(
            q[0],
            (
                "filter".into(),
                "userName eq \"nora.lind@fabrikam.example\"".into()
            )
        );
        assert_eq!(q[1], ("aadOptscim062020".into(), String::new()));
        let q = form_decode("excludedAttributes=members&filter=displayName%20eq%20%22A%2BB%22");
        assert_eq!(q[1].1, "displayName eq \"A+B\"");
        assert_eq!(form_decode("a=%zz%4")[0].1, "%zz%4");
        assert_eq!(form_decode("a=%C3%A9")[0].1, "é");
        assert!(form_decode("").is_empty());
    }
}
