//! Refresh tokens: rotated on every use, each naming its family and generation under the
//! server's [`RefreshTokenKey`]; presenting any rotated token of a family again (however many
//! rotations ago) revokes the whole family, except an optional grace window for a client that
//! lost a response. A family stores only its current token's digest (and, for the grace
//! window, the previous one), so its storage stays constant however often it rotates.

use super::authorize::CodeRecord;
use super::error::TokenError;
use super::exchange::Issued;
use super::issue::{TokenGrant, TokenResponse, mint_access_token};
use super::resource::resource_for;
use crate::config::{Config, RefreshReuse};
use crate::model::{
    App, ClientId, ClientType, GrantId, ScopeError, Scopes, SecretDigest, User, UserId,
};
use crate::token::{
    Confirmation, KeySet, RefreshTokenClaims, RefreshTokenKey, Secret, SubjectKind,
    presentation_fits,
};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Whether a family still issues tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyStatus {
    /// Issuing.
    Active,
    /// Revoked: no refresh and no access token of it works.
    Revoked,
}

/// Every refresh token descended from one code exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// The grant id, carried by every access token of the family.
    pub grant: GrantId,
    /// The app.
    pub client_id: ClientId,
    /// The user who authorized.
    pub user: UserId,
    /// Digest of the one refresh token that may be used now.
    pub current: SecretDigest,
    /// The generation of the current token: 1 for the first, one more at each rotation.
    #[serde(default)]
    pub generation: u64,
    /// Digest of the token `current` replaced, for the grace window.
    pub previous: Option<SecretDigest>,
    /// When its grant was made: the user authorized the app (the code was issued).
    pub created_at: DateTime<Utc>,
    /// When its current token replaced the previous one (the grace window and the idle
    /// timeout run from here).
    pub rotated_at: DateTime<Utc>,
    /// When it stops refreshing, if ever: the earlier of its absolute lifetime from the grant
    /// and its idle timeout from the last rotation (see [`Config`]).
    pub expires_at: Option<DateTime<Utc>>,
    /// Active or revoked.
    pub status: FamilyStatus,
    /// The scopes the user granted, if the app asked for any: every access token of the
    /// family is limited to them, or to fewer when a refresh asks for fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    /// The resource server the user authorized it for (RFC 8707), if the authorization named
    /// one: every access token of the family is for it. Without one, a refresh may name any
    /// known resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The DPoP key a public client's family is bound to (RFC 9449 §5), if its first token
    /// request proved one: each refresh must prove the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// Which of a family's tokens was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// The current token.
    Current,
    /// The token the current one replaced.
    Previous,
    /// An older token of the family: rotated away, so presenting it is reuse.
    Older,
    /// Authentic, but never handed out as this family's token (a rotation that lost a race
    /// made it), or of a generation the family has not reached.
    Unknown,
}

impl RefreshFamily {
    /// A family for the tokens of a code exchange, and its first refresh token.
    pub fn start(
        record: &CodeRecord,
        config: &Config,
        key: &RefreshTokenKey,
        now: DateTime<Utc>,
        rng: &mut dyn RngCore,
    ) -> (Self, Secret) {
        let token = key.mint(&record.grant, 1, rng);
        let family = Self {
            grant: record.grant.clone(),
            client_id: record.client_id.clone(),
            user: record.user.clone(),
            current: token.digest(),
            generation: 1,
            previous: None,
            created_at: record.issued_at,
            rotated_at: now,
            expires_at: expiry(record.issued_at, now, config),
            status: FamilyStatus::Active,
            scope: record.scope.clone(),
            resource: record.resource.clone(),
            dpop_jkt: None,
        };
        (family, token)
    }

    /// Which of this family's tokens an authentic token (`claims`, with `digest`) is.
    pub fn identify(&self, claims: &RefreshTokenClaims, digest: &SecretDigest) -> Presented {
        if claims.grant != self.grant {
            Presented::Unknown
        } else if *digest == self.current {
            Presented::Current
        } else if self.previous.as_ref() == Some(digest) {
            Presented::Previous
        } else if claims.generation < self.generation {
            Presented::Older
        } else {
            Presented::Unknown
        }
    }

    /// What an access token of the family is issued for: its user, from its grant's time,
    /// with `scope` (the family's, or fewer), for `resource` (`None`: the default audience),
    /// bound to the DPoP key `dpop_jkt` if given.
    pub fn access_grant(
        &self,
        scope: Option<Scopes>,
        resource: Option<String>,
        dpop_jkt: Option<String>,
    ) -> TokenGrant {
        TokenGrant {
            subject: self.user.to_string(),
            client_id: self.client_id.clone(),
            kind: SubjectKind::User,
            company: None,
            grant: self.grant.clone(),
            granted_at: self.created_at,
            scope,
            resource,
            dpop_jkt,
        }
    }

    /// The scopes an access token of the family gets when a refresh asks for `asked`: the
    /// family's when it asks for none; else `asked`, which may narrow but never widen what
    /// the user granted (RFC 6749 §6), nor pass the app's reach.
    pub fn refreshed_scope(
        &self,
        asked: Option<&Scopes>,
        app: &App,
        config: &Config,
    ) -> Result<Option<Scopes>, ScopeError> {
        let Some(asked) = asked else {
            return Ok(self.scope.clone());
        };
        if self
            .scope
            .as_ref()
            .is_some_and(|granted| !asked.is_within(granted))
        {
            return Err(ScopeError::Wider);
        }
        let granted = asked.granted(&config.tools, |tool| app.delegated_reach(tool))?;
        // Capping by the reach can only lower a level; a lowered one is not what was asked.
        if granted != *asked {
            return Err(ScopeError::Wider);
        }
        Ok(Some(granted))
    }

