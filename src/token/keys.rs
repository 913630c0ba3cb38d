//! Signing keys: one key set with a current signer, retired keys that still verify, and the
//! JWKS document that publishes the public halves.
//!
//! Keys are parsed once and kept ready, so signing costs only the signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

/// A JWS signature algorithm this library signs and verifies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// Ed25519 (the default).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// HMAC with SHA-256 (a shared secret: verifiers must hold the key; not in JWKS).
    HS256,
}

impl Algorithm {
    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            Algorithm::HS256 => "HS256",
        }
    }
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM did not hold a PKCS#8 private key of the named algorithm.
    #[error("not a PKCS#8 {0:?} private key")]
    InvalidPem(Algorithm),
    /// HMAC keys come from [`SigningKey::hmac`], not PEM.
    #[error("HS256 keys are raw secrets, not PEM")]
    HmacFromPem,
    /// An HMAC secret shorter than the 256 bits RFC 7518 §3.2 requires.
    #[error("an HS256 key needs at least 32 bytes")]
    HmacTooShort,
    /// RSA key generation failed.
    #[error("RSA key generation failed")]
    RsaGeneration,
    /// A stored key could not be unsealed: another deployment secret sealed it, or it was
    /// altered.
    #[error("a stored signing key cannot be unsealed with this deployment secret")]
    Unsealable,
}

// A key set holds a handful of these for the life of the server, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Material {
    Ed25519(ed25519_dalek::SigningKey, ed25519_dalek::VerifyingKey),
    Es256(p256::ecdsa::SigningKey, p256::ecdsa::VerifyingKey),
    Rs256(
        rsa::pkcs1v15::SigningKey<Sha256>,
        rsa::pkcs1v15::VerifyingKey<Sha256>,
        rsa::RsaPublicKey,
    ),
    // The keyed state is computed once; each use clones it rather than re-keying. The secret
    // is kept too, so the key can be sealed into the store.
    Hs256(Hmac<Sha256>, Vec<u8>),
}

