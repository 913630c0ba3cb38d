//! Errors of the token endpoint, and the RFC 6749 / RFC 6750 error codes they map to.

use super::resource::ResourceError;
use crate::model::{ClientId, GrantId, ScopeError};
use crate::store::StoreError;
use crate::token::DpopError;
use serde::Serialize;
use std::fmt;

/// An OAuth 2.0 error code (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The code, refresh token or redirect URI is invalid, expired, revoked or mismatched.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The requested scope is invalid.
    InvalidScope,
    /// The requested resource is invalid, unknown or not granted (RFC 8707 §2).
    InvalidTarget,
    /// The resource owner or server denied the request.
    AccessDenied,
    /// The server failed.
    ServerError,
    /// The server cannot answer now (its store is unreachable); retry later (RFC 6749
    /// §4.1.2.1, used at the token endpoint too, with 503 and `Retry-After`).
    TemporarilyUnavailable,
    /// The access token is invalid (RFC 6750).
    InvalidToken,
    /// The access token lacks the needed permission (RFC 6750).
    InsufficientScope,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// The DPoP proof is missing where required, malformed, or does not hold (RFC 9449 §5).
    InvalidDpopProof,
    /// The DPoP proof lacks the server's current nonce; a fresh one is in the `DPoP-Nonce`
    /// header (RFC 9449 §8).
    UseDpopNonce,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status that goes with this code at the token endpoint or a resource server.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope | ErrorCode::AccessDenied => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token-endpoint request (or revocation or introspection) failed.
///
/// Descriptions name what was wrong, never the secret, code or token presented.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Malformed request.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// Client authentication failed.
    #[error("client authentication failed: {0}")]
    InvalidClient(&'static str),
    /// The grant presented is no good.
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    /// A code was presented a second time; every token issued from it must be revoked.
    #[error("invalid grant: authorization code already used")]
    CodeReused {
        /// The grant issued from the code.
        grant: GrantId,
        /// The app the code was issued to (not necessarily the one presenting it).
        owner: ClientId,
    },
    /// A rotated refresh token was presented again; its whole family must be revoked.
    #[error("invalid grant: refresh token already used")]
    RefreshReused {
        /// The family.
        grant: GrantId,
    },
    /// The user the grant acts for is deactivated (or gone), so it issues nothing.
    #[error("invalid grant: the user who authorized the app is deactivated")]
    UserInactive {
        /// The grant.
        grant: GrantId,
    },
    /// A code was presented by a client other than the one it was issued to; it is neither
    /// redeemed nor spent.
    #[error("invalid grant: code was issued to another client")]
    CodeOfAnotherClient {
        /// The grant the code would create.
        grant: GrantId,
        /// The app the code was issued to.
        owner: ClientId,
    },
    /// The client may not use this grant.
    #[error("unauthorized client: {0}")]
    UnauthorizedClient(&'static str),
    /// Unknown `grant_type`.
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    /// The `scope` asked for is malformed, unknown, out of the app's reach, or wider than
    /// the grant.
    #[error("invalid scope: {0}")]
    InvalidScope(#[from] ScopeError),
    /// The `resource` asked for is malformed, unknown, or not the one the grant was for.
    #[error("invalid target: {0}")]
    InvalidTarget(#[from] ResourceError),
    /// The request's DPoP proof does not hold (RFC 9449 §5).
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(#[from] DpopError),
    /// The store failed.
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

impl TokenError {
    /// The RFC 6749 error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            TokenError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            TokenError::InvalidClient(_) => ErrorCode::InvalidClient,
            TokenError::InvalidGrant(_)
            | TokenError::CodeReused { .. }
            | TokenError::RefreshReused { .. }
            | TokenError::UserInactive { .. }
            | TokenError::CodeOfAnotherClient { .. } => ErrorCode::InvalidGrant,
            TokenError::UnauthorizedClient(_) => ErrorCode::UnauthorizedClient,
            TokenError::UnsupportedGrantType => ErrorCode::UnsupportedGrantType,
            TokenError::InvalidScope(_) => ErrorCode::InvalidScope,
            TokenError::InvalidTarget(_) => ErrorCode::InvalidTarget,
            TokenError::InvalidDpopProof(DpopError::UseNonce) => ErrorCode::UseDpopNonce,
            TokenError::InvalidDpopProof(_) => ErrorCode::InvalidDpopProof,
            TokenError::Store(_) => ErrorCode::TemporarilyUnavailable,
        }
    }

    /// A description safe to send to the client.
    pub fn description(&self) -> String {
        match self {
            TokenError::Store(_) => {
                "the server is temporarily unavailable; try again shortly".to_owned()
            }
            other => other.to_string(),
        }
    }
}
