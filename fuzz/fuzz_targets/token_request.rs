//! The token endpoint (and revocation and introspection, which read client credentials the
//! same way): an `Authorization` header and a body from the input, sent through the library's
//! router; and the parsers underneath, called directly: `grant::parse_basic`,
//! `ClientAuthentication::from_request`, `http::params::parse_body`, `TokenRequest::from_params`.
//!
//! Input: byte 0 picks the endpoint and the content type; the rest up to the first `\n` is the
//! `Authorization` header (none if empty), the rest the body.
//!
//! Invariants:
//! - no panic; never a 5xx (the memory store does not fail);
//! - a 200 only when the request carried the seeded app's real secret (decoded independently
//!   of the library: form-decoded body, JSON body, or Basic header), and then, at the token
//!   endpoint, an `access_token` that validates against the server's keys for the seeded app;
//! - every other answer is JSON whose `error` is an RFC 6749 §5.2 code (or RFC 8707's
//!   `invalid_target`, RFC 9449's `invalid_dpop_proof`, RFC 7009's `unsupported_token_type`),
//!   with the status that code goes with (401 exactly for `invalid_client`);
//! - `parse_basic` agrees with an independent reading of RFC 7617 and RFC 6749 §2.3.1, and what
//!   it returns re-encodes to a header it reads back the same;
//! - `from_request` picks the one method presented, refuses two, and keeps the ids it read;
//! - `TokenRequest::from_params` reads exactly the named grant with the parameters given.
#![no_main]

use appgrant_fuzz::parsers::basic_credentials;
use appgrant_fuzz::{CLIENT_ID, SECRET, TOKEN_ERRORS, form_pairs, now, shared_world, split};
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    None,
    Some("text/plain"),
    Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
    Some("application/json; charset=utf-8"),
];

const ENDPOINTS: [&str; 4] = [
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/token",
];

/// Whether the request carried the real secret, by any method.
fn carries_secret(header: Option<&str>, content_type: Option<&str>, body: &[u8]) -> bool {
    if header
        .and_then(basic_credentials)
        .is_some_and(|(_, secret)| secret == SECRET)
    {
        return true;
    }
    if form_pairs(body)
        .iter()
        .any(|(name, value)| name == "client_secret" && value == SECRET)
    {
        return true;
    }
    let json = content_type.is_some_and(|value| value.to_ascii_lowercase().contains("json"));
    json && serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("client_secret")?.as_str().map(|s| s == SECRET))
        .unwrap_or(false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector & 7) % CONTENT_TYPES.len()];
    let endpoint = ENDPOINTS[usize::from(selector >> 3) % ENDPOINTS.len()];
    let (header, body) = match split(rest, b'\n') {
        (body, None) => (None, body),
        (header, Some(body)) => (Some(header), body),
    };
    let header = header.filter(|header| !header.is_empty());

    appgrant_fuzz::parsers::check(
        header.map(|h| String::from_utf8_lossy(h)).as_deref(),
        content_type,
        body,
    );

    // Through the router.
    let header = match header.map(HeaderValue::from_bytes) {
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => return,
        None => None,
    };
    let header_text = header.as_ref().and_then(|value| value.to_str().ok());
    let world = shared_world();
    let mut request = Request::post(endpoint);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(value) = &header {
        request = request.header(header::AUTHORIZATION, value.clone());
    }
    let answer = world.send(request.body(Body::from(body.to_vec())).unwrap());
    assert!(
        !answer.status.is_server_error(),
        "{} for {:?}: {}",
        answer.status,
        String::from_utf8_lossy(data),
        answer.text()
    );
    let json = answer.json();
    if answer.status == StatusCode::OK {
        assert!(
            carries_secret(header_text, content_type, body),
            "200 without the secret: {:?} → {}",
            String::from_utf8_lossy(data),
            answer.text()
        );
        if endpoint == "/oauth/token" {
            let token = json["access_token"]
                .as_str()
                .expect("a 200 with an access_token");
            let config = world.server.config();
            let claims = appgrant::token::validate(
                token,
                &world.server.keys(),
                &config.expectations_anywhere(),
                now(),
            )
            .expect("the issued access token validates");
            assert_eq!(claims.client_id.as_str(), CLIENT_ID);
            assert_eq!(
                json["token_type"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                    .map(|t| t == "bearer" || t == "dpop"),
                Some(true)
            );
        }
    } else {
        let error = json["error"].as_str().expect("an error code");
        let revocation = endpoint != "/oauth/token" && error == "unsupported_token_type";
        assert!(
            TOKEN_ERRORS.contains(&error) || revocation,
            "{} answered {error}",
            answer.status
        );
        let expected = if error == "invalid_client" { 401 } else { 400 };
        assert_eq!(answer.status.as_u16(), expected, "{error}");
    }
});