/// One key, ready to sign and verify. Its `Debug` shows only its id and algorithm.
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    material: Material,
    encoded_header: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn random_kid(rng: &mut dyn RngCore) -> String {
    let mut bytes = [0u8; 12];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    fn from_material(kid: String, algorithm: Algorithm, material: Material) -> Self {
        let header = serde_json::json!({ "alg": algorithm.name(), "typ": "at+jwt", "kid": kid });
        let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
        Self {
            kid,
            algorithm,
            material,
            encoded_header,
        }
    }

    /// A fresh key of `algorithm` with a random key id.
    pub fn generate<R: RngCore + CryptoRng>(
        algorithm: Algorithm,
        rng: &mut R,
    ) -> Result<Self, KeyError> {
        let kid = random_kid(rng);
        let material = match algorithm {
            Algorithm::EdDSA => {
                let key = ed25519_dalek::SigningKey::generate(rng);
                Material::Ed25519(key.clone(), key.verifying_key())
            }
            Algorithm::ES256 => {
                let key = p256::ecdsa::SigningKey::random(rng);
                let verifying = *key.verifying_key();
                Material::Es256(key, verifying)
            }
            Algorithm::RS256 => {
                let key =
                    rsa::RsaPrivateKey::new(rng, 2048).map_err(|_| KeyError::RsaGeneration)?;
                rsa_material(key)
            }
            Algorithm::HS256 => {
                let mut secret = [0u8; 32];
                rng.fill_bytes(&mut secret);
                hmac_material(&secret)?
            }
        };
        Ok(Self::from_material(kid, algorithm, material))
    }

    /// A key loaded from a PKCS#8 PEM private key the host keeps.
    pub fn from_pkcs8_pem(
        algorithm: Algorithm,
        kid: impl Into<String>,
        pem: &str,
    ) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::InvalidPem(algorithm);
        let material = match algorithm {
            Algorithm::EdDSA => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(invalid)?;
                Material::Ed25519(key.clone(), key.verifying_key())
            }
            Algorithm::ES256 => {
                let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(invalid)?;
                let verifying = *key.verifying_key();
                Material::Es256(key, verifying)
            }
            Algorithm::RS256 => {
                rsa_material(rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(invalid)?)
            }
            Algorithm::HS256 => return Err(KeyError::HmacFromPem),
        };
        Ok(Self::from_material(kid.into(), algorithm, material))
    }

    /// An HS256 key from a shared secret of at least 32 bytes.
    pub fn hmac(kid: impl Into<String>, secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Self::from_material(
            kid.into(),
            Algorithm::HS256,
            hmac_material(secret)?,
        ))
    }

    /// The same key under another key id.
    pub fn with_kid(self, kid: impl Into<String>) -> Self {
        Self::from_material(kid.into(), self.algorithm, self.material)
    }

    /// The private key as PKCS#8 PEM, for backing it up or moving it (asymmetric keys only:
    /// an HS256 key is a raw secret). Handle the result as the secret it is.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        use rsa::pkcs8::LineEnding;
        let pem = match &self.material {
            Material::Ed25519(key, _) => key.to_pkcs8_pem(LineEnding::LF),
            Material::Es256(key, _) => key.to_pkcs8_pem(LineEnding::LF),
            Material::Rs256(key, _, _) => key.as_ref().to_pkcs8_pem(LineEnding::LF),
            Material::Hs256(..) => return Err(KeyError::HmacFromPem),
        };
        pem.map(|pem| pem.to_string())
            .map_err(|_| KeyError::InvalidPem(self.algorithm))
    }

    /// The private material in the form [`SigningKey::from_private_bytes`] reads: PKCS#8 DER
    /// for asymmetric keys, the raw secret for HS256. Only ever sealed before it is stored.
    pub(crate) fn private_bytes(&self) -> Result<Vec<u8>, KeyError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let der = match &self.material {
            Material::Ed25519(key, _) => key.to_pkcs8_der(),
            Material::Es256(key, _) => key.to_pkcs8_der(),
            Material::Rs256(key, _, _) => key.as_ref().to_pkcs8_der(),
            Material::Hs256(_, secret) => return Ok(secret.clone()),
        };
        der.map(|der| der.as_bytes().to_vec())
            .map_err(|_| KeyError::InvalidPem(self.algorithm))
    }

    /// A key from [`SigningKey::private_bytes`].
    pub(crate) fn from_private_bytes(
        algorithm: Algorithm,
        kid: impl Into<String>,
        bytes: &[u8],
    ) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::InvalidPem(algorithm);
        let material = match algorithm {
            Algorithm::EdDSA => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_der(bytes).map_err(invalid)?;
                Material::Ed25519(key.clone(), key.verifying_key())
            }
            Algorithm::ES256 => {
                let key = p256::ecdsa::SigningKey::from_pkcs8_der(bytes).map_err(invalid)?;
                let verifying = *key.verifying_key();
                Material::Es256(key, verifying)
            }
            Algorithm::RS256 => {
                rsa_material(rsa::RsaPrivateKey::from_pkcs8_der(bytes).map_err(invalid)?)
            }
            Algorithm::HS256 => hmac_material(bytes)?,
        };
        Ok(Self::from_material(kid.into(), algorithm, material))
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The base64url JOSE header every token signed by this key carries.
    pub(crate) fn encoded_header(&self) -> &str {
        &self.encoded_header
    }

    /// Signs `message` (a JWS signing input).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.material {
            Material::Ed25519(key, _) => key.sign(message).to_bytes().to_vec(),
            Material::Es256(key, _) => {
                let signature: p256::ecdsa::Signature = rsa::signature::Signer::sign(key, message);
                signature.to_bytes().to_vec()
            }
            Material::Rs256(key, _, _) => rsa::signature::Signer::sign(key, message).to_vec(),
            Material::Hs256(keyed, _) => {
                let mut mac = keyed.clone();
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Ed25519(_, key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
            Material::Es256(_, key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            Material::Rs256(_, key, _) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            Material::Hs256(keyed, _) => {
                let mut mac = keyed.clone();
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
        }
    }

    /// The public key as a JWK, or `None` for a shared HMAC secret.
    pub fn public_jwk(&self) -> Option<Jwk> {
        let mut jwk = Jwk {
            kty: String::new(),
            kid: self.kid.clone(),
            alg: self.algorithm.name().to_owned(),
            usage: "sig".to_owned(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match &self.material {
            Material::Ed25519(_, key) => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(URL_SAFE_NO_PAD.encode(key.as_bytes()));
            }
            Material::Es256(_, key) => {
                let point = key.to_encoded_point(false);
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = point.x().map(|x| URL_SAFE_NO_PAD.encode(x));
                jwk.y = point.y().map(|y| URL_SAFE_NO_PAD.encode(y));
            }
            Material::Rs256(_, _, public) => {
                jwk.kty = "RSA".into();
                jwk.n = Some(URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()));
                jwk.e = Some(URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()));
            }
            Material::Hs256(..) => return None,
        }
        Some(jwk)
    }
}

