//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the
//! client signs a short-lived JWT with one of the keys it registered, so the server holds no
//! shared secret. Each assertion is accepted once: its `jti` is remembered until it expires.

use super::error::TokenError;
use crate::model::{App, SecretDigest};
use crate::token::{ClientJwt, ClientJwtError, PublicKey};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may still be valid for when it arrives (its `exp` from now): its
/// `jti` is remembered that long, so the bound keeps the memory of used ids small.
pub const MAX_ASSERTION_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// What client authentication is checked against, besides the app: the time, and for an
/// assertion, where it may be addressed.
#[derive(Clone, Copy, Debug)]
pub struct AuthenticationContext<'a> {
    /// The audiences an assertion may name (RFC 7523 §3 item 3): the issuer and the token
    /// endpoint's URL.
    pub audiences: &'a [&'a str],
    /// Tolerated clock skew, in seconds.
    pub leeway_seconds: i64,
    /// Now.
    pub now: DateTime<Utc>,
}

impl AuthenticationContext<'_> {
    /// A context at `now` that accepts no assertion (no audience): for checking secrets.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            audiences: &[],
            leeway_seconds: 0,
            now,
        }
    }
}

/// An assertion whose signature and claims hold: what must be remembered so it is never
/// accepted again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptedAssertion {
    /// The digest of the client and `jti`, for [`crate::store::ReplayStore::first_use`].
    pub replay_digest: SecretDigest,
    /// Until when it must be remembered: its `exp`, with the leeway.
    pub remember_until: DateTime<Utc>,
}

const NOT_ACCEPTED: TokenError = TokenError::InvalidClient("client assertion not accepted");

/// Checks a client assertion for `app` (RFC 7523 §3): signed with one of its registered keys
/// (the one its `kid` names, if any) by an asymmetric algorithm; `iss` and `sub` its client id;
/// `aud` one of `context.audiences`; unexpired but valid for no longer than
/// [`MAX_ASSERTION_LIFETIME`]; not issued or valid only in the future; with a `jti`.
pub fn check_assertion(
    app: &App,
    assertion: &str,
    context: &AuthenticationContext<'_>,
) -> Result<AcceptedAssertion, TokenError> {
    let keys = app.security.client_keys().ok_or(TokenError::InvalidClient(
        "this client does not authenticate with private_key_jwt",
    ))?;
    let jwt = ClientJwt::parse(assertion).map_err(|error| match error {
        ClientJwtError::UnsupportedAlgorithm => {
            TokenError::InvalidClient("client assertion signed with an unsupported algorithm")
        }
        _ => TokenError::InvalidClient("malformed client assertion"),
    })?;
    verify_with_registered_key(&jwt, keys)?;
    let client_id = app.client_id.as_str();
    if jwt.text("iss") != Some(client_id) || jwt.text("sub") != Some(client_id) {
        return Err(TokenError::InvalidClient(
            "client assertion iss and sub must be the client id",
        ));
    }
    if !names_an_audience(jwt.claims.get("aud"), context.audiences) {
        return Err(TokenError::InvalidClient(
            "client assertion is not addressed to this server",
        ));
    }
    let remember_until = check_times(&jwt, context)?;
    let jti = jwt
        .text("jti")
        .filter(|jti| !jti.is_empty())
        .ok_or(TokenError::InvalidClient("client assertion has no jti"))?;
    Ok(AcceptedAssertion {
        replay_digest: SecretDigest::of(&format!("client-assertion\u{0}{client_id}\u{0}{jti}")),
        remember_until,
    })
}

/// The key the header's `kid` names, or, without one, any registered key that verifies.
fn verify_with_registered_key(jwt: &ClientJwt<'_>, keys: &[Value]) -> Result<(), TokenError> {
    // Registration checked every key, so a key that no longer parses is skipped, not fatal.
    let mut candidates = keys
        .iter()
        .filter_map(|jwk| PublicKey::from_jwk(jwk).ok())
        .filter(|key| match (&jwt.header.kid, key.kid()) {
            (Some(wanted), Some(kid)) => wanted == kid,
            (Some(_), None) => false,
            (None, _) => true,
        });
    if candidates.any(|key| jwt.verify_with(&key).is_ok()) {
        Ok(())
    } else {
        Err(NOT_ACCEPTED)
    }
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3); one of them must be accepted.
fn names_an_audience(aud: Option<&Value>, accepted: &[&str]) -> bool {
    match aud {
        Some(Value::String(one)) => accepted.contains(&one.as_str()),
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .any(|one| accepted.contains(&one)),
        _ => false,
    }
}

/// `exp` is required, in the future and at most [`MAX_ASSERTION_LIFETIME`] away; `nbf` and
/// `iat`, if present, are not in the future. Returns until when to remember it.
fn check_times(
    jwt: &ClientJwt<'_>,
    context: &AuthenticationContext<'_>,
) -> Result<DateTime<Utc>, TokenError> {
    let now = context.now.timestamp();
    let leeway = context.leeway_seconds;
    let exp = jwt
        .seconds("exp")
        .ok_or(TokenError::InvalidClient("client assertion has no exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::InvalidClient("client assertion expired"));
    }
    if exp.saturating_sub(now) > MAX_ASSERTION_LIFETIME.num_seconds() + leeway {
        return Err(TokenError::InvalidClient(
            "client assertion is valid for too long (at most 10 minutes)",
        ));
    }
    for name in ["nbf", "iat"] {
        if jwt
            .seconds(name)
            .is_some_and(|at| at > now.saturating_add(leeway))
        {
            return Err(TokenError::InvalidClient(
                "client assertion is not valid yet",
            ));
        }
    }
    DateTime::from_timestamp(exp.saturating_add(leeway), 0).ok_or(NOT_ACCEPTED)
}
