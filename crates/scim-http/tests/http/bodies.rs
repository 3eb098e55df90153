//! Request bodies are bounded by the service's own `ScimConfig::max_body_bytes`
//! (what `/ServiceProviderConfig` advertises), not by whatever `PayloadConfig`
//! the host App has: mounted with `configure` alone, a 300 KB body is read
//! (actix-web's own default limit is 256 KiB) and a body over 1 MiB is a SCIM
//! 413.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::common::*;

fn post(uri: &str, token: &str, body: Vec<u8>) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/scim+json"))
        .set_payload(body)
}

#[actix_web::test]
async fn bodies_up_to_the_advertised_size_are_read_and_larger_ones_are_413() {
    let fx = Fixture::new();
    let token = fx.tenant("acme");
    let svc = fx.service().await;

    // About 300 KB: 20 addresses of 15,000 characters.
    let filler = "x".repeat(15_000);
    let user = json!({
        "userName": "big@example.net",
        "addresses": (0..20).map(|_| json!({"formatted": filler, "type": "work"})).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec(&user).unwrap();
    assert!(bytes.len() > 256 * 1024, "{}", bytes.len());
    let (status, _, body) = send(&svc, post("/scim/v2/acme/Users", &token, bytes)).await;
    assert_eq!(status, 201, "{body}");

    let huge = vec![b' '; 1024 * 1024 + 1];
    let (status, h, body) = send(&svc, post("/scim/v2/acme/Users", &token, huge)).await;
    assert_scim_error(status, &h, &body, 413);
    assert!(
        body["detail"].as_str().unwrap().contains("1048576"),
        "{body}"
    );

    // Unauthenticated: 401 before the body is read.
    let (status, _, _) = send(
        &svc,
        post("/scim/v2/acme/Users", "nope", vec![b' '; 2 * 1024 * 1024]),
    )
    .await;
    assert_eq!(status, 401);
}
