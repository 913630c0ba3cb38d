//! Tokens and secrets: JWT access tokens (RFC 9068) signed by a rotating key set, and opaque
//! secrets stored only as digests, and refresh tokens authenticated by a server-side key.

pub mod client_jwt;
pub mod deployment_secret;
pub mod dpop;
pub mod jwt;
pub mod key_schedule;
pub mod keys;
pub mod refresh_token;
pub mod secret;

pub use client_jwt::{CLIENT_SIGNING_ALGORITHMS, ClientJwt, ClientJwtError, JwkError, PublicKey};
pub use deployment_secret::PushedRequestKey;
pub use deployment_secret::{ConsentFormKey, DeploymentSecret, DeploymentSecretError};
pub use dpop::{
    CheckedProof, Confirmation, DPOP_PROOF_TYPE, DpopError, DpopNonceKey, NONCE_WINDOW,
    PROOF_CLOCK_SKEW, PROOF_WINDOW, ProofTarget, check_proof, presentation_fits,
};
pub use jwt::{
    AccessClaims, Expectations, SubjectKind, ValidationError, Verified, issue, revalidate,
    validate, verify,
};
pub use key_schedule::{KeyEncryptionKey, KeyPolicy, StoredKey};
pub use keys::{Algorithm, Jwk, Jwks, KeyError, KeySet, SigningKey};
pub use refresh_token::{RefreshTokenClaims, RefreshTokenKey};
pub use secret::Secret;
