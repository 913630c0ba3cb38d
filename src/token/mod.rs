//! Tokens and secrets: JWT access tokens (RFC 9068) signed by a rotating key set, and opaque
//! secrets stored only as digests.

pub mod jwt;
pub mod keys;
pub mod secret;

pub use jwt::{AccessClaims, Expectations, GrantKind, ValidationError, issue, validate};
pub use keys::{Algorithm, Jwk, Jwks, KeyError, KeySet, SigningKey};
pub use secret::Secret;
