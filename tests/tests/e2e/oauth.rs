//! OAuth 2.0 client credentials (RFC 6749 §4.4) on both backends: the
//! tenant's client through the admin API, the token endpoint with each client
//! authentication method (`client_secret_basic`, `client_secret_post`,
//! `private_key_jwt`), RFC 6749 §5.2 errors, rotation inside and after the
//! grace period, deletion, other tenants' clients, Secret Tokens at the token
//! endpoint and access tokens at the admin API, and the RFC 8414 metadata.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::{Response, Server, admin, on_both_with_admin};

const PUBLIC: &str = "https://scim.example.net";
const TOKEN: &str = "/oauth/token";

// Key pairs generated for these tests only (openssl), never used elsewhere:
// RSA 2048 (PKCS#1 DER) and P-256 (PKCS#8 DER), with their public JWK members.
const RSA_DER_B64: &str = "MIIEowIBAAKCAQEA1Ugqx4TL9ytFmS6r4rnm/Yg/h81W+AaFgNln19vKNk3Aiqq94H0MDbXPeVQk6OyvfMsQQLrd45lXE35yksIGwNwXJ/sHOP0WuaA+p8QzpGzZOt9Lmi7O7E+F19tE+ja1SP3fB1pv2tohTHhfQKSoyylLvJBcf5zxzGqKcPHmAZt44D3EwbK+m3M94Qrym8eWxFnmSt1kEKYoYRvdm4f1vHYsKkGgKIZyzdzg/sB2snenj0ZOJ0eDeoSTK4IoMoYLGTMIlOmYppPtZ6TtYDycx5k6ZIozHcmPoS5DfeysfYJHPeUt6uOjxba23XCcQ9q/ppccBMFXSPKxPITgHAL1eQIDAQABAoIBAB7Pj5qGFR8OSb4gz2Tv/S4YDjF0mQE4k/Wysn0s+6/PmKaPluGEvwaGAsRgwvpBIvLQtPbc5+wWvU0MIcoQrIAU62Vzrq3tZeiH/TUoM1un+9O06UuLQopBzLCLtRG+cH7sadk6l9kSVOgipYQFpXq/6viBFFO9HPMuWvSJBXSquQArFl7r9BisGEmUmA3aa3zM4Ll2HTUbRvX0KdrV3lW7/oW6gR3Uv2ZPzda5xfZhvDzbMb2wAAe0o3gsuGwpStCAmAr4GpeCUJKSLNxY7I/oIcR3trp71Acf5cN9DogQRftdNt7Rv3XLHWTDaccE0CwqAAucIUSUMPNrzuAYmZ8CgYEA84caxizNjqQIHN1W3XD8EdecpQbA46O51T3FLp+INCR59PhNevtcqBt9OkK7+AbFxXieaV1RwKsrPKDDAhvr6RYJ9+3qInXHdcdnqDZ6Xs5qbudYOFDjXx75iWn2pGoBZcAAgAwsllbmM1D+kCR2+RoE56KLxGmQFDvoBaxnz8MCgYEA4DSCQT+I/pMizGNw+scWDxeyHSUnsQz8cE7NRaaMCNPUPmUuFRQgxIspCkthQ3ZysA/wMhlenZ/jskQq332JfY+3VYjikWPCA6DCibxSGL55Vs8uPi2sYL/AMCMbtgixWTvwDn79nnXJ7LJLA6JJjiUA9EvQxbqcsbLI8oEIrhMCgYAYp6X7SE/rUAoOOg5wTt8GQ2j1gDCJG2tV/nH3HWmhtcuvFHBrsgUYc+gCvPzgyHa/Xk3TZwI+2lV/RttXXFJO/880jZ61rGzsLKr+6b0L2iQGZF+XHAFZAP7MfbDdxmmrznt+ez0MX3Hg4iNTno14/LxgYyF5WiKfGc2MvX6pFwKBgFO2h2QBaw9StM2H26lnKG9eM5z6QIW1CZSNd8un0eWB4l+hu8EXEN0R8LLtTlW4Jj5i1RZ/rnpANu5a0X89ClcdkCCZya7rhoeAQOLYs/aVOA0XsnZ460H8lq/ii/g96qoc3Rcsh1nhNRHxyFyE/d3bJy4QGNWbReJ7lNgnIayNAoGBAK0SBMkIg7oiQV83BB2Ot6acltoBm4qL1maUxeTURhlm3a0LmB9e04yDdF0Ah8wWTI5dJ3Cbs0nbHQjgcshuVt847oGtoSXm3ZRaQqRwUG3DUJoIaBaU7qRCMFj3h/+12smEPgYg4UBBhF8LVPwEmcrQANOibrBdCFX2rqmGg41j";
const RSA_N: &str = "1Ugqx4TL9ytFmS6r4rnm_Yg_h81W-AaFgNln19vKNk3Aiqq94H0MDbXPeVQk6OyvfMsQQLrd45lXE35yksIGwNwXJ_sHOP0WuaA-p8QzpGzZOt9Lmi7O7E-F19tE-ja1SP3fB1pv2tohTHhfQKSoyylLvJBcf5zxzGqKcPHmAZt44D3EwbK-m3M94Qrym8eWxFnmSt1kEKYoYRvdm4f1vHYsKkGgKIZyzdzg_sB2snenj0ZOJ0eDeoSTK4IoMoYLGTMIlOmYppPtZ6TtYDycx5k6ZIozHcmPoS5DfeysfYJHPeUt6uOjxba23XCcQ9q_ppccBMFXSPKxPITgHAL1eQ";
const EC_DER_B64: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgts65ogFmZp6iSVrcV1GsaihdVaGFhUY3fJBAkYv4xtihRANCAATsY4htST57tXc1PFWIyx6xU9z4zougNTKwUhNbDVi7YM9BSGxOZjiEskeHp2CIRtQNro/QWZqwLFjeYcjvPpUx";
const EC_X: &str = "7GOIbUk-e7V3NTxViMsesVPc-M6LoDUysFITWw1Yu2A";
const EC_Y: &str = "z0FIbE5mOISyR4enYIhG1A2uj9BZmrAsWN5hyO8-lTE";

