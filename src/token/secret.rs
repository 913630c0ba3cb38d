//! Opaque secrets (codes, refresh tokens, client secrets): 256-bit random values that are
//! stored only as SHA-256 digests and compared in constant time.

use crate::model::SecretDigest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// A secret value in transit: an opaque secret or a signed access token.
///
/// It has no `Display`, and its `Debug` shows nothing of the value, so it cannot leak into logs
/// by accident; [`Secret::expose`] is the one deliberate way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A fresh 256-bit random secret, base64url encoded.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a value received from outside (a presented code, token or client secret).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for sending to its one rightful recipient.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its stored form.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl SecretDigest {
    /// The SHA-256 digest of `secret`.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Whether `presented` is the secret this digest was made from, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let presented = Self::of(presented);
        bool::from(self.0.ct_eq(&presented.0))
    }
}