    /// Whether it can no longer refresh at `now`: past its stored expiry, or past what the
    /// configuration allows now (so tightening the lifetimes applies to existing families).
    pub fn is_expired(&self, config: &Config, now: DateTime<Utc>) -> bool {
        let stored = self.expires_at.is_some_and(|expiry| now >= expiry);
        stored || expiry(self.created_at, self.rotated_at, config).is_some_and(|at| now >= at)
    }
}

/// When a family granted at `granted_at` and last rotated at `rotated_at` stops refreshing:
/// the earlier of the absolute lifetime and the idle timeout, if either is configured.
fn expiry(
    granted_at: DateTime<Utc>,
    rotated_at: DateTime<Utc>,
    config: &Config,
) -> Option<DateTime<Utc>> {
    let absolute = config.refresh_ttl.map(|ttl| granted_at + ttl);
    let idle = config.refresh_idle_timeout.map(|idle| rotated_at + idle);
    match (absolute, idle) {
        (Some(absolute), Some(idle)) => Some(absolute.min(idle)),
        (absolute, idle) => absolute.or(idle),
    }
}

/// A rotation to commit: the new state of the family, valid only if the family's current
/// token is still `expected_current` when stored (compare-and-swap).
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The tokens to send.
    pub issued: Issued,
    /// The family after rotation.
    pub family: RefreshFamily,
    /// The current digest the rotation was computed from.
    pub expected_current: SecretDigest,
}

/// What a rotation is computed from: the authenticated app, the family as stored, which of
/// its tokens was presented, and the user the family acts for as the directory has them now.
#[derive(Clone, Copy, Debug)]
pub struct RefreshInput<'a> {
    /// The authenticated client.
    pub app: &'a App,
    /// The family as stored.
    pub family: &'a RefreshFamily,
    /// Which of its tokens was presented.
    pub presented: Presented,
    /// The family's user, if the directory still has them.
    pub user: Option<&'a User>,
    /// Narrower scopes asked for the new access token, if any.
    pub scope: Option<&'a Scopes>,
    /// The resource asked for the new access token (RFC 8707), if any.
    pub resource: Option<&'a str>,
    /// The thumbprint of the key of the request's DPoP proof, if it sent one.
    pub dpop_jkt: Option<&'a str>,
}

/// Rotates a family: a new access token and the family's next refresh token.
pub fn rotate(
    input: RefreshInput<'_>,
    config: &Config,
    keys: &KeySet,
    refresh_key: &RefreshTokenKey,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> Result<Rotation, TokenError> {
    let RefreshInput {
        app,
        family,
        presented,
        user,
        scope,
        resource,
        dpop_jkt,
    } = input;
    if family.client_id != app.client_id {
        return Err(TokenError::InvalidGrant(
            "refresh token was issued to another client",
        ));
    }
    if family.status == FamilyStatus::Revoked {
        return Err(TokenError::InvalidGrant("refresh token revoked"));
    }
    // Reuse first: an expired family must still be revoked when a rotated token comes back,
    // or the access tokens a thief holds would live on.
    match (presented, config.refresh_reuse) {
        (Presented::Current, _) => {}
        (Presented::Previous, RefreshReuse::GraceWindow(window))
            if now - family.rotated_at <= window => {}
        (Presented::Unknown, _) => {
            return Err(TokenError::InvalidGrant("unknown refresh token"));
        }
        _ => {
            return Err(TokenError::RefreshReused {
                grant: family.grant.clone(),
            });
        }
    }
    if family.is_expired(config, now) {
        return Err(TokenError::InvalidGrant("refresh token expired"));
    }
    if !user.is_some_and(|user| user.id == family.user && user.is_active_person()) {
        return Err(TokenError::UserInactive {
            grant: family.grant.clone(),
        });
    }
    if let Some(bound) = &family.dpop_jkt {
        if !presentation_fits(Some(&Confirmation { jkt: bound.clone() }), dpop_jkt) {
            return Err(TokenError::InvalidGrant(
                "refresh token is bound to a DPoP key: send a proof signed by it",
            ));
        }
    }
    let scope = family.refreshed_scope(scope, app, config)?;
    let resource = resource_for(resource, family.resource.as_deref(), config)?;
    let grant = family.access_grant(scope, resource, dpop_jkt.map(str::to_owned));
    let (access_token, claims) = mint_access_token(grant, config, keys, now, rng);
    let generation = family.generation + 1;
    let refresh_token = refresh_key.mint(&family.grant, generation, rng);
    let mut next = family.clone();
    next.current = refresh_token.digest();
    next.generation = generation;
    // Within the grace window the previous token stays the one that may be retried: the token
    // being replaced is the one whose response was lost.
    next.previous = match presented {
        Presented::Current => Some(family.current),
        _ => family.previous,
    };
    // The window runs from when `previous` was replaced, so retries cannot stretch it.
    next.rotated_at = match presented {
        Presented::Current => now,
        _ => family.rotated_at,
    };
    next.expires_at = expiry(family.created_at, now, config);
    // A public client's family is bound by the first request that proves a key (RFC 9449 §5:
    // a refresh token issued to a public client with a proof is bound to its key).
    if app.client_type == ClientType::Public && family.dpop_jkt.is_none() {
        next.dpop_jkt = dpop_jkt.map(str::to_owned);
    }
    Ok(Rotation {
        issued: Issued {
            response: TokenResponse::new(access_token, &claims, Some(refresh_token)),
            claims,
            family: Some(next.clone()),
        },
        family: next,
        expected_current: family.current,
    })
}
