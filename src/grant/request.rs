//! The token endpoint's request, parsed as a `grant_type`-tagged enum.

use crate::model::CompanyId;
use crate::token::Secret;
use serde::{Deserialize, Deserializer};

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// A token request (client authentication travels separately).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// Exchange an authorization code.
    AuthorizationCode {
        /// The code.
        code: Secret,
        /// The redirect URI the code was issued for.
        redirect_uri: Option<String>,
        /// The PKCE verifier.
        code_verifier: Option<Secret>,
    },
    /// Rotate a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret,
    },
    /// A service-account token.
    ClientCredentials {
        /// Bind the token to this company; without it the token works in every company that
        /// installed the app, named at each access.
        company_id: Option<CompanyId>,
    },
}

/// Request parameters by name, each present once (duplicates are refused before this).
pub type Params = std::collections::BTreeMap<String, String>;

impl TokenRequest {
    /// Reads a token request from its parameters, naming what is missing or unsupported.
    pub fn from_params(params: &Params) -> Result<Self, super::TokenError> {
        use super::TokenError;
        let text = |name: &str| params.get(name).filter(|value| !value.is_empty()).cloned();
        let required = |name: &'static str, missing: &'static str| {
            text(name).ok_or(TokenError::InvalidRequest(missing))
        };
        match params.get("grant_type").map(String::as_str) {
            None | Some("") => Err(TokenError::InvalidRequest("grant_type is required")),
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: Secret::new(required("code", "code is required")?),
                redirect_uri: text("redirect_uri"),
                code_verifier: text("code_verifier").map(Secret::new),
            }),
            Some("refresh_token") => Ok(TokenRequest::RefreshToken {
                refresh_token: Secret::new(required("refresh_token", "refresh_token is required")?),
            }),
            Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
                company_id: text("company_id").map(CompanyId::new),
            }),
            Some(_) => Err(TokenError::UnsupportedGrantType),
        }
    }
}
