//! JWTs that clients sign: client assertions (RFC 7523) and DPoP proofs (RFC 9449). Parsing
//! the compact form, public keys read from JWKs (RFC 7517), their thumbprints (RFC 7638), and
//! verifying a signature with the algorithm the header names, checked against the key.
//!
//! Hand-written over the same signature crates as [`super::keys`] (rather than jsonwebtoken),
//! because a DPoP proof carries its key in its header, its thumbprint must be computed the
//! RFC 7638 way, and time is a parameter here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::fmt;

/// The algorithms a client may sign with: asymmetric only (a shared secret could not prove
/// possession, and `none` proves nothing).
pub const CLIENT_SIGNING_ALGORITHMS: [&str; 4] = ["EdDSA", "ES256", "RS256", "PS256"];

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

/// Why a JWK is not a public key this server can verify with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// Not a JSON object with the members its key type needs, well encoded.
    #[error("malformed JWK")]
    Malformed,
    /// A key type or curve other than Ed25519, P-256 and RSA.
    #[error("unsupported key type or curve")]
    Unsupported,
    /// It holds private key material: a client must never send its private key.
    #[error("the JWK holds a private key")]
    Private,
    /// An RSA key shorter than 2048 bits.
    #[error("RSA keys must have at least 2048 bits")]
    WeakRsa,
}

#[derive(Clone)]
enum Material {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// A client's public key, from a JWK: it verifies what the client signs.
#[derive(Clone)]
pub struct PublicKey {
    material: Material,
    kid: Option<String>,
    /// The algorithm the JWK restricts the key to, if it names one.
    alg: Option<String>,
    thumbprint: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// The members a JWK may have, as far as reading a public key goes.
#[derive(Deserialize)]
struct JwkMembers {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
}

/// Members that only a private (or symmetric) key has (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

fn decode(member: Option<&String>) -> Result<Vec<u8>, JwkError> {
    let text = member.ok_or(JwkError::Malformed)?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwkError::Malformed)
}

impl PublicKey {
    /// Reads a public key from a JWK: an Ed25519 (`OKP`), P-256 (`EC`) or RSA (≥ 2048 bits)
    /// key with no private members.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JwkError> {
        let object = jwk.as_object().ok_or(JwkError::Malformed)?;
        if PRIVATE_MEMBERS
            .iter()
            .any(|name| object.contains_key(*name))
        {
            return Err(JwkError::Private);
        }
        let members: JwkMembers =
            serde_json::from_value(jwk.clone()).map_err(|_| JwkError::Malformed)?;
        let material = match (members.kty.as_str(), members.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                let bytes: [u8; 32] = decode(members.x.as_ref())?
                    .try_into()
                    .map_err(|_| JwkError::Malformed)?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| JwkError::Malformed)?;
                Material::Ed25519(key)
            }
            ("EC", Some("P-256")) => {
                let coordinate = |member: Option<&String>| -> Result<p256::FieldBytes, JwkError> {
                    let bytes: [u8; 32] = decode(member)?
                        .try_into()
                        .map_err(|_| JwkError::Malformed)?;
                    Ok(bytes.into())
                };
                let x = coordinate(members.x.as_ref())?;
                let y = coordinate(members.y.as_ref())?;
                let point = p256::EncodedPoint::from_affine_coordinates(&x, &y, false);
                let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map_err(|_| JwkError::Malformed)?;
                Material::P256(key)
            }
            ("RSA", None) => {
                let n = rsa::BigUint::from_bytes_be(&decode(members.n.as_ref())?);
                let e = rsa::BigUint::from_bytes_be(&decode(members.e.as_ref())?);
                let key = rsa::RsaPublicKey::new(n, e).map_err(|_| JwkError::Malformed)?;
                // Bits, not bytes: a 2041-bit modulus is 256 bytes long.
                if key.n().bits() < MIN_RSA_BITS {
                    return Err(JwkError::WeakRsa);
                }
                Material::Rsa(key)
            }
            _ => return Err(JwkError::Unsupported),
        };
        let thumbprint = thumbprint_of(&material);
        Ok(Self {
            material,
            kid: members.kid,
            alg: members.alg,
            thumbprint,
        })
    }

    /// The key's `kid`, if its JWK named one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Its JWK SHA-256 thumbprint (RFC 7638), base64url: what a DPoP-bound token's
    /// `cnf.jkt` names.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Whether `signature` is this key's signature of `message` with `alg`. An algorithm that
    /// does not fit the key's type, or that its JWK's `alg` rules out, never verifies.
    pub fn verifies(&self, alg: &str, message: &[u8], signature: &[u8]) -> bool {
        if self
            .alg
            .as_deref()
            .is_some_and(|restricted| restricted != alg)
        {
            return false;
        }
        match (&self.material, alg) {
            (Material::Ed25519(key), "EdDSA") => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
            (Material::P256(key), "ES256") => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            (Material::Rsa(key), "RS256") => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|signature| {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                        .verify(message, &signature)
                        .is_ok()
                }),
            (Material::Rsa(key), "PS256") => {
                rsa::pss::Signature::try_from(signature).is_ok_and(|signature| {
                    rsa::pss::VerifyingKey::<Sha256>::new(key.clone())
                        .verify(message, &signature)
                        .is_ok()
                })
            }
            _ => false,
        }
    }
}

