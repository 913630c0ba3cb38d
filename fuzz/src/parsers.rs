//! The token endpoint's parsers, checked against an independent reading of the RFCs: shared
//! by the `token_request` target (through the router too) and `token_params` (parsers only).

use appgrant::grant::{ClientAuthentication, Params, TokenRequest, parse_basic};
use appgrant::http::params::parse_body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// `+` is a space, `%XX` a byte (RFC 6749 Appendix B), or `None` if not UTF-8 after.
pub fn form_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The Basic credentials in `header`, read as RFC 7617 and RFC 6749 §2.3.1 say.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    (!id.is_empty()).then_some((id, secret))
}

/// Every character but the unreserved ones, percent-encoded.
pub fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Checks `parse_basic`, `ClientAuthentication::from_request`, `parse_body` and
/// `TokenRequest::from_params` on one request's header, content type and body.
pub fn check(header: Option<&str>, content_type: Option<&str>, body: &[u8]) {
    if let Some(header) = header {
        let parsed = parse_basic(header);
        let expected = basic_credentials(header);
        match (&parsed, &expected) {
            (Ok((id, secret)), Some((want_id, want_secret))) => {
                assert_eq!(id.as_str(), want_id);
                assert_eq!(secret.expose(), want_secret);
                let again = format!(
                    "Basic {}",
                    STANDARD.encode(format!(
                        "{}:{}",
                        form_encode(id.as_str()),
                        form_encode(secret.expose())
                    ))
                );
                let (id2, secret2) = parse_basic(&again).expect("a re-encoded header parses");
                assert_eq!(
                    (id2.as_str(), secret2.expose()),
                    (id.as_str(), secret.expose())
                );
            }
            (Err(_), None) => {}
            (parsed, expected) => panic!(
                "parse_basic({header:?}) = {:?}, an independent reading says {expected:?}",
                parsed.as_ref().map(|(id, _)| id.as_str())
            ),
        }
    }
    let Ok(params) = parse_body(content_type, body) else {
        return;
    };
    let get = |name: &str| params.get(name).map(String::as_str);
    let (body_id, body_secret) = (get("client_id"), get("client_secret"));
    match ClientAuthentication::from_request(header, body_id, body_secret) {
        Ok(ClientAuthentication::Basic { client_id, secret }) => {
            assert!(body_secret.is_none(), "two methods accepted");
            let (id, want) = basic_credentials(header.unwrap()).unwrap();
            assert_eq!(
                (client_id.as_str(), secret.expose()),
                (id.as_str(), want.as_str())
            );
            assert!(body_id.is_none_or(|body| body == id));
        }
        Ok(ClientAuthentication::Post { client_id, secret }) => {
            assert!(header.is_none());
            assert_eq!(Some(client_id.as_str()), body_id);
            assert_eq!(Some(secret.expose()), body_secret);
        }
        Ok(ClientAuthentication::Public { client_id }) => {
            assert!(header.is_none() && body_secret.is_none());
            assert_eq!(Some(client_id.as_str()), body_id);
        }
        Ok(ClientAuthentication::Assertion { .. }) => panic!("from_request made an assertion"),
        Err(_) => {
            let basic = header.map(basic_credentials);
            let refused = match (basic, body_id, body_secret) {
                (Some(_), _, Some(_)) => true,
                (Some(None), _, None) => true,
                (Some(Some((id, _))), Some(body), None) => id != body,
                (Some(Some(_)), None, None) => false,
                (None, None, _) => true,
                (None, Some(_), _) => false,
            };
            assert!(refused, "from_request refused credentials it should read");
        }
    }
    check_token_request(&params);
}

fn check_token_request(params: &Params) {
    let text = |name: &str| params.get(name).filter(|value| !value.is_empty()).cloned();
    let parsed = TokenRequest::from_params(params);
    match (params.get("grant_type").map(String::as_str), &parsed) {
        (
            Some("authorization_code"),
            Ok(TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
                resource,
            }),
        ) => {
            assert_eq!(Some(code.expose().to_owned()), text("code"));
            assert_eq!(*redirect_uri, text("redirect_uri"));
            assert_eq!(
                code_verifier.as_ref().map(|v| v.expose().to_owned()),
                text("code_verifier")
            );
            assert_eq!(*resource, text("resource"));
        }
        (
            Some("refresh_token"),
            Ok(TokenRequest::RefreshToken {
                refresh_token,
                resource,
                ..
            }),
        ) => {
            assert_eq!(
                Some(refresh_token.expose().to_owned()),
                text("refresh_token")
            );
            assert_eq!(*resource, text("resource"));
        }
        (
            Some("client_credentials"),
            Ok(TokenRequest::ClientCredentials {
                company_id,
                resource,
                ..
            }),
        ) => {
            assert_eq!(
                company_id.as_ref().map(|c| c.as_str().to_owned()),
                text("company_id")
            );
            assert_eq!(*resource, text("resource"));
        }
        (Some("authorization_code"), Err(_)) => assert!(text("code").is_none()),
        (Some("refresh_token" | "client_credentials"), Err(_)) => {}
        (_, Err(_)) => {}
        (grant_type, Ok(request)) => panic!("grant_type {grant_type:?} read as {request:?}"),
    }
}
