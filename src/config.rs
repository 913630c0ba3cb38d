//! Server configuration: issuer, lifetimes and policy switches. Plain data passed to every flow.

use crate::model::Tool;
use crate::token::Expectations;
use chrono::TimeDelta;

/// When PKCE is required in the authorization-code flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PkcePolicy {
    /// Public clients must use PKCE; confidential clients may.
    #[default]
    PublicClients,
    /// Every client must use PKCE (RFC 9700 §2.1.1 recommends it).
    AllClients,
}

/// How a rotated refresh token presented again is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RefreshReuse {
    /// Any reuse revokes the whole family (the default).
    #[default]
    RevokeFamily,
    /// The same client presenting the token it just rotated within this window (because it lost
    /// the response) gets a fresh pair instead; later reuse still revokes the family.
    GraceWindow(TimeDelta),
}

/// Whether DPoP proofs must carry a server nonce (RFC 9449 §8), which bounds how long a proof
/// made in advance stays usable to the nonce's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DpopNonces {
    /// Proofs need no nonce (the default): each is fresh by its `iat` and used once.
    #[default]
    Off,
    /// Proofs at the token endpoint and at resource servers must carry the current nonce; one
    /// without gets `use_dpop_nonce` and a fresh nonce in the `DPoP-Nonce` header.
    Required,
}

/// Configuration of one authorization server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The issuer identifier (`iss`), an https URL without query or fragment.
    pub issuer: String,
    /// The default audience (`aud`) of access tokens, for a request that names no resource:
    /// the host platform's API. [`Config::new`] makes it the issuer; set it to the API's own
    /// identifier so that a token is never taken for one meant for the authorization server.
    pub audience: String,
    /// The other resource servers a client may ask tokens for with `resource` (RFC 8707):
    /// absolute URIs without a fragment, each the `aud` of the tokens issued for it. A resource
    /// named neither here nor as [`audience`](Self::audience) is `invalid_target`. Empty by
    /// default.
    pub resources: Vec<String>,
    /// Access-token lifetime (default 5400 s).
    pub access_token_ttl: TimeDelta,
    /// Authorization-code lifetime (default 10 minutes).
    pub code_ttl: TimeDelta,
    /// Absolute lifetime of a refresh-token family from its grant (the user's authorization),
    /// however often it rotates; `None` for no limit (the default).
    pub refresh_ttl: Option<TimeDelta>,
    /// Idle timeout of a refresh-token family: it stops refreshing when it has not rotated for
    /// this long; `None` for no limit (the default).
    pub refresh_idle_timeout: Option<TimeDelta>,
    /// Refresh-token reuse policy.
    pub refresh_reuse: RefreshReuse,
    /// PKCE policy.
    pub pkce: PkcePolicy,
    /// Clock skew tolerated when validating tokens, in seconds (default 0).
    pub leeway_seconds: i64,
    /// How many verified access tokens an instance remembers, so a token presented again skips
    /// its signature check (default 16,384, a few MB; 0 verifies every time). Everything that
    /// can change (keys, times, installations, users, permissions, revocations) is still
    /// checked at every decision.
    pub verified_token_cache: usize,
    /// The platform's tools that scopes may name: `rfis` makes `rfis:read`, `rfis:write` and
    /// `rfis:admin`, listed as `scopes_supported` in the metadata. Empty (the default): any
    /// well-formed `tool:level` scope is known, and the metadata lists none.
    pub tools: Vec<Tool>,
    /// Whether DPoP proofs must carry a server nonce.
    pub dpop_nonces: DpopNonces,
}

impl Config {
    /// Defaults for an issuer: tokens for audience `issuer`, 5400 s access tokens, 10 minute
    /// codes, refresh families without an absolute lifetime or idle timeout, PKCE for public
    /// clients.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        Self {
            audience: issuer.clone(),
            issuer,
            access_token_ttl: TimeDelta::seconds(5400),
            code_ttl: TimeDelta::minutes(10),
            refresh_ttl: None,
            refresh_idle_timeout: None,
            refresh_reuse: RefreshReuse::RevokeFamily,
            pkce: PkcePolicy::PublicClients,
            leeway_seconds: 0,
            verified_token_cache: 16_384,
            tools: Vec::new(),
            resources: Vec::new(),
            dpop_nonces: DpopNonces::Off,
        }
    }

    /// What a resource server at the default audience expects of this server's tokens.
    pub fn expectations(&self) -> Expectations {
        self.expectations_at(&self.audience)
    }

    /// What the resource server `resource` expects of this server's tokens: its own
    /// identifier as the audience.
    pub fn expectations_at(&self, resource: &str) -> Expectations {
        Expectations {
            issuer: self.issuer.clone(),
            audiences: vec![resource.to_owned()],
            leeway_seconds: self.leeway_seconds,
        }
    }

    /// What this server itself accepts when it looks into a token (introspection, token
    /// info, revocation): any audience it issues for.
    pub fn expectations_anywhere(&self) -> Expectations {
        let mut audiences = vec![self.audience.clone()];
        audiences.extend(self.resources.iter().cloned());
        Expectations {
            audiences,
            ..self.expectations()
        }
    }

    /// The token endpoint's URL, as the HTTP layer serves it under the issuer: what client
    /// assertions (RFC 7523) and DPoP proofs (RFC 9449, `htu`) sent there name.
    pub fn token_endpoint(&self) -> String {
        self.endpoint("/oauth/token")
    }

    /// The pushed-authorization-request endpoint's URL (RFC 9126), which client assertions
    /// sent there may name too.
    pub fn pushed_authorization_endpoint(&self) -> String {
        self.endpoint("/oauth/par")
    }

    /// The URL of the endpoint at `path` under the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.trim_end_matches('/'))
    }

    /// Whether `resource` is one this server issues tokens for: the default audience or one
    /// of the configured resources.
    pub fn knows_resource(&self, resource: &str) -> bool {
        resource == self.audience || self.resources.iter().any(|known| known == resource)
    }
}