fn rsa_material(key: rsa::RsaPrivateKey) -> Material {
    let public = key.to_public_key();
    let verifying = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone());
    Material::Rs256(
        rsa::pkcs1v15::SigningKey::<Sha256>::new(key),
        verifying,
        public,
    )
}

fn hmac_material(secret: &[u8]) -> Result<Material, KeyError> {
    if secret.len() < 32 {
        return Err(KeyError::HmacTooShort);
    }
    // Infallible: HMAC accepts keys of any length, and the length was checked above.
    let keyed = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| KeyError::HmacTooShort)?;
    Ok(Material::Hs256(keyed, secret.to_vec()))
}

/// One public key in a JWKS document (RFC 7517).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub usage: String,
    /// Curve, for `OKP` and `EC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate (or the Ed25519 public key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate, for `EC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWKS document: the public keys that verify this server's tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone)]
struct Entry {
    key: Arc<SigningKey>,
    // A retired key verifies the tokens it signed until the last of them has expired.
    verify_until: DateTime<Utc>,
}

/// The server's keys: the current signing key, upcoming keys already published (they verify
/// too, for an instance whose clock runs a little ahead), and retired keys that still verify.
#[derive(Debug, Clone)]
pub struct KeySet {
    current: Arc<SigningKey>,
    upcoming: Vec<Arc<SigningKey>>,
    retired: Vec<Entry>,
}

impl KeySet {
    /// A key set that signs with `key`.
    pub fn new(key: SigningKey) -> Self {
        Self {
            current: Arc::new(key),
            upcoming: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// A key set from a schedule: `current` signs, `upcoming` are published ahead of signing,
    /// and each retired key verifies until its time.
    pub fn scheduled(
        current: SigningKey,
        upcoming: Vec<SigningKey>,
        retired: Vec<(SigningKey, DateTime<Utc>)>,
    ) -> Self {
        Self {
            current: Arc::new(current),
            upcoming: upcoming.into_iter().map(Arc::new).collect(),
            retired: retired
                .into_iter()
                .map(|(key, verify_until)| Entry {
                    key: Arc::new(key),
                    verify_until,
                })
                .collect(),
        }
    }

    /// The key that signs new tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.current
    }

    /// Makes `key` the signer; the old signer keeps verifying until `verify_until` (the
    /// expiry of the last token it can have signed).
    pub fn rotate(&mut self, key: SigningKey, verify_until: DateTime<Utc>) {
        let old = std::mem::replace(&mut self.current, Arc::new(key));
        self.retired.push(Entry {
            key: old,
            verify_until,
        });
    }

    /// Forgets retired keys whose tokens have all expired.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.retired.retain(|entry| entry.verify_until > now);
    }

    /// The key with id `kid`, current, upcoming or retired.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        if self.current.kid == kid {
            return Some(&self.current);
        }
        if let Some(upcoming) = self.upcoming.iter().find(|key| key.kid == kid) {
            return Some(upcoming);
        }
        self.retired
            .iter()
            .find(|entry| entry.key.kid == kid)
            .map(|entry| entry.key.as_ref())
    }

    /// The key with id `kid` if it may verify at `now`.
    pub fn verifier(&self, kid: &str, now: DateTime<Utc>) -> Option<&SigningKey> {
        if self.current.kid == kid {
            return Some(&self.current);
        }
        if let Some(upcoming) = self.upcoming.iter().find(|key| key.kid == kid) {
            return Some(upcoming);
        }
        self.retired
            .iter()
            .find(|entry| entry.key.kid == kid && entry.verify_until > now)
            .map(|entry| entry.key.as_ref())
    }

    /// The JWKS document: the public half of every asymmetric key, current first, then the
    /// upcoming ones, then the retired ones.
    pub fn jwks(&self) -> Jwks {
        let keys = std::iter::once(&self.current)
            .chain(self.upcoming.iter())
            .chain(self.retired.iter().map(|entry| &entry.key))
            .filter_map(|key| key.public_jwk())
            .collect();
        Jwks { keys }
    }
}