/// RFC 7638 §3: the required members only, in lexicographic order, without whitespace, from
/// the key itself (so two spellings of one key, say with a leading zero byte, agree).
fn thumbprint_of(material: &Material) -> String {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let canonical = match material {
        Material::Ed25519(key) => {
            format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                b64(key.as_bytes())
            )
        }
        Material::P256(key) => {
            let point = key.to_encoded_point(false);
            // An uncompressed point always has both coordinates.
            let x = point.x().map(|x| b64(x)).unwrap_or_default();
            let y = point.y().map(|y| b64(y)).unwrap_or_default();
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
        }
        Material::Rsa(key) => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            b64(&key.e().to_bytes_be()),
            b64(&key.n().to_bytes_be())
        ),
    };
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// Why a client's JWT was refused before its claims were looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientJwtError {
    /// Not three base64url parts with a JSON header and JSON claims.
    #[error("malformed JWT")]
    Malformed,
    /// The header's `typ` is not the one this kind of JWT must carry.
    #[error("wrong JWT type")]
    WrongType,
    /// `alg` is not an asymmetric algorithm this server accepts.
    #[error("unsupported signing algorithm")]
    UnsupportedAlgorithm,
    /// The header lists critical extensions (RFC 7515 §4.1.11), which this server does not
    /// understand.
    #[error("unsupported critical header extension")]
    UnsupportedCritical,
    /// The signature does not verify with the key.
    #[error("bad signature")]
    BadSignature,
}

/// A JOSE header of a client's JWT.
#[derive(Clone, Debug, Deserialize)]
pub struct ClientJwtHeader {
    /// The signing algorithm.
    pub alg: String,
    /// The type (`dpop+jwt` for a DPoP proof).
    #[serde(default)]
    pub typ: Option<String>,
    /// The id of the signing key, among the client's registered keys.
    #[serde(default)]
    pub kid: Option<String>,
    /// The public key, in a DPoP proof.
    #[serde(default)]
    pub jwk: Option<Value>,
    /// Critical extensions, which are refused.
    #[serde(default)]
    crit: Option<Value>,
}

/// A compact JWS a client signed, parsed but not yet verified. Its `Debug` shows the header
/// and claims, never the signature (with it, the JWT would be a usable credential again).
#[derive(Clone)]
pub struct ClientJwt<'a> {
    /// Its header.
    pub header: ClientJwtHeader,
    /// Its claims, as JSON.
    pub claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl fmt::Debug for ClientJwt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientJwt")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl<'a> ClientJwt<'a> {
    /// Parses the compact form (three base64url parts; the claims a JSON object), and refuses
    /// `none`, symmetric algorithms and critical extensions outright.
    pub fn parse(token: &'a str) -> Result<Self, ClientJwtError> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(ClientJwtError::Malformed)?;
        let (header, claims) = signing_input
            .split_once('.')
            .ok_or(ClientJwtError::Malformed)?;
        let json = |part: &str| -> Result<Value, ClientJwtError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| ClientJwtError::Malformed)?;
            serde_json::from_slice(&bytes).map_err(|_| ClientJwtError::Malformed)
        };
        let header: ClientJwtHeader =
            serde_json::from_value(json(header)?).map_err(|_| ClientJwtError::Malformed)?;
        let claims = json(claims)?;
        if !claims.is_object() {
            return Err(ClientJwtError::Malformed);
        }
        if header.crit.is_some() {
            return Err(ClientJwtError::UnsupportedCritical);
        }
        if !CLIENT_SIGNING_ALGORITHMS.contains(&header.alg.as_str()) {
            return Err(ClientJwtError::UnsupportedAlgorithm);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| ClientJwtError::Malformed)?;
        Ok(Self {
            header,
            claims,
            signing_input,
            signature,
        })
    }

    /// Checks the signature with `key`, by the header's algorithm.
    pub fn verify_with(&self, key: &PublicKey) -> Result<(), ClientJwtError> {
        if key.verifies(
            &self.header.alg,
            self.signing_input.as_bytes(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(ClientJwtError::BadSignature)
        }
    }

    /// A string claim, if present and a string.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A whole-number claim (seconds since the epoch, for times), if present and one.
    pub fn seconds(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value
            .as_i64()
            // JSON numbers such as 1.7e9 are still whole seconds when they have no fraction.
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0)
                    .map(|f| f as i64)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = PublicKey::from_jwk(&jwk).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_jwk_with_private_members_is_refused() {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"});
        assert_eq!(PublicKey::from_jwk(&jwk).unwrap_err(), JwkError::Private);
    }

    #[test]
    fn a_key_verifies_only_with_an_algorithm_of_its_type() {
        use ed25519_dalek::Signer as _;
        let signer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let jwk = json!({"kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(signer.verifying_key().as_bytes())});
        let key = PublicKey::from_jwk(&jwk).unwrap();
        let signature = signer.sign(b"message").to_bytes();
        assert!(key.verifies("EdDSA", b"message", &signature));
        assert!(!key.verifies("ES256", b"message", &signature));
        assert!(!key.verifies("EdDSA", b"other", &signature));
    }

    #[test]
    fn none_and_symmetric_algorithms_are_refused_before_any_key_is_tried() {
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
            let claims = URL_SAFE_NO_PAD.encode("{}");
            let token = format!("{header}.{claims}.");
            assert_eq!(
                ClientJwt::parse(&token).unwrap_err(),
                ClientJwtError::UnsupportedAlgorithm
            );
        }
    }
}
