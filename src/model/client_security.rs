//! What an app must prove, and how, beyond its client id: how it authenticates at the token
//! endpoint (a secret, or a JWT signed with a key it registered: RFC 7523), whether its tokens
//! must be bound to a key it holds (RFC 9449 DPoP), and whether its authorization requests
//! must be pushed first (RFC 9126 PAR).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a confidential app authenticates at the token, revocation and introspection endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// With its client secret (`client_secret_basic` or `client_secret_post`); a public app,
    /// with its client id alone.
    #[default]
    ClientSecret,
    /// With a JWT it signs with one of these public keys' private halves (`private_key_jwt`,
    /// RFC 7523 §2.2): the server holds no shared secret at all.
    PrivateKeyJwt {
        /// The app's public keys, as JWKs (Ed25519, P-256 or RSA of 2048 bits or more).
        keys: Vec<Value>,
    },
}

/// Whether the app's access tokens must be DPoP-bound (RFC 9449 §5.2,
/// `dpop_bound_access_tokens`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DpopBinding {
    /// A token request with a DPoP proof gets a bound token; one without gets a bearer token.
    #[default]
    Optional,
    /// Every token request must carry a DPoP proof.
    Required,
}

/// Whether the app's authorization requests must be pushed first (RFC 9126 §6,
/// `require_pushed_authorization_requests`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushedAuthorization {
    /// Either way.
    #[default]
    Optional,
    /// Only through a `request_uri` from the pushed-authorization endpoint.
    Required,
}

/// An app's security settings; the defaults are what every app had before they existed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSecurity {
    /// How it authenticates.
    #[serde(default)]
    pub authentication: ClientAuthMethod,
    /// Whether its tokens must be DPoP-bound.
    #[serde(default)]
    pub dpop: DpopBinding,
    /// Whether its authorization requests must be pushed.
    #[serde(default)]
    pub pushed_authorization: PushedAuthorization,
}

impl ClientSecurity {
    /// Whether these are the defaults (so stores can leave them out).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The registered public keys, for an app that authenticates with `private_key_jwt`.
    pub fn client_keys(&self) -> Option<&[Value]> {
        match &self.authentication {
            ClientAuthMethod::PrivateKeyJwt { keys } => Some(keys),
            ClientAuthMethod::ClientSecret => None,
        }
    }
}
