//! Signing keys kept in the store, shared by every instance: sealed under a key-encryption key
//! derived from the deployment secret (never raw at rest), and a schedule that says, at any
//! moment, which key signs, which are published ahead of signing, and which still verify.
//!
//! Keys are numbered by generation. A new key is stored `publish_ahead` before it starts
//! signing, so every instance, reloading at least that often, publishes it in its JWKS before
//! any token carries it; from its `signs_from` it signs, and the key it replaces verifies the
//! tokens it signed until they have all expired. Instances that create the same generation at
//! once collide on it in the store, and all use the one that was stored.

use super::keys::{Algorithm, KeyError, KeySet, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

const NONCE_BYTES: usize = 24;
const AAD_DOMAIN: &[u8] = b"appgrant signing key v1\0";

/// A signing key as the store keeps it: its private material sealed, and its place in the
/// schedule.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// The key id.
    pub kid: String,
    /// Its number: the first key is 1, each rotation adds one.
    pub generation: u64,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The private material, sealed with XChaCha20-Poly1305 (nonce ‖ ciphertext ‖ tag), bound
    /// to the key id, generation and algorithm.
    pub sealed: Vec<u8>,
    /// When it was stored (and published).
    pub created_at: DateTime<Utc>,
    /// When it starts signing.
    pub signs_from: DateTime<Utc>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("generation", &self.generation)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .finish_non_exhaustive()
    }
}

/// The key that seals signing keys for the store. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

fn associated_data(kid: &str, generation: u64, algorithm: Algorithm) -> Vec<u8> {
    let mut aad = AAD_DOMAIN.to_vec();
    aad.extend_from_slice(&(kid.len() as u64).to_be_bytes());
    aad.extend_from_slice(kid.as_bytes());
    aad.extend_from_slice(&generation.to_be_bytes());
    aad.extend_from_slice(algorithm.name().as_bytes());
    aad
}

impl KeyEncryptionKey {
    /// A key from 32 secret bytes (normally derived from the deployment secret).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// A short tag naming this deployment in key ids, so two deployments' keys never share
    /// an id (it says nothing about the key).
    fn kid_prefix(&self) -> String {
        // Infallible: HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"appgrant key id prefix");
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..6])
    }

    /// Seals `key` as generation `generation` of the schedule.
    fn seal(
        &self,
        key: &SigningKey,
        generation: u64,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rng.fill_bytes(&mut nonce);
        let private = key.private_bytes()?;
        let aad = associated_data(key.kid(), generation, key.algorithm());
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &private,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unsealable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The signing key `stored` holds, if this key sealed it and nothing was altered.
    pub fn open(&self, stored: &StoredKey) -> Result<SigningKey, KeyError> {
        if stored.sealed.len() < NONCE_BYTES {
            return Err(KeyError::Unsealable);
        }
        let (nonce, sealed) = stored.sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| KeyError::Unsealable)?;
        let aad = associated_data(&stored.kid, stored.generation, stored.algorithm);
        let private = self
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unsealable)?;
        SigningKey::from_private_bytes(stored.algorithm, stored.kid.clone(), &private)
    }

    /// A new key of `algorithm`, generation `generation`, stored at `now` and signing from
    /// `signs_from`; returns what to store and the key itself.
    pub fn new_key<R: RngCore + CryptoRng>(
        &self,
        algorithm: Algorithm,
        generation: u64,
        now: DateTime<Utc>,
        signs_from: DateTime<Utc>,
        rng: &mut R,
    ) -> Result<(StoredKey, SigningKey), KeyError> {
        let kid = format!("{}-{generation}", self.kid_prefix());
        let key = SigningKey::generate(algorithm, rng)?.with_kid(kid.clone());
        let sealed = self.seal(&key, generation, rng)?;
        let stored = StoredKey {
            kid,
            generation,
            algorithm,
            sealed,
            created_at: now,
            signs_from,
        };
        Ok((stored, key))
    }
}

