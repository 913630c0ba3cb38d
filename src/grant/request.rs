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
        code_verifier: Option<String>,
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
