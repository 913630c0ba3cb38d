//! `POST /oauth/authorize` (the consent decision) with the input as the form body, through the
//! library's router, Jane signed in.
//!
//! The harness renders the consent page once for the tests' authorization request and keeps
//! the form it shows (the request's fields and the CSRF token bound to Jane, her session, the
//! company and that request). The clock and the deployment secret are fixed, so the token is
//! the same in every run and the seed corpus carries the real form.
//!
//! Invariants:
//! - no panic; never a 5xx;
//! - any redirect, and any code, only for a body that carries exactly the shown form: the
//!   CSRF token as rendered, and every request field as shown (decoded independently of the
//!   library); a code only when the decision is `allow`; the fuzzer cannot forge a token for
//!   any other request;
//! - a redirect goes only to the registered redirect URI, with the request's `state` and `iss`;
//! - anything refused is an HTML error page (400, 401, 403, 413) and issues nothing.
#![no_main]

use appgrant_fuzz::{ISSUER, REDIRECT, World, authorization_request, form_pairs, world};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::sync::OnceLock;

const REQUEST_FIELDS: [&str; 8] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

/// HTML character references back to text (what a browser submits).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(character) => {
                out.push(character);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The hidden inputs of the consent page's form.
fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

/// The form the consent page shows, rendered once.
fn shown_form() -> &'static Vec<(String, String)> {
    static FORM: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FORM.get_or_init(|| {
        let world = world();
        let request = authorization_request();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", request.response_type.unwrap()),
                ("client_id", request.client_id.unwrap()),
                ("redirect_uri", request.redirect_uri.unwrap()),
                ("state", request.state.unwrap()),
                ("code_challenge", request.code_challenge.unwrap()),
                (
                    "code_challenge_method",
                    request.code_challenge_method.unwrap(),
                ),
            ])
            .finish();
        let page = world.send(
            Request::get(format!("/oauth/authorize?{query}"))
                .body(Body::empty())
                .unwrap(),
        );
        assert_eq!(page.status, StatusCode::OK);
        let form = hidden_inputs(&page.text());
        assert!(
            form.iter().any(|(name, _)| name == "csrf_token"),
            "no CSRF token shown"
        );
        if std::env::var_os("PRINT_SEED_STATE").is_some() {
            eprintln!("{form:?}");
        }
        form
    })
}

thread_local! {
    /// The world the requests go to; replaced by a fresh one after any request that may have
    /// changed it (an accepted decision), so every input starts from the same state.
    static WORLD: RefCell<World> = RefCell::new(world());
}

fuzz_target!(|data: &[u8]| {
    let form = shown_form();
    let sent = form_pairs(data);
    let get = |pairs: &[(String, String)], name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let shown = |name: &str| get(form, name);
    // What the fuzzer cannot forge: the token as rendered, over exactly the shown request.
    let genuine = get(&sent, "csrf_token") == shown("csrf_token")
        && REQUEST_FIELDS
            .iter()
            .all(|name| get(&sent, name) == shown(name));
    let decision = get(&sent, "decision");

    let request = Request::post("/oauth/authorize")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(data.to_vec()))
        .unwrap();
    let answer = WORLD.with_borrow(|world| world.send(request));
    let status = answer.status;
    assert!(!status.is_server_error(), "{status}: {}", answer.text());

    if status.is_redirection() {
        let location = answer.location().expect("a Location");
        assert!(
            genuine,
            "a redirect ({location}) for a form that is not the one shown: {:?}",
            String::from_utf8_lossy(data)
        );
        let (target, _) = location.split_once('?').unwrap_or((location, ""));
        assert_eq!(target, REDIRECT);
        let code = appgrant_fuzz::query_param(location, "code");
        let error = appgrant_fuzz::query_param(location, "error");
        match decision.as_deref() {
            Some("allow") => assert!(code.is_some() && error.is_none(), "{location}"),
            Some("deny") => {
                assert!(code.is_none(), "a code for a denial: {location}");
                assert_eq!(error.as_deref(), Some("access_denied"));
            }
            other => panic!("a redirect for decision {other:?}"),
        }
        assert_eq!(
            appgrant_fuzz::query_param(location, "state"),
            shown("state")
        );
        assert_eq!(
            appgrant_fuzz::query_param(location, "iss").as_deref(),
            Some(ISSUER)
        );
    } else {
        assert!(
            matches!(
                status,
                StatusCode::BAD_REQUEST
                    | StatusCode::UNAUTHORIZED
                    | StatusCode::FORBIDDEN
                    | StatusCode::PAYLOAD_TOO_LARGE
            ),
            "{status} for {:?}: {}",
            String::from_utf8_lossy(data),
            answer.text()
        );
        if status == StatusCode::FORBIDDEN {
            // Refused for its token: right unless it was the shown form.
            assert!(
                !genuine,
                "the form as shown was refused: {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
    if status.is_redirection() {
        WORLD.set(world());
    }
});