/// How stored keys rotate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The algorithm of new keys (default EdDSA).
    pub algorithm: Algorithm,
    /// How long a new key is published before it signs (default 10 minutes). At least
    /// `reload_every`, so every instance publishes it before any token carries it.
    pub publish_ahead: TimeDelta,
    /// How often each instance rereads the keys from the store (default 1 minute): a rotation
    /// made through any instance reaches all of them within this.
    pub reload_every: TimeDelta,
    /// How long each key signs before the next replaces it, or `None` to rotate only when
    /// asked (default 30 days).
    pub rotate_every: Option<TimeDelta>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::EdDSA,
            publish_ahead: TimeDelta::minutes(10),
            reload_every: TimeDelta::minutes(1),
            rotate_every: Some(TimeDelta::days(30)),
        }
    }
}

/// The keys by generation, oldest first.
fn by_generation<T>(mut keys: Vec<(StoredKey, T)>) -> Vec<(StoredKey, T)> {
    keys.sort_by_key(|(stored, _)| stored.generation);
    keys
}

/// The key set the schedule gives at `now`: the newest key whose time has come signs (or the
/// oldest, if none has: the first key of a fresh store), newer ones are published ahead, and
/// each older one verifies until `retire_after` past the moment its successor began signing.
/// `None` if there are no keys.
pub fn key_set(
    keys: Vec<(StoredKey, SigningKey)>,
    now: DateTime<Utc>,
    retire_after: TimeDelta,
) -> Option<KeySet> {
    let keys = by_generation(keys);
    let signing = keys
        .iter()
        .rposition(|(stored, _)| stored.signs_from <= now)
        .unwrap_or(0);
    let replaced_at: Vec<Option<DateTime<Utc>>> = (0..keys.len())
        .map(|at| keys.get(at + 1).map(|(next, _)| next.signs_from))
        .collect();
    let mut current = None;
    let mut upcoming = Vec::new();
    let mut retired = Vec::new();
    for (at, (_, key)) in keys.into_iter().enumerate() {
        if at == signing {
            current = Some(key);
        } else if at > signing {
            upcoming.push(key);
        } else if let Some(verify_until) = replaced_at[at].map(|when| when + retire_after) {
            if verify_until > now {
                retired.push((key, verify_until));
            }
        }
    }
    current.map(|current| KeySet::scheduled(current, upcoming, retired))
}

/// When the next key should start signing, if one should be stored now: the first key of an
/// empty store at once; otherwise, with rotation on, when the newest key has signed for
/// `rotate_every`, stored `publish_ahead` before that. Never while a key is still upcoming.
pub fn next_key_due(
    keys: &[StoredKey],
    now: DateTime<Utc>,
    policy: &KeyPolicy,
) -> Option<DateTime<Utc>> {
    let Some(newest) = keys.iter().max_by_key(|stored| stored.generation) else {
        return Some(now);
    };
    if newest.signs_from > now {
        return None;
    }
    let due = newest.signs_from + policy.rotate_every?;
    (now + policy.publish_ahead >= due).then(|| due.max(now + policy.publish_ahead))
}

/// How many of the newest keys are never expired, whatever the clock says: an instance whose
/// clock runs far ahead must not delete the key the others still sign with.
const ALWAYS_KEPT: usize = 3;

/// The ids of keys no token they signed can still be valid for: replaced more than
/// `retire_after` ago, and not among the newest few.
pub fn expired_keys(
    keys: &[StoredKey],
    now: DateTime<Utc>,
    retire_after: TimeDelta,
) -> Vec<String> {
    let keys = by_generation(keys.iter().map(|stored| (stored.clone(), ())).collect());
    let signing = keys
        .iter()
        .rposition(|(stored, _)| stored.signs_from <= now)
        .unwrap_or(0);
    let deletable = signing.min(keys.len().saturating_sub(ALWAYS_KEPT));
    keys.windows(2)
        .take(deletable)
        .filter(|pair| pair[1].0.signs_from + retire_after <= now)
        .map(|pair| pair[0].0.kid.clone())
        .collect()
}
