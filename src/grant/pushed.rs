//! Pushed authorization requests (RFC 9126) as pure functions: validate a pushed request and
//! seal it into a `request_uri`, open a `request_uri` brought to the authorization endpoint,
//! and refuse a plain request from an app that must push.
//!
//! # The `request_uri` carries the request itself
//!
//! A pushed request is not stored: the `request_uri` is
//! `urn:ietf:params:oauth:request_uri:` followed by `base64url(nonce ‖ ciphertext ‖ tag)`, the
//! request's parameters, its client id and its expiry sealed with XChaCha20-Poly1305 under the
//! [`PushedRequestKey`] (derived from the deployment secret, so every instance of a deployment
//! opens what any of them sealed). So:
//!
//! - it works across instances with no new store table (and no new store trait for hosts'
//!   stores to implement), and a push costs no write;
//! - nobody can forge or alter one: a changed byte fails the tag, and the key never leaves
//!   the server;
//! - the browser, which carries it, learns nothing of the request (scope, state, PKCE
//!   challenge…): it is encrypted, not only authenticated, as RFC 9126 §1 intends;
//! - it is one-time use all the same: the authorization endpoint records its nonce's digest
//!   with [`ReplayStore::first_use`](crate::store::ReplayStore::first_use) until it expires,
//!   and a second use is refused. Its expiry is inside the sealed text, so nothing outlives it.
//!
//! The price is length: a `request_uri` is a few hundred characters rather than a short
//! handle, well within what browsers and servers accept in a URL.
//!
//! What is sealed is the request as the client pushed it, not its validated form: the
//! authorization endpoint validates it again (RFC 9126 §4), so an app changed in between
//! (a redirect URI removed, a ceiling lowered) is judged as it is then.

use super::authorize::{AuthorizationRequest, AuthorizeError, ErrorPage, validate_request};
use super::error::{ErrorCode, TokenError};
use super::request::Params;
use super::{ErrorRedirect, ValidAuthorization};
use crate::config::Config;
use crate::model::{App, PushedAuthorization, SecretDigest};
use crate::token::PushedRequestKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// What every `request_uri` this server issues begins with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a `request_uri` may be used after the push (RFC 9126 §2.2 asks for a short
/// lifetime): long enough for a browser redirect and a sign-in, short enough that a leaked one
/// is soon worthless.
pub const PUSHED_REQUEST_LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// The XChaCha20 nonce's length, in bytes: random, so every push seals to a new `request_uri`.
const NONCE_BYTES: usize = 24;

/// Binds the ciphertext to its purpose, so nothing else sealed under a key from the same
/// secret could pass for a pushed request.
const ASSOCIATED_DATA: &[u8] = b"appgrant pushed authorization request v1";

/// Separates the one-time-use digests of `request_uri`s from the other values used once.
const REPLAY_LABEL: &str = "appgrant pushed request: ";

/// The answer to a successful push (RFC 9126 §2.2): `201 Created` with this as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedResponse {
    /// The reference to send the browser to the authorization endpoint with.
    pub request_uri: String,
    /// Seconds until `request_uri` expires.
    pub expires_in: i64,
}

/// Why a push was refused: a JSON error (RFC 9126 §2.3), never a redirect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// Client authentication failed, or the store did (answered as at the token endpoint).
    #[error(transparent)]
    Client(#[from] TokenError),
    /// The request is not one the authorization endpoint would accept.
    #[error("{code}: {description}")]
    Refused {
        /// The RFC 6749 error code.
        code: ErrorCode,
        /// A description for the developer (never text the request wrote).
        description: &'static str,
    },
    /// The server cannot answer now (its store failed); retry later.
    #[error("the server is temporarily unavailable; try again shortly")]
    Unavailable,
}

impl PushError {
    fn invalid(description: &'static str) -> Self {
        Self::Refused {
            code: ErrorCode::InvalidRequest,
            description,
        }
    }

    /// The RFC 6749 error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            PushError::Client(error) => error.code(),
            PushError::Refused { code, .. } => *code,
            PushError::Unavailable => ErrorCode::TemporarilyUnavailable,
        }
    }

    /// A description safe to send to the client.
    pub fn description(&self) -> String {
        match self {
            PushError::Client(error) => error.description(),
            PushError::Refused { description, .. } => (*description).to_owned(),
            PushError::Unavailable => self.to_string(),
        }
    }
}

/// The authorization request in a push's parameters (the client-authentication parameters
/// beside them are for [`ClientAuthentication`](super::ClientAuthentication)). A `request_uri`
/// is refused: it may not be pushed (RFC 9126 §2.1).
pub fn pushed_request_from_params(params: &Params) -> Result<AuthorizationRequest, PushError> {
    if params.contains("request_uri") {
        return Err(PushError::invalid(
            "request_uri may not be pushed (RFC 9126 §2.1)",
        ));
    }
    Ok(AuthorizationRequest::from_params(params))
}

/// What a `request_uri` seals.
#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The request as pushed, with the authenticated client's id.
    request: AuthorizationRequest,
    /// When it expires, in seconds since the epoch.
    expires_at: i64,
}

