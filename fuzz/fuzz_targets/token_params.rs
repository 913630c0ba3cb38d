//! The token endpoint's parsers alone, without the router (fast, so it runs many inputs):
//! `grant::parse_basic`, `ClientAuthentication::from_request`, `http::params::parse_body` and
//! `TokenRequest::from_params` on an `Authorization` header, a content type and a body.
//!
//! Input: byte 0 picks the content type; the rest up to the first `\n` is the header (none if
//! empty), the rest the body.
//!
//! Invariants (`appgrant_fuzz::parsers::check`):
//! - no panic;
//! - `parse_basic` accepts exactly what an independent reading of RFC 7617 and RFC 6749
//!   §2.3.1 accepts, with the same client id and secret, and what it returns re-encodes to a
//!   header it reads back the same;
//! - `from_request` picks the one method presented, refuses two (or a body `client_id` other
//!   than the header's), refuses none, and keeps exactly the ids and secrets it read;
//! - `TokenRequest::from_params` reads exactly the grant named, with the parameters given, and
//!   no grant for any other `grant_type`.
#![no_main]

use appgrant_fuzz::split;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    None,
    Some("APPLICATION/X-WWW-FORM-URLENCODED;charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let (header, body) = match split(rest, b'\n') {
        (body, None) => (None, body),
        (header, Some(body)) => (Some(header), body),
    };
    let header = header
        .filter(|header| !header.is_empty())
        .map(String::from_utf8_lossy);
    appgrant_fuzz::parsers::check(header.as_deref(), content_type, body);
});
