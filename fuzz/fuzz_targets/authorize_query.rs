//! `GET /oauth/authorize?{input}` through the library's router, Jane signed in (she has never
//! consented to the app).
//!
//! Invariants:
//! - no panic; never a 5xx;
//! - a redirect goes only to a redirect URI registered for the seeded app (the `Location` up
//!   to its `?` is exactly one of them), carries the issuer (`iss`, RFC 9207) and an `error`,
//!   and echoes the request's `state` unchanged;
//! - never a code: no redirect carries `code`, and no page shows one (a GET issues a code only
//!   when consent was remembered, and Jane has given none);
//! - anything else is the consent page (200) or an error page (400), as HTML.
#![no_main]

use appgrant_fuzz::{ISSUER, form_pairs, shared_world};
use axum::body::Body;
use axum::http::{Request, StatusCode, Uri, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/oauth/authorize?{query}").parse::<Uri>() else {
        return;
    };
    let world = shared_world();
    let answer = world.send(Request::get(uri).body(Body::empty()).unwrap());
    let status = answer.status;
    assert!(
        !status.is_server_error(),
        "{status} for {query:?}: {}",
        answer.text()
    );
    if status.is_redirection() {
        assert!(matches!(status, StatusCode::SEE_OTHER | StatusCode::FOUND));
        let location = answer.location().expect("a redirect with a Location");
        let (target, _) = location.split_once('?').unwrap_or((location, ""));
        assert!(
            world.app.redirect_uris.iter().any(|uri| uri == target),
            "redirected to {location:?}, which is not a registered redirect URI, for {query:?}"
        );
        let url = url::Url::parse(location).expect("an absolute Location");
        let params: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert!(
            param("code").is_none(),
            "a code on GET for a fresh user: {location}"
        );
        assert!(
            param("error").is_some(),
            "a redirect without an error: {location}"
        );
        assert_eq!(param("iss"), Some(ISSUER));
        let sent_query = query.split_once('#').map_or(query, |(query, _)| query);
        let sent_state = form_pairs(sent_query.as_bytes())
            .into_iter()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value);
        assert_eq!(
            param("state"),
            sent_state.as_deref(),
            "state not echoed as sent"
        );
    } else {
        assert!(
            matches!(status, StatusCode::OK | StatusCode::BAD_REQUEST),
            "{status} for {query:?}"
        );
        let html = answer
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"));
        assert!(html, "{status} is not a page");
        let text = answer.text();
        assert!(
            !text.contains("Copy this code into the application"),
            "a code shown on GET for a fresh user"
        );
    }
});
