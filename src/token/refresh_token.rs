//! Refresh tokens that say which family and generation they are, authenticated with a
//! server-side key.
//!
//! A token is `base64url(version ‖ generation ‖ nonce ‖ grant id ‖ tag)`: the generation is a
//! big-endian `u64`, the nonce 32 random bytes, and the tag an HMAC-SHA256 under the
//! [`RefreshTokenKey`] of everything before it. Only the server can make one, so a token whose
//! tag checks out and whose generation is older than its family's current one was really
//! issued and rotated away: presenting it is reuse, however many rotations ago. The store keeps
//! one digest per family (the current token's), never a list of old ones, and a made-up token
//! that names a real family fails its tag and revokes nothing.
//!
//! The key lives outside the store (configuration shared by the instances), so a database dump
//! alone can neither mint a token nor forge an old one; and the nonce makes the current token
//! unguessable even to someone who holds the key, since only its digest is stored.

use crate::model::GrantId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;

use super::Secret;

const VERSION: u8 = 1;
const NONCE_BYTES: usize = 32;
const TAG_BYTES: usize = 32;
/// Version, generation and nonce: the fixed part before the grant id.
const HEADER_BYTES: usize = 1 + 8 + NONCE_BYTES;
/// Longer tokens are refused before decoding; grant ids are short.
const MAX_TOKEN_CHARS: usize = 512;
/// Separates this use of the key from any other (RFC 2104 keys should have one purpose).
const DOMAIN: &[u8] = b"appgrant refresh token v1\0";

/// The key that authenticates refresh tokens. Every instance serving the same store needs the
/// same key; without it, the refresh tokens issued elsewhere (or before a restart) are unknown.
///
/// Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct RefreshTokenKey([u8; 32]);

impl RefreshTokenKey {
    /// A fresh random key (for a single process whose refresh tokens need not outlive it).
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A key from 32 secret bytes (from configuration, a key file or a key-derivation step).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn tag(&self, body: &[u8]) -> Hmac<Sha256> {
        // Infallible: HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(DOMAIN);
        mac.update(body);
        mac
    }

    /// A new refresh token for generation `generation` of the family of `grant`.
    pub fn mint(&self, grant: &GrantId, generation: u64, rng: &mut dyn RngCore) -> Secret {
        let mut body = Vec::with_capacity(HEADER_BYTES + grant.as_str().len() + TAG_BYTES);
        body.push(VERSION);
        body.extend_from_slice(&generation.to_be_bytes());
        let mut nonce = [0u8; NONCE_BYTES];
        rng.fill_bytes(&mut nonce);
        body.extend_from_slice(&nonce);
        body.extend_from_slice(grant.as_str().as_bytes());
        let tag = self.tag(&body).finalize().into_bytes();
        body.extend_from_slice(&tag);
        Secret::new(URL_SAFE_NO_PAD.encode(body))
    }

    /// What `token` says about itself, if this key made it: its family and generation.
    /// Anything else (malformed, another key's, altered) is `None`. The tag is compared in
    /// constant time.
    pub fn open(&self, token: &str) -> Option<RefreshTokenClaims> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let body_len = bytes.len().checked_sub(TAG_BYTES)?;
        if body_len <= HEADER_BYTES || bytes[0] != VERSION {
            return None;
        }
        let (body, tag) = bytes.split_at(body_len);
        self.tag(body).verify_slice(tag).ok()?;
        let generation = u64::from_be_bytes(body[1..9].try_into().ok()?);
        let grant = std::str::from_utf8(&body[HEADER_BYTES..]).ok()?;
        Some(RefreshTokenClaims {
            grant: GrantId::new(grant),
            generation,
        })
    }
}

impl fmt::Debug for RefreshTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshTokenKey(<redacted>)")
    }
}

/// What an authentic refresh token says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenClaims {
    /// The grant whose family it belongs to.
    pub grant: GrantId,
    /// Which token of the family it is: the first is 1, each rotation adds one.
    pub generation: u64,
}
