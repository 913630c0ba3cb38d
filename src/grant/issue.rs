//! Minting what every grant returns: a signed access token, and the token response.

use crate::config::Config;
use crate::model::{ClientId, CompanyId, GrantId, Scopes, TokenId};
use crate::token::{AccessClaims, Confirmation, KeySet, Secret, SubjectKind, issue};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Serialize, Serializer};

/// Who an access token is for.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    /// The `sub` claim.
    pub subject: String,
    /// The app.
    pub client_id: ClientId,
    /// User or service account.
    pub kind: SubjectKind,
    /// The company it is bound to, if any.
    pub company: Option<CompanyId>,
    /// The grant it belongs to.
    pub grant: GrantId,
    /// When the grant was made.
    pub granted_at: DateTime<Utc>,
    /// The scopes granted, if any were asked for.
    pub scope: Option<Scopes>,
    /// The resource server it is for (its `aud`); `None` for the default audience.
    pub resource: Option<String>,
    /// The thumbprint of the DPoP key it is bound to (its `cnf.jkt`); `None`: a bearer token.
    pub dpop_jkt: Option<String>,
}

/// What a token request asks to narrow the token to: scopes, and the resource server it is
/// for (RFC 8707); and the DPoP key it proved it holds, to bind the token to (RFC 9449).
#[derive(Clone, Copy, Debug, Default)]
pub struct Requested<'a> {
    /// `scope`, parsed.
    pub scope: Option<&'a Scopes>,
    /// `resource`.
    pub resource: Option<&'a str>,
    /// The thumbprint of the key of the request's DPoP proof, if it sent one.
    pub dpop_jkt: Option<&'a str>,
}

/// Signs a fresh access token for `grant`, valid for the configured lifetime from `now`.
pub fn mint_access_token(
    grant: TokenGrant,
    config: &Config,
    keys: &KeySet,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> (Secret, AccessClaims) {
    let claims = access_claims(grant, config, now, rng);
    let token = issue(&claims, keys.signing_key());
    (Secret::new(token), claims)
}

/// The claims of a fresh access token for `grant` issued at `now`.
pub fn access_claims(
    grant: TokenGrant,
    config: &Config,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> AccessClaims {
    let iat = now.timestamp();
    AccessClaims {
        iss: config.issuer.clone(),
        sub: grant.subject,
        aud: grant.resource.unwrap_or_else(|| config.audience.clone()),
        exp: iat + config.access_token_ttl.num_seconds(),
        iat,
        granted_at_ms: grant.granted_at.timestamp_millis(),
        nbf: None,
        jti: TokenId::generate(rng),
        client_id: grant.client_id,
        grant_kind: grant.kind,
        company_id: grant.company,
        grant_id: grant.grant,
        scope: grant.scope,
        cnf: grant.dpop_jkt.map(|jkt| Confirmation { jkt }),
    }
}

fn expose<S: Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

fn expose_optional<S: Serializer>(
    secret: &Option<Secret>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose()),
        None => serializer.serialize_none(),
    }
}

/// The token endpoint's success response (RFC 6749 §5.1), serialized as the wire JSON.
/// Its `Debug` redacts both tokens.
#[derive(Clone, Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    #[serde(serialize_with = "expose")]
    pub access_token: Secret,
    /// `bearer`, or `DPoP` for a token bound to a DPoP key (RFC 9449 §5).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token (not for client credentials).
    #[serde(
        serialize_with = "expose_optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token: Option<Secret>,
    /// When the token was issued, seconds since the epoch.
    pub created_at: i64,
    /// The scopes granted (RFC 6749 §5.1), whenever scopes limit the token: they may be less
    /// than was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// The response for a freshly minted access token (and refresh token, if any).
    pub fn new(access_token: Secret, claims: &AccessClaims, refresh_token: Option<Secret>) -> Self {
        Self {
            access_token,
            token_type: if claims.cnf.is_some() {
                "DPoP"
            } else {
                "bearer"
            },
            expires_in: claims.exp - claims.iat,
            refresh_token,
            created_at: claims.iat,
            scope: claims.scope.as_ref().map(Scopes::to_string),
        }
    }
}
