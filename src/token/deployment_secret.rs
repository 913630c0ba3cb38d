//! The one secret the instances of a deployment share, and the keys derived from it.
//!
//! Instances given the same store, issuer and deployment secret behave as one server: each
//! derives the same refresh-token key, consent-form key, pushed-request key and signing-key
//! encryption key from it (HKDF-SHA256, one label
//! per key, so no derived key says anything about another or about the secret). The secret
//! itself never goes into the store.

use super::{KeyEncryptionKey, RefreshTokenKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use std::fmt;

/// The shortest secret accepted, in bytes.
const MIN_BYTES: usize = 32;
/// Separates appgrant's derivations from any other use of the same secret.
const SALT: &[u8] = b"appgrant deployment secret v1";

/// A deployment's shared secret (at least 256 bits). Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct DeploymentSecret(Vec<u8>);

/// Why a deployment secret was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeploymentSecretError {
    /// Not base64url text.
    #[error("the deployment secret is not base64url text")]
    NotBase64,
    /// Fewer than 32 bytes.
    #[error("the deployment secret has {0} bytes; it needs at least 32")]
    TooShort(usize),
}

impl DeploymentSecret {
    /// A fresh random secret of 32 bytes.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = vec![0u8; MIN_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from raw bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DeploymentSecretError> {
        if bytes.len() < MIN_BYTES {
            return Err(DeploymentSecretError::TooShort(bytes.len()));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// A secret from its text form (base64url, as [`encode`](Self::encode) writes it, with
    /// surrounding whitespace ignored): the contents of a secret file or an environment
    /// variable.
    pub fn parse(text: &str) -> Result<Self, DeploymentSecretError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| DeploymentSecretError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// Its text form, for writing it to a secret file: the one deliberate way out.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let mut key = [0u8; 32];
        // Infallible: 32 bytes is far below HKDF-SHA256's limit of 255 hash lengths.
        Hkdf::<Sha256>::new(Some(SALT), &self.0)
            .expand(label.as_bytes(), &mut key)
            .unwrap_or_else(|_| unreachable!("HKDF expands 32 bytes"));
        key
    }

    /// A key for the host's own use (its session cookies, say), derived for `purpose`: every
    /// instance derives the same one, and it is never one of appgrant's own keys.
    pub fn host_key(&self, purpose: &str) -> [u8; 32] {
        self.derive(&format!("host: {purpose}"))
    }

    /// The key that authenticates refresh tokens.
    pub fn refresh_token_key(&self) -> RefreshTokenKey {
        RefreshTokenKey::from_bytes(self.derive("refresh-token key"))
    }

    /// The key that seals signing keys in the store.
    pub fn key_encryption_key(&self) -> KeyEncryptionKey {
        KeyEncryptionKey::from_bytes(self.derive("signing-key encryption key"))
    }

    /// The key of the consent form's CSRF tokens.
    pub fn consent_form_key(&self) -> ConsentFormKey {
        ConsentFormKey(self.derive("consent-form key"))
    }

    /// The key that seals pushed authorization requests into their `request_uri` (RFC 9126).
    pub fn pushed_request_key(&self) -> PushedRequestKey {
        PushedRequestKey(self.derive("pushed-authorization key"))
    }

    /// The key DPoP server nonces are made with (RFC 9449 §8).
    pub fn dpop_nonce_key(&self) -> super::DpopNonceKey {
        super::DpopNonceKey::from_bytes(self.derive("dpop nonce key"))
    }
}

impl fmt::Debug for DeploymentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeploymentSecret(<redacted>)")
    }
}

/// The key of the consent form's CSRF tokens. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct ConsentFormKey([u8; 32]);

impl ConsentFormKey {
    /// A fresh random key (consent pages then outlive neither the process nor reach another
    /// instance).
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key's bytes, for the MAC.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ConsentFormKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsentFormKey(<redacted>)")
    }
}

/// The key that seals pushed authorization requests (RFC 9126) into their `request_uri`. Its
/// `Debug` shows nothing of it.
#[derive(Clone)]
pub struct PushedRequestKey([u8; 32]);

impl PushedRequestKey {
    /// A fresh random key (a `request_uri` then works only at the instance that issued it).
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key's bytes, for the cipher.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PushedRequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushedRequestKey(<redacted>)")
    }
}