fn client_path(slug: &str) -> String {
    format!("/admin/v1/tenants/{slug}/integration/oauth-client")
}

/// Creates (or rotates) the tenant's client; returns (clientId, clientSecret).
fn create_client(s: &Server, slug: &str, body: Option<&Value>) -> (String, String) {
    let r = admin(s, "POST", &client_path(slug), body);
    let v = r.json();
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["tokenEndpoint"], format!("{PUBLIC}{TOKEN}"));
    (
        v["clientId"].as_str().unwrap().to_owned(),
        v["clientSecret"].as_str().unwrap().to_owned(),
    )
}

fn form(s: &Server, body: &str) -> Response {
    s.request()
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("POST", TOKEN, Some(body.as_bytes()))
}

fn basic(id: &str, secret: &str) -> String {
    let raw = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn token_basic(s: &Server, id: &str, secret: &str, body: &str) -> Response {
    s.request()
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Authorization", &basic(id, secret))
        .send("POST", TOKEN, Some(body.as_bytes()))
}

/// A successful RFC 6749 §5.1 response; returns the access token.
fn access_token(r: &Response) -> String {
    let v = r.json();
    assert_eq!(r.status, 200, "{v}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_eq!(v["token_type"], "Bearer", "{v}");
    assert_eq!(v["expires_in"], 3600, "{v}");
    assert_eq!(v["scope"], "scim", "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

/// An RFC 6749 §5.2 error with this code (and 401 + WWW-Authenticate for
/// invalid_client).
fn oauth_error(r: &Response, code: &str) {
    let v = r.json();
    assert_eq!(v["error"], code, "{v}");
    assert!(v["error_description"].is_string(), "{v}");
    assert!(v.get("schemas").is_none(), "not a SCIM error: {v}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    if code == "invalid_client" {
        assert_eq!(r.status, 401, "{v}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"oauth\""));
    } else {
        assert_eq!(r.status, 400, "{v}");
    }
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn assertion(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_der(
            &base64::engine::general_purpose::STANDARD
                .decode(RSA_DER_B64)
                .unwrap(),
        ),
        _ => EncodingKey::from_ec_der(
            &base64::engine::general_purpose::STANDARD
                .decode(EC_DER_B64)
                .unwrap(),
        ),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Claims of a client assertion with a fresh `jti`.
fn assertion_claims(client_id: &str, aud: &str, exp: i64) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": exp,
           "iat": now(), "jti": format!("j-{}-{n}", now())})
}

fn jwt_form(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    )
}

fn jwks() -> Value {
    json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": EC_X, "y": EC_Y},
    ]})
}

