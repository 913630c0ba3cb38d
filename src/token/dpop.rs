//! DPoP (RFC 9449): proofs that the client holds a private key, sent with each token request
//! and each API call, so a token bound to that key (its `cnf.jkt`) is useless to whoever
//! steals it. Checking a proof is pure; remembering its `jti` is the caller's (a
//! [`crate::store::ReplayStore`]).

use super::client_jwt::{ClientJwt, ClientJwtError, PublicKey};
use crate::model::SecretDigest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_PROOF_TYPE: &str = "dpop+jwt";

/// How long ago a proof's `iat` may be (RFC 9449 §11.1 leaves the window to the server):
/// proofs are made for one request, so a short window keeps the memory of used ids small.
pub const PROOF_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// How far ahead of now a proof's `iat` may be: a client's clock running fast, no more, so a
/// proof made in advance (RFC 9449 §11.2) is not good for longer than one made now.
pub const PROOF_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(1);

/// How long a server nonce (RFC 9449 §8) is current: one made in the current window or the
/// one before is accepted, so a nonce lives between one and two windows.
pub const NONCE_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// The key server nonces are made with (RFC 9449 §8). A nonce is the HMAC of its time window,
/// so every instance holding the key (derived from the deployment secret) makes and accepts
/// the same nonces without storing any.
#[derive(Clone)]
pub struct DpopNonceKey([u8; 32]);

impl fmt::Debug for DpopNonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpopNonceKey(<redacted>)")
    }
}

impl DpopNonceKey {
    /// A fresh random key (one instance, or tests).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut key = [0; 32];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    /// The key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn of_window(&self, window: i64) -> String {
        // HMAC takes keys of any length, so keying cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(&window.to_be_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn window_of(now: DateTime<Utc>) -> i64 {
        now.timestamp().div_euclid(NONCE_WINDOW.num_seconds())
    }

    /// The nonce to hand out at `now`.
    pub fn nonce(&self, now: DateTime<Utc>) -> String {
        self.of_window(Self::window_of(now))
    }

    /// Whether `nonce` is current at `now`: this window's or the last one's.
    pub fn accepts(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let window = Self::window_of(now);
        let same = |expected: String| -> bool {
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), nonce.as_bytes()).into()
        };
        same(self.of_window(window)) | same(self.of_window(window - 1))
    }
}

/// The confirmation claim (RFC 7800) of a DPoP-bound token: the key's thumbprint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Confirmation {
    /// The JWK SHA-256 thumbprint (RFC 7638) of the key the token is bound to.
    pub jkt: String,
}

/// Why a DPoP proof was refused (`invalid_dpop_proof`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// None was sent where one is required (an app whose tokens must be DPoP-bound, or a
    /// token presented with the DPoP scheme).
    #[error("a DPoP proof is required")]
    Missing,
    /// Not a JWT, or its `typ` is not `dpop+jwt`, or it has no usable public `jwk`.
    #[error("malformed DPoP proof")]
    Malformed,
    /// Signed with `none`, a symmetric or an unknown algorithm.
    #[error("DPoP proof signed with an unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The signature does not verify with the key in its header.
    #[error("DPoP proof signature does not verify")]
    BadSignature,
    /// `htm` is not the request's method.
    #[error("DPoP proof is for another HTTP method")]
    WrongMethod,
    /// `htu` is not the request's URL.
    #[error("DPoP proof is for another URL")]
    WrongUrl,
    /// `iat` is missing, or too far from now.
    #[error("DPoP proof is too old or from the future")]
    Stale,
    /// No `jti`.
    #[error("DPoP proof has no jti")]
    NoJti,
    /// `ath` is missing or is not the hash of the access token presented with it.
    #[error("DPoP proof is not for this access token")]
    WrongAccessToken,
    /// Its `jti` was seen before: a replay.
    #[error("DPoP proof already used")]
    Replayed,
    /// The server requires a nonce (RFC 9449 §8) and the proof has none, or a stale one:
    /// `use_dpop_nonce`, with a fresh one in the `DPoP-Nonce` header.
    #[error("DPoP proof needs the server's current nonce")]
    UseNonce,
}

/// The request a proof must be for.
#[derive(Clone, Copy, Debug)]
pub struct ProofTarget<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The URL the request was sent to (query and fragment are ignored).
    pub url: &'a str,
    /// The access token sent with it, at a resource server: the proof's `ath` must hash it.
    pub access_token: Option<&'a str>,
    /// Now.
    pub now: DateTime<Utc>,
    /// Tolerated clock skew, in seconds.
    pub leeway_seconds: i64,
    /// The server's nonce key, when it requires nonces: the proof's `nonce` must be current.
    pub nonces: Option<&'a DpopNonceKey>,
}

