//! Client authentication at the token endpoint: `client_secret_basic` (percent-decoded per
//! RFC 6749 §2.3.1), `client_secret_post`, `private_key_jwt` (RFC 7523), and public clients
//! identified by `client_id` alone.

use super::client_assertion::{
    AcceptedAssertion, AuthenticationContext, JWT_BEARER_ASSERTION, check_assertion,
};
use super::error::TokenError;
use crate::model::{App, ClientId, ClientType, SecretDigest};
use crate::token::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use subtle::{Choice, ConstantTimeEq};

/// What the client presented to identify itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// HTTP Basic: client id and secret.
    Basic {
        /// Client id.
        client_id: ClientId,
        /// Client secret.
        secret: Secret,
    },
    /// `client_id` and `client_secret` in the request body.
    Post {
        /// Client id.
        client_id: ClientId,
        /// Client secret.
        secret: Secret,
    },
    /// `client_id` alone: a public client.
    Public {
        /// Client id.
        client_id: ClientId,
    },
    /// A JWT the client signed with one of its registered keys (`private_key_jwt`).
    Assertion {
        /// Client id: the body's `client_id`, or else the assertion's `sub` (RFC 7523 §3),
        /// which the check then requires to be this client's.
        client_id: ClientId,
        /// The assertion (a credential, kept out of `Debug`).
        assertion: Secret,
    },
}

impl ClientAuthentication {
    /// The client id presented.
    pub fn client_id(&self) -> &ClientId {
        match self {
            ClientAuthentication::Basic { client_id, .. }
            | ClientAuthentication::Post { client_id, .. }
            | ClientAuthentication::Public { client_id }
            | ClientAuthentication::Assertion { client_id, .. } => client_id,
        }
    }

    /// Reads a `private_key_jwt` assertion from the body's `client_assertion_type`,
    /// `client_assertion` and optional `client_id`. Without a `client_id`, the client is the
    /// one the assertion's (not yet verified) `sub` names; the check requires it anyway.
    pub fn from_assertion(
        assertion_type: &str,
        assertion: &str,
        body_client_id: Option<&str>,
    ) -> Result<Self, TokenError> {
        if assertion_type != JWT_BEARER_ASSERTION {
            return Err(TokenError::InvalidClient(
                "unsupported client_assertion_type",
            ));
        }
        let client_id = match body_client_id {
            Some(id) => id.to_owned(),
            None => crate::token::ClientJwt::parse(assertion)
                .ok()
                .and_then(|jwt| jwt.text("sub").map(str::to_owned))
                .ok_or(TokenError::InvalidClient("malformed client assertion"))?,
        };
        Ok(ClientAuthentication::Assertion {
            client_id: ClientId::new(client_id),
            assertion: Secret::new(assertion),
        })
    }

    /// Reads the credentials from an `Authorization` header value and the body's `client_id`
    /// and `client_secret`. Using more than one method is refused (RFC 6749 §2.3).
    pub fn from_request(
        authorization: Option<&str>,
        body_client_id: Option<&str>,
        body_secret: Option<&str>,
    ) -> Result<Self, TokenError> {
        match (authorization, body_client_id, body_secret) {
            (Some(_), _, Some(_)) => Err(TokenError::InvalidRequest(
                "use one client authentication method, not two",
            )),
            (Some(header), body_id, None) => {
                let (client_id, secret) = parse_basic(header)?;
                if body_id.is_some_and(|id| id != client_id.as_str()) {
                    return Err(TokenError::InvalidRequest(
                        "client_id in the body differs from the authenticated client",
                    ));
                }
                Ok(ClientAuthentication::Basic { client_id, secret })
            }
            (None, Some(id), Some(secret)) => Ok(ClientAuthentication::Post {
                client_id: ClientId::new(id),
                secret: Secret::new(secret),
            }),
            (None, Some(id), None) => Ok(ClientAuthentication::Public {
                client_id: ClientId::new(id),
            }),
            (None, None, _) => Err(TokenError::InvalidClient("no client authentication")),
        }
    }
}