fn audit_actions(s: &Server, slug: &str) -> Vec<Value> {
    let r = admin(
        s,
        "GET",
        &format!("/admin/v1/tenants/{slug}/audit?limit=500"),
        None,
    );
    assert_eq!(r.status, 200);
    r.json()["items"].as_array().unwrap().clone()
}

#[test]
fn metadata_names_the_token_endpoint_and_its_methods() {
    on_both_with_admin(|s| {
        let r = s.request().get("/.well-known/oauth-authorization-server");
        let v = r.json();
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(v["issuer"], PUBLIC);
        assert_eq!(v["token_endpoint"], format!("{PUBLIC}{TOKEN}"));
        assert_eq!(v["grant_types_supported"], json!(["client_credentials"]));
        assert_eq!(
            v["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        assert_eq!(
            v["token_endpoint_auth_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
        assert_eq!(v["scopes_supported"], json!(["scim"]));
        // Only POST at the token endpoint, answered in OAuth's JSON.
        let r = s.request().get(TOKEN);
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("POST"));
        assert_eq!(r.json()["error"], "invalid_request");
        let r = s
            .request()
            .send("POST", "/.well-known/oauth-authorization-server", Some(b""));
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET"));
        assert_eq!(r.json()["error"], "invalid_request");
    });
}

#[test]
fn client_secret_basic_and_post_and_rfc_6749_errors() {
    on_both_with_admin(|s| {
        let secret_token = s.tenant("acme");
        // No client yet.
        let r = admin(s, "GET", &client_path("acme"), None);
        let v = r.json();
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(v["clientId"], Value::Null);
        assert_eq!(v["oauthOnly"], false);
        let r = admin(s, "DELETE", &client_path("acme"), None);
        assert_eq!(r.status, 404);

        let (id, secret) = create_client(s, "acme", None);
        let r = admin(s, "GET", &client_path("acme"), None);
        let text = String::from_utf8_lossy(&r.body).into_owned();
        assert_eq!(r.status, 200, "{text}");
        assert!(!text.contains(&secret), "the secret is shown only once");
        let v = r.json();
        assert_eq!(v["clientId"], id.as_str());
        assert_eq!(v["accessTokenLifetimeSeconds"], 3600);
        assert_eq!(v["previousSecretExpiresAt"], Value::Null);

        // client_secret_basic, scope absent or "scim".
        access_token(&token_basic(
            s,
            &id,
            &secret,
            "grant_type=client_credentials",
        ));
        access_token(&token_basic(
            s,
            &id,
            &secret,
            "grant_type=client_credentials&scope=scim",
        ));
        // client_secret_post.
        access_token(&form(
            s,
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
        ));

        // Wrong secret, unknown client, no credentials.
        oauth_error(
            &token_basic(s, &id, "wrong", "grant_type=client_credentials"),
            "invalid_client",
        );
        oauth_error(
            &form(
                s,
                &format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
            ),
            "invalid_client",
        );
        oauth_error(
            &token_basic(s, "nobody.123", &secret, "grant_type=client_credentials"),
            "invalid_client",
        );
        oauth_error(
            &form(s, &format!("grant_type=client_credentials&client_id={id}")),
            "invalid_client",
        );
        oauth_error(&form(s, "grant_type=client_credentials"), "invalid_client");

        // A Secret Token is no client credential, as a bearer or as a secret.
        oauth_error(
            &s.request()
                .header("Content-Type", "application/x-www-form-urlencoded")
                .bearer(&secret_token)
                .send("POST", TOKEN, Some(b"grant_type=client_credentials")),
            "invalid_client",
        );
        oauth_error(
            &token_basic(s, &id, &secret_token, "grant_type=client_credentials"),
            "invalid_client",
        );

        // Request errors.
        oauth_error(&token_basic(s, &id, &secret, ""), "invalid_request");
        oauth_error(
            &token_basic(s, &id, &secret, "grant_type=password"),
            "unsupported_grant_type",
        );
        oauth_error(
            &token_basic(s, &id, &secret, "grant_type=authorization_code&code=x"),
            "unsupported_grant_type",
        );
        oauth_error(
            &token_basic(s, &id, &secret, "grant_type=client_credentials&scope=admin"),
            "invalid_scope",
        );
        oauth_error(
            &token_basic(
                s,
                &id,
                &secret,
                "grant_type=client_credentials&scope=scim+openid",
            ),
            "invalid_scope",
        );
        oauth_error(
            &token_basic(
                s,
                &id,
                &secret,
                "grant_type=client_credentials&grant_type=client_credentials",
            ),
            "invalid_request",
        );
        oauth_error(
            &token_basic(
                s,
                &id,
                &secret,
                &format!("grant_type=client_credentials&client_secret={secret}"),
            ),
            "invalid_request",
        );
        let r = s
            .request()
            .header("Authorization", &basic(&id, &secret))
            .json("POST", TOKEN, &json!({"grant_type": "client_credentials"}));
        oauth_error(&r, "invalid_request");

        // The access token is no admin token and no Secret Token elsewhere.
        let at = access_token(&token_basic(
            s,
            &id,
            &secret,
            "grant_type=client_credentials",
        ));
        let r = s.request().bearer(&at).get("/admin/v1/tenants");
        assert_eq!(r.status, 401);
        let r = s.request().bearer(&at).get(&client_path("acme"));
        assert_eq!(r.status, 401);
        let r = s.request().header("Content-Type", "application/json").json(
            "POST",
            "/activate",
            &json!({"token": at}),
        );
        assert_eq!(r.status, 400, "an access token activates nobody");

        // Audited without secrets.
        let audit = audit_actions(s, "acme");
        let created: Vec<&Value> = audit
            .iter()
            .filter(|r| r["action"] == "oauth_client.create")
            .collect();
        assert_eq!(created.len(), 1, "{audit:?}");
        assert_eq!(created[0]["details"]["clientId"], id.as_str());
        assert!(!serde_json::to_string(&audit).unwrap().contains(&secret));
    });
}

#[test]
fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
    on_both_with_admin(|s| {
        s.tenant("acme");
        let (id, first) = create_client(s, "acme", Some(&json!({})));
        // Default grace: 24 hours.
        let r = admin(s, "POST", &client_path("acme"), None);
        let v = r.json();
        assert_eq!(r.status, 201, "{v}");
        assert_eq!(v["rotated"], true);
        assert_eq!(v["clientId"], id.as_str(), "rotation keeps the client id");
        let second = v["clientSecret"].as_str().unwrap().to_owned();
        assert_ne!(second, first);
        assert!(v["previousSecretExpiresAt"].is_string(), "{v}");
        access_token(&token_basic(
            s,
            &id,
            &first,
            "grant_type=client_credentials",
        ));
        access_token(&token_basic(
            s,
            &id,
            &second,
            "grant_type=client_credentials",
        ));

        // A one-second grace: the replaced secret works, then dies.
        let (_, third) = create_client(s, "acme", Some(&json!({"graceSeconds": 1})));
        oauth_error(
            &token_basic(s, &id, &first, "grant_type=client_credentials"),
            "invalid_client",
        );
        access_token(&token_basic(
            s,
            &id,
            &second,
            "grant_type=client_credentials",
        ));
        access_token(&token_basic(
            s,
            &id,
            &third,
            "grant_type=client_credentials",
        ));
        std::thread::sleep(Duration::from_millis(1500));
        oauth_error(
            &token_basic(s, &id, &second, "grant_type=client_credentials"),
            "invalid_client",
        );
        access_token(&token_basic(
            s,
            &id,
            &third,
            "grant_type=client_credentials",
        ));

        // No grace: the replaced secret dies at once.
        let (_, fourth) = create_client(s, "acme", Some(&json!({"graceSeconds": 0})));
        oauth_error(
            &token_basic(s, &id, &third, "grant_type=client_credentials"),
            "invalid_client",
        );
        access_token(&token_basic(
            s,
            &id,
            &fourth,
            "grant_type=client_credentials",
        ));

        for bad in [
            json!({"graceSeconds": -1}),
            json!({"graceSeconds": "1"}),
            json!({"graceSeconds": 2_592_001}),
            json!({"other": 1}),
        ] {
            let r = admin(s, "POST", &client_path("acme"), Some(&bad));
            assert_eq!(r.status, 400, "{bad}");
        }

        let audit = audit_actions(s, "acme");
        let rotations: Vec<&Value> = audit
            .iter()
            .filter(|r| r["action"] == "oauth_client.rotate")
            .collect();
        assert_eq!(rotations.len(), 3, "{audit:?}");
        assert_eq!(rotations[1]["details"]["graceSeconds"], 1);
        let text = serde_json::to_string(&audit).unwrap();
        for secret in [&first, &second, &third, &fourth] {
            assert!(!text.contains(secret.as_str()));
        }

        // Deletion: the client and its secret are gone; a new one has a new id.
        let r = admin(s, "DELETE", &client_path("acme"), None);
        assert_eq!(r.status, 204);
        oauth_error(
            &token_basic(s, &id, &fourth, "grant_type=client_credentials"),
            "invalid_client",
        );
        assert_eq!(
            admin(s, "GET", &client_path("acme"), None).json()["clientId"],
            Value::Null
        );
        assert!(
            audit_actions(s, "acme")
                .iter()
                .any(|r| r["action"] == "oauth_client.delete")
        );
        let (again, _) = create_client(s, "acme", None);
        assert_ne!(again, id);
    });
}

#[test]
fn clients_authenticate_only_for_their_own_tenant() {
    on_both_with_admin(|s| {
        let token_a = s.tenant("a");
        let token_b = s.tenant("b");
        let (id_a, secret_a) = create_client(s, "a", None);
        let (id_b, secret_b) = create_client(s, "b", None);
        assert_ne!(id_a, id_b);
        oauth_error(
            &token_basic(s, &id_a, &secret_b, "grant_type=client_credentials"),
            "invalid_client",
        );
        oauth_error(
            &token_basic(s, &id_b, &secret_a, "grant_type=client_credentials"),
            "invalid_client",
        );
        // A's random part under B's tenant id.
        let tenant_b = id_b.split_once('.').unwrap().0;
        let forged = format!("{tenant_b}.{}", id_a.split_once('.').unwrap().1);
        oauth_error(
            &token_basic(s, &forged, &secret_a, "grant_type=client_credentials"),
            "invalid_client",
        );
        // A's access token opens A's SCIM API and not B's.
        let at_a = access_token(&token_basic(
            s,
            &id_a,
            &secret_a,
            "grant_type=client_credentials",
        ));
        assert_eq!(
            s.request().bearer(&at_a).get("/scim/v2/a/Users").status,
            200
        );
        let r = s.request().bearer(&at_a).get("/scim/v2/b/Users");
        r.assert_error(401, None);
        // The Secret Tokens still work.
        assert_eq!(
            s.request().bearer(&token_a).get("/scim/v2/a/Users").status,
            200
        );
        assert_eq!(
            s.request().bearer(&token_b).get("/scim/v2/b/Users").status,
            200
        );
    });
}

#[test]
fn private_key_jwt_with_registered_rsa_and_ec_keys() {
    on_both_with_admin(|s| {
        s.tenant("acme");
        let (id, secret) = create_client(s, "acme", None);
        let aud = format!("{PUBLIC}{TOKEN}");
        let good = || {
            assertion(
                Algorithm::ES256,
                Some("ec-1"),
                &assertion_claims(&id, &aud, now() + 300),
            )
        };
        // No keys registered yet.
        oauth_error(&form(s, &jwt_form(&good())), "invalid_client");

        // Register the keys (public members only are kept).
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"jwks": jwks()})),
        );
        let v = r.json();
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(v["jwks"]["keys"][0]["kid"], "rsa-1");
        assert_eq!(v["jwks"]["keys"][1]["kid"], "ec-1");

        // ES256 and RS256, with the kid, without it, and with the issuer as audience.
        access_token(&form(s, &jwt_form(&good())));
        access_token(&form(
            s,
            &jwt_form(&assertion(
                Algorithm::RS256,
                Some("rsa-1"),
                &assertion_claims(&id, &aud, now() + 300),
            )),
        ));
        access_token(&form(
            s,
            &jwt_form(&assertion(
                Algorithm::RS256,
                None,
                &assertion_claims(&id, PUBLIC, now() + 300),
            )),
        ));
        // An assertion works once (its jti); one without a jti not at all.
        let once = good();
        access_token(&form(s, &jwt_form(&once)));
        oauth_error(&form(s, &jwt_form(&once)), "invalid_client");
        let mut no_jti = assertion_claims(&id, &aud, now() + 300);
        no_jti.as_object_mut().unwrap().remove("jti");
        oauth_error(
            &form(s, &jwt_form(&assertion(Algorithm::ES256, None, &no_jti))),
            "invalid_client",
        );
        // client_id in the body may repeat the assertion's subject.
        access_token(&form(s, &format!("{}&client_id={id}", jwt_form(&good()))));

        // Refusals.
        let refused = [
            // wrong audience
            assertion(
                Algorithm::ES256,
                None,
                &assertion_claims(&id, "https://elsewhere", now() + 300),
            ),
            // expired
            assertion(
                Algorithm::ES256,
                None,
                &assertion_claims(&id, &aud, now() - 600),
            ),
            // too far in the future
            assertion(
                Algorithm::ES256,
                None,
                &assertion_claims(&id, &aud, now() + 7200),
            ),
            // signed with the EC key but naming the RSA key
            assertion(
                Algorithm::ES256,
                Some("rsa-1"),
                &assertion_claims(&id, &aud, now() + 300),
            ),
            // another client
            assertion(
                Algorithm::ES256,
                None,
                &assertion_claims("nobody.1", &aud, now() + 300),
            ),
            // HS256 with the client secret (client_secret_jwt is not offered)
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &assertion_claims(&id, &aud, now() + 300),
                &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
            )
            .unwrap(),
            "not-a-jwt".to_owned(),
        ];
        for (i, a) in refused.iter().enumerate() {
            let r = form(s, &jwt_form(a));
            assert_eq!(r.json()["error"], "invalid_client", "case {i}");
            oauth_error(&r, "invalid_client");
        }
        let mut other_sub = assertion_claims(&id, &aud, now() + 300);
        other_sub["iss"] = json!("someone-else");
        oauth_error(
            &form(s, &jwt_form(&assertion(Algorithm::ES256, None, &other_sub))),
            "invalid_client",
        );
        // Wrong assertion type; two methods at once; client_id not the subject.
        oauth_error(
            &form(
                s,
                &format!(
                    "grant_type=client_credentials&client_assertion_type=urn%3Aexample&client_assertion={}",
                    good()
                ),
            ),
            "invalid_client",
        );
        oauth_error(
            &form(s, &format!("{}&client_secret={secret}", jwt_form(&good()))),
            "invalid_request",
        );
        oauth_error(
            &form(s, &format!("{}&client_id=other.1", jwt_form(&good()))),
            "invalid_request",
        );

        // Bad key registrations are 400 naming the key; removal with null.
        let mut private = jwks();
        private["keys"][1]["d"] = json!("c2VjcmV0");
        for bad in [
            json!({"jwks": private}),
            json!({"jwks": {"keys": []}}),
            json!({"jwks": {"kty": "oct", "k": "c2VjcmV0"}}),
            json!({"jwks": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}),
            json!({"jwks": "https://example.com/jwks.json"}),
            json!({"oauthOnly": "yes"}),
        ] {
            let r = admin(s, "PUT", &client_path("acme"), Some(&bad));
            let v = r.json();
            assert_eq!(r.status, 400, "{bad} -> {v}");
            assert!(v["error"].is_string());
        }
        let r = admin(s, "PUT", &client_path("acme"), Some(&json!({"jwks": null})));
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["jwks"], Value::Null);
        oauth_error(&form(s, &jwt_form(&good())), "invalid_client");
        // A single JWK registers as a set of one.
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"jwks": jwks()["keys"][1].clone()})),
        );
        assert_eq!(r.status, 200);
        access_token(&form(s, &jwt_form(&good())));
    });
}

