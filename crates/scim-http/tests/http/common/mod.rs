//! Test fixtures: a migrated database, a tenant with a token, a service.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test, web};
use scim_http::{ScimConfig, ScimState, TokenKeys, configure_scim_at, scim_error_bodies};
use serde_json::Value;
use store_diesel::testing::TestDb;
use store_diesel::{tenants, tokens};

pub const PUBLIC_URL: &str = "https://scim.example.net";

pub struct Fixture {
    #[allow(dead_code)]
    pub db: TestDb,
    pub state: ScimState,
}

impl Fixture {
    pub fn new() -> Self {
        Self::on(TestDb::sqlite())
    }

    pub fn on(db: TestDb) -> Self {
        let store = db.store().clone();
        let key = store
            .transaction(store_diesel::settings::get_or_create_signing_key)
            .unwrap();
        let state = ScimState::new(
            store,
            TokenKeys::new(&key).unwrap(),
            ScimConfig::new(PUBLIC_URL),
        );
        Fixture { db, state }
    }

    /// Creates a tenant and returns its Secret Token.
    pub fn tenant(&self, slug: &str) -> String {
        let t = self
            .state
            .store
            .transaction(|c| tenants::create(c, slug, slug))
            .unwrap();
        self.token(&t.id)
    }

    /// Issues a new token for the tenant id (revoking the previous one).
    pub fn token(&self, tenant_id: &str) -> String {
        let keys = self.state.keys.clone();
        let tid = tenant_id.to_owned();
        self.state
            .store
            .transaction(|c| {
                tokens::issue_with(c, &tid, |jti, now| keys.mint(&tid, jti, now, None))
            })
            .unwrap()
            .token
    }

    pub fn tenant_id(&self, slug: &str) -> String {
        self.state
            .store
            .transaction(|c| tenants::get_by_slug(c, slug))
            .unwrap()
            .id
    }

    pub async fn service(
        &self,
    ) -> impl Service<
        actix_http::Request,
        Response = ServiceResponse<EitherBody<BoxBody>>,
        Error = actix_web::Error,
    > {
        test::init_service(
            App::new()
                .wrap(scim_error_bodies())
                .app_data(web::Data::new(self.state.clone()))
                .configure(|cfg| configure_scim_at(cfg, "/scim/v2")),
        )
        .await
    }
}

/// Sends a request and returns status, headers and the JSON body (Null if empty).
pub async fn send<S>(
    svc: &S,
    req: test::TestRequest,
) -> (u16, actix_web::http::header::HeaderMap, Value)
where
    S: Service<
            actix_http::Request,
            Response = ServiceResponse<EitherBody<BoxBody>>,
            Error = actix_web::Error,
        >,
{
    let res = test::call_service(svc, req.to_request()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "status {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, headers, body)
}

pub fn get(uri: &str, token: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {token}")))
}

pub fn content_type(h: &actix_web::http::header::HeaderMap) -> &str {
    h.get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts a SCIM error body with the given status.
pub fn assert_scim_error(
    status: u16,
    headers: &actix_web::http::header::HeaderMap,
    body: &Value,
    want: u16,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(content_type(headers), "application/scim+json");
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], want.to_string(), "{body}");
}
