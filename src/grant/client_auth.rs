//! Client authentication at the token endpoint: `client_secret_basic` (percent-decoded per
//! RFC 6749 §2.3.1), `client_secret_post`, and public clients identified by `client_id` alone.

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
}

impl ClientAuthentication {
    /// The client id presented.
    pub fn client_id(&self) -> &ClientId {
        match self {
            ClientAuthentication::Basic { client_id, .. }
            | ClientAuthentication::Post { client_id, .. }
            | ClientAuthentication::Public { client_id } => client_id,
        }
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

/// Checks `credentials` against the registered `app` (`None` if the client id is unknown) at
/// `now`. A confidential client's secret is accepted if it is the current one, or the one the
/// last rotation replaced while it is still accepted (before its `valid_until`). Secrets are
/// compared by digest in constant time, with both digests compared whichever matches.
pub fn authenticate<'a>(
    app: Option<&'a App>,
    credentials: &ClientAuthentication,
    now: DateTime<Utc>,
) -> Result<&'a App, TokenError> {
    let app = app.ok_or(TokenError::InvalidClient("unknown client"))?;
    match (app.client_type, credentials) {
        (ClientType::Public, ClientAuthentication::Public { .. }) => Ok(app),
        (ClientType::Public, _) => Err(TokenError::InvalidClient(
            "public clients have no secret to present",
        )),
        (ClientType::Confidential, ClientAuthentication::Public { .. }) => {
            Err(TokenError::InvalidClient("client secret required"))
        }
        (
            ClientType::Confidential,
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
        ) => {
            if secret_accepted(app, secret, now) {
                Ok(app)
            } else {
                Err(TokenError::InvalidClient("wrong client secret"))
            }
        }
    }
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