#[test]
fn oauth_only_is_set_through_the_admin_api_and_audited() {
    on_both_with_admin(|s| {
        s.tenant("acme");
        // Not without a client.
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"oauthOnly": true})),
        );
        assert_eq!(r.status, 409, "{}", r.json());
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"jwks": jwks()})),
        );
        assert_eq!(r.status, 409);
        create_client(s, "acme", None);
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"oauthOnly": true})),
        );
        let v = r.json();
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(v["oauthOnly"], true);
        assert_eq!(
            admin(s, "GET", &client_path("acme"), None).json()["oauthOnly"],
            true
        );
        let audit = audit_actions(s, "acme");
        let update = audit
            .iter()
            .find(|r| r["action"] == "oauth_client.update")
            .unwrap();
        assert_eq!(update["details"]["before"]["oauthOnly"], false);
        assert_eq!(update["details"]["after"]["oauthOnly"], true);
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"oauthOnly": false})),
        );
        assert_eq!(r.json()["oauthOnly"], false);
        let r = admin(
            s,
            "PUT",
            &client_path("nope"),
            Some(&json!({"oauthOnly": false})),
        );
        assert_eq!(r.status, 404);
    });
}

/// Needs the SCIM authentication path to accept access tokens
/// (`scim_http::oauth::authenticate_access_token`) and to refuse Secret Tokens
/// of OAuth-only tenants (`store_diesel::oauth::oauth_only`).
#[test]
fn access_tokens_open_only_their_tenants_scim_api() {
    on_both_with_admin(|s| {
        let secret_token = s.tenant("a");
        s.tenant("b");
        let (id, secret) = create_client(s, "a", None);
        let at = access_token(&token_basic(
            s,
            &id,
            &secret,
            "grant_type=client_credentials",
        ));
        assert_eq!(s.request().bearer(&at).get("/scim/v2/a/Users").status, 200);
        s.request()
            .bearer(&at)
            .get("/scim/v2/b/Users")
            .assert_error(401, None);

        // Rotation with a grace period keeps the token until the grace ends;
        // without one it is refused on its next request.
        create_client(s, "a", Some(&json!({"graceSeconds": 3600})));
        assert_eq!(s.request().bearer(&at).get("/scim/v2/a/Users").status, 200);
        let (_, newer) = create_client(s, "a", Some(&json!({"graceSeconds": 0})));
        s.request()
            .bearer(&at)
            .get("/scim/v2/a/Users")
            .assert_error(401, None);

        // OAuth only: the Secret Token is refused, access tokens work.
        let at = access_token(&token_basic(
            s,
            &id,
            &newer,
            "grant_type=client_credentials",
        ));
        assert_eq!(
            s.request()
                .bearer(&secret_token)
                .get("/scim/v2/a/Users")
                .status,
            200
        );
        admin(
            s,
            "PUT",
            &client_path("a"),
            Some(&json!({"oauthOnly": true})),
        );
        s.request()
            .bearer(&secret_token)
            .get("/scim/v2/a/Users")
            .assert_error(401, None);
        assert_eq!(s.request().bearer(&at).get("/scim/v2/a/Users").status, 200);

        // Deletion refuses the token at once.
        admin(s, "DELETE", &client_path("a"), None);
        s.request()
            .bearer(&at)
            .get("/scim/v2/a/Users")
            .assert_error(401, None);
    });
}

/// The Entra ID cycle of `entra.rs` (Test connection, user and group
/// lifecycles, compliant dialect) on access tokens of an OAuth-only tenant.
#[test]
fn entra_cycle_on_oauth_access_tokens() {
    on_both_with_admin(|s| {
        let secret_token = s.tenant("acme");
        let (id, secret) = create_client(s, "acme", None);
        let r = admin(
            s,
            "PUT",
            &client_path("acme"),
            Some(&json!({"oauthOnly": true})),
        );
        assert_eq!(r.status, 200);
        s.request()
            .bearer(&secret_token)
            .get("/scim/v2/acme/Users")
            .assert_error(401, None);
        // Entra ID's request: client_secret_post, no scope.
        let at = access_token(&form(
            s,
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
        ));
        crate::entra::test_connection(s, &at);
        crate::entra::user_lifecycle(s, &at, false);
        crate::entra::group_lifecycle(s, &at, false);
    });
}