/// Validates `request`, pushed by the authenticated `app`, as the authorization endpoint
/// would, and seals it into a `request_uri` that expires [`PUSHED_REQUEST_LIFETIME`] after
/// `now`.
pub fn push(
    request: &AuthorizationRequest,
    app: &App,
    config: &Config,
    key: &PushedRequestKey,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> Result<PushedResponse, PushError> {
    if request
        .client_id
        .as_deref()
        .is_some_and(|named| named != app.client_id.as_str())
    {
        return Err(PushError::invalid(
            "client_id is not the authenticated client",
        ));
    }
    let request = AuthorizationRequest {
        client_id: Some(app.client_id.to_string()),
        ..request.clone()
    };
    validate_request(&request, Some(app), config).map_err(refusal)?;
    let sealed = Sealed {
        request,
        expires_at: (now + PUSHED_REQUEST_LIFETIME).timestamp(),
    };
    let plain = serde_json::to_vec(&sealed)
        .map_err(|_| PushError::invalid("the request cannot be encoded"))?;
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    let ciphertext = cipher(key)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain,
                aad: ASSOCIATED_DATA,
            },
        )
        .map_err(|_| PushError::invalid("the request cannot be encoded"))?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&ciphertext);
    Ok(PushedResponse {
        request_uri: format!("{REQUEST_URI_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)),
        expires_in: PUSHED_REQUEST_LIFETIME.num_seconds(),
    })
}

/// The JSON error for a request the authorization endpoint would refuse.
fn refusal(error: AuthorizeError) -> PushError {
    match error {
        AuthorizeError::Page(problem) => PushError::invalid(match problem {
            ErrorPage::MissingRedirectUri => "redirect_uri is required",
            ErrorPage::UnregisteredRedirectUri => "redirect_uri is not registered for this client",
            _ => "the request names no registered client",
        }),
        AuthorizeError::Redirect(redirect) => PushError::Refused {
            code: redirect.error,
            description: redirect.description,
        },
        AuthorizeError::Unavailable => PushError::Unavailable,
    }
}

fn cipher(key: &PushedRequestKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.bytes().into())
}

/// A pushed request, opened at the authorization endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequest {
    /// The request as pushed: the only parameters the authorization endpoint uses.
    pub request: AuthorizationRequest,
    /// What [`ReplayStore::first_use`](crate::store::ReplayStore::first_use) records to spend
    /// the `request_uri` once.
    pub digest: SecretDigest,
    /// When the `request_uri` expires (and its digest may be forgotten).
    pub expires_at: DateTime<Utc>,
}

/// Opens `request_uri`, brought to the authorization endpoint with `client_id`: it must be one
/// this server sealed, unaltered, unexpired at `now`, and pushed by that client (RFC 9126 §4).
/// Any failure is an error page: nothing in an unverified `request_uri` says where to
/// redirect.
pub fn open_pushed_request(
    request_uri: &str,
    client_id: Option<&str>,
    key: &PushedRequestKey,
    now: DateTime<Utc>,
) -> Result<PushedRequest, ErrorPage> {
    let Some(client_id) = client_id else {
        return Err(ErrorPage::MissingClient);
    };
    let bytes = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .and_then(|encoded| URL_SAFE_NO_PAD.decode(encoded).ok())
        .ok_or(ErrorPage::InvalidRequestUri)?;
    if bytes.len() < NONCE_BYTES {
        return Err(ErrorPage::InvalidRequestUri);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| ErrorPage::InvalidRequestUri)?;
    let plain = cipher(key)
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: ASSOCIATED_DATA,
            },
        )
        .map_err(|_| ErrorPage::InvalidRequestUri)?;
    let sealed: Sealed =
        serde_json::from_slice(&plain).map_err(|_| ErrorPage::InvalidRequestUri)?;
    if sealed.request.client_id.as_deref() != Some(client_id) {
        return Err(ErrorPage::InvalidRequestUri);
    }
    let expires_at =
        DateTime::from_timestamp(sealed.expires_at, 0).ok_or(ErrorPage::InvalidRequestUri)?;
    if now >= expires_at {
        return Err(ErrorPage::ExpiredRequestUri);
    }
    Ok(PushedRequest {
        request: sealed.request,
        digest: SecretDigest::of(&format!("{REPLAY_LABEL}{}", URL_SAFE_NO_PAD.encode(nonce))),
        expires_at,
    })
}

/// Refuses a request that reached the authorization endpoint without a `request_uri` from an
/// app that must push its requests (RFC 9126 §4, `invalid_request`). `valid` is the request,
/// already validated, so its redirect URI is the app's and the error may go there.
pub fn check_pushed_requirement(
    app: &App,
    valid: &ValidAuthorization,
    pushed: bool,
    config: &Config,
) -> Result<(), ErrorRedirect> {
    if pushed || app.security.pushed_authorization != PushedAuthorization::Required {
        return Ok(());
    }
    Err(valid.error(
        ErrorCode::InvalidRequest,
        "this client must push its authorization requests",
        config,
    ))
}