/// A proof that held: the key it proves, and what to remember so it is never accepted again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedProof {
    /// The thumbprint of its key, what a bound token's `cnf.jkt` must be.
    pub jkt: String,
    /// The digest of its key and `jti`, for [`crate::store::ReplayStore::first_use`].
    pub replay_digest: SecretDigest,
    /// Until when it must be remembered: the end of its window.
    pub remember_until: DateTime<Utc>,
}

/// Checks a DPoP proof for `target` (RFC 9449 §4.3): a `dpop+jwt` signed by an asymmetric
/// algorithm with the public key in its header, for this method and URL, issued within
/// [`PROOF_WINDOW`] of now, with a `jti`, and at a resource server with the `ath` of the token.
pub fn check_proof(proof: &str, target: &ProofTarget<'_>) -> Result<CheckedProof, DpopError> {
    let jwt = ClientJwt::parse(proof).map_err(|error| match error {
        ClientJwtError::UnsupportedAlgorithm => DpopError::UnsupportedAlgorithm,
        _ => DpopError::Malformed,
    })?;
    let typed = jwt
        .header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case(DPOP_PROOF_TYPE));
    if !typed {
        return Err(DpopError::Malformed);
    }
    let jwk = jwt.header.jwk.as_ref().ok_or(DpopError::Malformed)?;
    let key = PublicKey::from_jwk(jwk).map_err(|_| DpopError::Malformed)?;
    jwt.verify_with(&key).map_err(|_| DpopError::BadSignature)?;
    if jwt.text("htm") != Some(target.method) {
        return Err(DpopError::WrongMethod);
    }
    if !same_url(jwt.text("htu"), target.url) {
        return Err(DpopError::WrongUrl);
    }
    let remember_until = check_issued_at(jwt.seconds("iat"), target)?;
    if let Some(key) = target.nonces {
        let current = jwt
            .text("nonce")
            .is_some_and(|nonce| key.accepts(nonce, target.now));
        if !current {
            return Err(DpopError::UseNonce);
        }
    }
    let jti = jwt
        .text("jti")
        .filter(|jti| !jti.is_empty())
        .ok_or(DpopError::NoJti)?;
    if let Some(token) = target.access_token {
        if jwt.text("ath") != Some(access_token_hash(token).as_str()) {
            return Err(DpopError::WrongAccessToken);
        }
    }
    let jkt = key.thumbprint().to_owned();
    Ok(CheckedProof {
        replay_digest: SecretDigest::of(&format!("dpop\u{0}{jkt}\u{0}{jti}")),
        jkt,
        remember_until,
    })
}

/// `ath`: the base64url SHA-256 of the access token (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Whether `htu` names `url`, both without query and fragment, compared as parsed URLs (so
/// `HTTPS://Host:443/p` is `https://host/p`, RFC 9449 §4.3 item 9).
fn same_url(htu: Option<&str>, url: &str) -> bool {
    let normal = |text: &str| {
        url::Url::parse(text).ok().map(|mut parsed| {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed
        })
    };
    match (htu.and_then(normal), normal(url)) {
        (Some(htu), Some(url)) => htu == url,
        _ => false,
    }
}

/// `iat` at most [`PROOF_WINDOW`] ago and [`PROOF_CLOCK_SKEW`] ahead (each with the leeway);
/// returns the end of its window, until when it must be remembered.
fn check_issued_at(iat: Option<i64>, target: &ProofTarget<'_>) -> Result<DateTime<Utc>, DpopError> {
    let iat = iat.ok_or(DpopError::Stale)?;
    let now = target.now.timestamp();
    let window = PROOF_WINDOW.num_seconds() + target.leeway_seconds;
    let skew = PROOF_CLOCK_SKEW.num_seconds() + target.leeway_seconds;
    if iat < now.saturating_sub(window) || iat > now.saturating_add(skew) {
        return Err(DpopError::Stale);
    }
    DateTime::from_timestamp(iat.saturating_add(window), 0).ok_or(DpopError::Stale)
}

/// Whether a token with confirmation `cnf` may be used as presented (RFC 9449 §7): a bound
/// token only with a proof by its key (never as a bearer token), an unbound one only as a
/// bearer token (the DPoP scheme promises a bound token).
pub fn presentation_fits(cnf: Option<&Confirmation>, proven_jkt: Option<&str>) -> bool {
    match (cnf, proven_jkt) {
        (Some(bound), Some(proven)) => {
            subtle::ConstantTimeEq::ct_eq(bound.jkt.as_bytes(), proven.as_bytes()).into()
        }
        (None, None) => true,
        _ => false,
    }
}