/// Parses an HTTP Basic `Authorization` header value into client id and secret, each
/// form-url-decoded as RFC 6749 §2.3.1 requires.
pub fn parse_basic(header: &str) -> Result<(ClientId, Secret), TokenError> {
    const MALFORMED: TokenError = TokenError::InvalidClient("malformed Basic authorization header");
    let (scheme, encoded) = header.trim().split_once(' ').ok_or(MALFORMED)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::InvalidClient(
            "unsupported authorization scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| MALFORMED)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MALFORMED)?;
    let (id, secret) = decoded.split_once(':').ok_or(MALFORMED)?;
    let id = decode_component(id.as_bytes()).ok_or(MALFORMED)?;
    let secret = decode_component(secret.as_bytes()).ok_or(MALFORMED)?;
    if id.is_empty() {
        return Err(MALFORMED);
    }
    Ok((ClientId::new(id), Secret::new(secret)))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space, `%XX` a byte),
/// or `None` if the bytes are not UTF-8. Unlike parsing a whole form, `&` and `=` stay.
pub fn decode_component(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|byte| if *byte == b'+' { b' ' } else { *byte })
        .collect();
    String::from_utf8(percent_encoding::percent_decode(&spaced).collect()).ok()
}

/// A client whose credentials held.
#[derive(Clone, Copy, Debug)]
pub struct Authenticated<'a> {
    /// The app.
    pub app: &'a App,
    /// The assertion it presented, which the server must record as used (and refuse if it
    /// was used before); `None` for the other methods.
    pub assertion: Option<AcceptedAssertion>,
}

/// Checks `credentials` against the registered `app` (`None` if the client id is unknown) in
/// `context`. A confidential client authenticates the way it registered: with its secret,
/// accepted if it is the current one or the one the last rotation replaced while that is still
/// accepted (secrets are compared by digest in constant time, both digests whichever matches);
/// or with a client assertion (`private_key_jwt`, see [`check_assertion`]).
pub fn authenticate<'a>(
    app: Option<&'a App>,
    credentials: &ClientAuthentication,
    context: &AuthenticationContext<'_>,
) -> Result<Authenticated<'a>, TokenError> {
    let app = app.ok_or(TokenError::InvalidClient("unknown client"))?;
    let by_assertion = app.security.client_keys().is_some();
    let assertion = match (app.client_type, credentials) {
        (ClientType::Public, ClientAuthentication::Public { .. }) => None,
        (ClientType::Public, _) => {
            return Err(TokenError::InvalidClient(
                "public clients have no secret to present",
            ));
        }
        (ClientType::Confidential, ClientAuthentication::Public { .. }) => {
            return Err(TokenError::InvalidClient("client secret required"));
        }
        (ClientType::Confidential, ClientAuthentication::Assertion { assertion, .. })
            if by_assertion =>
        {
            Some(check_assertion(app, assertion.expose(), context)?)
        }
        (ClientType::Confidential, ClientAuthentication::Assertion { .. }) => {
            return Err(TokenError::InvalidClient(
                "this client authenticates with its secret, not private_key_jwt",
            ));
        }
        (ClientType::Confidential, _) if by_assertion => {
            return Err(TokenError::InvalidClient(
                "this client authenticates with private_key_jwt",
            ));
        }
        (
            ClientType::Confidential,
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
        ) => {
            if !secret_accepted(app, secret, context.now) {
                return Err(TokenError::InvalidClient("wrong client secret"));
            }
            None
        }
    };
    Ok(Authenticated { app, assertion })
}

/// Whether `secret` is the app's current secret, or its previous one still accepted at `now`.
fn secret_accepted(app: &App, secret: &Secret, now: DateTime<Utc>) -> bool {
    let presented = secret.digest();
    let same = |stored: &SecretDigest| stored.0.ct_eq(&presented.0);
    let current = app.secret_digest.as_ref().map_or(Choice::from(0), same);
    let previous = app.previous_secret.map_or(Choice::from(0), |previous| {
        same(&previous.digest) & Choice::from(u8::from(previous.accepted_at(now)))
    });
    bool::from(current | previous)
}
