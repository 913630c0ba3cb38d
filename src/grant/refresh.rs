//! Refresh tokens: opaque, stored as digests, rotated on every use; reuse of a rotated token
//! revokes its whole family, except an optional grace window for a client that lost a response.

use super::authorize::CodeRecord;
use super::error::TokenError;
use super::exchange::Issued;
use super::issue::{AccessGrant, TokenResponse, mint_access_token};
use crate::config::{Config, RefreshReuse};
use crate::model::{App, ClientId, GrantId, SecretDigest, UserId};
use crate::token::{GrantKind, KeySet, Secret};
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
    /// Digest of the token `current` replaced, for the grace window.
    pub previous: Option<SecretDigest>,
    /// When its grant was made: the user authorized the app (the code was issued).
    pub created_at: DateTime<Utc>,
    /// When it last rotated.
    pub rotated_at: DateTime<Utc>,
    /// When it stops refreshing, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Active or revoked.
    pub status: FamilyStatus,
}

/// Which of a family's tokens was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// The current token.
    Current,
    /// The token the current one replaced.
    Previous,
    /// An older token of the family.
    Older,
}

impl RefreshFamily {
    /// A family for the tokens of a code exchange, with `token` its first refresh token.
    pub fn start(record: &CodeRecord, token: &Secret, config: &Config, now: DateTime<Utc>) -> Self {
        Self {
            grant: record.grant.clone(),
            client_id: record.client_id.clone(),
            user: record.user.clone(),
            current: token.digest(),
            previous: None,
            created_at: record.issued_at,
            rotated_at: now,
            expires_at: config.refresh_ttl.map(|ttl| now + ttl),
            status: FamilyStatus::Active,
        }
    }

    /// Which of this family's tokens `digest` is.
    pub fn identify(&self, digest: &SecretDigest) -> Presented {
        if *digest == self.current {
            Presented::Current
        } else if self.previous.as_ref() == Some(digest) {
            Presented::Previous
        } else {
            Presented::Older
        }
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

/// Rotates `family` for the authenticated `app` presenting its token identified as `presented`.
pub fn rotate(
    app: &App,
    family: &RefreshFamily,
    presented: Presented,
    config: &Config,
    keys: &KeySet,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> Result<Rotation, TokenError> {
    if family.client_id != app.client_id {
        return Err(TokenError::InvalidGrant(
            "refresh token was issued to another client",
        ));
    }
    if family.status == FamilyStatus::Revoked {
        return Err(TokenError::InvalidGrant("refresh token revoked"));
    }
    if family.expires_at.is_some_and(|expiry| now >= expiry) {
        return Err(TokenError::InvalidGrant("refresh token expired"));
    }
    match (presented, config.refresh_reuse) {
        (Presented::Current, _) => {}
        (Presented::Previous, RefreshReuse::GraceWindow(window))
            if now - family.rotated_at <= window => {}
        _ => {
            return Err(TokenError::RefreshReused {
                grant: family.grant.clone(),
            });
        }
    }
    let grant = AccessGrant {
        subject: family.user.to_string(),
        client_id: family.client_id.clone(),
        kind: GrantKind::User,
        company: None,
        grant: family.grant.clone(),
        granted_at: family.created_at,
    };
    let (access_token, claims) = mint_access_token(grant, config, keys, now, rng);
    let refresh_token = Secret::generate(rng);
    let mut next = family.clone();
    next.current = refresh_token.digest();
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
