//! The token endpoint's request, parsed as a `grant_type`-tagged enum.

use crate::model::{CompanyId, Scopes};
use crate::token::Secret;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// A token request (client authentication travels separately).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenRequest {
    /// Exchange an authorization code.
    AuthorizationCode {
        /// The code.
        code: Secret,
        /// The redirect URI the code was issued for.
        redirect_uri: Option<String>,
        /// The PKCE verifier.
        code_verifier: Option<Secret>,
        /// The resource server the tokens are for (RFC 8707).
        #[serde(default)]
        resource: Option<String>,
    },
    /// Rotate a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret,
        /// Narrower scopes for the new access token; `None` keeps the grant's.
        #[serde(default)]
        scope: Option<Scopes>,
        /// The resource server the new access token is for (RFC 8707).
        #[serde(default)]
        resource: Option<String>,
    },
    /// A service-account token.
    ClientCredentials {
        /// Bind the token to this company; without it the token works in every company that
        /// installed the app, named at each access.
        company_id: Option<CompanyId>,
        /// The scopes asked for, capped by the app's manifest; `None`: the whole manifest.
        #[serde(default)]
        scope: Option<Scopes>,
        /// The resource server the token is for (RFC 8707).
        #[serde(default)]
        resource: Option<String>,
    },
}

/// Request parameters by name, each present once (duplicates are refused before this).
///
/// Its `Debug` shows every name but only the values known not to be secret, so a logged
/// request never carries a client secret, code, token, verifier or password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

/// Parameters whose values `Debug` may show: identifiers and choices, never credentials.
const SHOWN_PARAMETERS: [&str; 10] = [
    "grant_type",
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "company_id",
    "code_challenge_method",
    "token_type_hint",
    "resource",
    "decision",
];

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.get(name)
    }

    /// Takes `name` out, if present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Adds `name` unless it is present already; returns whether it was added.
    pub fn insert_first(&mut self, name: String, value: String) -> bool {
        match self.0.entry(name) {
            Entry::Occupied(_) => false,
            Entry::Vacant(entry) => {
                entry.insert(value);
                true
            }
        }
    }

    /// The parameters by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Params {
    /// Collects parameters, keeping the first value of a repeated name.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut params = Self::new();
        for (name, value) in pairs {
            params.insert_first(name.into(), value.into());
        }
        params
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.0 {
            if SHOWN_PARAMETERS.contains(&name.as_str()) {
                map.entry(name, value);
            } else {
                map.entry(name, &format_args!("<redacted>"));
            }
        }
        map.finish()
    }
}

impl TokenRequest {
    /// Reads a token request from its parameters, naming what is missing or unsupported.
    pub fn from_params(params: &Params) -> Result<Self, super::TokenError> {
        use super::TokenError;
        let text = |name: &str| params.get(name).filter(|value| !value.is_empty()).cloned();
        let required = |name: &'static str, missing: &'static str| {
            text(name).ok_or(TokenError::InvalidRequest(missing))
        };
        // Only the grants that take a scope read it (a code's scope was fixed at authorize).
        let scope = || text("scope").as_deref().map(Scopes::parse).transpose();
        match params.get("grant_type").map(String::as_str) {
            None | Some("") => Err(TokenError::InvalidRequest("grant_type is required")),
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: Secret::new(required("code", "code is required")?),
                redirect_uri: text("redirect_uri"),
                code_verifier: text("code_verifier").map(Secret::new),
                resource: text("resource"),
            }),
            Some("refresh_token") => Ok(TokenRequest::RefreshToken {
                refresh_token: Secret::new(required("refresh_token", "refresh_token is required")?),
                scope: scope()?,
                resource: text("resource"),
            }),
            Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
                company_id: text("company_id").map(CompanyId::new),
                scope: scope()?,
                resource: text("resource"),
            }),
            Some(_) => Err(TokenError::UnsupportedGrantType),
        }
    }
}
