//! JWT access tokens per RFC 9068: issuing them, and validating them against an injected `now`.
//!
//! Both directions are hand-rolled over [`SigningKey`] so the key is parsed once and time is a
//! parameter (jsonwebtoken reads the system clock); the tokens are standard compact JWS that
//! any JWT library verifies with the JWKS.

use super::dpop::Confirmation;
use super::keys::{KeySet, SigningKey};
use crate::model::{ClientId, CompanyId, GrantId, Scopes, TokenId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whose access a token carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A person authorized the app (authorization code): it acts as that person.
    User,
    /// The app acts as its own service account (client credentials).
    ServiceAccount,
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user for user tokens; for service-account tokens, the service-account user
    /// when bound to a company, else the client id (the account differs per company).
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// When the grant this token belongs to was made (the code exchange, or the
    /// client-credentials issuance), in milliseconds since the epoch. Refreshed tokens keep it,
    /// so an uninstall cuts off everything granted before it however often it was refreshed;
    /// milliseconds, so a regrant in the same second as an uninstall is told apart.
    pub granted_at_ms: i64,
    /// Not before, seconds since the epoch, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id.
    pub jti: TokenId,
    /// The app the token was issued to.
    pub client_id: ClientId,
    /// User-delegated or service account.
    pub grant_kind: SubjectKind,
    /// The company the token is bound to, if any; unbound tokens name the company at each access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<CompanyId>,
    /// The grant (refresh family or client-credentials issuance) the token belongs to.
    pub grant_id: GrantId,
    /// The scopes the token was granted (RFC 9068 §2.2.3), capping what it may do tool by
    /// tool; absent when none were asked for, and then only the user's or service account's
    /// permissions (with the app's ceiling or approved manifest) limit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    /// The key the token is bound to (RFC 9449 §6.1 `cnf.jkt`), for a DPoP-bound token: it
    /// is accepted only with a proof signed by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl AccessClaims {
    /// Whether the token has expired at `now` (expiry is exclusive: a token is dead at `exp`).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() >= self.exp
    }
}

/// Signs `claims` into a compact JWT with the `at+jwt` header of `key`.
pub fn issue(claims: &AccessClaims, key: &SigningKey) -> String {
    // Serializing plain strings and integers cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = String::with_capacity(key.encoded_header().len() + payload.len() * 4 / 3 + 96);
    token.push_str(key.encoded_header());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// What a valid token must say, besides a good signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectations {
    /// The expected `iss`.
    pub issuer: String,
    /// The accepted `aud` values: a resource server accepts its own identifier only; the
    /// authorization server's introspection accepts every audience it issues for.
    pub audiences: Vec<String>,
    /// Tolerated clock skew, in seconds, for `exp`, `nbf` and `iat`.
    pub leeway_seconds: i64,
}

/// Why a token did not validate. Never contains the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValidationError {
    /// Not three base64url parts with JSON header and claims.
    #[error("malformed token")]
    Malformed,
    /// The header's `typ` is not `at+jwt`.
    #[error("not an access token (typ must be at+jwt)")]
    WrongType,
    /// No `kid`, or no key with that id.
    #[error("signed by an unknown key")]
    UnknownKey,
    /// The header's `alg` is not the algorithm of the key it names (or is `none`).
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The signed payload is not JSON claims of the required shape (a claim missing or of the
    /// wrong type).
    #[error("missing or invalid claims")]
    InvalidClaims,
    /// `iss` is not this issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is not an accepted audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// The header lists critical extensions (`crit`), none of which this validator
    /// understands (RFC 7515 §4.1.11).
    #[error("unsupported critical header extension")]
    UnsupportedCritical,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    /// Whether `crit` is present at all (even empty or null, which RFC 7515 forbids).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, ValidationError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ValidationError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| ValidationError::Malformed)
}

fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
    })
}

/// Validates `token` at `now`: structure, `typ`, key and algorithm, signature, issuer,
/// audience and times. Returns its claims.
pub fn validate(
    token: &str,
    keys: &KeySet,
    expect: &Expectations,
    now: DateTime<Utc>,
) -> Result<AccessClaims, ValidationError> {
    let verified = verify(token, keys, now)?;
    check_claims(&verified.claims, expect, now)?;
    Ok(verified.claims)
}

/// A token whose structure, type, key, algorithm and signature were checked: its claims (not
/// yet checked against expectations or times) and the id of the key that signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The token's claims.
    pub claims: AccessClaims,
    /// The `kid` of the key that signed it.
    pub kid: String,
}

/// Checks everything about `token` that cannot change while it lives (structure, `typ`, key
/// and algorithm, signature) with a key of `keys` that may verify at `now`; what can change
/// with time is left to [`revalidate`].
pub fn verify(token: &str, keys: &KeySet, now: DateTime<Utc>) -> Result<Verified, ValidationError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(ValidationError::Malformed)?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(ValidationError::Malformed)?;
    let header: Header = decode_part(header)?;
    if header.crit {
        return Err(ValidationError::UnsupportedCritical);
    }
    if !is_access_token_type(header.typ.as_deref()) {
        return Err(ValidationError::WrongType);
    }
    let kid = header.kid.ok_or(ValidationError::UnknownKey)?;
    let key = keys
        .verifier(&kid, now)
        .ok_or(ValidationError::UnknownKey)?;
    // The key decides the algorithm; the header may only agree. This is what rules out `none`
    // and HMAC-with-a-public-key confusion.
    if header.alg != key.algorithm().name() {
        return Err(ValidationError::AlgorithmMismatch);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| ValidationError::Malformed)?;
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(ValidationError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ValidationError::Malformed)?;
    let claims: AccessClaims =
        serde_json::from_slice(&payload).map_err(|_| ValidationError::InvalidClaims)?;
    Ok(Verified { claims, kid })
}

/// What [`validate`] checks of a token [`verify`] accepted earlier, at `now`: that its key
/// still verifies (it may have been retired since) and its issuer, audience and times.
pub fn revalidate(
    verified: &Verified,
    keys: &KeySet,
    expect: &Expectations,
    now: DateTime<Utc>,
) -> Result<(), ValidationError> {
    if keys.verifier(&verified.kid, now).is_none() {
        return Err(ValidationError::UnknownKey);
    }
    check_claims(&verified.claims, expect, now)
}

fn check_claims(
    claims: &AccessClaims,
    expect: &Expectations,
    now: DateTime<Utc>,
) -> Result<(), ValidationError> {
    if claims.iss != expect.issuer {
        return Err(ValidationError::WrongIssuer);
    }
    if !expect.audiences.contains(&claims.aud) {
        return Err(ValidationError::WrongAudience);
    }
    let now = now.timestamp();
    if now >= claims.exp.saturating_add(expect.leeway_seconds) {
        return Err(ValidationError::Expired);
    }
    let starts = claims.nbf.unwrap_or(claims.iat).max(claims.iat);
    if starts > now.saturating_add(expect.leeway_seconds) {
        return Err(ValidationError::NotYetValid);
    }
    Ok(())
}
